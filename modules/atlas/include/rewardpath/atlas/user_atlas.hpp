#pragma once
// User atlases beside the built-in reward atlas: an atlas the user brings, in its own template
// space, with the template image that subjects are registered to. Three kinds:
//
//   label          a BIDS `dseg` label image (3D, integer values, 0 = background) + its TSV.
//   probabilistic  a 4D image, one volume per ROI, values in [0, 1] (BIDS `probseg`) + a TSV;
//                  each voxel gets the ROI of highest probability when that probability is
//                  >= threshold (max-probability labelling; ties go to the earlier volume).
//   maxprob        a decoded max-probability pair: a 3D label image of each voxel's most probable
//                  ROI (any p > 0) + a 3D image of that ROI's probability, e.g. CIT168's
//                  derived/CIT168_maxprob_labels_p0 + CIT168_maxprob_prob (decoded from NiiVue's
//                  PAQD encoding). Labelled where the probability is >= threshold.
//
// The TSV (BIDS dseg.tsv): a header row, then one row per ROI. Columns, matched without regard
// to case (a UTF-8 byte-order mark and CRLF line ends are accepted):
//   index       integer label value (also accepted: value, id, label_id, label_index)
//   name        ROI name, kept verbatim (also accepted: label, label_name, roi, region)
//   hemisphere  optional: L/R/left/right/lh/rh/B/bilateral/both/n/a (also: hemi, side). Without it
//               the hemisphere comes from the name ("L Putamen", "Left-Putamen", "Putamen_R",
//               "lh.putamen", ...), else "n/a".
//   any other column (abbreviation, color, mapping, ...) is accepted and ignored.
// A row with index 0 names the background and is skipped. Errors name the file, line and column:
// missing columns, non-integer / negative / duplicate indices, empty or duplicate names.
//
// Image <-> TSV agreement (label and maxprob kinds):
//   a label in the image without a TSV row  -> error (its voxels would otherwise vanish from
//                                              every ROI table, or get an invented name; it
//                                              usually means the TSV belongs to another atlas)
//   a TSV row without voxels in the image   -> warning; the ROI is kept with 0 voxels, so tables
//                                              stay aligned with the TSV
// Probabilistic kind: volume t (0-based) is the ROI with the (t+1)-th smallest non-zero index
// (usually index t+1); the number of volumes must equal the number of non-background TSV rows.
// An ROI that gets no voxel at the threshold is kept and warned about.
//
// Every warning is logged (spdlog) and kept in UserAtlas::warnings.
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rewardpath/atlas/atlas.hpp"
#include "rewardpath/core/volume.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::atlas {

enum class UserAtlasKind { label, probabilistic, maxprob };

struct UserAtlas {
  // labels: 3D on the atlas image's grid, grid().space = the atlas space; rois: one per
  // non-background TSV row, in ascending index order, with source = the atlas file name,
  // definition = what selects its voxels, and no reference centroid (NaN), so describe(atlas)
  // prints n/a for reference_distance_mm.
  Atlas atlas;
  UserAtlasKind kind = UserAtlasKind::label;
  std::filesystem::path image;             // the label / 4D probability / max-prob label image
  std::filesystem::path probability_image; // maxprob kind only
  std::filesystem::path labels_tsv;
  // The image registration aligns subjects to (3D, same world space as the atlas); empty when the
  // caller gave none. Validated at load time (readable, 3D, covers the atlas's labelled voxels).
  std::filesystem::path template_image;
  double threshold = 0.0; // probabilistic and maxprob kinds; 0 for label atlases
  // Probabilistic and maxprob kinds: 4D on the label grid, volume r = probability of
  // atlas.rois[r] in [0, 1] (fractional weights). For the maxprob kind only each voxel's top ROI
  // is known, so volume r holds p where that ROI is the top one and 0 elsewhere (a lower bound).
  // nullopt for label atlases.
  std::optional<Volume> probabilities;
  std::vector<std::string> warnings;

  // The probability map of the ROI with this index (voxels of the label grid); empty for label
  // atlases. Throws when no ROI has the index.
  std::span<const float> probability_map(int roi_index) const;
  const std::string& space() const { return atlas.labels.grid().space; }
};

// `space`: the atlas's world space (a BIDS template label such as "MNI152NLin2009cAsym"). When
// empty it comes from a BIDS `space-`/`tpl-` entity in the atlas file name, then in the template
// file name, else from the NIfTI header's xform code ("MNI152", "aligned", ...).
// `tsv`: when empty, the BIDS sidecar beside the image (same name, .tsv) is used if it exists;
// otherwise an error says to pass one.
UserAtlas load_label_atlas(const std::filesystem::path& nifti, const std::filesystem::path& tsv,
                           const std::filesystem::path& template_image = {}, const std::string& space = {});
// threshold in (0, 1].
UserAtlas load_probabilistic_atlas(const std::filesystem::path& nifti4d, const std::filesystem::path& tsv,
                                   double threshold, const std::filesystem::path& template_image = {},
                                   const std::string& space = {});
// labels (3D, integer) and probability (3D, [0, 1]) on the same grid; threshold in (0, 1].
UserAtlas load_maxprob_atlas(const std::filesystem::path& labels, const std::filesystem::path& probability,
                             const std::filesystem::path& tsv, double threshold,
                             const std::filesystem::path& template_image = {}, const std::string& space = {});

// What the command line gives: `--atlas FILE [--atlas-labels TSV] [--atlas-threshold P]
// [--atlas-prob FILE] [--atlas-template FILE] [--atlas-space LABEL]`.
struct UserAtlasSpec {
  std::filesystem::path image;
  std::filesystem::path labels_tsv;        // empty: the BIDS sidecar beside image
  std::filesystem::path probability_image; // set: maxprob kind
  std::filesystem::path template_image;
  std::optional<double> threshold; // default 0.5 for probabilistic / maxprob
  std::string space;
};
// Picks the kind from the image header: 4D -> probabilistic; 3D with probability_image -> maxprob;
// 3D -> label (a threshold is then an error: it would be ignored).
UserAtlas load_user_atlas(const UserAtlasSpec& spec);

// describe(atlas)'s columns, then prob_voxels (p > 0), prob_volume_mm3 (sum of p times the voxel
// volume: the expected volume) and max_probability; n/a for label atlases.
io::Table describe(const UserAtlas& user_atlas);

// Reads the template image (3D) with grid().space set to the atlas space. Throws when the atlas
// has no template image.
Volume load_template(const UserAtlas& user_atlas);

} // namespace rewardpath::atlas
