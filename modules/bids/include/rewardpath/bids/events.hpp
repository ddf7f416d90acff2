#pragma once
// Task events (BIDS *_events.tsv): onset and duration in seconds, optional trial_type, and any
// other numeric columns kept as candidate parametric modulators.
#include <filesystem>
#include <string>
#include <vector>

namespace rewardpath::bids {

struct Events {
  std::filesystem::path source;
  std::vector<double> onset;                   // seconds from the first volume's acquisition start
  std::vector<double> duration;                // seconds, >= 0 (0 = impulse)
  std::vector<std::string> trial_type;         // "n/a" kept as is; empty strings when the column is absent
  std::vector<std::string> modulator_names;    // numeric columns other than onset/duration
  std::vector<std::vector<double>> modulators; // [column][event], NaN for n/a
  std::vector<std::size_t> line;               // line of each event in the source file, for messages

  std::size_t size() const { return onset.size(); }
  std::vector<std::string> trial_types() const; // distinct, sorted, without "n/a"
};

// Reads and validates: required columns onset and duration; numeric onsets (n/a not allowed);
// numeric durations >= 0 (n/a allowed and read as 0, as BIDS permits for impulse events);
// a column is a modulator when every non-n/a value in it is numeric.
// Errors name the file, the line and the column.
Events read_events(const std::filesystem::path& path);

// Which columns hold the timing and the condition. Some datasets keep BIDS's onset/duration as n/a and
// the real timing in their own columns (e.g. ds005012's MID task: CUE_ONSET, CUE_DURATION, TRIAL_TYPE).
// The chosen columns, and the standard onset/duration, are never modulators. A trial_type column
// other than the default must exist.
struct EventColumns {
  std::string onset = "onset";
  std::string duration = "duration";
  std::string trial_type = "trial_type";
};
Events read_events(const std::filesystem::path& path, const EventColumns& columns);

// Errors when an event starts at or after the end of the run, or before -run_duration (clearly
// wrong timing); names the file, line and onset. Events that start in the run but end after it
// are allowed (the response is truncated), as fMRI tools do.
void check_events_fit_run(const Events& events, double run_duration_s);

} // namespace rewardpath::bids
