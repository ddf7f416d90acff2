#pragma once
// Dynamic [11C]raclopride-like PET images on a subject's scanner grid, from the kinetics in
// pet.hpp.
//
// Per frame f and voxel v (head at its reference position):
//   A(v, f) = sum_roi frac_roi(v) TAC_roi(f)                      atlas ROIs (their own kinetics)
//           + f_gm'(v) TAC_background_gm(f) + f_wm'(v) TAC_background_wm(f)
//           + f_csf'(v) 0.1 TAC_background_wm(f) + f_scalp'(v) 0.3 TAC_background_wm(f)
// (f': tissue fractions outside every ROI), moved by the frame's head motion, blurred by the
// scanner's point-spread function (Gaussian), plus noise whose sd follows counting statistics
// (pet::frame_noise_sd of the blurred activity, with a floor for scatter and randoms) and whose
// spatial correlation mimics reconstruction (Gaussian-smoothed white noise, renormalised).
// Decay-corrected Bq/mL. Deterministic at any thread count: every frame draws from its own stream.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rewardpath/core/volume.hpp"
#include "rewardpath/simulate/anatomy.hpp"
#include "rewardpath/simulate/pet.hpp"

namespace rewardpath::simulate::pet {

struct PetImageSpec {
  FrameSchedule frames;
  PlasmaInput input;
  std::vector<RegionTruth> regions; // raclopride_truth(): atlas ROI names + background_gm/_wm
  double psf_fwhm_mm = 5.0;
  double noise_level = 100.0;         // frame_noise_sd's level for this grid's voxel size
  double noise_fwhm_mm = 4.0;         // spatial correlation of the noise
  double noise_floor_fraction = 0.02; // noise never below that of 2% of the frame's brain mean
  std::vector<RigidParams> motion;    // one per frame (frame 0 = reference); empty: none
  std::array<double, 3> motion_centre_mm{};
};

struct PetImageTruth {
  Volume bp_nd;                          // fraction-weighted BP_ND per voxel (reference position)
  std::vector<std::string> region_names; // regions in `tacs` order (spec.regions order)
  std::vector<std::vector<double>> tacs; // noise-free frame TACs (Bq/mL)
};

Volume simulate_pet(const PartialVolume& pv, const PetImageSpec& spec, std::uint64_t seed,
                    PetImageTruth* truth = nullptr);

// Slow head drift over the scan (up to ~2 mm and ~1.5 deg by the end, growing with time) plus
// small frame-to-frame jitter; frame 0 is the reference (zero).
std::vector<RigidParams> pet_motion(const FrameSchedule& frames, Rng& rng, double scale = 1.0);

// The frame noise level for voxels of `voxel_mm3`, scaled from `level_at_8mm3` (2 mm voxels) as
// counting statistics give (sd ~ 1 / sqrt(voxel volume)).
double noise_level_for_voxel(double voxel_mm3, double level_at_8mm3 = 100.0);

} // namespace rewardpath::simulate::pet
