#pragma once
// PET kinetics for the simulator: an [11C]raclopride-like study. Times in seconds at the API,
// rate constants per minute (the field's convention). Activities are decay-corrected, Bq/mL.
#include <string>
#include <vector>

#include "rewardpath/simulate/random.hpp"

namespace rewardpath::simulate::pet {

struct FrameSchedule {
  std::vector<double> start_s;
  std::vector<double> duration_s;
  std::size_t size() const { return start_s.size(); }
  std::vector<double> mid_s() const;
};

// A realistic dynamic schedule (BIDS-PET FrameTimesStart/FrameDuration), e.g. for 60 min:
// 6x10 s, 3x20 s, 2x30 s, 2x60 s, 2x150 s, 10x300 s (total_min in [60, 90]).
FrameSchedule raclopride_schedule(double total_min = 60.0);

// Metabolite-corrected arterial plasma input (Feng et al. 1993 model, Bq/mL), with whole blood
// and parent fraction for _blood.tsv.
struct PlasmaInput {
  double injected_mbq = 250.0;
  double plasma(double t_s) const;           // parent tracer in plasma
  double whole_blood(double t_s) const;
  double parent_fraction(double t_s) const;  // in [0, 1]
};

struct Kinetics {
  double K1 = 0.1;  // mL/cm3/min
  double k2 = 0.4;  // 1/min
  double k3 = 0.0;  // 1/min (0: one-tissue)
  double k4 = 0.0;  // 1/min
  double vb = 0.05; // blood volume fraction
};

// Frame-averaged tissue activity (Bq/mL, decay-corrected) of the 1T/2T compartment model driven
// by `input`, computed on a fine time grid (<= 1 s) and integrated over each frame.
std::vector<double> tissue_tac(const PlasmaInput& input, const Kinetics& k, const FrameSchedule& frames);

struct RegionTruth {
  std::string roi;  // reward-atlas ROI name, e.g. "Putamen_L", or "reference"/"background"
  Kinetics kinetics;
  double bp_nd = 0.0;  // k3/k4 (K1/k2 equal to the reference's, so BP_ND is defined exactly)
};

// Putamen ~3, caudate ~2.5, NAcc ~2, other ROIs low (~0.2-0.5), cerebellar reference one-tissue
// (BP_ND 0), background grey/white matter. Subject variation drawn from `rng` when given.
std::vector<RegionTruth> raclopride_truth(Rng* rng = nullptr);

// Noise sd for a frame (Bq/mL): proportional to sqrt(activity / (duration * decay factor)),
// as counting statistics give, scaled by `level`.
double frame_noise_sd(double activity, double duration_s, double mid_time_s, double half_life_s, double level);

}  // namespace rewardpath::simulate::pet
