#pragma once
// `rewardpath run BIDS_DIR OUT_DIR group`: second-level tests over the participant level's
// subject-level (fixed-effects) results, ROI tables and template-space maps, with the design taken
// from BIDS participants.tsv / phenotype/ (docs/group.md). Outputs go to OUT_DIR/group/.
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/pipeline/runner.hpp"

namespace rewardpath::pipeline {

struct GroupRunSummary {
  std::vector<std::filesystem::path> outputs;
  std::vector<std::string> notes; // per analysis: subjects used, excluded and why
  double seconds = 0.0;
  std::string to_text() const;
};

// Errors that stop the group level (no subject-level results, a bad design, an unknown column) are
// thrown with the file, column and subject concerned.
GroupRunSummary run_group_level(const RunParams& params);

} // namespace rewardpath::pipeline
