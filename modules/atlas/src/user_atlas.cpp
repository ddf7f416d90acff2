// User atlases: label (dseg), 4D probabilistic and decoded max-probability atlases with their TSV
// and template image. See user_atlas.hpp for the rules (TSV columns, image/TSV agreement).
#include "rewardpath/atlas/user_atlas.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string_view>

#include "internal.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"

namespace rewardpath::atlas {
namespace {
namespace fs = std::filesystem;

constexpr int kMaxIndex = 32767; // what write_atlas can store (int16)
constexpr double kLabelTolerance = 1e-3;
constexpr double kProbabilityTolerance = 1e-4;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trimmed(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3); // UTF-8 byte-order mark
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// ---- file names ---------------------------------------------------------------------------------

std::string stem_of(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.substr(0, name.find('.'));
}

// The value of a BIDS entity ("space-X") in a file name, or "".
std::string bids_entity(const fs::path& p, const std::string& key) {
  const std::string stem = stem_of(p);
  std::size_t start = 0;
  while (start <= stem.size()) {
    const std::size_t end = std::min(stem.find('_', start), stem.size());
    const std::string_view part(stem.data() + start, end - start);
    if (part.starts_with(key + "-") && part.size() > key.size() + 1)
      return std::string(part.substr(key.size() + 1));
    start = end + 1;
  }
  return {};
}

std::string choose_space(const std::string& given, const fs::path& image, const fs::path& template_image,
                         const Grid& grid) {
  if (!given.empty()) return given;
  for (const fs::path& p : {image, template_image}) {
    if (p.empty()) continue;
    for (const char* key : {"space", "tpl"})
      if (auto s = bids_entity(p, key); !s.empty()) return s;
  }
  return grid.space;
}

fs::path choose_tsv(const fs::path& given, const fs::path& image) {
  if (!given.empty()) return given;
  const fs::path sidecar = image.parent_path() / (stem_of(image) + ".tsv");
  if (fs::is_regular_file(sidecar)) return sidecar;
  throw Error(fmt::format("no label table: {} has no BIDS sidecar {} beside it; pass the atlas's TSV "
                          "(columns index, name) with --atlas-labels",
                          image.filename().string(), sidecar.filename().string()))
      .context(image.string());
}

// ---- the TSV ------------------------------------------------------------------------------------

struct TsvRoi {
  int index = 0;
  std::string name;
  std::string hemisphere; // "L", "R", "bilateral" or "n/a"
  std::string structure;
  std::size_t line = 0;
};

// Hemisphere and structure from a name such as "L Putamen", "Left-Putamen", "Putamen_R", "lh.caudate".
void split_hemisphere(const std::string& name, std::string& hemisphere, std::string& structure) {
  const std::string low = lower(name);
  static const std::vector<std::pair<std::string, std::string>> prefixes = {
      {"left ", "L"}, {"left-", "L"}, {"left_", "L"}, {"right ", "R"}, {"right-", "R"}, {"right_", "R"},
      {"lh.", "L"},   {"lh_", "L"},   {"lh-", "L"},   {"rh.", "R"},    {"rh_", "R"},    {"rh-", "R"},
      {"l ", "L"},    {"l_", "L"},    {"r ", "R"},    {"r_", "R"}};
  static const std::vector<std::pair<std::string, std::string>> suffixes = {
      {" left", "L"},  {"_left", "L"}, {"-left", "L"}, {" right", "R"}, {"_right", "R"},
      {"-right", "R"}, {"_lh", "L"},   {"-lh", "L"},   {".lh", "L"},    {"_rh", "R"},
      {"-rh", "R"},    {".rh", "R"},   {" l", "L"},    {"_l", "L"},     {"-l", "L"},
      {".l", "L"},     {" r", "R"},    {"_r", "R"},    {"-r", "R"},     {".r", "R"}};
  for (const auto& [token, hemi] : prefixes)
    if (low.size() > token.size() && low.starts_with(token)) {
      hemisphere = hemi;
      structure = trimmed(std::string_view(name).substr(token.size()));
      return;
    }
  for (const auto& [token, hemi] : suffixes)
    if (low.size() > token.size() && low.ends_with(token)) {
      hemisphere = hemi;
      structure = trimmed(std::string_view(name).substr(0, name.size() - token.size()));
      return;
    }
  hemisphere = "n/a";
  structure = name;
}

std::optional<std::size_t> find_column(const io::Table& t, std::initializer_list<const char*> names) {
  for (const char* n : names)
    for (std::size_t c = 0; c < t.columns().size(); ++c)
      if (lower(trimmed(t.columns()[c])) == n) return c;
  return std::nullopt;
}

// Non-background rows, sorted by index.
std::vector<TsvRoi> read_labels_tsv(const fs::path& tsv) {
  const io::Table t = io::read_tsv(tsv);
  const auto need = [&](std::initializer_list<const char*> names) {
    if (auto c = find_column(t, names)) return *c;
    std::vector<std::string> have, also;
    for (const auto& c : t.columns()) have.push_back("\"" + trimmed(c) + "\"");
    for (auto it = names.begin() + 1; it != names.end(); ++it) also.push_back(*it);
    throw Error(fmt::format("line 1: missing column \"{}\" (also accepted: {}); the header has {}. A BIDS "
                            "dseg.tsv starts with the header line \"index<TAB>name\"",
                            *names.begin(), join(also, ", "), join(have, ", ")))
        .context(tsv.string());
  };
  const std::size_t c_index = need({"index", "value", "id", "label_id", "label_index"});
  const std::size_t c_name = need({"name", "label", "label_name", "roi", "region"});
  const std::optional<std::size_t> c_hemi = find_column(t, {"hemisphere", "hemi", "side"});

  std::vector<TsvRoi> rois;
  std::map<int, std::size_t> line_of_index;
  std::map<std::string, std::size_t> line_of_name;
  for (std::size_t r = 0; r < t.row_count(); ++r) {
    TsvRoi roi;
    roi.line = t.line_of_row(r);
    const auto fail = [&](std::size_t c, const std::string& what) {
      detail::throw_cell_error(tsv, roi.line, trimmed(t.columns()[c]), what);
    };
    const std::string index_text = trimmed(t.cell(r, c_index));
    const auto value = io::parse_number(index_text);
    if (!value || *value != std::round(*value) || *value < 0 || *value > kMaxIndex)
      fail(c_index,
           fmt::format("\"{}\" is not a label index (expected an integer 0..{})", index_text, kMaxIndex));
    roi.index = static_cast<int>(*value);
    if (auto it = line_of_index.find(roi.index); it != line_of_index.end())
      fail(c_index, fmt::format("duplicate index {}: already used on line {}", roi.index, it->second));
    line_of_index[roi.index] = roi.line;

    roi.name = trimmed(t.cell(r, c_name));
    if (roi.name.empty() || roi.name == "n/a")
      fail(c_name, fmt::format("empty name for index {} (expected the ROI's name)", roi.index));
    if (roi.index == 0) continue; // the background row ("Unknown", "Background", ...)
    if (auto it = line_of_name.find(roi.name); it != line_of_name.end())
      fail(c_name, fmt::format("duplicate name \"{}\": already used on line {}", roi.name, it->second));
    line_of_name[roi.name] = roi.line;

    split_hemisphere(roi.name, roi.hemisphere, roi.structure);
    if (c_hemi) {
      const std::string h = lower(trimmed(t.cell(r, *c_hemi)));
      if (h == "l" || h == "left" || h == "lh")
        roi.hemisphere = "L";
      else if (h == "r" || h == "right" || h == "rh")
        roi.hemisphere = "R";
      else if (h == "b" || h == "bilateral" || h == "both" || h == "lr")
        roi.hemisphere = "bilateral";
      else if (h != "n/a" && !h.empty())
        fail(*c_hemi, fmt::format("\"{}\" is not a hemisphere (expected L, R, left, right, lh, rh, bilateral "
                                  "or n/a)",
                                  trimmed(t.cell(r, *c_hemi))));
    }
    rois.push_back(std::move(roi));
  }
  if (rois.empty())
    throw Error("the label table has no ROI rows (only a header, or only index 0)").context(tsv.string());
  std::sort(rois.begin(), rois.end(), [](const TsvRoi& a, const TsvRoi& b) { return a.index < b.index; });
  return rois;
}

// ---- images -------------------------------------------------------------------------------------

std::string ijk(const Volume& v, std::size_t voxel) {
  const auto n = static_cast<std::int64_t>(voxel);
  return fmt::format("({}, {}, {})", n % v.nx(), (n / v.nx()) % v.ny(), n / (v.nx() * v.ny()));
}

io::NiftiHeader header_3d(const fs::path& path, const char* what, const char* if_4d) {
  io::NiftiHeader h = io::read_nifti_header(path);
  if (h.volumes() > 1 || h.dim[4] > 1 || h.dim[5] > 1 || h.dim[6] > 1)
    throw Error(fmt::format("{} must be a 3D image, found {}; {}", what, h.shape_string(), if_4d))
        .context(path.string());
  return h;
}

// Voxel counts per label value; throws on a value that is not an integer 0..32767.
std::vector<std::int64_t> count_labels(const Volume& v, const fs::path& path) {
  std::vector<std::int64_t> counts(kMaxIndex + 1, 0);
  const float* d = v.data();
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float x = d[i];
    const double r = std::round(static_cast<double>(x));
    if (!std::isfinite(x) || std::abs(static_cast<double>(x) - r) > kLabelTolerance || r < 0 || r > kMaxIndex)
      throw Error(fmt::format("voxel {} holds {}: a label image holds integers 0..{} (0 = background). "
                              "Non-integer values mean a probability or intensity image, or labels "
                              "resampled with linear interpolation (resample labels with nearest "
                              "neighbour); for a 4D probabilistic atlas give a threshold",
                              ijk(v, i), x, kMaxIndex))
          .context(path.string());
    ++counts[static_cast<std::size_t>(r)];
  }
  return counts;
}

// Checks every value is a probability (NaN or outside [0, 1] -> error naming the ROI and voxel)
// and clamps rounding excursions (within 1e-4) into [0, 1].
void check_probabilities(Volume& p, const fs::path& path, const std::vector<TsvRoi>* roi_of_volume) {
  float* d = p.data();
  const auto nvox = static_cast<std::size_t>(p.voxels_per_volume());
  float max_value = 0.0f;
  std::size_t first_bad = p.size();
  for (std::size_t i = 0; i < p.size(); ++i) {
    const float x = d[i];
    if (std::isnan(x) || x < -kProbabilityTolerance || x > 1.0 + kProbabilityTolerance) {
      if (first_bad == p.size()) first_bad = i;
      if (std::isfinite(x)) max_value = std::max(max_value, x);
      continue;
    }
    d[i] = std::clamp(x, 0.0f, 1.0f);
  }
  if (first_bad == p.size()) return;
  const std::size_t t = first_bad / nvox;
  const std::string where =
      roi_of_volume != nullptr ? fmt::format("volume {} ({}), ", t, (*roi_of_volume)[t].name) : std::string();
  std::string hint;
  if (max_value > 1.0f && max_value <= 100.0f)
    hint = fmt::format("; values up to {} look like percentages (FSL atlases store 0..100): divide the image "
                       "by 100 (fslmaths in -div 100 out)",
                       max_value);
  if (max_value > 1.0f && roi_of_volume == nullptr)
    hint += "; or is this the label image? The probability image holds each voxel's top-label probability";
  throw Error(fmt::format("{}voxel {} holds {}: probabilities must lie in [0, 1]{}", where,
                          ijk(p, first_bad % nvox), d[first_bad], hint))
      .context(path.string());
}

void check_threshold(double threshold, const fs::path& image) {
  if (!(threshold > 0.0 && threshold <= 1.0))
    throw Error(fmt::format("atlas threshold {} is outside (0, 1]: it is the probability a voxel's most "
                            "probable ROI needs to be labelled (e.g. 0.5, or 0.25 as FSL's thr25)",
                            threshold))
        .context(image.string());
}

double voxel_volume_mm3(const Grid& g) {
  const Affine& a = g.affine;
  return std::abs(a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                  a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                  a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]));
}

