#pragma once
// Plasma-input models: 1TCM, 2TCM (with blood volume), Logan plasma plot, Patlak.
//
// Input: metabolite-corrected arterial plasma (parent) samples, optionally whole blood for the
// vascular term (plasma is used when whole blood is absent). Samples are interpolated linearly
// onto a fine grid (<= max_grid_step_s, frame boundaries as knots), 0 before the first sample;
// the model is integrated over each frame (frame means, as the scanner measures).
// Delay: the input is shifted by delay_s (positive: input arrives later in tissue); fixed by
// default (0), or fitted by 1TCM (fit_delay) over a grid of shifts. Dispersion is not modelled.
#include <string>
#include <vector>

#include "rewardpath/bids/metadata.hpp"
#include "rewardpath/pet/fit.hpp"
#include "rewardpath/pet/frames.hpp"
#include "rewardpath/pet/reference.hpp"

namespace rewardpath::pet {

struct ArterialInput {
  std::vector<double> time_s;      // sorted, >= 0 not required (pre-injection samples are allowed)
  std::vector<double> plasma;      // metabolite-corrected parent in plasma
  std::vector<double> whole_blood; // optional (empty), same length
};
// Throws unless times are finite and strictly increasing, values finite, lengths agree.
void validate(const ArterialInput& input, const std::string& what = "arterial input");

// From BIDS _blood.tsv: plasma_radioactivity x metabolite_parent_fraction (the parent fraction is
// interpolated linearly over its non-NaN samples); rows with NaN plasma are dropped.
ArterialInput arterial_input(const bids::BloodData& blood);

struct PlasmaFit {
  std::string model; // "1TCM", "2TCM", "LoganPlasma", "Patlak"
  double vt = kNaN;  // K1/k2 (1TCM), K1/k2 (1 + k3/k4) (2TCM), Logan slope
  double K1 = kNaN, k2 = kNaN, k3 = kNaN, k4 = kNaN;
  double vb = kNaN;
  double bp_nd = kNaN; // k3/k4 (2TCM)
  double ki = kNaN;    // Patlak slope (1/min)
  double intercept = kNaN;
  double delay_s = 0.0;
  double tstar_s = kNaN;
  double max_rel_residual = kNaN;
  double vt_se = kNaN;
  FitDiagnostics fit;
};

struct CompartmentParams {
  std::vector<double> weights;
  double delay_s = 0.0;
  bool fit_delay = false; // 1TCM only: grid over delay_range_s
  double delay_min_s = -30.0, delay_max_s = 30.0, delay_step_s = 1.0;
  double vb = 0.0; // fixed blood volume when !fit_vb
  bool fit_vb = true;
  double vb_max = 0.2;
  double max_grid_step_s = 1.0;
  double rate_max = 5.0; // upper bound for every rate constant (1/min; K1 in mL/cm3/min)
};
PlasmaFit one_tcm(const FrameTiming& timing, const std::vector<double>& tac, const ArterialInput& input,
                  const CompartmentParams& params = {});
// 2TCM from several starts (including the 1TCM solution); the least weighted RSS wins.
PlasmaFit two_tcm(const FrameTiming& timing, const std::vector<double>& tac, const ArterialInput& input,
                  const CompartmentParams& params = {});

struct GraphicalParams {
  std::vector<double> weights;
  double delay_s = 0.0;
  TstarParams tstar;
  double max_grid_step_s = 1.0;
};
// Logan plasma plot: int C_T / C_T = V_T int C_p / C_T + b after t*.
PlasmaFit logan_plasma(const FrameTiming& timing, const std::vector<double>& tac, const ArterialInput& input,
                       const GraphicalParams& params = {});
// Patlak: C_T / C_p = K_i int C_p / C_p + V0 after t* (irreversible uptake).
PlasmaFit patlak(const FrameTiming& timing, const std::vector<double>& tac, const ArterialInput& input,
                 const GraphicalParams& params = {});

} // namespace rewardpath::pet
