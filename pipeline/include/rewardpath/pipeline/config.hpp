#pragma once
// Analysis configuration (JSON). One field table per section (config.cpp) parses and checks each
// key, records it for provenance and renders docs/config.md; an unknown key is an error, never
// silently ignored. Options are parsed into the modules' own enums, so no stage maps strings.
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rewardpath/glm/design.hpp"
#include "rewardpath/glm/first_level.hpp"
#include "rewardpath/glm/fit.hpp"
#include "rewardpath/glm/group.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/pet/frames.hpp"
#include "rewardpath/pet/models.hpp"
#include "rewardpath/pet/reference.hpp"
#include "rewardpath/registration/registration.hpp"

namespace rewardpath::pipeline {

// The registration stage (docs/config.md, docs/registration.md "Pipeline stage"). Off unless the
// configuration has a "registration" object.
enum class OnQcFlag { fail, proceed }; // "fail", "continue"

struct RegistrationConfig {
  bool enabled = false;
  registration::Model model = registration::Model::affine; // subject anatomy -> template
  bool fractional_weights = false;
  OnQcFlag on_qc_flag = OnQcFlag::fail;
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

// A contrast (name = the contrast- entity; one row: t, several: F) and a parametric modulator are
// the glm module's own types: the stage hands them over as they are.
using ContrastConfig = glm::NamedContrast;
using ModulatorConfig = glm::Modulator;

// First-level GLM (docs/config.md "glm"); off unless the configuration has the key.
struct GlmConfig {
  bool enabled = false;
  glm::HrfModel hrf = glm::HrfModel::spm;
  std::vector<int> fir_delays{0, 1, 2, 3, 4, 5};
  glm::DriftModel drift = glm::DriftModel::cosine;
  double high_pass_s = 128;
  int drift_order = 1;
  // None: the preprocessing reference when slice timing was corrected, else 0.
  std::optional<double> slice_time_ref;
  std::vector<std::string> conditions; // empty: every trial type
  std::vector<ModulatorConfig> modulators;
  std::vector<std::string> confounds; // columns of the confounds table
  glm::NoiseModel noise_model = glm::NoiseModel::ar1;
  int ar_order = 2;
  bool ar_bias_correction = true;    // false: nilearn 0.10's uncorrected AR(1) estimate (docs/glm.md)
  int ar1_decimals = 2;              // ar1: autocorrelations binned to this many decimals (nilearn: 2)
  double ar_smoothing_fwhm_mm = 6.0; // arp: Gaussian smoothing of the AR coefficients in the mask
  bool signal_scaling = true; // voxel / ROI series to percent of their mean: effects in % signal change
  std::vector<ContrastConfig> contrasts;
  bool voxelwise = true;               // statistical maps (else ROI tables only)
  double template_resolution_mm = 2.0; // grid of the template-space maps the group level uses
};

// One group analysis (docs/config.md "group"): a design over subjects and the contrast tested.
struct GroupAnalysisConfig {
  std::string name; // letters and digits: the desc- entity of its outputs
  glm::GroupKind kind = glm::GroupKind::one_sample;
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
  glm::Tail tail = glm::Tail::two_sided;
  bool voxelwise = true; // also the template-space maps
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
  std::vector<pet::ReferenceModel> models{pet::ReferenceModel::srtm, pet::ReferenceModel::mrtm2,
                                          pet::ReferenceModel::logan_ref};
  pet::Weighting weighting = pet::Weighting::duration_decay;
  double logan_tstar_min = 20;
  pet::ModelSampling srtm_sampling = pet::ModelSampling::frame_mean; // mid_time: kinfitr's convention
  bool voxel_maps = true;                                            // BF-SRTM and MRTM2 BP_ND/R1 maps
  std::vector<pet::PlasmaModel> plasma_models;                       // need a _blood.tsv
  bool fit_delay = true;                                             // plasma models: 1TCM delay grid search
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

// A usage error: the configuration is wrong, not the data (the command line exits 2).
class ConfigError : public Error {
public:
  using Error::Error;
  explicit ConfigError(const Error& e) : Error(e) {}
};

Config default_config();
// Errors (a ConfigError) name the file, the field and what is expected.
Config load_config(const std::filesystem::path& path); // empty path: defaults
Config parse_config(const io::Json& json, const std::string& where);

// The reference of every key (docs/config.md), rendered from the field tables: one Markdown table
// per section ("" = top level, "glm", "glm.contrasts[]", ...).
std::vector<std::string> config_sections();
std::string config_markdown(const std::string& section); // throws for an unknown section
// "section.key" of every member whose default-constructed value differs from its table's default
// (code building a section struct directly must get what an empty JSON object gives; a test checks).
std::vector<std::string> config_defaults_differing_from_tables();

// The names users write for each option, as configuration, provenance and sidecars spell them.
template <class E> using OptionNames = std::span<const std::pair<E, std::string_view>>;
inline constexpr std::array<std::pair<glm::HrfModel, std::string_view>, 7> kHrfNames{{
    {glm::HrfModel::spm, "spm"},
    {glm::HrfModel::spm_derivative, "spm+derivative"},
    {glm::HrfModel::spm_derivative_dispersion, "spm+derivative+dispersion"},
    {glm::HrfModel::glover, "glover"},
    {glm::HrfModel::glover_derivative, "glover+derivative"},
    {glm::HrfModel::glover_derivative_dispersion, "glover+derivative+dispersion"},
    {glm::HrfModel::fir, "fir"},
}};
inline constexpr std::array<std::pair<glm::DriftModel, std::string_view>, 3> kDriftNames{
    {{glm::DriftModel::cosine, "cosine"},
     {glm::DriftModel::polynomial, "polynomial"},
     {glm::DriftModel::none, "none"}}};
inline constexpr std::array<std::pair<glm::NoiseModel, std::string_view>, 3> kNoiseNames{
    {{glm::NoiseModel::ols, "ols"}, {glm::NoiseModel::ar1, "ar1"}, {glm::NoiseModel::arp, "arp"}}};
inline constexpr std::array<std::pair<glm::GroupKind, std::string_view>, 3> kGroupKindNames{
    {{glm::GroupKind::one_sample, "one_sample"},
     {glm::GroupKind::two_sample, "two_sample"},
     {glm::GroupKind::paired, "paired"}}};
inline constexpr std::array<std::pair<glm::Tail, std::string_view>, 3> kTailNames{
    {{glm::Tail::two_sided, "two_sided"}, {glm::Tail::greater, "greater"}, {glm::Tail::less, "less"}}};
// As registration::to_string spells them (a test checks).
inline constexpr std::array<std::pair<registration::Model, std::string_view>, 3> kRegistrationModelNames{
    {{registration::Model::rigid, "rigid"},
     {registration::Model::affine, "affine"},
     {registration::Model::nonlinear, "nonlinear"}}};
inline constexpr std::array<std::pair<OnQcFlag, std::string_view>, 2> kOnQcFlagNames{
    {{OnQcFlag::fail, "fail"}, {OnQcFlag::proceed, "continue"}}};
inline constexpr std::array<std::pair<pet::Weighting, std::string_view>, 4> kWeightingNames{
    {{pet::Weighting::uniform, "uniform"},
     {pet::Weighting::duration, "duration"},
     {pet::Weighting::duration_decay, "duration_decay"},
     {pet::Weighting::inverse_variance, "inverse_variance"}}};
inline constexpr std::array<std::pair<pet::ModelSampling, std::string_view>, 2> kModelSamplingNames{
    {{pet::ModelSampling::frame_mean, "frame_mean"}, {pet::ModelSampling::mid_time, "mid_time"}}};

constexpr OptionNames<glm::HrfModel> option_names(glm::HrfModel) { return kHrfNames; }
constexpr OptionNames<glm::DriftModel> option_names(glm::DriftModel) { return kDriftNames; }
constexpr OptionNames<glm::NoiseModel> option_names(glm::NoiseModel) { return kNoiseNames; }
constexpr OptionNames<glm::GroupKind> option_names(glm::GroupKind) { return kGroupKindNames; }
constexpr OptionNames<glm::Tail> option_names(glm::Tail) { return kTailNames; }
constexpr OptionNames<registration::Model> option_names(registration::Model) {
  return kRegistrationModelNames;
}
constexpr OptionNames<OnQcFlag> option_names(OnQcFlag) { return kOnQcFlagNames; }
constexpr OptionNames<pet::Weighting> option_names(pet::Weighting) { return kWeightingNames; }
constexpr OptionNames<pet::ModelSampling> option_names(pet::ModelSampling) { return kModelSamplingNames; }
constexpr OptionNames<pet::ReferenceModel> option_names(pet::ReferenceModel) {
  return pet::kReferenceModelNames;
}
constexpr OptionNames<pet::PlasmaModel> option_names(pet::PlasmaModel) { return pet::kPlasmaModelNames; }

// E.g. option_name(glm::HrfModel::spm_derivative) == "spm+derivative".
template <class E> std::string option_name(E value) {
  for (const auto& [v, n] : option_names(E{}))
    if (v == value) return std::string(n);
  return "?";
}
template <class E> std::vector<std::string> option_names_of(const std::vector<E>& values) {
  std::vector<std::string> out;
  for (E v : values) out.push_back(option_name(v));
  return out;
}

} // namespace rewardpath::pipeline