// The template must be a readable 3D image whose field of view holds the atlas's labelled voxels.
void check_template(const fs::path& template_image, const Volume& labels) {
  if (template_image.empty()) return;
  const io::NiftiHeader h = header_3d(template_image, "the atlas template",
                                      "give the 3D template image subjects are registered to");
  double sum[3] = {0, 0, 0};
  std::int64_t n = 0;
  for (std::int64_t k = 0; k < labels.nz(); ++k)
    for (std::int64_t j = 0; j < labels.ny(); ++j)
      for (std::int64_t i = 0; i < labels.nx(); ++i)
        if (labels.at(i, j, k) != 0.0f) {
          sum[0] += static_cast<double>(i);
          sum[1] += static_cast<double>(j);
          sum[2] += static_cast<double>(k);
          ++n;
        }
  if (n == 0) return;
  const auto w = labels.grid().to_world(sum[0] / static_cast<double>(n), sum[1] / static_cast<double>(n),
                                        sum[2] / static_cast<double>(n));
  // Template voxel coordinates of w: solve A x = w - t for the template's 3x3 affine A.
  const Affine& a = h.grid.affine;
  const double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                     a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                     a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  const double b[3] = {w[0] - a[0][3], w[1] - a[1][3], w[2] - a[2][3]};
  double x[3];
  for (int c = 0; c < 3; ++c) { // Cramer's rule
    double m[3][3];
    for (int r = 0; r < 3; ++r)
      for (int q = 0; q < 3; ++q) m[r][q] = q == c ? b[r] : a[r][q];
    x[c] = (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
            m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
            m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])) /
           det;
  }
  for (int c = 0; c < 3; ++c)
    if (!(x[c] >= -0.5 && x[c] <= static_cast<double>(h.dim[static_cast<std::size_t>(c)]) - 0.5))
      throw Error(
          fmt::format("the atlas's labelled voxels (centroid ({:.1f}, {:.1f}, {:.1f}) mm) lie outside "
                      "the template's field of view ({}, voxel ({:.1f}, {:.1f}, {:.1f})): is this the "
                      "atlas's own template, in the same space?",
                      w[0], w[1], w[2], h.shape_string(), x[0], x[1], x[2]))
          .context(template_image.string());
}

