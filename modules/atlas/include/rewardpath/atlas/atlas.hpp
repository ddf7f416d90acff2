#pragma once
// Label atlases in a template space. The built-in reward atlas is made reproducibly from
// atlases/reward_rois.tsv (ROI table with sources and citations), AAL and Colin27 from Debian's
// mricron-data, and ellipsoids at published MNI coordinates for ROIs AAL lacks (VTA, NAcc).
// atlases/README.md documents every ROI: definition, reference centroid, volume range, citations.
//
// ROI definitions (the table's `definition` column):
//   aal:N[+N...]                 union of AAL labels N (values in aal.nii.gz, listed in aal.nii.txt)
//   aal:N[+N...];template=LO..HI  the same, restricted to voxels whose template (Colin27 ch2bet)
//                                intensity lies in [LO, HI]: 1..255 keeps the brain (ch2bet > 0),
//                                1..100 its grey matter (GM mode 87, WM mode 114)
//   ellipsoid:A,B,C@X,Y,Z        axis-aligned ellipsoid, semi-axes A, B, C mm, centred at world
//                                (MNI) X, Y, Z mm; voxel centres on or inside the surface belong to it
// Coordinate (ellipsoid) ROIs take precedence over AAL ROIs: where they overlap, the voxel is
// carved out of the AAL ROI. Two ROIs of the same kind must not overlap (an error).
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/core/volume.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::atlas {

struct Roi {
  int index = 0;          // label value in the atlas volume
  std::string name;       // e.g. "NAcc_L"
  std::string structure;  // e.g. "nucleus accumbens"
  std::string hemisphere; // "L", "R" or "bilateral"
  std::string source;     // "AAL" or "coordinates"
  std::string definition; // e.g. "aal:41" or "ellipsoid:5.7,3.8,5.2@-10.2,8.1,-10.3" (see above)
  std::array<double, 3> reference_centroid_mm{}; // published / independent MNI centroid it is checked against
                                                 // (NaN when no independent reference exists)
  std::string reference;                         // where reference_centroid_mm comes from
  double volume_min_mm3 = 0;                     // plausible volume range (literature or independent atlas)
  double volume_max_mm3 = 0;
  std::string citation;
  double ref_tolerance_mm = 5; // how far the ROI's centroid may lie from the reference (documented)

  bool has_reference() const;
};

struct Atlas {
  std::string name; // "reward"
  Volume labels;    // 3D, integer label values stored as float, 0 = background
  std::vector<Roi> rois;
  const Roi* find(const std::string& name) const;
  const Roi* by_index(int index) const;
};

struct RoiMeasure {
  int index = 0;
  std::int64_t voxels = 0;
  double volume_mm3 = 0;
  std::array<double, 3> centroid_mm{}; // world (template) coordinates; NaN for an empty ROI
};
// One entry per ROI of atlas.rois, in that order.
std::vector<RoiMeasure> measure_rois(const Atlas& atlas);

// Where atlases/ is: $REWARDPATH_ATLAS_DIR if set, else the source tree's atlases/ (compiled in).
std::filesystem::path default_atlas_dir();
// Debian mricron-data templates: /usr/share/mricron/templates (or $REWARDPATH_MRICRON_DIR).
std::filesystem::path mricron_templates_dir();
// A file in mricron_templates_dir() (e.g. "aal.nii.gz"); throws, saying how to install
// mricron-data, when it is missing.
std::filesystem::path mricron_template_file(const std::string& name);

// Reads and validates the ROI table (columns, numbers, hemisphere/source values, definition
// syntax, duplicate indices and names). Errors name the file, line and column.
std::vector<Roi> read_roi_table(const std::filesystem::path& tsv);

// Builds the reward atlas on the AAL/Colin27 1 mm grid (181x217x181, space "MNIColin27").
// Coordinate ROIs take precedence where they overlap AAL regions, so no two ROIs overlap.
// The two-argument form takes the template for `template=` restrictions from ch2bet.nii.gz beside
// the AAL image (read only when a definition needs it). Deterministic: same inputs, same labels.
Atlas build_reward_atlas();
Atlas build_reward_atlas(const std::filesystem::path& roi_table, const std::filesystem::path& aal_image);
Atlas build_reward_atlas(const std::filesystem::path& roi_table, const std::filesystem::path& aal_image,
                         const std::filesystem::path& template_image);

// The template the reward atlas is defined on: Colin27 brain (ch2bet), space "MNIColin27".
Volume load_template();

// index, name, structure, hemisphere, source, definition, voxels, volume_mm3, centroid_x_mm,
// centroid_y_mm, centroid_z_mm, reference_distance_mm (n/a without a reference), citation.
// Millimetre values rounded to 0.1 mm (mm3 to 1 mm3).
io::Table describe(const Atlas& atlas);

// Writes the label image (uint8, or int16 for indices above 255) and, beside it, describe()'s
// table as TSV (index and name first, as BIDS dseg.tsv files have). Both atomically.
void write_atlas(const Atlas& atlas, const std::filesystem::path& nifti_path,
                 const std::filesystem::path& tsv_path);

} // namespace rewardpath::atlas
