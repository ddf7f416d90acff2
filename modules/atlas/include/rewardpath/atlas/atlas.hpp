#pragma once
// Label atlases in a template space. The built-in reward atlas is made reproducibly from
// atlases/reward_rois.tsv (ROI table with sources and citations), AAL and Colin27 from Debian's
// mricron-data, and ellipsoids at published MNI coordinates for ROIs AAL lacks (VTA, NAcc).
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/core/volume.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::atlas {

struct Roi {
  int index = 0;               // label value in the atlas volume
  std::string name;            // e.g. "NAcc_L"
  std::string structure;       // e.g. "nucleus accumbens"
  std::string hemisphere;      // "L", "R" or "bilateral"
  std::string source;          // "AAL" or "coordinates"
  std::string definition;      // e.g. "aal:41" or "ellipsoid:4.5,6,4.2" (semi-axes mm, at the centre below)
  std::array<double, 3> reference_centroid_mm{};  // published / independent MNI centroid it is checked against
  std::string reference;       // where reference_centroid_mm comes from
  double volume_min_mm3 = 0;   // plausible volume range from the literature
  double volume_max_mm3 = 0;
  std::string citation;
};

struct Atlas {
  std::string name;             // "reward"
  Volume labels;                // 3D, integer label values stored as float, 0 = background
  std::vector<Roi> rois;
  const Roi* find(const std::string& name) const;
  const Roi* by_index(int index) const;
};

struct RoiMeasure {
  int index = 0;
  std::int64_t voxels = 0;
  double volume_mm3 = 0;
  std::array<double, 3> centroid_mm{};  // world (template) coordinates
};
std::vector<RoiMeasure> measure_rois(const Atlas& atlas);

// Where atlases/ is: $REWARDPATH_ATLAS_DIR if set, else the source tree's atlases/ (compiled in).
std::filesystem::path default_atlas_dir();
// Debian mricron-data templates: /usr/share/mricron/templates (or $REWARDPATH_MRICRON_DIR).
std::filesystem::path mricron_templates_dir();

std::vector<Roi> read_roi_table(const std::filesystem::path& tsv);

// Builds the reward atlas on the AAL/Colin27 1 mm grid (181x217x181, space "MNIColin27").
// Coordinate ROIs take precedence where they overlap AAL regions, so no two ROIs overlap.
Atlas build_reward_atlas();
Atlas build_reward_atlas(const std::filesystem::path& roi_table, const std::filesystem::path& aal_image);

// The template the reward atlas is defined on: Colin27 brain (ch2bet), space "MNIColin27".
Volume load_template();

// index, name, structure, hemisphere, source, voxels, volume_mm3, centroid, citation.
io::Table describe(const Atlas& atlas);

}  // namespace rewardpath::atlas