void warn(UserAtlas& ua, std::string message) {
  spdlog::warn("{}", message);
  ua.warnings.push_back(std::move(message));
}

// ROIs from the TSV rows, and the common fields of a user atlas.
UserAtlas start(UserAtlasKind kind, const fs::path& image, const fs::path& tsv,
                const fs::path& template_image, double threshold, const std::vector<TsvRoi>& rows,
                const std::string& definition_format) {
  UserAtlas ua;
  ua.kind = kind;
  ua.image = image;
  ua.labels_tsv = tsv;
  ua.template_image = template_image;
  ua.threshold = threshold;
  const std::string atlas_entity = bids_entity(image, "atlas");
  ua.atlas.name = atlas_entity.empty() ? stem_of(image) : atlas_entity;
  std::size_t position = 0;
  for (const TsvRoi& row : rows) {
    Roi roi;
    roi.index = row.index;
    roi.name = row.name;
    roi.structure = row.structure;
    roi.hemisphere = row.hemisphere;
    roi.source = image.filename().string();
    roi.definition = fmt::format(fmt::runtime(definition_format), fmt::arg("index", row.index),
                                 fmt::arg("volume", position), fmt::arg("threshold", threshold));
    roi.reference_centroid_mm.fill(std::numeric_limits<double>::quiet_NaN());
    roi.reference = "n/a";
    roi.citation = "n/a";
    roi.ref_tolerance_mm = std::numeric_limits<double>::quiet_NaN();
    ua.atlas.rois.push_back(std::move(roi));
    ++position;
  }
  return ua;
}

