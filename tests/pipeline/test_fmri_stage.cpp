// The fMRI stage of `rewardpath run ... participant` (configs/mid.json) on simulated MID subjects
// with known ROI effects (docs/simulate.md): outputs and their names, ROI contrast estimates
// against the truth, template-space maps, and bad configurations.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/runner.hpp"
#include "rewardpath/simulate/simulate.hpp"
#include "run_params.hpp"

namespace fs = std::filesystem;
using namespace rewardpath;
using pipeline::SubjectStatus;

namespace {

fs::path g_root;

pipeline::RunParams params(const fs::path& out, const fs::path& config) {
  return test_support::run_params(g_root / "sim" / "bids", out, config);
}

fs::path write_config(const std::string& name, io::Json j) {
  const fs::path p = g_root / name;
  io::write_json(p, j);
  return p;
}

io::Json mid_config() {
  io::Json j = io::read_json(fs::path(RP_SOURCE_DIR) / "configs" / "mid.json");
  return j;
}

class FmriStage : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    g_root = fs::temp_directory_path() / ("rp_fmristage_" + std::to_string(::getpid()));
    fs::create_directories(g_root);
    simulate::Options o;
    o.subjects = 2;
    o.seed = 5;
    o.pet = false;
    o.size = simulate::Size::small;
    simulate::simulate_dataset(g_root / "sim", o);
  }
  static void TearDownTestSuite() { fs::remove_all(g_root); }
};

} // namespace

void expect_documented_outputs() {
  const fs::path func = g_root / "out" / "sub-01" / "func";
  for (const char* f :
       {"sub-01_task-mid_run-01_desc-confounds_timeseries.tsv",
        "sub-01_task-mid_run-01_atlas-reward_timeseries.tsv",
        "sub-01_task-mid_run-01_atlas-reward_desc-eigenvariate_timeseries.tsv",
        "sub-01_task-mid_run-01_desc-glm_design.tsv", "sub-01_task-mid_run-01_desc-glm_statmap.json",
        "sub-01_task-mid_run-01_contrast-gainVsNeutral_stat-t_statmap.nii.gz",
        "sub-01_task-mid_run-01_contrast-anticipation_stat-F_statmap.nii.gz",
        "sub-01_task-mid_run-01_atlas-reward_contrast-gainVsNeutral_roistats.tsv",
        "sub-01_task-mid_atlas-reward_contrast-gainVsNeutral_desc-fixedeffects_roistats.tsv",
        "sub-01_task-mid_space-MNIColin27_res-2_contrast-gainVsNeutral_stat-effect_desc-"
        "fixedeffects_statmap.nii.gz"})
    EXPECT_TRUE(fs::exists(func / f)) << f;
  // The ROI time series table: one column per atlas ROI, one row per volume.
  const io::Table ts = io::read_tsv(func / "sub-01_task-mid_run-01_atlas-reward_timeseries.tsv");
  EXPECT_EQ(ts.columns().size(), 18u);
  const io::Json s = io::read_json(func / "sub-01_task-mid_run-01_desc-summary_bold.json");
  EXPECT_EQ(static_cast<std::int64_t>(ts.row_count()), s.at("Volumes").get<std::int64_t>());
}

// The ROI estimates of gain vs neutral anticipation (percent signal change) against the simulated
// truth: (estimate - truth) / SE behaves like a standard normal over the 36 ROI x subject values
// (mean z^2 near 1 if the SEs are right; bias would shift the mean z).
void expect_roi_contrasts_agree_with_the_truth() {
  std::vector<double> z;
  for (const std::string sub : {"01", "02"}) {
    const io::Json truth =
        io::read_json(g_root / "sim" / "truth" / ("sub-" + sub) / ("sub-" + sub + "_truth.json"));
    const io::Table t = io::read_tsv(
        g_root / "out" / ("sub-" + sub) / "func" /
        ("sub-" + sub + "_task-mid_atlas-reward_contrast-gainVsNeutral_desc-fixedeffects_roistats.tsv"));
    const auto roi = t.require_column("roi"), eff = t.require_column("effect"), se = t.require_column("se");
    for (std::size_t r = 0; r < t.row_count(); ++r) {
      const double truth_value =
          truth.at("func").at("contrasts_percent").at(t.cell(r, roi)).at("gain_vs_neutral_anticipation");
      z.push_back((t.number(r, eff) - truth_value) / t.number(r, se));
    }
  }
  ASSERT_EQ(z.size(), 36u);
  double m = 0, m2 = 0;
  for (double v : z) {
    m += v / static_cast<double>(z.size());
    m2 += v * v / static_cast<double>(z.size());
  }
  // 36 values (correlated within a subject): mean z within +-0.8, mean z^2 within [0.4, 2.0].
  EXPECT_LT(std::abs(m), 0.8) << "mean z " << m;
  EXPECT_GT(m2, 0.4) << "mean z^2 " << m2;
  EXPECT_LT(m2, 2.0) << "mean z^2 " << m2;
}

