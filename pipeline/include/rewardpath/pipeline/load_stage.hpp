#pragma once
// The load stage: stream each run once (never held in memory), compute its mean image (the
// reference later stages register and mask with) and write it with a summary of what was read
// (geometry, timing, signal, tSNR).
#include <filesystem>
#include <vector>

#include "rewardpath/core/volume.hpp"
#include "rewardpath/pipeline/subject_plan.hpp"

namespace rewardpath::pipeline {

struct LoadResult {
  std::vector<Volume> bold_means; // temporal mean per BOLD run (plan.bold order), on the run's grid
  std::vector<Volume> pet_means;  // frame-duration-weighted mean per PET run (plan.pet order)
  std::vector<std::filesystem::path> outputs;
};

LoadResult run_load_stage(const SubjectPlan& plan, const std::filesystem::path& bids_dir,
                          const std::filesystem::path& out_dir);

} // namespace rewardpath::pipeline