// Every label of the image must have a TSV row (else an error naming them).
void require_named(const UserAtlas& ua, const std::vector<std::int64_t>& counts, const fs::path& image,
                   const fs::path& tsv) {
  std::vector<bool> named(counts.size(), false);
  for (const Roi& r : ua.atlas.rois) named[static_cast<std::size_t>(r.index)] = true;
  std::vector<std::string> unnamed;
  std::size_t n_unnamed = 0;
  for (std::size_t l = 1; l < counts.size(); ++l)
    if (counts[l] > 0 && !named[l] && ++n_unnamed <= 10)
      unnamed.push_back(fmt::format("{} ({} voxels)", l, counts[l]));
  if (n_unnamed > 0)
    throw Error(fmt::format("{} label(s) of the image have no row in {}: {}{}. Add a row (index, name) for "
                            "each, or use the TSV that belongs to this atlas",
                            n_unnamed, tsv.filename().string(), join(unnamed, ", "),
                            n_unnamed > unnamed.size() ? ", ..." : ""))
        .context(image.string());
}

// A warning naming the ROIs without voxels in the final labels (they are kept).
void warn_empty(UserAtlas& ua, const fs::path& image, const fs::path& tsv) {
  const std::vector<std::int64_t> counts = count_labels(ua.atlas.labels, image);
  std::vector<std::string> empty;
  for (const Roi& r : ua.atlas.rois)
    if (counts[static_cast<std::size_t>(r.index)] == 0)
      empty.push_back(fmt::format("{} ({})", r.index, r.name));
  if (!empty.empty())
    warn(ua, fmt::format("{}: {} ROI(s) of {} have no voxels{}: {}; kept with 0 voxels", image.string(),
                         empty.size(), tsv.filename().string(),
                         ua.kind == UserAtlasKind::label ? "" : fmt::format(" at p >= {}", ua.threshold),
                         join(empty, ", ")));
}

} // namespace

