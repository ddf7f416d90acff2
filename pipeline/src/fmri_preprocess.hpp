#pragma once
// The preprocessing step of the fMRI stage, on a run already in memory (modified in place).
#include <cstdint>
#include <vector>

#include "rewardpath/core/volume.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/subject_plan.hpp"

namespace rewardpath::pipeline {

struct PreparedRun {
  io::Table confounds;                   // BIDS confounds (fMRIPrep names); no columns when not computed
  std::vector<std::uint8_t> mask;        // brain mask on the run's grid, 1 = inside
  double slice_time_ref = 0.0;           // fraction of the TR the volumes now represent
  io::Json summary = io::Json::object(); // what was done, with numbers (mean FD, ...)
};

// Slice timing (when configured and given), realignment, mask (from the realigned mean),
// confounds, high-pass. Without the "preprocess" section: only the mask.
PreparedRun prepare_run(Volume& bold, const BoldInput& input, const PreprocessConfig& config);
// Spatial smoothing for the voxelwise GLM, after the (unsmoothed) ROI signals are taken.
void smooth_for_glm(Volume& bold, const PreprocessConfig& config);

} // namespace rewardpath::pipeline
