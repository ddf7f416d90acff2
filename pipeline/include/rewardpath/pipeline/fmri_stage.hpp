#pragma once
// The fMRI stage, one BOLD run at a time, reading each run once: preprocessing (motion correction,
// confounds, mask, optional slice timing / smoothing / filtering), ROI time series from the atlas
// the registration stage brought into the run's space, the first-level GLM (voxelwise maps and ROI
// tables), then fixed effects over the runs of a task, in the run's space for ROIs and in template
// space for maps (what the group level reads). docs/fmri.md describes every output.
#include <filesystem>
#include <vector>

#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/registration_stage.hpp"
#include "rewardpath/pipeline/run_storage.hpp"
#include "rewardpath/pipeline/subject_plan.hpp"

namespace rewardpath::pipeline {

// `registration` (the atlas and each BOLD run's registration, plan.bold order) is null when the
// registration stage is off: then no ROI outputs and no template-space maps (native space only).
// Returns the files written.
std::vector<std::filesystem::path> run_fmri_stage(const SubjectPlan& plan, const Config& config,
                                                  const RegisteredRuns* registration,
                                                  const std::filesystem::path& out_dir,
                                                  const RunStorage& storage = {});

} // namespace rewardpath::pipeline