std::span<const float> UserAtlas::probability_map(int roi_index) const {
  for (std::size_t r = 0; r < atlas.rois.size(); ++r)
    if (atlas.rois[r].index == roi_index)
      return probabilities ? probabilities->volume(static_cast<std::int64_t>(r)) : std::span<const float>();
  throw Error(fmt::format("atlas {} has no ROI with index {}", atlas.name, roi_index));
}

UserAtlas load_label_atlas(const fs::path& nifti, const fs::path& tsv_given, const fs::path& template_image,
                           const std::string& space) {
  const io::NiftiHeader h = header_3d(nifti, "a label atlas",
                                      "for a 4D probabilistic atlas give a threshold "
                                      "(load_probabilistic_atlas, --atlas-threshold)");
  const fs::path tsv = choose_tsv(tsv_given, nifti);
  const std::vector<TsvRoi> rows = read_labels_tsv(tsv);
  Volume labels = io::read_nifti_voxels(h);
  const std::vector<std::int64_t> counts = count_labels(labels, nifti);
  UserAtlas ua = start(UserAtlasKind::label, nifti, tsv, template_image, 0.0, rows, "label {index}");
  labels.grid().space = choose_space(space, nifti, template_image, labels.grid());
  ua.atlas.labels = std::move(labels);
  require_named(ua, counts, nifti, tsv);
  warn_empty(ua, nifti, tsv);
  check_template(template_image, ua.atlas.labels);
  return ua;
}

