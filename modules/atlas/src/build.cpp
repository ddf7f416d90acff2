// Building the reward atlas: AAL label unions (optionally restricted by template intensity), then
// coordinate ellipsoids painted over them (carving their voxels out of AAL ROIs).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "internal.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"

namespace rewardpath::atlas {
namespace {

using detail::Definition;
using detail::TableRow;

constexpr int kMaxAalLabel = 65535;

// AAL label names from the text file beside the image ("aal.nii.gz" -> "aal.nii.txt"): lines of
// "N Name Code" (CRLF in mricron-data). Empty when there is no such file.
std::map<int, std::string> read_aal_names(const std::filesystem::path& aal_image) {
  std::string base = aal_image.string();
  if (base.ends_with(".gz")) base.resize(base.size() - 3);
  const std::filesystem::path txt = base + ".txt";
  std::map<int, std::string> names;
  std::ifstream in(txt);
  if (!in) return names;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream fields(line);
    int n = 0;
    std::string name;
    if (fields >> n >> name) names[n] = name;
  }
  return names;
}

// Inverse of the 3x3 linear part of an affine (voxel -> world), for world -> voxel bounds.
std::array<std::array<double, 3>, 3> inverse3(const Affine& a) {
  const double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                     a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                     a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  if (std::abs(det) < 1e-12) throw Error("the atlas image's affine is singular");
  std::array<std::array<double, 3>, 3> inv{};
  inv[0][0] = (a[1][1] * a[2][2] - a[1][2] * a[2][1]) / det;
  inv[0][1] = (a[0][2] * a[2][1] - a[0][1] * a[2][2]) / det;
  inv[0][2] = (a[0][1] * a[1][2] - a[0][2] * a[1][1]) / det;
  inv[1][0] = (a[1][2] * a[2][0] - a[1][0] * a[2][2]) / det;
  inv[1][1] = (a[0][0] * a[2][2] - a[0][2] * a[2][0]) / det;
  inv[1][2] = (a[0][2] * a[1][0] - a[0][0] * a[1][2]) / det;
  inv[2][0] = (a[1][0] * a[2][1] - a[1][1] * a[2][0]) / det;
  inv[2][1] = (a[0][1] * a[2][0] - a[0][0] * a[2][1]) / det;
  inv[2][2] = (a[0][0] * a[1][1] - a[0][1] * a[1][0]) / det;
  return inv;
}

struct Box {
  std::array<std::int64_t, 3> lo{}, hi{}; // inclusive voxel index bounds
  bool empty = true;
};

// Voxel-index bounding box of the world box centre +- semi-axes, clipped to the grid.
Box voxel_bounds(const Grid& g, const std::array<double, 3>& centre, const std::array<double, 3>& semi) {
  const auto inv = inverse3(g.affine);
  std::array<double, 3> lo{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::infinity()};
  std::array<double, 3> hi{-lo[0], -lo[1], -lo[2]};
  for (int corner = 0; corner < 8; ++corner) {
    std::array<double, 3> d{};
    for (std::size_t a = 0; a < 3; ++a)
      d[a] = centre[a] + ((corner >> a) & 1 ? semi[a] : -semi[a]) - g.affine[a][3];
    for (std::size_t r = 0; r < 3; ++r) {
      const double v = inv[r][0] * d[0] + inv[r][1] * d[1] + inv[r][2] * d[2];
      lo[r] = std::min(lo[r], v);
      hi[r] = std::max(hi[r], v);
    }
  }
  Box b;
  b.empty = false;
  for (std::size_t r = 0; r < 3; ++r) {
    b.lo[r] = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(lo[r])));
    b.hi[r] = std::min<std::int64_t>(g.dims[r] - 1, static_cast<std::int64_t>(std::ceil(hi[r])));
    if (b.lo[r] > b.hi[r]) b.empty = true;
  }
  return b;
}

} // namespace

