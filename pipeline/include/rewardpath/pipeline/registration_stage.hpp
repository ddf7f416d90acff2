#pragma once
// The registration stage: each subject's anatomy to the atlas template, each BOLD/PET mean to the
// anatomy (rigid, composed onto it), the atlas brought into every BOLD/PET space, and QC
// (docs/registration.md, "Pipeline stage").
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/atlas/atlas.hpp"
#include "rewardpath/core/volume.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/registration/registration.hpp"
#include "rewardpath/pipeline/subject_plan.hpp"

namespace rewardpath::pipeline {

// Loaded once per run, before subjects start (single-threaded, so a bad atlas is a run-level
// error), and shared read-only by all subjects.
struct RegistrationResources {
  std::string atlas_name;       // atlas- entity, e.g. "reward"
  std::string template_space;   // from-/to- label of the template, e.g. "MNIColin27"
  atlas::Atlas atlas;           // labels on the template grid
  Volume registration_template; // what subjects are registered to (Colin27 ch2 with skull, or the user's)
  Volume overlay_template;      // whose edges the QC figure shows (ch2bet, or the user's template)
  Volume template_brain;        // 1 in the template's brain (ch2bet > 0, or the user template's mask)
  std::vector<std::filesystem::path> inputs; // files read, for provenance
};

RegistrationResources load_registration_resources(const RegistrationConfig& config);

// The images the stage registers: one mean per BOLD and PET run, in plan order (the load stage's
// means; for PET, the realigned mean when frames were realigned).
struct RunMeans {
  const std::vector<Volume>& bold;
  const std::vector<Volume>& pet;
};

// One BOLD or PET run brought to the template, as later stages use it.
struct RunRegistration {
  registration::Transform to_template; // run world -> template world (the from-<template>_to-<run> file)
  Volume labels;                       // the atlas on the run's grid, nearest neighbour (its _dseg)
};

struct RegistrationResult {
  std::vector<RunRegistration> bold; // plan.bold order
  std::vector<RunRegistration> pet;  // plan.pet order
  std::vector<std::filesystem::path> outputs;
};

// The atlas and the registration of each run of one modality, for the stages that need ROIs.
struct RegisteredRuns {
  const RegistrationResources& resources;
  const std::vector<RunRegistration>& runs; // plan.bold or plan.pet order
};

// Registers the T1w to the template and each run's mean to the T1w (or to the template without
// one), brings the atlas into every run's space, writes transforms, labels (and fractional
// weights), the QC JSON and figures. Throws when a registration fails, or is QC-flagged and
// config.on_qc_flag is "fail" (after writing the QC JSON and figures, so it can be inspected).
RegistrationResult run_registration_stage(const SubjectPlan& plan, const RunMeans& means,
                                          const RegistrationResources& resources,
                                          const RegistrationConfig& config,
                                          const std::filesystem::path& out_dir);

} // namespace rewardpath::pipeline
