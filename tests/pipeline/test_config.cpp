// The configuration field tables (pipeline/src/config.cpp): parsing, errors, provenance, docs.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/pipeline/config.hpp"

using namespace rewardpath;
using pipeline::parse_config;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A minimal valid "glm" section plus `extra`.
io::Json glm_with(io::Json extra) {
  io::Json g = {{"contrasts", {{{"name", "x"}, {"expression", "a"}}}}};
  g.update(extra);
  return g;
}

io::Json glm_cfg(io::Json extra) { return {{"glm", glm_with(std::move(extra))}}; }
// "pet" with `fields` (and the registration it needs).
io::Json pet_cfg(io::Json fields) {
  return {{"registration", io::Json::object()}, {"pet", std::move(fields)}};
}

std::string error_of(const io::Json& config) {
  try {
    parse_config(config, "cfg.json");
  } catch (const pipeline::ConfigError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a ConfigError: ") + e.what();
  }
  return "accepted";
}

} // namespace

TEST(Config, DefaultsProcessEverything) {
  const auto c = pipeline::default_config();
  EXPECT_TRUE(c.tasks.empty());
  EXPECT_TRUE(c.process_bold);
  EXPECT_TRUE(c.process_pet);
}

TEST(Config, ReadsTasksAndModalities) {
  const auto c = parse_config({{"tasks", {"mid"}}, {"modalities", {"func"}}}, "cfg.json");
  ASSERT_EQ(c.tasks.size(), 1u);
  EXPECT_EQ(c.tasks[0], "mid");
  EXPECT_TRUE(c.process_bold);
  EXPECT_FALSE(c.process_pet);
}

TEST(Config, UnknownKeyIsAnErrorNotIgnored) {
  try {
    parse_config({{"taks", {"mid"}}}, "cfg.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("\"taks\""), std::string::npos);
  }
  EXPECT_THROW(parse_config({{"modalities", {"eeg"}}}, "cfg.json"), Error);
  EXPECT_THROW(parse_config(io::Json::array(), "cfg.json"), Error);
}

// Provenance: Config::source decides (by its digest) whether a rerun skips a subject, so it must be
// byte for byte what the hand-written parsers produced. tests/pipeline/data/config_sources.json holds
// their output for configs/*.json, the configurations the pipeline tests build, {} and one with every
// key set (generated once with the parsers of commit ea2cc5c).
TEST(Config, SourceIsByteForByteWhatThePreviousParsersRecorded) {
  const io::Json cases = io::read_json(fs::path(RP_SOURCE_DIR) / "tests/pipeline/data/config_sources.json");
  ASSERT_GE(cases.size(), 25u);
  for (const auto& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    const io::Json& in = c.at("config");
    const pipeline::Config cfg =
        in.contains("file")
            ? pipeline::load_config(fs::path(RP_SOURCE_DIR) / in.at("file").get<std::string>())
            : parse_config(in, name);
    EXPECT_EQ(cfg.source.dump(), c.at("source").get<std::string>());
    // The record is itself a configuration that parses to the same record.
    EXPECT_EQ(parse_config(cfg.source, name).source.dump(), cfg.source.dump());
  }
  EXPECT_EQ(pipeline::default_config().source.dump(), R"({"modalities":["func","pet"],"tasks":[]})");
}