UserAtlas load_probabilistic_atlas(const fs::path& nifti4d, const fs::path& tsv_given, double threshold,
                                   const fs::path& template_image, const std::string& space) {
  check_threshold(threshold, nifti4d);
  const io::NiftiHeader h = io::read_nifti_header(nifti4d);
  if (h.ndim < 4 || h.dim[4] > 1 || h.dim[5] > 1 || h.dim[6] > 1)
    throw Error(fmt::format("a probabilistic atlas is a 4D image (one volume per ROI), found {}; for a 3D "
                            "label image use load_label_atlas (no threshold), for a max-probability pair "
                            "load_maxprob_atlas",
                            h.shape_string()))
        .context(nifti4d.string());
  const fs::path tsv = choose_tsv(tsv_given, nifti4d);
  const std::vector<TsvRoi> rows = read_labels_tsv(tsv);
  if (static_cast<std::int64_t>(rows.size()) != h.volumes())
    throw Error(fmt::format("the image has {} volumes but {} has {} ROI rows (index > 0): a probabilistic "
                            "atlas needs one volume per ROI, volume t being the ROI with the (t+1)-th "
                            "smallest index",
                            h.volumes(), tsv.filename().string(), rows.size()))
        .context(nifti4d.string());
  Volume p = io::read_nifti_voxels(h);
  check_probabilities(p, nifti4d, &rows);

  UserAtlas ua = start(UserAtlasKind::probabilistic, nifti4d, tsv, template_image, threshold, rows,
                       "volume {volume}, max-probability, p >= {threshold}");
  Grid grid = p.grid();
  grid.space = choose_space(space, nifti4d, template_image, grid);
  p.grid().space = grid.space;
  p.set_time_step_s(0.0);
  Volume labels(grid, 1, 0.0f);
  const auto nvox = static_cast<std::size_t>(p.voxels_per_volume());
  const auto nroi = static_cast<std::size_t>(p.volumes());
  const float* pd = p.data();
  float* ld = labels.data();
  std::vector<float> index_of(nroi);
  for (std::size_t r = 0; r < nroi; ++r) index_of[r] = static_cast<float>(rows[r].index);
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, nvox, 4096),
                    [&](const tbb::blocked_range<std::size_t>& b) {
                      for (std::size_t v = b.begin(); v != b.end(); ++v) {
                        std::size_t best = 0;
                        float best_p = pd[v];
                        for (std::size_t r = 1; r < nroi; ++r)
                          if (pd[r * nvox + v] > best_p) { // strict: ties go to the earlier volume
                            best_p = pd[r * nvox + v];
                            best = r;
                          }
                        if (static_cast<double>(best_p) >= threshold) ld[v] = index_of[best];
                      }
                    });
  ua.atlas.labels = std::move(labels);
  ua.probabilities = std::move(p);
  warn_empty(ua, nifti4d, tsv);
  check_template(template_image, ua.atlas.labels);
  return ua;
}

UserAtlas load_maxprob_atlas(const fs::path& labels_path, const fs::path& probability,
                             const fs::path& tsv_given, double threshold, const fs::path& template_image,
                             const std::string& space) {
  check_threshold(threshold, labels_path);
  const io::NiftiHeader hl = header_3d(labels_path, "the max-probability label image",
                                       "for a 4D probabilistic atlas use load_probabilistic_atlas");
  const io::NiftiHeader hp = header_3d(probability, "the max-probability probability image",
                                       "give the 3D probability of each voxel's top label");
  if (!hl.grid.same_sampling(hp.grid))
    throw Error(fmt::format("the label image ({}) and the probability image {} ({}) are on different grids; "
                            "they must be the two halves of one max-probability atlas",
                            hl.shape_string(), probability.string(), hp.shape_string()))
        .context(labels_path.string());
  const fs::path tsv = choose_tsv(tsv_given, labels_path);
  const std::vector<TsvRoi> rows = read_labels_tsv(tsv);
  const Volume top = io::read_nifti_voxels(hl);
  const std::vector<std::int64_t> top_counts = count_labels(top, labels_path);
  Volume p = io::read_nifti_voxels(hp);
  check_probabilities(p, probability, nullptr);

  UserAtlas ua = start(UserAtlasKind::maxprob, labels_path, tsv, template_image, threshold, rows,
                       "label {index}, p >= {threshold}");
  ua.probability_image = probability;
  require_named(ua, top_counts, labels_path, tsv);

  Grid grid = top.grid();
  grid.space = choose_space(space, labels_path, template_image, grid);
  const auto nvox = static_cast<std::size_t>(top.voxels_per_volume());
  const std::size_t nroi = rows.size();
  std::vector<int> slot(kMaxIndex + 1, -1);
  for (std::size_t r = 0; r < nroi; ++r) slot[static_cast<std::size_t>(rows[r].index)] = static_cast<int>(r);
  Volume labels(grid, 1, 0.0f);
  Volume weights(grid, static_cast<std::int64_t>(nroi), 0.0f);
  const float* td = top.data();
  const float* pd = p.data();
  float* ld = labels.data();
  float* wd = weights.data();
  std::int64_t orphans = 0; // p > 0 without a label
  for (std::size_t v = 0; v < nvox; ++v) {
    const auto l = static_cast<std::size_t>(std::lround(td[v]));
    if (l == 0) {
      if (pd[v] > 0.0f) ++orphans;
      continue;
    }
    const auto r = static_cast<std::size_t>(slot[l]);
    wd[r * nvox + v] = pd[v];
    if (static_cast<double>(pd[v]) >= threshold) ld[v] = td[v];
  }
  if (orphans > 0)
    warn(ua, fmt::format("{}: {} voxels have p > 0 but no label in {}; ignored", probability.string(),
                         orphans, labels_path.filename().string()));
  ua.atlas.labels = std::move(labels);
  ua.probabilities = std::move(weights);
  warn_empty(ua, labels_path, tsv);
  check_template(template_image, ua.atlas.labels);
  return ua;
}