void expect_template_maps() {
  const Volume effect =
      io::read_nifti(g_root / "out" / "sub-01" / "func" /
                     "sub-01_task-mid_space-MNIColin27_res-2_contrast-gainAnticipation_stat-"
                     "effect_desc-fixedeffects_statmap.nii.gz");
  EXPECT_NEAR(effect.grid().spacing_mm[0], 2.0, 1e-6);
  // Finite inside the brain, NaN outside: some of each, and the finite part is not all zero.
  std::int64_t finite = 0, nonzero = 0;
  for (std::size_t i = 0; i < effect.size(); ++i) {
    if (std::isfinite(effect.data()[i])) {
      ++finite;
      nonzero += effect.data()[i] != 0.0f;
    }
  }
  EXPECT_GT(finite, 10000);
  EXPECT_LT(finite, static_cast<std::int64_t>(effect.size()));
  EXPECT_GT(nonzero, finite / 2);
}

// One process runs the participant level once (ctest runs every test in its own process, and a run
// with registration is the expensive part), then checks outputs, estimates and maps.
TEST_F(FmriStage, MidModelOnSimulatedSubjects) {
  const auto summary =
      pipeline::run_participant_level(params(g_root / "out", write_config("mid.json", mid_config())));
  ASSERT_EQ(summary.failed_count(), 0u) << summary.to_text();
  {
    SCOPED_TRACE("outputs");
    expect_documented_outputs();
  }
  {
    SCOPED_TRACE("ROI contrasts vs truth");
    expect_roi_contrasts_agree_with_the_truth();
  }
  {
    SCOPED_TRACE("template-space maps");
    expect_template_maps();
  }
}

// A confound the table lacks fails the subject with a message naming it and the run; a configured
// condition absent from the events drops only the contrasts that use it (one subject each).
TEST_F(FmriStage, BadConfoundsFailAndMissingConditionsDropTheirContrasts) {
  {
    SCOPED_TRACE("unknown confound");
    io::Json j = mid_config();
    j["glm"]["confounds"] = {"trans_x", "csf"};
    j["glm"]["voxelwise"] = false;
    auto p = params(g_root / "out_badconf", write_config("bad.json", j));
    p.participant_labels = {"01"};
    const auto s = pipeline::run_participant_level(p);
    ASSERT_EQ(s.failed_count(), 1u);
    EXPECT_NE(s.subjects[0].error.find("confound \"csf\""), std::string::npos) << s.subjects[0].error;
    EXPECT_NE(s.subjects[0].error.find("bold.nii.gz"), std::string::npos) << s.subjects[0].error;
  }
  {
    SCOPED_TRACE("condition without events");
    io::Json j = mid_config();
    j["glm"]["conditions"].push_back("reward_delivery");
    j["glm"]["contrasts"].push_back({{"name", "delivery"}, {"expression", "reward_delivery"}});
    j["glm"]["voxelwise"] = false;
    const auto s =
        pipeline::run_participant_level(params(g_root / "out_missing", write_config("missing.json", j)));
    ASSERT_EQ(s.failed_count(), 0u) << s.to_text();
    const fs::path func = g_root / "out_missing" / "sub-01" / "func";
    EXPECT_TRUE(fs::exists(func / "sub-01_task-mid_run-01_atlas-reward_contrast-gainVsNeutral_roistats.tsv"));
    EXPECT_FALSE(fs::exists(func / "sub-01_task-mid_run-01_atlas-reward_contrast-delivery_roistats.tsv"));
    const io::Json g = io::read_json(func / "sub-01_task-mid_run-01_desc-glm_statmap.json");
    EXPECT_EQ(g.at("SkippedContrasts").at(0).get<std::string>(), "delivery");
  }
}

TEST(FmriConfig, BadGlmConfigurationsAreRejectedBeforeAnyWork) {
  const fs::path dir = fs::temp_directory_path() / ("rp_fmriconf_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto expect_error = [&](const io::Json& j, const std::string& fragment) {
    io::write_json(dir / "c.json", j);
    try {
      pipeline::load_config(dir / "c.json");
      ADD_FAILURE() << "accepted: " << j.dump();
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error({{"glm", {{"hrf", "spm"}}}}, "glm.contrasts");
  expect_error({{"glm", {{"contrasts", {{{"name", "a-b"}, {"expression", "a - b"}}}}}}},
               "letters and digits");
  expect_error({{"glm", {{"noise_model", "ar3"}, {"contrasts", {{{"name", "x"}, {"expression", "a"}}}}}}},
               "glm.noise_model");
  expect_error({{"preprocess", {{"smoothing_fwhm_mm", -2}}}}, "preprocess.smoothing_fwhm_mm");
  expect_error({{"glm", {{"contrasts", {{{"name", "x"}, {"expression", "a"}}}}, {"typo", 1}}}}, "\"typo\"");
  fs::remove_all(dir);
}