// Each field kind's errors name the file, the field (with its section path) and what is expected.
TEST(Config, FieldErrorsNameTheFieldAndTheExpectedValues) {
  const auto expect = [](const io::Json& config, const std::vector<std::string>& fragments) {
    const std::string e = error_of(config);
    EXPECT_EQ(e.rfind("cfg.json: ", 0), 0u) << e;
    for (const auto& f : fragments)
      EXPECT_NE(e.find(f), std::string::npos)
          << "\"" << f << "\" not in: " << e << "\n(from " << config.dump() << ")";
  };
  const auto with_atlas = [](const io::Json& extra) {
    io::Json a = {{"name", "my"}, {"image", "a.nii.gz"}, {"template", "t.nii.gz"}};
    a.update(extra);
    return io::Json{{"registration", {{"atlas", a}}}};
  };
  const auto group = [](const io::Json& fields) { return io::Json{{"group", fields}}; };
  const auto analysis = [](const io::Json& a) { return io::Json{{"group", {{"analyses", {a}}}}}; };
  // bool
  expect({{"preprocess", {{"realign", 1}}}},
         {"field \"preprocess.realign\"", "expected true or false, got 1"});
  // numbers: type and range
  expect({{"preprocess", {{"smoothing_fwhm_mm", -2}}}},
         {"field \"preprocess.smoothing_fwhm_mm\"", "expected a number in [0, 30], got -2"});
  expect(pet_cfg({{"logan_tstar_min", "20"}}),
         {"field \"pet.logan_tstar_min\"", "number in [0, 10000]", "got \"20\""});
  expect(glm_cfg({{"high_pass_s", 0.5}}), {"field \"glm.high_pass_s\"", "number in [1, 1000000]"});
  // integers: type and range, unbounded above
  expect(glm_cfg({{"ar_order", 9}}), {"field \"glm.ar_order\"", "expected an integer in [1, 8], got 9"});
  expect(glm_cfg({{"drift_order", 1.5}}), {"field \"glm.drift_order\"", "integer in [0, 10], got 1.5"});
  expect(group({{"seed", -1}}), {"field \"group.seed\"", "expected an integer ≥ 0, got -1"});
  expect(group({{"permutations", 1000001}}), {"field \"group.permutations\"", "integer in [0, 1000000]"});
  // integer list
  expect(glm_cfg({{"fir_delays", {0, 101}}}), {"field \"glm.fir_delays\"", "[0, 100], got 101"});
  expect(glm_cfg({{"fir_delays", io::Json::array()}}),
         {"field \"glm.fir_delays\"", "non-empty array of integers"});
  // string, label, path
  expect(pet_cfg({{"reference", 3}}), {"field \"pet.reference\"", "expected a string, got 3"});
  expect(pet_cfg({{"reference", ""}}), {"field \"pet.reference\"", "non-empty string"});
  expect({{"glm", {{"contrasts", {{{"name", "a-b"}, {"expression", "a - b"}}}}}}},
         {"field \"glm.contrasts[0].name\"", "\"a-b\" must be letters and digits only"});
  expect(with_atlas({{"image", 5}}), {"field \"registration.atlas.image\"", "expected a string, got 5"});
  // string list
  expect({{"tasks", "mid"}}, {"field \"tasks\"", "expected an array of strings, got \"mid\""});
  expect(glm_cfg({{"confounds", {"trans_x", 1}}}), {"field \"glm.confounds\"", "array of strings"});
  // enums: every name listed
  expect(glm_cfg({{"noise_model", "ar3"}}),
         {"field \"glm.noise_model\"", "expected one of \"ols\", \"ar1\", \"arp\", got \"ar3\""});
  expect(glm_cfg({{"hrf", "canonical"}}),
         {"field \"glm.hrf\"",
          "\"spm\", \"spm+derivative\", \"spm+derivative+dispersion\", \"glover\", "
          "\"glover+derivative\", \"glover+derivative+dispersion\", \"fir\", got \"canonical\""});
  expect(glm_cfg({{"drift", "linear"}}), {"field \"glm.drift\"", "\"cosine\", \"polynomial\", \"none\""});
  expect(
      {{"registration", {{"model", "syn"}}}},
      {"field \"registration.model\"", "expected one of \"rigid\", \"affine\", \"nonlinear\", got \"syn\""});
  expect({{"registration", {{"on_qc_flag", "ignore"}}}},
         {"field \"registration.on_qc_flag\"", "expected one of \"fail\", \"continue\", got \"ignore\""});
  expect(group({{"tail", "both"}}), {"field \"group.tail\"", "\"two_sided\", \"greater\", \"less\""});
  expect(analysis({{"name", "a"}, {"kind", "three_sample"}}),
         {"field \"group.analyses[0].kind\"",
          "\"one_sample\", \"two_sample\", \"paired\", got \"three_sample\""});
  expect(pet_cfg({{"weighting", "none"}}),
         {"field \"pet.weighting\"", "\"uniform\", \"duration\", \"duration_decay\", \"inverse_variance\""});
  expect(pet_cfg({{"srtm_sampling", true}}),
         {"field \"pet.srtm_sampling\"", "\"frame_mean\", \"mid_time\", got true"});
  // enum lists
  expect(pet_cfg({{"models", {"SRTM", "SRTM3"}}}),
         {"field \"pet.models\"",
          "\"SRTM\", \"SRTM2\", \"MRTM\", \"MRTM2\", \"LoganRef\", \"BFSRTM\", got \"SRTM3\""});
  expect(pet_cfg({{"plasma_models", "1TCM"}}),
         {"field \"pet.plasma_models\"", "array of \"1TCM\", \"2TCM\", \"LoganPlasma\""});
  expect({{"modalities", {"func", "eeg"}}}, {"field \"modalities\"", "\"func\" or \"pet\", got \"eeg\""});
  // optional numbers
  expect(with_atlas({{"threshold", 2}}),
         {"field \"registration.atlas.threshold\"", "number in [0, 1], got 2"});
  expect(glm_cfg({{"slice_time_ref", -1}}), {"field \"glm.slice_time_ref\"", "number in [0, 1]"});
  // objects, lists of objects, required keys
  expect({{"glm", io::Json::array()}}, {"field \"glm\": expected an object"});
  expect({{"registration", {{"atlas", "cit168"}}}}, {"field \"registration.atlas\": expected an object"});
  expect({{"glm", {{"hrf", "spm"}}}}, {"field \"glm.contrasts\": required"});
  expect({{"glm", {{"contrasts", io::Json::array()}}}}, {"field \"glm.contrasts\"", "non-empty array"});
  expect(glm_cfg({{"modulators", {{{"condition", "gain"}}}}}),
         {"field \"glm.modulators[0].column\": required"});
  expect({{"registration", {{"atlas", {{"image", "a.nii.gz"}}}}}},
         {"field \"registration.atlas.name\": required"});
  // rules across fields
  expect({{"pet", io::Json::object()}}, {"field \"pet\"", "needs the registration stage"});
  expect(pet_cfg({{"delay_min_s", 10}, {"delay_max_s", 10}}),
         {"field \"pet.delay_max_s\"", "must be above delay_min_s"});
  expect({{"glm", {{"contrasts", {{{"name", "x"}, {"expression", "a"}, {"rows", {"a"}}}}}}}},
         {"field \"glm.contrasts[0].rows\"", "either \"expression\" (t) or \"rows\" (F)"});
  expect({{"glm", {{"contrasts", {{{"name", "x"}}}}}}}, {"glm.contrasts[0]", "either \"expression\""});
  expect({{"glm", {{"contrasts", {{{"name", "x"}, {"expression", "a"}}, {{"name", "x"}, {"rows", {"b"}}}}}}}},
         {"field \"glm.contrasts\"", "\"x\" is used twice"});
  expect(analysis({{"name", "t"}, {"kind", "two_sample"}, {"group_column", "g"}}),
         {"field \"group.analyses[0].levels\"", "two_sample analysis needs"});
  expect(analysis({{"name", "p"}, {"kind", "paired"}}), {"group.analyses[0].pair", "paired analysis needs"});
  expect(analysis({{"name", "m"}, {"pair", {"a", "b"}}}),
         {"group.analyses[0].pair", "is for paired analyses"});
}

