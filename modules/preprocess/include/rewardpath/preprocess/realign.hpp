#pragma once
// Rigid motion correction of a 4D BOLD run (SPM realign-like; Friston et al. 1995, "Spatial
// registration and normalization of images", Hum Brain Mapp 3:165).
//
// Convention (the same as rewardpath::simulate and fMRIPrep's column names): the parameters of
// volume t are trans_x, trans_y, trans_z (mm) and rot_x, rot_y, rot_z (radians) of the world-space
// (RAS mm) map
//     M_t(x) = R (x - c) + c + t,   R = Rz(rot_z) Ry(rot_y) Rx(rot_x)  (right-handed, x applied first)
// where c is the centre of the field of view (world position of voxel ((nx-1)/2, (ny-1)/2, (nz-1)/2)).
// M_t says where the head point that sits at x in the reference image is in volume t:
//     volume_t(M_t(x)) ~ reference(x).
// Parameters are relative to the reference image (the mean of the run, or a chosen volume); to
// express them relative to another volume u use relative_to().
//
// Method: the reference and each volume are smoothed (Gaussian, fwhm_mm); sample points lie on a
// lattice every sampling_mm inside the head (smoothed reference above head_fraction of its global
// mean, SPM's spm_global); Levenberg-Marquardt (Gauss-Newton with damping) on 6 rigid parameters
// plus one intensity scale, minimising sum (I_t(M x) - s R(x))^2 over the samples, with the
// reference's gradients computed once (inverse compositional updates M <- M o W(d)^-1). Trilinear
// interpolation (core's sample_trilinear). Volumes are independent tasks (TBB): the result does not
// depend on the thread count. Each volume starts from the identity in the first pass.
#include <array>
#include <cstdint>
#include <vector>

#include "rewardpath/core/volume.hpp"

namespace rewardpath::preprocess {

using RigidParams = std::array<double, 6>; // trans_x, trans_y, trans_z (mm), rot_x, rot_y, rot_z (rad)

// World position of the centre of the grid's field of view.
std::array<double, 3> fov_centre(const Grid& grid);
// M(x) = R (x - c) + c + t with R = Rz Ry Rx (see above).
Affine rigid_matrix(const RigidParams& params, const std::array<double, 3>& centre_mm);
// Inverse of rigid_matrix for a rigid M (rot_y in [-pi/2, pi/2]).
RigidParams rigid_params(const Affine& rigid, const std::array<double, 3>& centre_mm);
// Parameters re-expressed relative to volume u: M'_t = M_t o M_u^-1 (so volume u becomes zero).
std::vector<RigidParams> relative_to(const std::vector<RigidParams>& params, std::size_t u,
                                     const std::array<double, 3>& centre_mm);

struct RealignParams {
  std::int64_t reference_volume = -1; // < 0: the mean of all volumes; else that volume
  bool register_to_mean = true;       // second pass to the mean of the first-pass realigned run (SPM)
  double fwhm_mm = 5.0;               // smoothing of reference and volumes for estimation (SPM: 5)
  double sampling_mm = 4.0;           // sample lattice spacing (SPM: sep = 4)
  double head_fraction = 0.125;       // samples where smoothed reference > this x its global mean
  int max_iterations = 64;            // per volume and pass
  double tolerance_mm = 1e-3;         // converged when a step moves no sample point more than this
  float outside = 0.0f;               // value resliced from outside a volume's field of view
};

struct RealignResult {
  std::vector<RigidParams> params;   // one per volume, relative to the reference (see above)
  std::array<double, 3> centre_mm{}; // rotation centre c
  Volume mean;                       // mean of the realigned run (3D, the run's grid)
  std::vector<int> iterations;       // accepted + rejected steps of the last pass, per volume
  std::vector<double> rms_residual;  // RMS of I_t(M x) - s R(x) over samples, last pass
  std::int64_t samples = 0;          // sample points of the last pass
};

// Estimates the motion of every volume and reslices `bold` in place (trilinear; points outside a
// volume's field of view get params.outside). Throws Error for: a run that is not 4D or has fewer
// than 2 volumes, non-finite voxels (naming the volume), a reference volume out of range, a
// reference with too few in-head samples, and a volume whose estimation does not converge or
// leaves the field of view (naming the volume).
RealignResult realign(Volume& bold, const RealignParams& params = {});

} // namespace rewardpath::preprocess
