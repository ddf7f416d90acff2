#pragma once
// Image registration (ITK behind this small interface; no ITK type leaks out of this header).
// Conventions: a Transform maps points of the FIXED image's world space to the MOVING image's
// world space (as ITK and ANTs transforms do), in RAS millimetres like our affines. Resampling
// the moving image through it onto the fixed grid aligns it to the fixed image.
// See docs/registration.md for the method, the QC rules and the file formats.
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rewardpath/core/volume.hpp"

namespace rewardpath::registration {

struct Transform {
  std::string from;                  // space of the fixed image, e.g. "MNIColin27"
  std::string to;                    // space of the moving image, e.g. "T1w", "bold"
  Affine matrix = identity_affine(); // fixed world (RAS mm) -> moving world (RAS mm)
  // Optional nonlinear part: a displacement field d (RAS mm) in the FIXED world, stored as a 4D
  // Volume with 3 volumes (dx, dy, dz) on its own grid (usually the fixed grid or a 2x coarser
  // one). It acts first, then the affine: p -> matrix * (p + d(p)) — ITK's composite order for a
  // B-spline/SyN stage run with the affine as moving initial transform, and ANTs'
  // `-t affine.txt -t warp.nii.gz`. d is interpolated trilinearly and is 0 outside its grid.
  std::optional<Volume> displacement;

  Transform() = default;
  Transform(const Transform& other); // deep copy (Volume itself is move-only)
  Transform& operator=(const Transform& other);
  Transform(Transform&&) noexcept = default;
  Transform& operator=(Transform&&) noexcept = default;

