// The configuration's field tables, one per JSON object (docs/config.md is rendered from them).
#include "rewardpath/pipeline/config.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <map>

#include "config_table.hpp"
#include "rewardpath/core/error.hpp"

namespace rewardpath::pipeline {

namespace {

using namespace config_table;

const Table<RegistrationConfig>& atlas_table() {
  using R = RegistrationConfig;
  static const Table<R> t{
      "registration.atlas",
      {
          text<R>("name", &R::atlas_name, Text::label, "reward", "the `atlas-` entity of the outputs").must(),
          path<R>("image", &R::atlas_image, "label image (BIDS dseg) or 4D probability image").must(),
          path<R>("labels", &R::atlas_labels, "its TSV (index, name); none: beside the image"),
          path<R>("probability", &R::atlas_probability,
                  "probability of the top label per voxel (max-prob pair)"),
          path<R>("template", &R::atlas_template, "the template image subjects are registered to").must(),
          optional_number<R>("threshold", &R::atlas_threshold, 0, 1, "0.5", "probability threshold"),
          text<R>("space", &R::atlas_space, Text::any, "", "template space name, e.g. MNI152NLin2009cAsym")
              .recorded_if([](const R& r) { return !r.atlas_space.empty(); }),
      },
      {}};
  return t;
}

const Table<RegistrationConfig>& registration_table() {
  using R = RegistrationConfig;
  static const Table<R> t{
      "registration",
      {
          choice<R>("model", &R::model, registration::Model::affine,
                    "T1w (or, without a T1w, the BOLD/PET mean) -> template; BOLD/PET mean -> T1w is always "
                    "rigid"),
          flag<R>("fractional_weights", &R::fractional_weights, false,
                  "also write each ROI's partial-volume fraction (`_probseg.nii.gz`)"),
          choice<R>("on_qc_flag", &R::on_qc_flag, OnQcFlag::fail,
                    "a QC-flagged registration fails the subject, or is only reported (log, QC JSON)"),
          nested<R>(
              "atlas", &atlas_table, [](const R& r) { return !r.atlas_image.empty(); },
              "built-in reward atlas on Colin27", "a user atlas (as `rewardpath atlas --atlas`)"),
      },
      {}};
  return t;
}

const Table<PreprocessConfig>& preprocess_table() {
  using P = PreprocessConfig;
  static const Table<P> t{
      "preprocess",
      {
          flag<P>("realign", &P::realign, true,
                  "rigid motion correction of every volume to the run's mean (docs/preprocess.md)"),
          flag<P>("slice_timing", &P::slice_timing, true,
                  "slice-timing correction when the sidecar gives `SliceTiming`"),
          number<P>(
              "slice_time_ref", &P::slice_time_ref, 0, 1, 0.5,
              "fraction of the TR the corrected volumes represent (the GLM samples its regressors there)"),
          number<P>(
              "smoothing_fwhm_mm", &P::smoothing_fwhm_mm, 0, 30, 0,
              "Gaussian smoothing (FWHM, mm) before the voxelwise GLM; ROI signals are always unsmoothed"),
          number<P>("high_pass_s", &P::high_pass_s, 0, 1e6, 0,
                    "cosine high-pass of the data (0 = none; the GLM models drift itself)"),
          flag<P>("global_signal", &P::global_signal, false, "add `global_signal` to the confounds table"),
      },
      {}};
  return t;
}

// "expression" (t) and "rows" (F) both fill `expressions`; the source records one expression as
// "expression", whichever key gave it.
Field<ContrastConfig> contrast_expression_field(bool rows) {
  Field<ContrastConfig> f;
  f.key = rows ? "rows" : "expression";
  f.type = rows ? "array of strings" : "string";
  f.default_text = "—";
  f.doc = rows ? "an F contrast: one expression per row" : "a t contrast over the design's column names";
  f.set_default = [](ContrastConfig& c) { c.rows.clear(); };
  f.is_default = [](const ContrastConfig& c) { return c.rows.empty(); };
  f.parse = [rows](const io::Json& v, ContrastConfig& c, const Where& w) {
    if (!c.rows.empty()) w.fail("rows", "give either \"expression\" (t) or \"rows\" (F), not both");
    if (!rows) {
      c.rows = {text_in(v, Text::non_empty, w, "expression")};
      return;
    }
    if (!v.is_array() || v.empty()) w.fail("rows", "expected a non-empty array of strings, got " + quote(v));
    for (const auto& r : v) c.rows.push_back(text_in(r, Text::non_empty, w, "rows"));
  };
  f.record = [rows](const ContrastConfig& c) { return rows ? io::Json(c.rows) : io::Json(c.rows[0]); };
  f.recorded = [rows](const ContrastConfig& c) { return rows == (c.rows.size() != 1); };
  return f;
}

const Table<ContrastConfig>& contrast_table() {
  using C = ContrastConfig;
  static const Table<C> t{
      "glm.contrasts[]",
      {text<C>("name", &C::name, Text::label, "", "the `contrast-` entity of its outputs").must(),
       contrast_expression_field(false), contrast_expression_field(true)},
      [](const C& c, const Where& w) {
        if (c.rows.empty())
          w.fail("expression",
                 fmt::format("contrast \"{}\": give either \"expression\" (t) or \"rows\" (F)", c.name));
      }};
  return t;
}

const Table<ModulatorConfig>& modulator_table() {
  using M = ModulatorConfig;
  static const Table<M> t{
      "glm.modulators[]",
      {text<M>("condition", &M::condition, Text::non_empty, "", "trial_type modulated").must(),
       text<M>("column", &M::column, Text::non_empty, "", "numeric events column (mean-centred)").must()},
      {}};
  return t;
}

const Table<GlmConfig>& glm_table() {
  using G = GlmConfig;
  static const Table<G> t{
      "glm",
      {
          choice<G>("hrf", &G::hrf, glm::HrfModel::spm, "response model (docs/glm.md)"),
          integers<G>("fir_delays", &G::fir_delays, 0, 100, {0, 1, 2, 3, 4, 5},
                      "FIR delays in scans (`hrf` `fir`)")
              .recorded_if([](const G& g) { return g.hrf == glm::HrfModel::fir; }),
          choice<G>("drift", &G::drift, glm::DriftModel::cosine, "drift model"),
          number<G>("high_pass_s", &G::high_pass_s, 1, 1e6, 128, "cosine drift cut-off period (s)"),
          integer<G>("drift_order", &G::drift_order, 0, 10, 1, "polynomial drift order"),
          optional_number<G>("slice_time_ref", &G::slice_time_ref, 0, 1,
                             "preprocessing's reference after slice-timing correction, else 0",
                             "where in the TR regressors are sampled"),
          texts<G>(
              "conditions", &G::conditions, "all trial types",
              "conditions modelled; one absent from a run's events is dropped there, with the contrasts that "
              "use it (logged and listed in `_desc-glm_statmap.json`)"),
          objects<G>("modulators", &G::modulators, &modulator_table, false, "none",
                     "parametric modulators from numeric events columns (mean-centred)"),
          texts<G>("confounds", &G::confounds, "none", "columns of the confounds table added to the design"),
          choice<G>("noise_model", &G::noise_model, glm::NoiseModel::ar1, "docs/glm.md"),
          integer<G>("ar_order", &G::ar_order, 1, 8, 2, "order of `arp`"),
          flag<G>("ar_bias_correction", &G::ar_bias_correction, true,
                  "`ar1`/`arp`: correct the residual autocorrelations for the design (Worsley 2002); "
                  "`false` = nilearn 0.10's estimate exactly")
              .recorded_if([](const G& g) { return !g.ar_bias_correction; }),
          integer<G>("ar1_decimals", &G::ar1_decimals, 1, 6, 2,
                     "`ar1`: autocorrelations binned to this many decimals (nilearn: 2)")
              .recorded_if([](const G& g) { return g.ar1_decimals != 2; }),
          number<G>("ar_smoothing_fwhm_mm", &G::ar_smoothing_fwhm_mm, 0, 30, 6,
                    "`arp`: Gaussian smoothing (FWHM, mm) of the AR coefficients within the mask (0 = none)")
              .recorded_if([](const G& g) { return g.ar_smoothing_fwhm_mm != 6.0; }),
          flag<G>("signal_scaling", &G::signal_scaling, true,
                  "each voxel's (ROI's) series as percent of its mean: effects in % signal change"),
          objects<G>(
              "contrasts", &G::contrasts, &contrast_table, true, "",
              "at least one: `{\"name\": \"gainVsNeutral\", \"expression\": \"gain_anticipation - "
              "neutral_anticipation\"}` (t) or `{\"name\": \"anticipation\", \"rows\": [\"a - c\", \"b - "
              "c\"]}` (F)")
              .must(),
          flag<G>(
              "voxelwise", &G::voxelwise, true,
              "statistical maps (native space per run; template space per subject) besides the ROI tables"),
          number<G>("template_resolution_mm", &G::template_resolution_mm, 1, 8, 2,
                    "voxel size of the template-space maps the group level reads"),
      },
      [](const G& g, const Where& w) {
        for (std::size_t i = 0; i < g.contrasts.size(); ++i)
          for (std::size_t k = 0; k < i; ++k)
            if (g.contrasts[k].name == g.contrasts[i].name)
              w.fail("contrasts", fmt::format("contrast name \"{}\" is used twice", g.contrasts[i].name));
      }};
  return t;
}

const Table<GroupAnalysisConfig>& analysis_table() {
  using A = GroupAnalysisConfig;
  static const Table<A> t{
      "group.analyses[]",
      {
          text<A>("name", &A::name, Text::label, "", "the `desc-` entity of its outputs").must(),
          choice<A>(
              "kind", &A::kind, glm::GroupKind::one_sample,
              "one value per subject; two groups by a participants.tsv column; or two contrasts per subject"),
          text<A>("group_column", &A::group_column, Text::non_empty, "",
                  "two_sample: the participants.tsv column")
              .recorded_if([](const A& a) { return !a.group_column.empty(); }),
          texts<A>("levels", &A::levels, "none", "two_sample: its two values A, B (effect = A - B)")
              .recorded_if([](const A& a) { return !a.levels.empty(); }),
          texts<A>("covariates", &A::covariates, "none", "numeric participants.tsv columns, e.g. `shaps`"),
          text<A>("contrast", &A::contrast, Text::non_empty, "",
                  "over the group design's columns; none: the default")
              .shown_default("the group effect")
              .recorded_if([](const A& a) { return !a.contrast.empty(); }),
          texts<A>("pair", &A::pair, "none", "paired: two first-level contrasts, first - second")
              .recorded_if([](const A& a) { return !a.pair.empty(); }),
      },
      [](const A& a, const Where& w) {
        if (a.kind == glm::GroupKind::two_sample && (a.group_column.empty() || a.levels.size() != 2))
          w.fail("levels",
                 fmt::format("analysis \"{}\": a two_sample analysis needs \"group_column\" and two "
                             "\"levels\", e.g. [\"patient\", \"control\"]",
                             a.name));
        if (a.kind == glm::GroupKind::paired && a.pair.size() != 2)
          w.fail("pair", fmt::format("analysis \"{}\": a paired analysis needs \"pair\": two first-level "
                                     "contrasts, e.g. [\"gainAnticipation\", \"lossAnticipation\"]",
                                     a.name));
        if (a.kind != glm::GroupKind::paired && !a.pair.empty())
          w.fail("pair", fmt::format("analysis \"{}\": \"pair\" is for paired analyses", a.name));
      }};
  return t;
}

const Table<GroupConfig>& group_table() {
  using G = GroupConfig;
  static const Table<G> t{
      "group",
      {
          objects<G>("analyses", &G::analyses, &analysis_table, false, "one one-sample test (`mean`)",
                     "the group designs, each run on every contrast (paired: on its pair)"),
          texts<G>("contrasts", &G::contrasts, "every t contrast of `glm`",
                   "first-level t contrasts taken up"),
          integer<G>("permutations", &G::permutations, 0, 1000000, 5000,
                     "max-statistic FWE permutations (0: none)"),
          integer<G, std::uint64_t>("seed", &G::seed, 0, std::numeric_limits<std::uint64_t>::max(), 1,
                                    "random seed of the permutations"),
          choice<G>("tail", &G::tail, glm::Tail::two_sided, "of the t tests"),
          flag<G>("voxelwise", &G::voxelwise, true, "also the template-space maps"),
      },
      [](const G& g, const Where& w) {
        for (std::size_t i = 0; i < g.analyses.size(); ++i)
          for (std::size_t k = 0; k < i; ++k)
            if (g.analyses[k].name == g.analyses[i].name)
              w.fail("analyses", fmt::format("analysis name \"{}\" is used twice", g.analyses[i].name));
      }};
  return t;
}

const Table<PetConfig>& pet_table() {
  using P = PetConfig;
  using RM = pet::ReferenceModel;
  static const Table<P> t{
      "pet",
      {
          flag<P>("realign", &P::realign, true,
                  "rigid frame realignment (before registration, which then uses the realigned mean)"),
          number<P>("realign_reference_start_min", &P::realign_reference_start_min, 0, 1e4, 20,
                    "frames starting at or after this form the reference mean"),
          number<P>("realign_first_frame_min", &P::realign_first_frame_min, 0, 1e4, 2,
                    "earlier frames are not registered; they take the earliest registered frame's transform"),
          text<P>(
              "reference", &P::reference, Text::non_empty, "CerebellumRef",
              "reference region: an atlas ROI name, or the base name of an `_L`/`_R` pair (both combined)"),
          texts<P>("targets", &P::targets, "every atlas ROI but the reference",
                   "target regions (ROI names or pair base names)"),
          texts<P>("k2prime_regions", &P::k2prime_regions, "the targets",
                   "k2' for MRTM2/SRTM2/LoganRef = median MRTM k2' over these"),
          choices<P>("models", &P::models, {RM::srtm, RM::mrtm2, RM::logan_ref},
                     "reference-tissue models, one `_model-M_bp.tsv` each"),
          choice<P>("weighting", &P::weighting, pet::Weighting::duration_decay,
                    "frame weights (modules/pet `frame_weights`)"),
          number<P>("logan_tstar_min", &P::logan_tstar_min, 0, 1e4, 20, "t* of the Logan plots"),
          choice<P>("srtm_sampling", &P::srtm_sampling, pet::ModelSampling::frame_mean,
                    "SRTM model averaged over frames, or sampled at mid-frame as kinfitr"),
          flag<P>("voxel_maps", &P::voxel_maps, true, "BF-SRTM and MRTM2 BP_ND and R1 maps"),
          choices<P>("plasma_models", &P::plasma_models, {},
                     "arterial-input models, run when the PET run has a `_blood.tsv`"),
          flag<P>("fit_delay", &P::fit_delay, true, "plasma models: search the input delay (1TCM grid)"),
          number<P>("delay_min_s", &P::delay_min_s, -600, 600, -30, "the delay search range (s): lower end"),
          number<P>("delay_max_s", &P::delay_max_s, -600, 600, 30, "the delay search range (s): upper end"),
      },
      [](const P& p, const Where& w) {
        if (!(p.delay_min_s < p.delay_max_s))
          w.fail("delay_max_s",
                 fmt::format("{} s must be above delay_min_s ({} s)", p.delay_max_s, p.delay_min_s));
      }};
  return t;
}

// "modalities": two flags in Config, a list in the file.
Field<Config> modalities_field() {
  Field<Config> f;
  f.key = "modalities";
  f.type = "array of `\"func\"`, `\"pet\"`";
  f.default_text = "both";
  f.doc = "which data types to process";
  f.set_default = [](Config& c) { c.process_bold = c.process_pet = true; };
  f.is_default = [](const Config& c) { return c.process_bold && c.process_pet; };
  f.parse = [](const io::Json& v, Config& c, const Where& w) {
    if (!v.is_array()) w.fail("modalities", "expected an array, e.g. [\"func\", \"pet\"], got " + quote(v));
    c.process_bold = c.process_pet = false;
    for (const auto& m : v) {
      if (m == "func")
        c.process_bold = true;
      else if (m == "pet")
        c.process_pet = true;
      else
        w.fail("modalities", fmt::format("expected \"func\" or \"pet\", got {}", quote(m)));
    }
  };
  f.record = [](const Config& c) {
    io::Json m = io::Json::array();
    if (c.process_bold) m.push_back("func");
    if (c.process_pet) m.push_back("pet");
    return m;
  };
  return f;
}

const Table<Config>& top_table() {
  static const Table<Config> t{
      "",
      {
          texts<Config>("tasks", &Config::tasks, "all tasks", "BOLD task labels to process (`task-<label>`)"),
          modalities_field(),
          section<Config>("registration", &Config::registration, &registration_table, "off",
                          "the registration stage (atlas in each run's space)"),
          section<Config>("preprocess", &Config::preprocess, &preprocess_table, "off", "fMRI preprocessing"),
          section<Config>("glm", &Config::glm, &glm_table, "off", "first-level model"),
          section<Config>("pet", &Config::pet, &pet_table, "off", "the PET stage (needs `registration`)"),
          section<Config>("group", &Config::group, &group_table, "off",
                          "group analyses (`rewardpath run BIDS OUT group`)"),
      },
      [](const Config& c, const Where& w) {
        if (c.pet.enabled && !c.registration.enabled)
          w.fail("pet",
                 "the PET stage needs the registration stage (the atlas in PET space gives the ROIs); add "
                 "\"registration\": {} to the configuration");
      }};
  return t;
}

// Every table by section name, in the order of docs/config.md.
struct Section {
  std::string name;
  std::function<std::string()> markdown;
  std::function<std::vector<std::string>()> differing_defaults;
};

template <class S> Section section_of(const Table<S>& (*table)()) {
  return {table().section, [table] { return table().markdown(); },
          [table] { return table().differing_defaults(S{}); }};
}

const std::vector<Section>& sections() {
  static const std::vector<Section> s{section_of(&top_table),       section_of(&registration_table),
                                      section_of(&atlas_table),     section_of(&preprocess_table),
                                      section_of(&glm_table),       section_of(&contrast_table),
                                      section_of(&modulator_table), section_of(&pet_table),
                                      section_of(&group_table),     section_of(&analysis_table)};
  return s;
}

} // namespace

Config default_config() { return parse_config(io::Json::object(), "default configuration"); }

Config load_config(const std::filesystem::path& path) {
  if (path.empty()) return default_config();
  try {
    return parse_config(io::read_json(path), path.string());
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(e); // unreadable or invalid JSON: still the user's configuration
  }
}

Config parse_config(const io::Json& json, const std::string& where) {
  Config c = top_table().parse(json, Where{"", where});
  c.source = top_table().record(c);
  return c;
}

std::vector<std::string> config_sections() {
  std::vector<std::string> out;
  for (const auto& s : sections()) out.push_back(s.name);
  return out;
}

std::string config_markdown(const std::string& section) {
  for (const auto& s : sections())
    if (s.name == section) return s.markdown();
  throw Error(fmt::format("no configuration section \"{}\"; sections: \"{}\"", section,
                          fmt::join(config_sections(), "\", \"")));
}

std::vector<std::string> config_defaults_differing_from_tables() {
  std::vector<std::string> out;
  for (const auto& s : sections())
    for (const auto& key : s.differing_defaults()) out.push_back(s.name.empty() ? key : s.name + "." + key);
  return out;
}

} // namespace rewardpath::pipeline