TEST(Config, UnknownKeysListTheKnownOnesInEverySection) {
  EXPECT_EQ(error_of({{"taks", 1}}),
            "cfg.json: unknown configuration key \"taks\"; known keys: tasks, modalities, registration, "
            "preprocess, glm, pet, group (see docs/config.md)");
  EXPECT_EQ(error_of(glm_cfg({{"typo", 1}})),
            "cfg.json: unknown key \"typo\" in \"glm\"; known keys: hrf, fir_delays, drift, high_pass_s, "
            "drift_order, slice_time_ref, conditions, modulators, confounds, noise_model, ar_order, "
            "ar_bias_correction, ar1_decimals, ar_smoothing_fwhm_mm, signal_scaling, contrasts, voxelwise, "
            "template_resolution_mm (see docs/config.md)");
  const auto expect = [](const io::Json& config, const std::string& section, const std::string& a_known_key) {
    const std::string e = error_of(config);
    EXPECT_NE(e.find("unknown key \""), std::string::npos) << e;
    EXPECT_NE(e.find("in \"" + section + "\"; known keys: "), std::string::npos) << e;
    EXPECT_NE(e.find(a_known_key), std::string::npos) << e;
    EXPECT_NE(e.find("(see docs/config.md)"), std::string::npos) << e;
  };
  expect({{"registration", {{"modle", "rigid"}}}}, "registration", "on_qc_flag");
  expect({{"registration", {{"atlas", {{"nmae", "x"}}}}}}, "registration.atlas", "probability");
  expect({{"preprocess", {{"smoothing", 6}}}}, "preprocess", "smoothing_fwhm_mm");
  expect({{"glm", {{"contrasts", {{{"name", "x"}, {"expr", "a"}}}}}}}, "glm.contrasts[0]", "rows");
  expect(glm_cfg({{"modulators", {{{"condition", "a"}, {"column", "b"}, {"scale", 1}}}}}),
         "glm.modulators[0]", "column");
  expect({{"group", {{"tails", "less"}}}}, "group", "permutations");
  expect({{"group", {{"analyses", {{{"name", "a"}}, {{"name", "b"}, {"covariate", {"x"}}}}}}}},
         "group.analyses[1]", "covariates");
  expect(pet_cfg({{"model", {"SRTM"}}}), "pet", "plasma_models");
}