  bool is_linear() const { return !displacement.has_value(); }
  std::array<double, 3> apply(const std::array<double, 3>& fixed_world_mm) const;
};

// Composition: (first then second)(p) = second(first(p)); e.g. bold->T1w composed with
// T1w->template gives bold->template. first.to must equal second.from (when both are named).
// Exact for affines; a nonlinear result carries its field on first's field grid (or on second's
// field grid pulled back through first's affine), so it is exact at those grid points.
Transform compose(const Transform& first, const Transform& second);
Transform invert_linear(const Transform& t); // throws for a nonlinear transform

enum class Model { rigid, affine, nonlinear };
std::string to_string(Model m);

struct Params {
  Model model = Model::affine; // rigid, rigid->affine, rigid->affine->nonlinear
  // Multi-resolution pyramid, coarse to fine; one entry per level (the three vectors and
  // `iterations` must have the same length). Shrink factors are relative to the fixed voxel size
  // (the moving image is brought to about the same voxel size per level).
  std::vector<double> shrink_factors{4, 2, 1};
  std::vector<double> smoothing_sigmas_mm{4, 2, 1.5};
  std::vector<int> iterations{200, 100, 50}; // per level, per linear stage (maximum)
  // Mattes MI samples per level: this fraction of the fixed voxels in the sampling region (the
  // fixed brain mask dilated by one voxel of that level), at least `min_samples` (or all of them).
  // Points are drawn once per level (jittered within their voxel) from `seed`.
  double sampling_fraction = 0.05;
  int min_samples = 10000;
  int histogram_bins = 48;
  // The rigid stage runs on the coarsest `rigid_levels` levels only (0 = all levels); the affine
  // stage then runs on all levels.
  int rigid_levels = 2;
  // Linear optimizer (regular-step gradient descent, steps measured as voxel shifts): the first
  // step at the coarsest level is `step_mm`, at finer levels step_mm * shrink / coarsest shrink;
  // the step halves whenever the gradient reverses, and a level ends below `min_step_mm`.
  double step_mm = 2.0;
  double min_step_mm = 0.001;
  // Nonlinear stage (B-spline, L-BFGS-B): control-point spacing, and the pyramid levels it runs on
  // (the finest `bspline_levels` levels of the pyramid above), iterations per level.
  // Its metric samples: as above, but at least `bspline_samples_per_parameter` per B-spline
  // parameter of the level (3 per control point), or all voxels of the region.
  double bspline_spacing_mm = 20.0;
  int bspline_levels = 2;
  std::vector<int> bspline_iterations{50, 30};
  double bspline_samples_per_parameter = 10;
  std::uint64_t seed = 1; // metric sampling seed: same inputs, same result
  // ITK threads (keep 1 inside TBB subject loops). With 1 the result is bit-for-bit reproducible;
  // with more, ITK's Mattes metric sums per-thread buffers in finishing order (differences
  // ~1e-3 mm). A process-wide ITK setting: concurrent registrations should use the same value.
  int threads = 1;
  bool initialize_by_moments = true; // centre-of-mass initialisation (else identity)
  // QC: a result is flagged when the brain-mask Dice after registration is below
  // `qc_min_mask_dice` or the final Mattes MI is above `qc_max_metric` (close to 0 = no shared
  // information).
  double qc_min_mask_dice = 0.8;
  double qc_max_metric = -0.15;
};

struct Qc {
  double final_metric = 0.0;      // Mattes MI at the finest level (negative: better)
  double initial_metric = 0.0;    // same metric and samples at the initial (moments) transform
  double mask_dice = 0.0;         // brain-mask overlap after registration, in fixed space
  double mask_dice_initial = 0.0; // the same before registration (after initialisation)
  int iterations = 0;
  std::vector<double> metric_trace; // per iteration (nonlinear: per evaluation), all stages/levels
  std::vector<int> level_starts;    // index into metric_trace where each stage/level starts
  bool flagged = false;             // implausible metric/overlap: never passed on silently
  std::string flag_reason;
};

struct Result {
  Transform transform;
  Qc qc;
  double seconds = 0.0;
};

// Registers `moving` to `fixed` (both 3D). Errors (empty/constant images, absurd voxel sizes
// (< 0.1 mm or > 20 mm), empty brain masks, no overlap after initialisation, diverging
// optimizer) throw rewardpath::Error with the reason; plausible-but-poor results are flagged in
// qc. transform.from/to are taken from the grids' space names.
Result register_images(const Volume& fixed, const Volume& moving, const Params& params);

// Brain/foreground mask used for sampling and QC: voxels above lo + 0.1 (hi - lo), where lo is the
// image minimum and hi the 99.5th percentile of the voxels above lo. 1 inside, 0 outside.
// Throws for empty, non-finite or constant images.
Volume brain_mask(const Volume& image);
// Dice of two masks (> 0.5 is inside) on the same grid.
double dice(const Volume& a, const Volume& b);

// Moving image resampled onto the fixed grid through the transform (linear or nearest). 4D moving
// images are resampled volume by volume. Outside the moving image: 0.
Volume apply_transform(const Volume& moving, const Grid& fixed_grid, const Transform& t,
                       bool nearest = false);

// Label atlas (on its template grid) brought to a subject grid. `transform` maps subject world
// -> template world (i.e. fixed = subject). Nearest-neighbour labels, or per-ROI fractional
// partial-volume weights by supersampling each subject voxel (subsamples^3 points, nearest label
// at each): weight = fraction of a voxel's points that fall in the ROI, so the weights of all ROIs
// sum to <= 1 in every voxel.
Volume warp_labels_nearest(const Volume& labels, const Grid& subject_grid,
                           const Transform& subject_to_template);
std::vector<Volume> warp_labels_fractional(const Volume& labels, const std::vector<int>& indices,
                                           const Grid& subject_grid, const Transform& subject_to_template,
                                           int subsamples = 3);

// ITK/ANTs-readable transform files: "#Insight Transform File V1.0", AffineTransform_double_3_3
// in LPS (as ITK expects), FixedParameters (centre) 0 0 0. A nonlinear transform's displacement
// field goes beside it as `<stem>_field.nii.gz` (`<stem>` = path without ".txt"): a 5D NIfTI-1
// vector image (intent VECTOR, dims x,y,z,1,3), float32, LPS displacements in mm — the form ITK's
// DisplacementFieldTransform and ANTs read; apply with `-t path.txt -t <stem>_field.nii.gz`.
// A comment line in the .txt names the field file. BIDS name: sub-X_from-A_to-B_mode-image_xfm.txt
void write_transform(const std::filesystem::path& path, const Transform& t);
// Reads what write_transform writes, and ITK/ANTs text files holding one AffineTransform,
// MatrixOffsetTransformBase, Euler3DTransform, Similarity3DTransform or TranslationTransform
// (double or float). from/to are parsed from a BIDS name (from-X_to-Y) when present.
Transform read_transform(const std::filesystem::path& path);

// PNG overlay of the fixed image's edges (red) on the registered moving image (grey), three
// orthogonal slices through the centre of the fixed brain mask, sampled in world space at
// `pixel_mm`: sagittal (anterior right), coronal and axial (subject's left on the left,
// neurological), superior up. Both volumes must be on the same grid.
void write_overlay_png(const std::filesystem::path& path, const Volume& fixed,
                       const Volume& registered_moving, double pixel_mm = 1.0);

} // namespace rewardpath::registration
