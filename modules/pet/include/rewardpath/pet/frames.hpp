#pragma once
// Frame timing, TAC tables, frame weights and TAC integration.
//
// Units: times are seconds at the API (BIDS-PET), rate constants are per minute (the field's
// convention), activities are decay-corrected in any unit (models only use ratios).
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "rewardpath/bids/metadata.hpp"

namespace rewardpath::pet {

// Physical half-life of carbon-11 (s).
inline constexpr double kC11HalfLifeS = 1223.1;

struct FrameTiming {
  std::vector<double> start_s;
  std::vector<double> duration_s;
  double half_life_s = std::numeric_limits<double>::quiet_NaN(); // NaN when unknown
  bool decay_corrected = true;

  std::size_t size() const { return start_s.size(); }
  std::vector<double> mid_s() const;
  std::vector<double> end_s() const;
};

// Throws rewardpath::Error (prefixed by `what`) unless: at least one frame, start and duration of
// equal length, finite, start >= 0, duration > 0, sorted and non-overlapping (1 ms tolerance).
void validate(const FrameTiming& timing, const std::string& what = "frame timing");

// From a BIDS-PET sidecar (FrameTimesStart, FrameDuration, ImageDecayCorrected, half-life). Missing
// ImageDecayCorrected is taken as decay-corrected (BIDS-PET requires it; the bids module reports it).
FrameTiming frame_timing(const bids::PetMetadata& metadata);

// A frame-by-region table of time-activity curves.
struct TacTable {
  FrameTiming timing;
  std::vector<std::string> names;
  std::vector<std::vector<double>> values; // values[r][frame]

  // Appends a region; its length must equal the frame count and every value must be finite.
  void add(const std::string& name, std::vector<double> tac);
  const std::vector<double>& tac(const std::string& name) const; // error lists the names
};

// Throws unless tac has timing.size() finite values; `what` names the TAC in the message.
void validate_tac(const FrameTiming& timing, const std::vector<double>& tac, const std::string& what);

// Frame weights (normalised to max 1), for weighted least squares.
//  uniform:          1
//  duration:         d_i
//  duration_decay:   d_i * exp(-ln2 t_mid / T_half)       (kinfitr weights_create method 5)
//  inverse_variance: d_i * exp(-ln2 t_mid / T_half) / C_i (counting statistics: var(C_i) is
//                    proportional to C_i e^{+ln2 t/T} / d_i for decay-corrected C_i; PMOD's and
//                    Mazoyer's "duration x decay / activity" weights). C_i is floored at 1% of
//                    max(C) so that frames before arrival do not get infinite weight.
// `tac` (a high-SNR TAC, e.g. whole brain) is only used by inverse_variance. The half-life is the
// timing's, else `half_life_s`.
enum class Weighting { uniform, duration, duration_decay, inverse_variance };
struct WeightParams {
  Weighting scheme = Weighting::inverse_variance;
  double half_life_s = kC11HalfLifeS;
};
std::vector<double> frame_weights(const FrameTiming& timing, const std::vector<double>& tac,
                                  const WeightParams& params = {});

// Running integral of a TAC for each frame, in activity x minutes (rates are per minute).
//  frame_mean (default): the integral from 0 averaged over the frame, which is what a frame-mean
//    TAC pairs with in the linear models (MRTM, Logan): sum of the earlier frames' areas
//    (mean x duration, exact), gaps between frames by the trapezoid, plus C_i d_i / 2 - C'_i d_i^2 / 12
//    inside the frame (C'_i: slope of the frame means around frame i).
//  trapezoid_mids: the textbook trapezoid through (t0, 0) and (mid_i, C_i), evaluated at the mid
//    times (t0 = first frame start: no activity before the scan). It treats frame means as samples
//    at the mids and so biases BP_ND by ~1% on 60-min [11C]raclopride frames (5-min late frames).
enum class Integration { frame_mean, trapezoid_mids };
std::vector<double> integrate_tac(const FrameTiming& timing, const std::vector<double>& tac,
                                  Integration method = Integration::frame_mean);

} // namespace rewardpath::pet
