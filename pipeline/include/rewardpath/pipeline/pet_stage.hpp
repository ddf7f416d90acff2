#pragma once
// The PET stage of `rewardpath run ... participant` (docs/pet.md "Pipeline stage"), in two parts
// around the registration stage:
//   load -> run_pet_realign_stage -> registration (of the realigned mean) -> run_pet_model_stage.
// Realignment: rigid, each frame to the mean of the late frames; writes the motion TSV and the
// realigned mean (which the registration stage then prefers over the load stage's mean).
// Models: ROI TACs from the atlas in PET space, reference-tissue models per ROI, BF-SRTM and MRTM2
// parametric maps, optional plasma-input models when a _blood.tsv exists.
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/core/volume.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/subject_plan.hpp"

namespace rewardpath::pipeline {

// The frames of each PET run of the plan (same order), realigned when config.realign.
struct PetFrames {
  std::vector<Volume> runs;
};

// Reads each PET run (non-finite voxels are an error naming the file and frame), realigns it when
// config.realign (else removes a stale realigned mean of an earlier run) and keeps the frames in
// `frames` for run_pet_model_stage. Returns the files written.
std::vector<std::filesystem::path> run_pet_realign_stage(const SubjectPlan& plan, const PetConfig& config,
                                                         const std::filesystem::path& out_dir,
                                                         PetFrames& frames);

// TACs, model tables, fitted curves and maps from the frames and the registration stage's atlas
// in PET space (`atlas_name`: its atlas- entity). Returns the files written.
std::vector<std::filesystem::path> run_pet_model_stage(const SubjectPlan& plan, const PetConfig& config,
                                                       const PetFrames& frames, const std::string& atlas_name,
                                                       const std::filesystem::path& out_dir);

} // namespace rewardpath::pipeline
