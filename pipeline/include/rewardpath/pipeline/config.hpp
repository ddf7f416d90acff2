#pragma once
// Analysis configuration (JSON). Every key is documented in docs/config.md; an unknown key is an
// error, never silently ignored.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rewardpath/io/json.hpp"

namespace rewardpath::pipeline {

// The registration stage (docs/config.md, docs/registration.md "Pipeline stage"). Off unless the
// configuration has a "registration" object.
struct RegistrationConfig {
  bool enabled = false;
  std::string model = "affine"; // subject anatomy -> template: "rigid", "affine" or "nonlinear"
  bool fractional_weights = false;
  bool fail_on_qc_flag = true; // "on_qc_flag": "fail" (default) or "continue"
  // User atlas (empty image: the built-in reward atlas on Colin27)
  std::string atlas_name = "reward"; // the atlas- entity of the outputs
  std::filesystem::path atlas_image, atlas_labels, atlas_probability, atlas_template;
  std::optional<double> atlas_threshold;
  std::string atlas_space;
};

// fMRI preprocessing (docs/config.md "preprocess"); off unless the configuration has the key.
struct PreprocessConfig {
  bool enabled = false;
  bool realign = true;          // rigid motion correction to the run's mean
  bool slice_timing = true;     // when the sidecar gives SliceTiming
  double slice_time_ref = 0.5;  // fraction of the TR slice-timing correction aligns to
  double smoothing_fwhm_mm = 0; // 0: no spatial smoothing
  double high_pass_s = 0;       // 0: no filtering of the data (the GLM models drift itself)
  bool global_signal = false;   // add global_signal to the confounds table
};

struct ContrastConfig {
  std::string name;                     // letters and digits: the contrast- entity
  std::vector<std::string> expressions; // one: t contrast; several: F contrast
};

struct ModulatorConfig {
  std::string condition; // trial_type
  std::string column;    // numeric events column
};

// First-level GLM (docs/config.md "glm"); off unless the configuration has the key.
struct GlmConfig {
  bool enabled = false;
  std::string hrf = "spm"; // spm, spm+derivative, spm+derivative+dispersion, glover(+...), fir
  std::vector<int> fir_delays{0, 1, 2, 3, 4, 5};
  std::string drift = "cosine"; // cosine, polynomial, none
  double high_pass_s = 128;
  int drift_order = 1;
  double slice_time_ref = -1; // < 0: the preprocessing reference when slice timing was corrected, else 0
  std::vector<std::string> conditions; // empty: every trial type
  std::vector<ModulatorConfig> modulators;
  std::vector<std::string> confounds; // columns of the confounds table
  std::string noise_model = "ar1";    // ols, ar1, arp
  int ar_order = 2;
  bool signal_scaling = true; // voxel / ROI series to percent of their mean: effects in % signal change
  std::vector<ContrastConfig> contrasts;
  bool voxelwise = true;               // statistical maps (else ROI tables only)
  double template_resolution_mm = 2.0; // grid of the template-space maps the group level uses
};

// One group analysis (docs/config.md "group"): a design over subjects and the contrast tested.
struct GroupAnalysisConfig {
  std::string name;                // letters and digits: the desc- entity of its outputs
  std::string kind = "one_sample"; // one_sample, two_sample, paired
  std::string group_column;        // two_sample: participants.tsv column
  std::vector<std::string> levels; // two_sample: {A, B}, effect = A - B
  std::vector<std::string> covariates;
  std::string contrast;          // over the group design's columns; empty = the default
  std::vector<std::string> pair; // paired: two first-level contrasts, first - second
};

// The group level (`rewardpath run BIDS OUT group`); docs/group.md.
struct GroupConfig {
  bool enabled = false;
  std::vector<GroupAnalysisConfig> analyses; // empty: one one-sample test per first-level contrast
  std::vector<std::string> contrasts;        // first-level t contrasts taken up; empty: every one of "glm"
  int permutations = 5000;                   // max-statistic FWE (0: none)
  std::uint64_t seed = 1;
  std::string tail = "two_sided"; // two_sided, greater, less
  bool voxelwise = true;          // also the template-space maps
};

// The PET stage (docs/config.md "pet", docs/pet.md "Pipeline stage"). Off unless the configuration
// has a "pet" object; needs the registration stage (the atlas in PET space). Times in minutes.
struct PetConfig {
  bool enabled = false;
  bool realign = true;                      // rigid frame realignment before registration and TACs
  double realign_reference_start_min = 20;  // frames starting at or after this: the reference mean
  double realign_first_frame_min = 2;       // earlier frames are not registered (see docs/pet.md)
  std::string reference = "CerebellumRef";  // an atlas ROI name, or the base of an _L/_R pair
  std::vector<std::string> targets;         // empty: every atlas ROI but the reference
  std::vector<std::string> k2prime_regions; // MRTM k2' (median) for MRTM2/SRTM2/LoganRef; empty: targets
  std::vector<std::string> models{"SRTM", "MRTM2", "LoganRef"}; // also "SRTM2", "MRTM", "BFSRTM"
  std::string weighting = "duration_decay"; // uniform, duration, duration_decay, inverse_variance
  double logan_tstar_min = 20;
  std::string srtm_sampling = "frame_mean"; // or "mid_time" (kinfitr's convention)
  bool voxel_maps = true;                   // BF-SRTM and MRTM2 BP_ND/R1 maps
  std::vector<std::string> plasma_models;   // "1TCM", "2TCM", "LoganPlasma" (need a _blood.tsv)
  bool fit_delay = true;                    // plasma models: 1TCM delay grid search
  double delay_min_s = -30, delay_max_s = 30;
};

struct Config {
  std::vector<std::string> tasks; // BOLD tasks to process; empty: all
  bool process_bold = true;
  bool process_pet = true;
  RegistrationConfig registration;
  PetConfig pet;
  PreprocessConfig preprocess;
  GlmConfig glm;
  GroupConfig group;
  io::Json source = io::Json::object(); // as read, with defaults filled in (for provenance)
};

Config default_config();
Config load_config(const std::filesystem::path& path); // empty path: defaults
Config parse_config(const io::Json& json, const std::string& where);

} // namespace rewardpath::pipeline
