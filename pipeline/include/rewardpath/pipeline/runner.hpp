#pragma once
// The participant-level run: validate every selected subject's inputs up front (headers, sidecars,
// events; no voxel reads), then process subjects concurrently under one TBB arena within the
// memory budget. One failing subject is recorded and the others finish.
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/io/json.hpp"

namespace rewardpath::pipeline {

struct RunParams {
  std::filesystem::path bids_dir;
  std::filesystem::path out_dir;
  std::vector<std::string> participant_labels; // empty: all subjects
  std::filesystem::path config_file;           // empty: defaults
  int threads = 0;                             // 0: all cores
  double mem_gb = 0.0;                         // 0: 80% of available memory
  std::filesystem::path scratch_dir;           // runs above the budget; empty: out_dir
  bool force = false;                          // recompute even when outputs are current
  std::string command_line;                    // recorded in provenance
};

enum class SubjectStatus { completed, up_to_date, failed };

struct SubjectOutcome {
  std::string label;
  SubjectStatus status = SubjectStatus::failed;
  std::string error; // why it failed: file, field and what was expected
  std::vector<std::filesystem::path> outputs;
  double seconds = 0.0;
};

struct RunSummary {
  std::vector<SubjectOutcome> subjects;
  double seconds = 0.0;
  int threads = 0;
  double mem_budget_gb = 0.0;

  std::size_t failed_count() const;
  int exit_code() const { return failed_count() == 0 ? 0 : 1; }
  std::string to_text() const;
  io::Json to_json() const;
};

// Errors that concern the whole run (missing dataset, OUT_DIR inside BIDS_DIR, unknown
// participant label, bad config) are thrown; per-subject problems end up in the summary.
RunSummary run_participant_level(const RunParams& params);

} // namespace rewardpath::pipeline