// Code that builds a section struct itself (the group level's default analysis, tests) gets what
// the table gives an empty object.
TEST(Config, StructDefaultsEqualTheTableDefaults) {
  EXPECT_EQ(pipeline::config_defaults_differing_from_tables(), std::vector<std::string>{});
  const auto c = parse_config({{"registration", io::Json::object()},
                               {"preprocess", io::Json::object()},
                               {"glm", glm_with(io::Json::object())},
                               {"group", {{"analyses", {{{"name", "a"}}}}}},
                               {"pet", io::Json::object()}},
                              "cfg.json");
  EXPECT_EQ(c.registration.model, registration::Model::affine);
  EXPECT_EQ(c.registration.on_qc_flag, pipeline::OnQcFlag::fail);
  EXPECT_EQ(c.registration.atlas_name, "reward");
  EXPECT_EQ(c.preprocess.slice_time_ref, 0.5);
  EXPECT_EQ(c.glm.hrf, glm::HrfModel::spm);
  EXPECT_EQ(c.glm.fir_delays, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(c.glm.noise_model, glm::NoiseModel::ar1);
  EXPECT_FALSE(c.glm.slice_time_ref.has_value());
  EXPECT_EQ(c.group.analyses.at(0).kind, glm::GroupKind::one_sample);
  EXPECT_EQ(c.group.permutations, 5000);
  EXPECT_EQ(c.group.tail, glm::Tail::two_sided);
  EXPECT_EQ(c.pet.models,
            (std::vector<pet::ReferenceModel>{pet::ReferenceModel::srtm, pet::ReferenceModel::mrtm2,
                                              pet::ReferenceModel::logan_ref}));
  EXPECT_EQ(c.pet.weighting, pet::Weighting::duration_decay);
  EXPECT_EQ(c.pet.delay_min_s, -30);
  EXPECT_TRUE(c.registration.enabled && c.preprocess.enabled && c.glm.enabled && c.group.enabled &&
              c.pet.enabled);
}

// Every name of every option parses to its enum value, is recorded under the same name and parses
// back from the record.
TEST(Config, EnumsRoundTripThroughTheSourceJson) {
  const auto round_trip = [](const io::Json& config) {
    const auto c = parse_config(config, "cfg.json");
    const auto back = parse_config(c.source, "source");
    EXPECT_EQ(back.source, c.source);
    return c;
  };
  const io::Json reg = io::Json::object();
  for (const auto& [v, n] : pipeline::kHrfNames) {
    const auto c = round_trip({{"glm", glm_with({{"hrf", n}})}});
    EXPECT_EQ(c.glm.hrf, v) << n;
    EXPECT_EQ(c.source["glm"]["hrf"], n);
    EXPECT_EQ(c.source["glm"].contains("fir_delays"), v == glm::HrfModel::fir) << n;
  }
  for (const auto& [v, n] : pipeline::kDriftNames) {
    EXPECT_EQ(round_trip({{"glm", glm_with({{"drift", n}})}}).glm.drift, v) << n;
  }
  for (const auto& [v, n] : pipeline::kNoiseNames) {
    const auto c = round_trip({{"glm", glm_with({{"noise_model", n}})}});
    EXPECT_EQ(c.glm.noise_model, v) << n;
    EXPECT_EQ(c.source["glm"]["noise_model"], n);
  }
  for (const auto& [v, n] : pipeline::kRegistrationModelNames) {
    const auto c = round_trip({{"registration", {{"model", n}}}});
    EXPECT_EQ(c.registration.model, v) << n;
    EXPECT_EQ(c.source["registration"]["model"], n);
    EXPECT_EQ(registration::to_string(v), n); // the names the registration module writes
  }
  for (const auto& [v, n] : pipeline::kOnQcFlagNames) {
    const auto c = round_trip({{"registration", {{"on_qc_flag", n}}}});
    EXPECT_EQ(c.registration.on_qc_flag, v) << n;
    EXPECT_EQ(c.source["registration"]["on_qc_flag"], n);
  }
  for (const auto& [v, n] : pipeline::kGroupKindNames) {
    io::Json a = {{"name", "a"}, {"kind", n}};
    if (v == glm::GroupKind::two_sample) a.update({{"group_column", "g"}, {"levels", {"x", "y"}}});
    if (v == glm::GroupKind::paired) a["pair"] = {"c1", "c2"};
    const auto c = round_trip({{"group", {{"analyses", {a}}}}});
    EXPECT_EQ(c.group.analyses.at(0).kind, v) << n;
    EXPECT_EQ(c.source["group"]["analyses"][0]["kind"], n);
  }
  for (const auto& [v, n] : pipeline::kTailNames) {
    EXPECT_EQ(round_trip({{"group", {{"tail", n}}}}).group.tail, v) << n;
  }
  for (const auto& [v, n] : pipeline::kWeightingNames) {
    const auto c = round_trip({{"registration", reg}, {"pet", {{"weighting", n}}}});
    EXPECT_EQ(c.pet.weighting, v) << n;
    EXPECT_EQ(c.source["pet"]["weighting"], n);
  }
  for (const auto& [v, n] : pipeline::kModelSamplingNames) {
    EXPECT_EQ(round_trip({{"registration", reg}, {"pet", {{"srtm_sampling", n}}}}).pet.srtm_sampling, v) << n;
  }
  io::Json all_models = io::Json::array(), all_plasma = io::Json::array();
  std::vector<pet::ReferenceModel> models;
  std::vector<pet::PlasmaModel> plasma;
  for (auto it = pet::kReferenceModelNames.rbegin(); it != pet::kReferenceModelNames.rend(); ++it) {
    all_models.push_back(it->second);
    models.push_back(it->first);
  }
  for (const auto& [v, n] : pet::kPlasmaModelNames) {
    all_plasma.push_back(n);
    plasma.push_back(v);
  }
  const auto c =
      round_trip({{"registration", reg}, {"pet", {{"models", all_models}, {"plasma_models", all_plasma}}}});
  EXPECT_EQ(c.pet.models, models); // in the order given
  EXPECT_EQ(c.pet.plasma_models, plasma);
  EXPECT_EQ(c.source["pet"]["models"], all_models);
  EXPECT_EQ(pipeline::option_names_of(c.pet.plasma_models),
            (std::vector<std::string>{"1TCM", "2TCM", "LoganPlasma"}));
}

// docs/config.md's tables are the field tables' rendering (`rewardpath config --markdown`): each
// generated block, between <!-- BEGIN generated SECTION --> and <!-- END generated SECTION -->, is
// exactly config_markdown(SECTION). On failure the expected block is printed to paste in.
TEST(Config, DocsConfigMdTablesAreTheFieldTablesRendering) {
  const std::string doc = read_text(fs::path(RP_SOURCE_DIR) / "docs/config.md");
  ASSERT_FALSE(doc.empty());
  for (const auto& section : pipeline::config_sections()) {
    const std::string label = section.empty() ? "top" : section;
    const std::string begin = "<!-- BEGIN generated " + label + " -->\n";
    const std::string end = "<!-- END generated " + label + " -->";
    const auto b = doc.find(begin);
    const auto e = doc.find(end);
    ASSERT_NE(b, std::string::npos) << "docs/config.md has no block " << begin;
    ASSERT_NE(e, std::string::npos) << "docs/config.md has no " << end;
    const std::string expected = pipeline::config_markdown(section);
    EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), expected)
        << "docs/config.md differs from the table of \"" << label << "\"; the block should read:\n"
        << expected;
  }
  EXPECT_NE(pipeline::config_markdown("glm").find(
                "| `noise_model` | `\"ols\"`, `\"ar1\"`, `\"arp\"` | `\"ar1\"` | docs/glm.md |\n"),
            std::string::npos);
  EXPECT_THROW(pipeline::config_markdown("glmm"), Error);
}

