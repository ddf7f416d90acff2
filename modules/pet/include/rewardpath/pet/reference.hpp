#pragma once
// Reference-tissue models for BP_ND: SRTM, SRTM2, MRTM, MRTM2, Logan reference plot, and the
// ROI-level basis-function SRTM (the same code as the voxelwise map in parametric.hpp).
//
// All take the frame timing, a target and a reference TAC (decay-corrected, same units) and frame
// weights (empty: uniform). Rate constants are per minute. They assume a reference region without
// specific binding and no vascular signal: with a blood volume fraction vb > 0 BP_ND is biased
// (low by ~15% for a Logan reference plot at vb ~0.04 on 60-min [11C]raclopride data).
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "rewardpath/pet/fit.hpp"
#include "rewardpath/pet/frames.hpp"

namespace rewardpath::pet {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One reference-tissue result; fields a model does not estimate stay NaN.
struct BindingPotential {
  std::string model;              // "SRTM", "SRTM2", "MRTM", "MRTM2", "LoganRef", "BF-SRTM"
  double bp_nd = kNaN;            // binding potential (non-displaceable)
  double r1 = kNaN;               // K1 / K1'
  double k2 = kNaN;               // target efflux (1/min)
  double k2a = kNaN;              // apparent efflux k2 / (1 + BP_ND) (1/min)
  double k2_prime = kNaN;         // reference efflux (1/min), estimated (SRTM, MRTM) or given
  double dvr = kNaN;              // Logan: slope = BP_ND + 1
  double intercept = kNaN;        // Logan intercept (min)
  double tstar_s = kNaN;          // first frame mid time used by a linear method
  double max_rel_residual = kNaN; // linear methods: max |residual| / |fitted| after t*
  double bp_nd_se = kNaN;         // standard error of BP_ND (delta method for derived values)
  FitDiagnostics fit;
};

// SRTM (Lammertsma & Hume 1996): C_T = R1 C_R + (k2 - R1 k2a) C_R (x) exp(-k2a t), with
// k2a = k2 / (1 + BP_ND). Bounded Levenberg-Marquardt over (R1, k2, BP_ND), started from the
// best basis function of a BF-SRTM grid; SEs from the Jacobian at the solution.
// C_R is interpolated linearly through the frame mids onto a fine grid for the convolution, whose
// frame means enter the model; the R1 C_R term uses the measured frame means (the model is linear
// in C_R, so frame-averaging it is exact). kinfitr instead samples the model at the mid times:
// `sampling = mid_time` does the same (C_R linear through (first start, 0) and the mids, the
// convolution read at the mids), which reproduces kinfitr's BP_ND within 0.1% instead of +1%
// (docs/pet.md); frame_mean is the better model of what the scanner measures.
enum class ModelSampling { frame_mean, mid_time };
struct SrtmParams {
  std::vector<double> weights;
  ModelSampling sampling = ModelSampling::frame_mean;
  double r1_min = 0.0, r1_max = 10.0;
  double k2_min = 1e-4, k2_max = 5.0; // 1/min
  double bp_min = -0.9, bp_max = 20.0;
  double max_grid_step_s = 2.0; // fine-grid resolution for the convolution
};
BindingPotential srtm(const FrameTiming& timing, const std::vector<double>& target,
                      const std::vector<double>& reference, const SrtmParams& params = {});

// SRTM2 (Wu & Carson 2002): SRTM with k2' fixed (e.g. from SRTM or MRTM on a high-binding region):
// C_T = R1 [C_R + (k2' - k2a) C_R (x) exp(-k2a t)], fitted over (R1, k2a); BP_ND = R1 k2'/k2a - 1.
struct Srtm2Params {
  std::vector<double> weights;
  double k2_prime = kNaN; // required, 1/min
  double r1_min = 0.0, r1_max = 10.0;
  double k2a_min = 1e-4, k2a_max = 5.0;
  double max_grid_step_s = 2.0;
};
BindingPotential srtm2(const FrameTiming& timing, const std::vector<double>& target,
                       const std::vector<double>& reference, const Srtm2Params& params);

// t* for the linear methods: fixed (tstar_s), or automatic: the earliest frame such that the fit
// on it and all later frames has max |residual|/|fitted| <= max_rel_error (Ichise's / PMOD's
// "max error" criterion, as kinfitr's tstar finders), with at least min_frames frames.
struct TstarParams {
  std::optional<double> tstar_s; // frames with mid >= t* are used
  double max_rel_error = 0.10;
  std::size_t min_frames = 3;
};

// MRTM (Ichise et al. 2003): C_T(T) = g1 int C_R + g2 int C_T + g3 C_R(T) on frames after t*
// (default: all frames), weighted linear LS. BP_ND = -g1/g2 - 1, k2' = g1/g3, R1 = g3.
struct MrtmParams {
  std::vector<double> weights;
  Integration integration = Integration::frame_mean; // trapezoid_mids reproduces kinfitr
  TstarParams tstar{.tstar_s = 0.0};
};
BindingPotential mrtm(const FrameTiming& timing, const std::vector<double>& target,
                      const std::vector<double>& reference, const MrtmParams& params = {});

// MRTM2 (Ichise et al. 2003): k2' fixed (from MRTM on a high-binding region):
// C_T(T) = g1 (int C_R + C_R(T)/k2') + g2 int C_T. BP_ND = -g1/g2 - 1, R1 = g1/k2'.
struct Mrtm2Params {
  std::vector<double> weights;
  Integration integration = Integration::frame_mean;
  double k2_prime = kNaN; // required
  TstarParams tstar{.tstar_s = 0.0};
};
BindingPotential mrtm2(const FrameTiming& timing, const std::vector<double>& target,
                       const std::vector<double>& reference, const Mrtm2Params& params);

// Logan reference plot (Logan et al. 1996): int C_T / C_T = DVR (int C_R + C_R/k2')/C_T + b for
// T > t*. k2' NaN drops the C_R/k2' term (the original approximation). BP_ND = DVR - 1.
// Reports t* and the max relative residual after t* (linearity check).
struct LoganRefParams {
  std::vector<double> weights;
  Integration integration = Integration::frame_mean;
  double k2_prime = kNaN;
  TstarParams tstar;
};
BindingPotential logan_reference(const FrameTiming& timing, const std::vector<double>& target,
                                 const std::vector<double>& reference, const LoganRefParams& params = {});

// Basis-function SRTM (Gunn et al. 1997): basis_count basis functions C_R (x) exp(-theta3 t) with
// theta3 log-spaced in [k2a_min, k2a_max] (1/min); per basis a weighted linear LS for
// (theta1, theta2); the basis with the least weighted RSS wins. R1 = theta1, k2a = theta3,
// BP_ND = theta2/theta3 + theta1 - 1. Flags at_bound when the first or last basis wins.
struct BfSrtmParams {
  std::vector<double> weights;
  double k2a_min = 0.01, k2a_max = 1.0;
  int basis_count = 100;
  double max_grid_step_s = 2.0;
};
BindingPotential bf_srtm(const FrameTiming& timing, const std::vector<double>& target,
                         const std::vector<double>& reference, const BfSrtmParams& params = {});

} // namespace rewardpath::pet
