#pragma once
// The PET stage of `rewardpath run ... participant` (docs/pet.md "Pipeline stage"), in two parts
// around the registration stage:
//   load -> run_pet_realign_stage -> registration (of the realigned mean) -> run_pet_model_stage.
// Realignment: rigid, each frame to the mean of the late frames; writes the motion TSV and the
// realigned mean, and returns both the frames and that mean as values.
// Models: ROI TACs from the atlas in PET space (given as values), reference-tissue models per ROI, BF-SRTM
// and MRTM2 parametric maps, optional plasma-input models when a _blood.tsv exists.
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/atlas/atlas.hpp"
#include "rewardpath/core/volume.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/subject_plan.hpp"

namespace rewardpath::pipeline {

// What realignment hands to the registration and model stages, one entry per plan.pet run (same
// order): the frames (realigned when config.realign) and the duration-weighted mean of the
// realigned frames (the image registration should register; empty without realignment).
struct PetRealignResult {
  std::vector<Volume> frames;
  std::vector<Volume> realigned_means;
  std::vector<std::filesystem::path> outputs; // files written
};

// Reads each PET run (non-finite voxels are an error naming the file and frame), realigns it when
// config.realign (else removes a stale realigned mean of an earlier run), writes the motion table
// and the realigned mean.
PetRealignResult run_pet_realign_stage(const SubjectPlan& plan, const PetConfig& config,
                                       const std::filesystem::path& out_dir);

// TACs, model tables, fitted curves and maps from the realigned frames and the atlas in each PET
// run's space: `labels[i]` on the grid of plan.pet[i]'s frames, `rois` the atlas's ROIs (index and
// name, in the atlas's order), `atlas_name` its atlas- entity (output names). Returns the files
// written.
std::vector<std::filesystem::path>
run_pet_model_stage(const SubjectPlan& plan, const PetConfig& config, const PetRealignResult& realigned,
                    const std::vector<Volume>& labels, const std::vector<atlas::Roi>& rois,
                    const std::string& atlas_name, const std::filesystem::path& out_dir);

} // namespace rewardpath::pipeline