namespace {
// Runs the rewardpath binary; returns the exit status and its output (stdout and stderr).
std::pair<int, std::string> run_cli(const std::string& args) {
  const std::string cmd = std::string(RP_BINARY_DIR) + "/bin/rewardpath " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

} // namespace

// A bad configuration is a usage error (exit 2, as README says), before any subject runs.
TEST(ConfigCli, BadConfigExitsTwoAndMarkdownIsTheTables) {
  const fs::path dir = fs::temp_directory_path() / ("rp_config_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir / "bids");
  io::write_json(dir / "bad.json", {{"glm", {{"noise_model", "ar3"}}}});
  { std::ofstream(dir / "deep.json") << std::string(1000, '[') << std::string(1000, ']'); }
  const std::string run =
      "run " + (dir / "bids").string() + " " + (dir / "out").string() + " participant --config ";
  // Exit 2 also comes from CLI11's own usage errors: the message shows it is the configuration's.
  const auto [bad_rc, bad_out] = run_cli(run + (dir / "bad.json").string());
  EXPECT_EQ(bad_rc, 2) << bad_out;
  EXPECT_NE(bad_out.find((dir / "bad.json").string() + ": field \"glm.noise_model\""), std::string::npos)
      << bad_out;
  const auto [deep_rc, deep_out] = run_cli(run + (dir / "deep.json").string());
  EXPECT_EQ(deep_rc, 2) << deep_out;
  EXPECT_NE(deep_out.find("nested deeper than 64"), std::string::npos) << deep_out;
  const auto [rc, md] = run_cli("config --markdown glm");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(md, "### `glm`\n\n" + pipeline::config_markdown("glm") + "\n");
  fs::remove_all(dir);
}

namespace {

// nilearn's AR(1) estimate, its binning and the arp smoothing are reachable from the config; they
// enter the provenance only when set away from the defaults (so existing digests do not change).
TEST(Config, NoiseModelSettingsOfPeersAreReachableAndRecordedWhenSet) {
  using rewardpath::pipeline::parse_config;
  const auto defaults = parse_config({{"glm", glm_with(rewardpath::io::Json::object())}}, "cfg.json");
  EXPECT_TRUE(defaults.glm.ar_bias_correction);
  EXPECT_EQ(defaults.glm.ar1_decimals, 2);
  EXPECT_EQ(defaults.glm.ar_smoothing_fwhm_mm, 6.0);
  for (const char* key : {"ar_bias_correction", "ar1_decimals", "ar_smoothing_fwhm_mm"})
    EXPECT_FALSE(defaults.source["glm"].contains(key)) << key;
  const auto nilearn = parse_config(
      {{"glm", glm_with({{"ar_bias_correction", false}, {"ar1_decimals", 3}, {"ar_smoothing_fwhm_mm", 0}})}},
      "cfg.json");
  EXPECT_FALSE(nilearn.glm.ar_bias_correction);
  EXPECT_EQ(nilearn.glm.ar1_decimals, 3);
  EXPECT_EQ(nilearn.glm.ar_smoothing_fwhm_mm, 0.0);
  EXPECT_EQ(nilearn.source["glm"]["ar_bias_correction"], false);
  EXPECT_EQ(nilearn.source["glm"]["ar1_decimals"], 3);
  EXPECT_EQ(parse_config(nilearn.source, "source").source, nilearn.source);
  EXPECT_THROW(parse_config({{"glm", glm_with({{"ar1_decimals", 9}})}}, "cfg.json"), rewardpath::Error);
}

} // namespace