Atlas build_reward_atlas(const std::filesystem::path& roi_table, const std::filesystem::path& aal_image,
                         const std::filesystem::path& template_image) {
  std::vector<TableRow> rows = detail::read_roi_rows(roi_table);

  // Header first: the label image must be 3D before any voxel is read.
  const io::NiftiHeader aal_header = io::read_nifti_header(aal_image, io::Expect::volume3d);
  const Volume aal = io::read_nifti_voxels(aal_header);
  const std::size_t n = aal.size();
  const float* aal_data = aal.data();

  // Which AAL labels occur, and how often.
  std::vector<std::int64_t> label_count(1, 0);
  for (std::size_t v = 0; v < n; ++v) {
    const float x = aal_data[v];
    if (x == 0.0f) continue;
    if (!(x > 0.0f) || x > static_cast<float>(kMaxAalLabel) || x != std::floor(x))
      throw Error(fmt::format("voxel value {} is not a label (expected integers 0..{})", x, kMaxAalLabel))
          .context(aal_image.string());
    const auto label = static_cast<std::size_t>(x);
    if (label >= label_count.size()) label_count.resize(label + 1, 0);
    ++label_count[label];
  }
  int first_label = 0, last_label = 0;
  for (std::size_t l = 1; l < label_count.size(); ++l)
    if (label_count[l] > 0) {
      if (first_label == 0) first_label = static_cast<int>(l);
      last_label = static_cast<int>(l);
    }

  // Validate every AAL reference before painting anything.
  const std::map<int, std::string> aal_names = read_aal_names(aal_image);
  bool needs_template = false;
  for (const TableRow& row : rows) {
    if (row.definition.kind != Definition::Kind::aal) continue;
    needs_template = needs_template || row.definition.template_restricted;
    for (int label : row.definition.aal_labels) {
      const auto l = static_cast<std::size_t>(label);
      if (l >= label_count.size() || label_count[l] == 0)
        detail::throw_cell_error(roi_table, row.line, "definition",
                                 fmt::format("unknown AAL label {}: it does not occur in {} (labels {}..{})",
                                             label, aal_image.string(), first_label, last_label));
      if (!aal_names.empty()) {
        const auto it = aal_names.find(label);
        if (it == aal_names.end())
          detail::throw_cell_error(
              roi_table, row.line, "definition",
              fmt::format("unknown AAL label {}: not listed in the AAL label names", label));
        const std::string& name = it->second;
        const std::string& hemi = row.roi.hemisphere;
        if ((hemi == "L" && name.ends_with("_R")) || (hemi == "R" && name.ends_with("_L")))
          detail::throw_cell_error(
              roi_table, row.line, "definition",
              fmt::format("AAL label {} is {}, but the ROI's hemisphere is {}", label, name, hemi));
      }
    }
  }

  Volume tmpl;
  if (needs_template) {
    tmpl = io::read_nifti(template_image, io::Expect::volume3d);
    if (!tmpl.grid().same_sampling(aal.grid()))
      throw Error(fmt::format("the template does not sample the AAL image's grid (template {}x{}x{}, "
                              "AAL {}x{}x{}, or their affines differ); template= restrictions need both "
                              "on one grid",
                              tmpl.nx(), tmpl.ny(), tmpl.nz(), aal.nx(), aal.ny(), aal.nz()))
          .context(template_image.string());
  }

  Grid grid = aal.grid();
  grid.space = "MNIColin27";
  Volume labels(grid, 1, 0.0f);
  float* out = labels.data();

  int max_index = 0;
  for (const TableRow& row : rows) max_index = std::max(max_index, row.roi.index);
  std::vector<int> row_of_index(static_cast<std::size_t>(max_index) + 1, -1);
  for (std::size_t r = 0; r < rows.size(); ++r)
    row_of_index[static_cast<std::size_t>(rows[r].roi.index)] = static_cast<int>(r);
  const auto owner = [&](float label) {
    return static_cast<std::size_t>(row_of_index[static_cast<std::size_t>(label)]);
  };

  std::map<std::pair<std::size_t, std::size_t>, std::int64_t> overlaps;

  // 1. AAL ROIs: one pass over the image; each AAL label lists the rows that claim it.
  std::vector<std::vector<std::size_t>> claims(label_count.size());
  for (std::size_t r = 0; r < rows.size(); ++r)
    if (rows[r].definition.kind == Definition::Kind::aal)
      for (int label : rows[r].definition.aal_labels) claims[static_cast<std::size_t>(label)].push_back(r);
  const float* t = needs_template ? tmpl.data() : nullptr;
  for (std::size_t v = 0; v < n; ++v) {
    const auto label = static_cast<std::size_t>(aal_data[v]);
    if (label == 0) continue;
    for (std::size_t r : claims[label]) {
      const Definition& d = rows[r].definition;
      if (d.template_restricted && (t[v] < d.template_lo || t[v] > d.template_hi)) continue;
      if (out[v] != 0.0f) {
        ++overlaps[{owner(out[v]), r}];
        continue;
      }
      out[v] = static_cast<float>(rows[r].roi.index);
    }
  }

  // 2. Coordinate ROIs, over the AAL ones (carving them out); never over each other.
  std::vector<bool> is_coordinate(rows.size(), false);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const Definition& d = rows[r].definition;
    if (d.kind != Definition::Kind::ellipsoid) continue;
    is_coordinate[r] = true;
    const Box box = voxel_bounds(grid, d.centre_mm, d.semi_axes_mm);
    if (box.empty) continue;
    const float index = static_cast<float>(rows[r].roi.index);
    for (std::int64_t k = box.lo[2]; k <= box.hi[2]; ++k)
      for (std::int64_t j = box.lo[1]; j <= box.hi[1]; ++j)
        for (std::int64_t i = box.lo[0]; i <= box.hi[0]; ++i) {
          const auto w =
              grid.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
          double q = 0.0;
          for (std::size_t a = 0; a < 3; ++a) {
            const double u = (w[a] - d.centre_mm[a]) / d.semi_axes_mm[a];
            q += u * u;
          }
          if (q > 1.0 + 1e-9) continue;
          const std::size_t v = labels.index(i, j, k);
          if (out[v] != 0.0f && is_coordinate[owner(out[v])]) {
            ++overlaps[{owner(out[v]), r}];
            continue;
          }
          out[v] = index;
        }
  }

  if (!overlaps.empty()) {
    const auto& [pair, count] = *overlaps.begin();
    const TableRow& a = rows[pair.first];
    const TableRow& b = rows[pair.second];
    throw Error(fmt::format("ROIs {} (line {}) and {} (line {}) overlap in {} voxel(s){}; AAL ROIs must not "
                            "share voxels, nor coordinate ROIs (coordinate ROIs may only carve AAL ones)",
                            a.roi.name, a.line, b.roi.name, b.line, count,
                            overlaps.size() > 1
                                ? fmt::format(" (and {} more overlapping pair(s))", overlaps.size() - 1)
                                : std::string()))
        .context(roi_table.string());
  }

  Atlas atlas;
  atlas.name = "reward";
  atlas.labels = std::move(labels);
  for (TableRow& row : rows) atlas.rois.push_back(std::move(row.roi));

  const std::vector<RoiMeasure> measures = measure_rois(atlas);
  for (std::size_t r = 0; r < measures.size(); ++r)
    if (measures[r].voxels == 0)
      detail::throw_cell_error(roi_table, rows[r].line, "definition",
                               fmt::format("ROI {} (\"{}\") has no voxels on the {}x{}x{} grid of {}",
                                           atlas.rois[r].name, atlas.rois[r].definition, grid.dims[0],
                                           grid.dims[1], grid.dims[2], aal_image.string()));
  return atlas;
}

Atlas build_reward_atlas(const std::filesystem::path& roi_table, const std::filesystem::path& aal_image) {
  return build_reward_atlas(roi_table, aal_image, aal_image.parent_path() / "ch2bet.nii.gz");
}

Atlas build_reward_atlas() {
  const std::filesystem::path table = default_atlas_dir() / "reward_rois.tsv";
  if (!std::filesystem::exists(table))
    throw Error(fmt::format("the reward ROI table {} does not exist; set REWARDPATH_ATLAS_DIR to the "
                            "directory holding reward_rois.tsv (the source tree's atlases/)",
                            table.string()));
  const std::filesystem::path aal = mricron_template_file("aal.nii.gz");
  return build_reward_atlas(table, aal, mricron_template_file("ch2bet.nii.gz"));
}

} // namespace rewardpath::atlas
