#pragma once
// Anatomy for the simulator: Colin27 tissue classes, a subject's pose relative to template space,
// scanner grids, and the partial-volume content of each voxel of a subject-space grid.
//
// Spaces: "template world" is the Colin27/MNI millimetre space of the reward atlas; a subject's
// "world" is scanner millimetres. A pose maps template world -> subject world; a subject's images
// sit on axis-aligned scanner grids in subject world, so their content is the template warped by
// the pose.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rewardpath/atlas/atlas.hpp"
#include "rewardpath/core/volume.hpp"
#include "rewardpath/simulate/random.hpp"

namespace rewardpath::simulate {

// Tissue classes of a template voxel. `scalp` is non-brain soft tissue of the head (ch2 outside
// ch2bet); bone and air are `air` (no MR signal).
enum class Tissue : std::uint8_t { air = 0, scalp = 1, csf = 2, gm = 3, wm = 4 };
inline constexpr int tissue_count = 5;

// Template-space resources shared (read-only) by every subject of a dataset.
struct TemplateAnatomy {
  Volume brain;                        // ch2bet (Colin27 brain), 1 mm; 0 outside the brain
  Volume head;                         // ch2 (whole head) on the same grid; a copy of `brain` if absent
  std::vector<std::uint8_t> tissue;    // Tissue class per template voxel
  std::array<double, 3> class_means{}; // ch2bet intensity of CSF, GM, WM (3-class k-means)
  double csf_gm_threshold = 0.0;       // ch2bet intensities separating the classes
  double gm_wm_threshold = 0.0;
  atlas::Atlas atlas;                        // reward atlas, labels on the same grid
  std::array<double, 3> brain_centroid_mm{}; // centroid of ch2bet > 0, template world
};

// ch2bet, ch2 (from mricron_templates_dir(), optional) and the reward atlas.
TemplateAnatomy load_template_anatomy();
// From given images (same sampling): brain classified by 3-class k-means of its intensities,
// scalp where head > 20% of its maximum outside the brain.
TemplateAnatomy make_template_anatomy(Volume brain, Volume head, atlas::Atlas atlas);

// Pose of a subject's head relative to template space (template world -> subject world):
//   x_subject = T(translation) * Rz * Ry * Rx * Shear * Scale * x_template
// Rotations are about the template-world origin (near the anterior commissure); shear is upper
// triangular (xy, xz, yz).
struct Pose {
  std::array<double, 3> rotation_deg{};
  std::array<double, 3> translation_mm{};
  std::array<double, 3> scale{1.0, 1.0, 1.0};
  std::array<double, 3> shear{}; // xy, xz, yz
  Affine matrix() const;
};

struct PoseLimits {
  double max_rotation_deg = 15.0;   // angle of the rotation about a random axis: U(3, max)
  double max_translation_mm = 20.0; // length of the translation in a random direction: U(2, max)
  double max_scale = 0.06;          // each scale factor in 1 +- max_scale
  double max_shear = 0.03;          // each shear coefficient in +- max_shear
};
Pose random_pose(Rng& rng, const PoseLimits& limits = {});

// Rigid motion in fMRIPrep's parameter order (trans_x, trans_y, trans_z in mm, rot_x, rot_y,
// rot_z in radians), as the world-space map M(x) = R (x - centre) + centre + t with
// R = Rz * Ry * Rx: where the head point that was at x (reference volume) is now.
using RigidParams = std::array<double, 6>;
Affine rigid_matrix(const RigidParams& params, const std::array<double, 3>& centre_mm);

std::array<double, 3> transform_point(const Affine& a, const std::array<double, 3>& p);

// An axis-aligned scanner grid in LAS voxel order (i runs right -> left as scanners store it;
// j posterior -> anterior; k inferior -> superior) whose centre is at `centre_mm`.
Grid scanner_grid(const std::array<std::int64_t, 3>& dims, const std::array<double, 3>& spacing_mm,
                  const std::array<double, 3>& centre_mm);

// What each voxel of a subject-space grid contains, from supersampling the voxel with at least
// one sample per template millimetre (nearest template voxel per sample).
struct PartialVolume {
  Grid grid;
  Affine template_to_world = identity_affine();
  // Fraction of each voxel per tissue class (whole voxel), and per class outside every atlas ROI.
  std::array<std::vector<float>, tissue_count> tissue;
  std::array<std::vector<float>, tissue_count> tissue_outside_rois;
  struct Roi {
    int index = 0;
    std::string name;
    std::vector<std::int64_t> voxels; // sorted voxel indices with a non-zero fraction
    std::vector<float> fraction;
  };
  std::vector<Roi> rois; // every atlas ROI, in the atlas's order (possibly with no voxels)
  std::int64_t voxel_count() const { return grid.voxel_count(); }
  // Majority atlas label per voxel (0 where no ROI covers at least half the voxel).
  std::vector<int> majority_labels() const;
};
PartialVolume partial_volume(const TemplateAnatomy& anatomy, const Grid& grid,
                             const Affine& template_to_world);

// A smooth random field over world coordinates: a sum of a few plane waves with wavelengths of
// at least `min_wavelength_mm`, with zero mean and roughly unit standard deviation over a head.
class SmoothField {
public:
  SmoothField() = default;
  SmoothField(Rng& rng, double min_wavelength_mm, int waves = 6);
  double operator()(const std::array<double, 3>& p_mm) const;

private:
  std::vector<std::array<double, 5>> waves_; // kx, ky, kz (rad/mm), phase, amplitude
};

// T1-weighted image of a subject: the head template warped by the pose onto `grid` (linear
// interpolation), scaled to scanner-like values, with a smooth receive-bias field and Rician noise.
struct T1wParams {
  double scale = 3.5;           // ch2 intensity -> stored value
  double bias_amplitude = 0.1;  // +- fraction
  double noise_fraction = 0.02; // noise sd as a fraction of mean white-matter signal
};
Volume simulate_t1w(const TemplateAnatomy& anatomy, const Grid& grid, const Affine& template_to_world,
                    const T1wParams& params, std::uint64_t seed);

// Brain mask (ch2bet > 0, nearest neighbour) on `grid`.
Volume brain_mask(const TemplateAnatomy& anatomy, const Grid& grid, const Affine& template_to_world);

} // namespace rewardpath::simulate
