#pragma once
// PET kinetics for the simulator: an [11C]raclopride-like study. Times in seconds at the API,
// rate constants per minute (the field's convention). Activities are decay-corrected, Bq/mL.
#include <string>
#include <vector>

#include "rewardpath/io/tsv.hpp"
#include "rewardpath/simulate/random.hpp"

namespace rewardpath::simulate::pet {

// Physical half-life of carbon-11 (s): 20.385 min.
inline constexpr double kC11HalfLifeS = 1223.1;

struct FrameSchedule {
  std::vector<double> start_s;
  std::vector<double> duration_s;
  std::size_t size() const { return start_s.size(); }
  std::vector<double> mid_s() const;
};

// A realistic dynamic schedule (BIDS-PET FrameTimesStart/FrameDuration), e.g. for 60 min:
// 6x10 s, 3x20 s, 2x30 s, 2x60 s, 2x150 s, 10x300 s (total_min in [60, 90]).
// Longer scans add 300 s frames; a remainder of >= 150 s becomes a last shorter frame, a smaller
// one lengthens the last 300 s frame. Contiguous from 0, sum of durations = total_min * 60.
FrameSchedule raclopride_schedule(double total_min = 60.0);

// Metabolite-corrected arterial plasma input (Feng et al. 1993 model, Bq/mL), with whole blood
// and parent fraction for _blood.tsv.
//
// Total plasma radioactivity (parent + labelled metabolites), with t' = t - delay in minutes:
//   Cp_tot(t') = (A1 t' - A2 - A3) e^(-l1 t') + A2 e^(-l2 t') + A3 e^(-l3 t'),  0 for t' <= 0
// (Feng, Huang & Wang 1993, Int J Biomed Comput 32:95, "model 2"), scaled by injected_mbq/250.
// Parent fraction (Hill-type): f(t) = 1 - fmax t^h / (t50^h + t^h), t in minutes from injection.
// plasma() = f * Cp_tot, whole_blood() = blood_plasma_ratio * Cp_tot. Defaults and their
// sources are documented in pet.cpp (raclopride_input).
struct PlasmaInput {
  double injected_mbq = 250.0;
  // Feng model for 250 MBq (kBq/mL/min for A1, kBq/mL for A2, A3; 1/min for l1..l3).
  double delay_s = 36.0;
  double a1 = 640.0, a2 = 28.0, a3 = 7.0;
  double l1 = 4.0, l2 = 0.25, l3 = 0.005;
  // Parent fraction (Hill) and whole blood.
  double metabolite_max = 0.6; // fraction metabolised as t -> infinity
  double metabolite_t50_min = 20.0;
  double metabolite_hill = 2.0;
  double blood_plasma_ratio = 0.9;

  double plasma(double t_s) const;          // parent tracer in plasma
  double whole_blood(double t_s) const;     // parent + metabolites in whole blood
  double parent_fraction(double t_s) const; // in [0, 1]
  double total_plasma(double t_s) const;    // parent + metabolites in plasma (BIDS plasma_radioactivity)
};

// The default input for `injected_mbq`, with subject variation when `rng` is given: arrival
// delay +-6 s, amplitudes x(1 +- 10%), metabolism t50 x(1 +- 15%) (uniform draws).
PlasmaInput raclopride_input(double injected_mbq = 250.0, Rng* rng = nullptr);

struct Kinetics {
  double K1 = 0.1;  // mL/cm3/min
  double k2 = 0.4;  // 1/min
  double k3 = 0.0;  // 1/min (0: one-tissue)
  double k4 = 0.0;  // 1/min
  double vb = 0.05; // blood volume fraction
};

// Frame-averaged tissue activity (Bq/mL, decay-corrected) of the 1T/2T compartment model driven
// by `input`, computed on a fine time grid (<= 1 s) and integrated over each frame.
// C_PET = (1 - vb) * C_T + vb * whole_blood. Throws rewardpath::Error for invalid rates/frames.
std::vector<double> tissue_tac(const PlasmaInput& input, const Kinetics& k, const FrameSchedule& frames);

// The same model sampled at instants (no frame averaging), for plots and tests.
std::vector<double> tissue_curve(const PlasmaInput& input, const Kinetics& k,
                                 const std::vector<double>& times_s);

struct RegionTruth {
  std::string roi; // reward-atlas ROI name, e.g. "Putamen_L", or "reference"/"background"
  Kinetics kinetics;
  double bp_nd = 0.0; // k3/k4 (K1/k2 equal to the reference's, so BP_ND is defined exactly)
};

// Putamen ~3, caudate ~2.5, NAcc ~2, other ROIs low (~0.2-0.5), cerebellar reference one-tissue
// (BP_ND 0), background grey/white matter. Subject variation drawn from `rng` when given.
// ROI names: VTA, NAcc, vmPFC, OFC, Amygdala, Hippocampus, Caudate, Putamen, CerebellumRef with
// suffix _L/_R, then "background_gm", "background_wm". Every region has K1/k2 = V_ND of the
// reference, so BP_ND = k3/k4 = V_T/V_ND - 1 exactly.
// Blood volumes are realistic (vb 0.03-0.05). Reference-tissue methods ignore vb, and the blood
// term biases them: on noise-free 60-min TACs a Logan reference plot (t* = 25 min) gives BP_ND
// ~14% low at these vb, ~3.5% low at a quarter of them, and within 1% at vb = 0. The overload
// scales every region's vb (0: no vascular component, BP_ND recoverable exactly).
std::vector<RegionTruth> raclopride_truth(Rng* rng = nullptr);
std::vector<RegionTruth> raclopride_truth(Rng* rng, double blood_volume_scale);

// The truth entry named `roi` (throws listing the names when absent).
const RegionTruth& find_region(const std::vector<RegionTruth>& truth, const std::string& roi);

// Frame TAC (Bq/mL, decay-corrected, noise-free) of one region.
std::vector<double> region_tac(const PlasmaInput& input, const RegionTruth& region,
                               const FrameSchedule& frames);

// Noise sd for a frame (Bq/mL): proportional to sqrt(activity / (duration * decay factor)),
// as counting statistics give, scaled by `level`. Exactly:
//   sd = level * sqrt(max(activity, 0) * exp(ln2 * mid_time_s / half_life_s) / duration_s)
// (activity in Bq/mL, duration in s; exp(...) is the decay-correction factor at frame mid).
// level ~ 100 gives ~10% for a 10 kBq/mL voxel in a 300 s frame 45 min after injection.
double frame_noise_sd(double activity, double duration_s, double mid_time_s, double half_life_s,
                      double level);

// frame_noise_sd for every frame of `tac` (11C half-life).
std::vector<double> frame_noise_sds(const std::vector<double>& tac, const FrameSchedule& frames,
                                    double level);

// Arterial samples for BIDS _blood.tsv: every 5 s to 2 min (automated sampler), then manual
// samples at 2.5, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90 min up to
// total_s. Decay-corrected Bq/mL.
struct BloodSamples {
  std::vector<double> time_s;
  std::vector<double> plasma_radioactivity; // total plasma (parent + metabolites)
  std::vector<double> whole_blood_radioactivity;
  std::vector<double> metabolite_parent_fraction; // parent / total plasma
};
BloodSamples blood_samples(const PlasmaInput& input, double total_s);

// Columns: time (s), plasma_radioactivity, whole_blood_radioactivity (Bq/mL),
// metabolite_parent_fraction (unitless), in that order.
io::Table blood_table(const BloodSamples& samples);

} // namespace rewardpath::simulate::pet
