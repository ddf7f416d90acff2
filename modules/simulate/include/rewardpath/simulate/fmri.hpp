#pragma once
// BOLD time series of a simulated MID run on a subject's scanner grid.
//
//   value(v, t) = | S(v, t) + sigma(v) e(v, t) + (1 - F(v)) sb n1 + i sb n2 |      (magnitude)
//   S(v, t)     = S0(v) (1 + d(v, t)) (1 + 0.01 sum_r beta_r(v) x_r(t + slice_time(v)))
//               moved by the head motion of volume t
//   e(v, t)     = phi(v) e(v, t-1) + sqrt(1 - phi(v)^2) u(v, t),   u = sqrt(1-w) z + sqrt(w) G*z'
//
// S0: baseline from the voxel's tissue fractions (EPI-like contrast CSF > GM > WM, faint scalp),
// a smooth receive-coil field and a ventromedial prefrontal susceptibility dropout. d: slow drift
// (linear + 3 low-frequency cosines, amplitudes varying smoothly in space). beta_r: percent signal
// change per unit regressor (fraction-weighted over the atlas ROIs in the voxel); x_r: the MID
// regressors (mid::regressor), sampled at each slice's acquisition time. e: unit-variance AR(1)
// noise with a voxelwise coefficient phi (tissue mixture + smooth spatial variation) whose
// innovations u mix white noise with spatially smooth noise (Gaussian G, share w), so the noise is
// exactly AR(1) in time with spatial correlation. F: fraction of the voxel that is head tissue;
// air gets Rayleigh background noise of scale sb.
//
// Deterministic for a seed at any thread count: every time point draws from its own stream.
#include <array>
#include <cstdint>
#include <vector>

#include "rewardpath/core/volume.hpp"
#include "rewardpath/simulate/anatomy.hpp"
#include "rewardpath/simulate/mid.hpp"

namespace rewardpath::simulate::fmri {

struct TissueValues {
  double csf = 0.0, gm = 0.0, wm = 0.0, scalp = 0.0;
};

struct NoiseParams {
  TissueValues ar{0.2, 0.4, 0.15, 0.05};     // AR(1) coefficient per tissue
  TissueValues sd{0.025, 0.015, 0.01, 0.03}; // noise sd as a fraction of the voxel's baseline
  double ar_spatial_sd = 0.03;               // smooth spatial variation of phi (sd)
  double smooth_fraction = 0.3;              // share w of the innovation variance that is smooth
  double smooth_fwhm_mm = 8.0;               // FWHM of G
  double background_sd = 4.0;                // Rayleigh scale sb of air voxels (stored units)
};

struct DriftParams {
  double linear = 0.0;            // fractional change from the run's start to its end
  std::array<double, 3> cosine{}; // amplitudes of cos(pi k (t + 0.5) / T), k = 1..3
  double spatial_variation = 0.5; // amplitudes vary by +- this share across the head
};

struct BaselineParams {
  TissueValues signal{1300.0, 1000.0, 820.0, 150.0};
  double gain = 1.0;           // scanner gain of this session
  double coil_amplitude = 0.1; // +- share (smooth field, scanner frame)
  double dropout_depth = 0.35; // signal loss at the centre of the ventromedial prefrontal dropout
  std::array<double, 3> dropout_centre_mm{0.0, 38.0, -28.0}; // template world
  double dropout_sigma_mm = 11.0;
};

// Effects in one atlas ROI: percent signal change per unit regressor, in mid::regressor_names() order.
struct RoiEffects {
  int roi_index = 0;
  std::vector<double> beta;
};

struct BoldSpec {
  std::int64_t volumes = 0;
  double tr_s = 2.0;
  std::vector<double> slice_timing_s; // one per slice (k axis), in [0, TR)
  std::vector<mid::Event> events;
  std::vector<RoiEffects> effects;
  NoiseParams noise;
  DriftParams drift;
  BaselineParams baseline;
  std::vector<RigidParams> motion;          // one per volume (volume 0 = reference); empty: no motion
  std::array<double, 3> motion_centre_mm{}; // rotation centre of the motion (scanner world)
};

// Truth maps on the BOLD grid, head at its reference position (volume 0).
struct BoldTruth {
  Volume baseline; // S0
  Volume ar;       // phi
  Volume noise_sd; // sigma (stored units)
  Volume effects;  // beta_r, one volume per regressor (mid::regressor_names() order), percent
};

Volume simulate_bold(const PartialVolume& pv, const BoldSpec& spec, std::uint64_t seed,
                     BoldTruth* truth = nullptr);

// A rigid head-motion trajectory (volume 0 = zero): slow drifts (translations ~0.3 mm, rotations
// ~0.3 deg, more along z and pitch), a few abrupt movements that partly persist, and small jitter.
std::vector<RigidParams> motion_trajectory(std::int64_t volumes, double tr_s, Rng& rng, double scale = 1.0);

// Framewise displacement (Power et al. 2012: rotations on a 50 mm sphere), one per volume (0 first).
std::vector<double> framewise_displacement(const std::vector<RigidParams>& motion);

// Separable Gaussian smoothing of a 3D float image (zero outside), FWHM in mm per axis.
void gaussian_smooth(std::vector<float>& data, const std::array<std::int64_t, 3>& dims,
                     const std::array<double, 3>& fwhm_voxels);

} // namespace rewardpath::simulate::fmri
