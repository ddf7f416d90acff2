#pragma once
// The monetary incentive delay (MID) task of the simulated fMRI runs: trial schedule, BIDS
// events, and the task regressors (events convolved with the SPM canonical HRF).
//
// One trial (timing modelled on ds005012's MID runs and Knutson et al. 2001): a 2 s cue (gain,
// loss or neutral), an anticipation delay jittered in {1.5, 2.0, ..., 4.0} s, a target shown for
// an adaptive duration (staircase towards ~66% hits: -20 ms after a hit, +40 ms after a miss), a
// response, feedback until 2 s after target onset, and an inter-trial interval of {0, 0.5, 1} s.
// Cues come in shuffled blocks of 2 gain, 2 loss and 1 neutral.
#include <limits>
#include <string>
#include <vector>

#include "rewardpath/io/tsv.hpp"
#include "rewardpath/simulate/random.hpp"

namespace rewardpath::simulate::mid {

struct Trial {
  std::string cue;          // "gain", "loss", "neutral"
  double cue_onset_s = 0.0; // anticipation starts with the cue
  double cue_duration_s = 2.0;
  double delay_s = 0.0; // fixation between cue and target
  double target_onset_s = 0.0;
  double target_duration_s = 0.0;
  double response_time_s = 0.0; // from target onset
  bool hit = false;
  double feedback_onset_s = 0.0;
  double feedback_duration_s = 0.0;
};

// Trials filling a run of `run_duration_s` (the last feedback ends >= 10 s before the run ends).
std::vector<Trial> schedule(double run_duration_s, Rng& rng);

// One BIDS event.
struct Event {
  double onset_s = 0.0;
  double duration_s = 0.0;
  std::string trial_type;
  double response_time_s = std::numeric_limits<double>::quiet_NaN();
};

// Per trial: "<cue>_anticipation" (cue onset, cue + delay), "probe" (target, with the response
// time), "<cue>_<hit|miss>" (feedback). Sorted by onset.
std::vector<Event> events(const std::vector<Trial>& trials);

// The trial types that get a regressor, in a fixed order.
const std::vector<std::string>& regressor_names();

// events.tsv: onset, duration, trial_type, response_time (s, n/a where none), cue, outcome.
io::Table events_table(const std::vector<Trial>& trials);

// SPM canonical HRF (difference of gammas: peak 6 s, undershoot 16 s, ratio 1/6), scaled to unit
// area, per second; and its integral from 0 to t (0 for t <= 0, -> 1 as t grows).
double canonical_hrf(double t_s);
double canonical_hrf_integral(double t_s);

// Regressor of a trial type at the given times: the sum over its events of the boxcar of the event's
// duration convolved with the unit-area HRF (exactly, through the HRF's integral). A sustained
// event plateaus at 1, so a regression weight is the response to sustained activity.
std::vector<double> regressor(const std::vector<Event>& events, const std::string& trial_type,
                              const std::vector<double>& times_s);

// Interleaved acquisition (even-indexed slices first, then odd): SliceTiming in seconds.
std::vector<double> interleaved_slice_timing(int slices, double tr_s);

} // namespace rewardpath::simulate::mid
