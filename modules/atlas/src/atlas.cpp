// Atlas look-ups, resource locations, the template, ROI measures, the description table and writing.
#include "rewardpath/atlas/atlas.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"

namespace rewardpath::atlas {
namespace {

std::filesystem::path env_path(const char* variable) {
  const char* v = std::getenv(variable);
  return v != nullptr && *v != '\0' ? std::filesystem::path(v) : std::filesystem::path();
}

double voxel_volume_mm3(const Grid& g) {
  const Affine& a = g.affine;
  return std::abs(a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                  a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                  a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]));
}

std::string mm(double v) { return std::isfinite(v) ? fmt::format("{:.1f}", v) : "n/a"; }

} // namespace

const Roi* Atlas::find(const std::string& roi_name) const {
  for (const Roi& r : rois)
    if (r.name == roi_name) return &r;
  return nullptr;
}

const Roi* Atlas::by_index(int index) const {
  for (const Roi& r : rois)
    if (r.index == index) return &r;
  return nullptr;
}

std::filesystem::path default_atlas_dir() {
  if (auto p = env_path("REWARDPATH_ATLAS_DIR"); !p.empty()) return p;
  return std::filesystem::path(RP_ATLAS_DIR);
}

std::filesystem::path mricron_templates_dir() {
  if (auto p = env_path("REWARDPATH_MRICRON_DIR"); !p.empty()) return p;
  return "/usr/share/mricron/templates";
}

std::filesystem::path mricron_template_file(const std::string& name) {
  const std::filesystem::path p = mricron_templates_dir() / name;
  if (!std::filesystem::is_regular_file(p))
    throw Error(fmt::format("{} is missing: the reward atlas needs the AAL labels and the Colin27 template "
                            "from Debian's mricron-data; install it (scripts/setup.sh, or apt-get install "
                            "mricron-data) or point REWARDPATH_MRICRON_DIR at a directory holding {}",
                            p.string(), name));
  return p;
}

Volume load_template() {
  Volume t = io::read_nifti(mricron_template_file("ch2bet.nii.gz"), io::Expect::volume3d);
  t.grid().space = "MNIColin27";
  return t;
}

std::vector<RoiMeasure> measure_rois(const Atlas& atlas) {
  const Volume& lab = atlas.labels;
  int max_index = 0;
  for (const Roi& r : atlas.rois) max_index = std::max(max_index, r.index);
  std::vector<int> slot(static_cast<std::size_t>(max_index) + 1, -1);
  for (std::size_t s = 0; s < atlas.rois.size(); ++s)
    if (atlas.rois[s].index > 0) slot[static_cast<std::size_t>(atlas.rois[s].index)] = static_cast<int>(s);

  struct Sum {
    std::int64_t n = 0;
    double i = 0, j = 0, k = 0;
  };
  std::vector<Sum> sums(atlas.rois.size());
  if (lab.size() > 0) {
    const float* d = lab.data();
    const float top = static_cast<float>(max_index);
    std::size_t v = 0;
    for (std::int64_t k = 0; k < lab.nz(); ++k)
      for (std::int64_t j = 0; j < lab.ny(); ++j)
        for (std::int64_t i = 0; i < lab.nx(); ++i, ++v) {
          const float x = d[v];
          if (!(x >= 1.0f) || x > top) continue;
          const int s = slot[static_cast<std::size_t>(std::lround(x))];
          if (s < 0) continue;
          Sum& sum = sums[static_cast<std::size_t>(s)];
          ++sum.n;
          sum.i += static_cast<double>(i);
          sum.j += static_cast<double>(j);
          sum.k += static_cast<double>(k);
        }
  }
  const double voxel_mm3 = lab.size() > 0 ? voxel_volume_mm3(lab.grid()) : 0.0;
  std::vector<RoiMeasure> out(atlas.rois.size());
  for (std::size_t s = 0; s < out.size(); ++s) {
    RoiMeasure& m = out[s];
    const Sum& sum = sums[s];
    m.index = atlas.rois[s].index;
    m.voxels = sum.n;
    m.volume_mm3 = static_cast<double>(sum.n) * voxel_mm3;
    if (sum.n == 0) {
      m.centroid_mm.fill(std::numeric_limits<double>::quiet_NaN());
    } else {
      const double n = static_cast<double>(sum.n);
      m.centroid_mm = lab.grid().to_world(sum.i / n, sum.j / n, sum.k / n);
    }
  }
  return out;
}

io::Table describe(const Atlas& atlas) {
  io::Table table({"index", "name", "structure", "hemisphere", "source", "definition", "voxels", "volume_mm3",
                   "centroid_x_mm", "centroid_y_mm", "centroid_z_mm", "reference_distance_mm", "citation"});
  const std::vector<RoiMeasure> measures = measure_rois(atlas);
  for (std::size_t r = 0; r < atlas.rois.size(); ++r) {
    const Roi& roi = atlas.rois[r];
    const RoiMeasure& m = measures[r];
    double distance = std::numeric_limits<double>::quiet_NaN();
    if (roi.has_reference() && m.voxels > 0) {
      double s = 0.0;
      for (std::size_t a = 0; a < 3; ++a)
        s += (m.centroid_mm[a] - roi.reference_centroid_mm[a]) *
             (m.centroid_mm[a] - roi.reference_centroid_mm[a]);
      distance = std::sqrt(s);
    }
    table.add_row({std::to_string(roi.index), roi.name, roi.structure, roi.hemisphere, roi.source,
                   roi.definition, std::to_string(m.voxels), fmt::format("{:.0f}", m.volume_mm3),
                   mm(m.centroid_mm[0]), mm(m.centroid_mm[1]), mm(m.centroid_mm[2]), mm(distance),
                   roi.citation});
  }
  return table;
}

void write_atlas(const Atlas& atlas, const std::filesystem::path& nifti_path,
                 const std::filesystem::path& tsv_path) {
  int max_index = 0;
  for (const Roi& r : atlas.rois) max_index = std::max(max_index, r.index);
  io::NiftiWriteOptions options;
  options.type = max_index <= 255 ? io::StoredType::uint8 : io::StoredType::int16;
  options.description = "rewardpath " + atlas.name + " atlas (" + atlas.labels.grid().space + ")";
  io::write_nifti(nifti_path, atlas.labels, options);
  io::write_tsv(tsv_path, describe(atlas));
}

} // namespace rewardpath::atlas
