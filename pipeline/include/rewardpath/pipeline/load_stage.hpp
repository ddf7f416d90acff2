#pragma once
// The load stage: stream each run once (never held in memory), write its mean image (the reference later
// stages register and mask with) and a summary of what was read (geometry, timing, signal, tSNR).
#include <filesystem>
#include <vector>

#include "rewardpath/pipeline/subject_plan.hpp"

namespace rewardpath::pipeline {

std::vector<std::filesystem::path> run_load_stage(const SubjectPlan& plan,
                                                  const std::filesystem::path& bids_dir,
                                                  const std::filesystem::path& out_dir);

} // namespace rewardpath::pipeline