UserAtlas load_user_atlas(const UserAtlasSpec& spec) {
  const io::NiftiHeader h = io::read_nifti_header(spec.image);
  const bool four_d = h.volumes() > 1 || h.ndim >= 4;
  if (four_d) {
    if (!spec.probability_image.empty())
      throw Error(fmt::format("a probability image ({}) goes with a 3D max-probability label image, but the "
                              "atlas is 4D ({}): a 4D probabilistic atlas carries its own probabilities",
                              spec.probability_image.string(), h.shape_string()))
          .context(spec.image.string());
    return load_probabilistic_atlas(spec.image, spec.labels_tsv, spec.threshold.value_or(0.5),
                                    spec.template_image, spec.space);
  }
  if (!spec.probability_image.empty())
    return load_maxprob_atlas(spec.image, spec.probability_image, spec.labels_tsv,
                              spec.threshold.value_or(0.5), spec.template_image, spec.space);
  if (spec.threshold)
    throw Error(fmt::format("a threshold ({}) applies to a 4D probabilistic atlas or a max-probability atlas "
                            "(with its probability image), but this is a 3D label image ({}); drop the "
                            "threshold",
                            *spec.threshold, h.shape_string()))
        .context(spec.image.string());
  return load_label_atlas(spec.image, spec.labels_tsv, spec.template_image, spec.space);
}

io::Table describe(const UserAtlas& ua) {
  const io::Table base = describe(ua.atlas);
  std::vector<std::string> columns = base.columns();
  for (const char* c : {"prob_voxels", "prob_volume_mm3", "max_probability"}) columns.emplace_back(c);
  io::Table table(columns);
  const double voxel_mm3 = voxel_volume_mm3(ua.atlas.labels.grid());
  for (std::size_t r = 0; r < base.row_count(); ++r) {
    std::vector<std::string> row = base.row(r);
    if (ua.probabilities) {
      const std::span<const float> p = ua.probabilities->volume(static_cast<std::int64_t>(r));
      std::int64_t n = 0;
      double sum = 0.0;
      float top = 0.0f;
      for (float x : p)
        if (x > 0.0f) {
          ++n;
          sum += static_cast<double>(x);
          top = std::max(top, x);
        }
      row.push_back(std::to_string(n));
      row.push_back(fmt::format("{:.0f}", sum * voxel_mm3));
      row.push_back(fmt::format("{:.3f}", top));
    } else {
      for (int c = 0; c < 3; ++c) row.emplace_back("n/a");
    }
    table.add_row(std::move(row));
  }
  return table;
}

Volume load_template(const UserAtlas& ua) {
  if (ua.template_image.empty())
    throw Error(fmt::format("atlas {} has no template image: pass the image the atlas is defined on "
                            "(--atlas-template), subjects are registered to it",
                            ua.atlas.name));
  Volume t = io::read_nifti(ua.template_image, io::Expect::volume3d);
  t.grid().space = ua.space();
  return t;
}

} // namespace rewardpath::atlas
