// The fMRI stage of `rewardpath run ... participant` (configs/mid.json) on simulated MID subjects
// with known ROI effects (docs/simulate.md): outputs and their names, ROI contrast estimates
// against the truth, template-space maps, and bad configurations.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/group.hpp"
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

// A user label atlas on Colin27 (ch2, the template subjects are registered to): two 9 mm boxes
// in the left and right striatum; "OutsideHead", a box in the corner of the template's grid (air,
// outside every run's field of view); "Scalp", a box in the left scalp (inside the field of view,
// outside the EPI brain mask), as an ROI lost to dropout would be.
io::Json user_atlas_with_an_roi_outside_the_head() {
  const char* env = std::getenv("REWARDPATH_MRICRON_DIR");
  const fs::path ch2 = fs::path(env && *env ? env : "/usr/share/mricron/templates") / "ch2.nii.gz";
  const Grid g = io::read_nifti_header(ch2).grid;
  Volume labels(g, 1, 0.0f);
  for (std::int64_t k = 0; k < g.dims[2]; ++k)
    for (std::int64_t j = 0; j < g.dims[1]; ++j)
      for (std::int64_t i = 0; i < g.dims[0]; ++i) {
        const auto w = g.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
        const bool striatum = std::abs(std::abs(w[0]) - 14.0) <= 4.5 && std::abs(w[1] - 10.0) <= 4.5 &&
                              std::abs(w[2] - 4.0) <= 4.5;
        float v = 0.0f;
        if (striatum) v = w[0] < 0 ? 1.0f : 2.0f;
        if (i < 8 && j < 8 && k < 8) v = 3.0f;
        if (w[0] >= -80 && w[0] <= -73 && std::abs(w[1]) <= 5 && std::abs(w[2] - 10) <= 5) v = 4.0f;
        labels.data()[(k * g.dims[1] + j) * g.dims[0] + i] = v;
      }
  io::write_nifti(g_root / "plus_dseg.nii.gz", labels, {io::StoredType::uint8, 6, "", ""});
  io::Table t({"index", "name"});
  t.add_row({"1", "Striatum_L"});
  t.add_row({"2", "Striatum_R"});
  t.add_row({"3", "OutsideHead"});
  t.add_row({"4", "Scalp"});
  io::write_tsv(g_root / "plus_dseg.tsv", t);
  return {{"name", "plus"},
          {"image", (g_root / "plus_dseg.nii.gz").string()},
          {"labels", (g_root / "plus_dseg.tsv").string()},
          {"template", ch2.string()}};
}

std::string roistats_cell(const io::Table& t, const std::string& roi, const std::string& column) {
  const auto r = t.require_column("roi"), c = t.require_column(column);
  for (std::size_t i = 0; i < t.row_count(); ++i)
    if (t.cell(i, r) == roi) return t.cell(i, c);
  ADD_FAILURE() << "no row for ROI " << roi;
  return "";
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

  // The F contrast "anticipation" (rows: gain - neutral, loss - neutral) in template space, from the
  // run's warped effects and q x q covariance. One run per subject here, so the fixed effects are
  // that run's: 2F = e'V^-1 e >= e_i^2 / V_ii = t_i^2 for each row's own t map (Cauchy-Schwarz),
  // with equality only where the other row adds nothing; F, z and p only (no effect map).
  const auto map = [&](const std::string& contrast, const std::string& stat) {
    return io::read_nifti(g_root / "out" / "sub-01" / "func" /
                          ("sub-01_task-mid_space-MNIColin27_res-2_contrast-" + contrast + "_stat-" + stat +
                           "_desc-fixedeffects_statmap.nii.gz"));
  };
  const Volume f = map("anticipation", "F"), p = map("anticipation", "p");
  const Volume t_gain = map("gainVsNeutral", "t"), t_loss = map("lossVsNeutral", "t");
  EXPECT_FALSE(fs::exists(g_root / "out" / "sub-01" / "func" /
                          "sub-01_task-mid_space-MNIColin27_res-2_contrast-anticipation_stat-effect_desc-"
                          "fixedeffects_statmap.nii.gz"));
  // The rows' covariance counts: both contrasts subtract the neutral condition, so their effects
  // correlate positively (rho > 0) and 2F = (t1^2 + t2^2 - 2 rho t1 t2) / (1 - rho^2) is below
  // t1^2 + t2^2 where the t's agree in sign and above it where they disagree (equal to it if the
  // off-diagonal were dropped).
  std::int64_t same = 0, same_below = 0, opposite = 0, opposite_above = 0;
  std::int64_t both = 0, below = 0, above = 0, bad_p = 0, f_only = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const bool have_t = std::isfinite(t_gain.data()[i]) && std::isfinite(t_loss.data()[i]);
    if (!have_t) {
      f_only += std::isfinite(f.data()[i]);
      continue;
    }
    ++both;
    const double two_f = 2.0 * f.data()[i];
    const double t2 = std::max(std::pow(t_gain.data()[i], 2), std::pow(t_loss.data()[i], 2));
    below += !(two_f >= t2 * (1.0 - 1e-4) - 1e-4);
    above += two_f > 1.05 * t2 + 0.1;
    bad_p += !(p.data()[i] >= 0.0f && p.data()[i] <= 1.0f);
    const double t1 = t_gain.data()[i], t2_ = t_loss.data()[i], sum = t1 * t1 + t2_ * t2_;
    if (std::min(std::abs(t1), std::abs(t2_)) > 1.0) {
      if (t1 * t2_ > 0) {
        ++same;
        same_below += two_f < 0.98 * sum;
      } else {
        ++opposite;
        opposite_above += two_f > 1.02 * sum;
      }
    }
  }
  std::printf("F vs t in template space: %ld voxels; same sign %ld (below %ld), opposite %ld (above %ld)\n",
              static_cast<long>(both), static_cast<long>(same), static_cast<long>(same_below),
              static_cast<long>(opposite), static_cast<long>(opposite_above));
  EXPECT_GT(same, 1000);
  EXPECT_GT(same_below, same * 95 / 100);
  EXPECT_EQ(opposite_above, opposite);
  EXPECT_EQ(both, finite); // F is defined exactly where the t maps are
  EXPECT_EQ(f_only, 0);
  EXPECT_EQ(below, 0) << "voxels where 2F < max(t_gain^2, t_loss^2)";
  EXPECT_GT(above, both / 10) << "the second row should add to F in many voxels";
  EXPECT_EQ(bad_p, 0);
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

// The ROIs outside the head and in the scalp (user atlas above) in out_missing: n/a time series and
// ROI statistics with voxels 0 and a reason in the sidecars; the striatum boxes have numbers. The
// group level reads the n/a effects as missing: n = 0 for those two, n = 2 and the mean of the two
// subjects' effects for the striatum.
void expect_lost_roi_is_na(io::Json config) {
  const fs::path out = g_root / "out_missing";
  std::map<std::string, std::vector<double>> effects;
  for (const std::string sub : {"01", "02"}) {
    SCOPED_TRACE("sub-" + sub);
    const fs::path func = out / ("sub-" + sub) / "func";
    const std::string run = "sub-" + sub + "_task-mid_run-01_atlas-plus";
    const io::Table ts = io::read_tsv(func / (run + "_timeseries.tsv"));
    ASSERT_EQ(ts.columns(), (std::vector<std::string>{"Striatum_L", "Striatum_R", "OutsideHead", "Scalp"}));
    ASSERT_GT(ts.row_count(), 10u);
    for (std::size_t r = 0; r < ts.row_count(); ++r) {
      EXPECT_TRUE(ts.is_na(r, 2) && ts.is_na(r, 3))
          << "row " << r << ": " << ts.cell(r, 2) << " " << ts.cell(r, 3);
      EXPECT_TRUE(std::isfinite(ts.number(r, 0)) && std::isfinite(ts.number(r, 1))) << "row " << r;
    }
    const io::Json side = io::read_json(func / (run + "_timeseries.json"));
    EXPECT_EQ(side.at("Voxels").at("OutsideHead").get<std::int64_t>(), 0);
    EXPECT_EQ(side.at("Voxels").at("Scalp").get<std::int64_t>(), 0);
    EXPECT_GT(side.at("Voxels").at("Striatum_L").get<std::int64_t>(), 0);
    const io::Json& lost = side.at("RoisWithoutData");
    EXPECT_NE(lost.at("OutsideHead").get<std::string>().find("field of view"), std::string::npos) << lost;
    EXPECT_NE(lost.at("Scalp").get<std::string>().find("outside the run's brain mask"), std::string::npos)
        << lost;
    EXPECT_FALSE(lost.contains("Striatum_L") || lost.contains("Striatum_R")) << lost;
    const io::Table eig = io::read_tsv(func / (run + "_desc-eigenvariate_timeseries.tsv"));
    EXPECT_TRUE(eig.is_na(0, 2) && eig.is_na(0, 3) && !eig.is_na(0, 0));
    for (const std::string& table : {run + "_contrast-gainVsNeutral_roistats.tsv",
                                     "sub-" + sub +
                                         "_task-mid_atlas-plus_contrast-gainVsNeutral_desc-"
                                         "fixedeffects_roistats.tsv",
                                     run + "_contrast-anticipation_roistats.tsv",
                                     "sub-" + sub +
                                         "_task-mid_atlas-plus_contrast-anticipation_desc-"
                                         "fixedeffects_roistats.tsv"}) {
      SCOPED_TRACE(table);
      const io::Table t = io::read_tsv(func / table);
      EXPECT_EQ(roistats_cell(t, "OutsideHead", "voxels"), "0");
      EXPECT_EQ(roistats_cell(t, "Scalp", "voxels"), "0");
      for (std::size_t c = 2; c < t.columns().size(); ++c) {
        EXPECT_EQ(roistats_cell(t, "OutsideHead", t.columns()[c]), "n/a") << t.columns()[c];
        EXPECT_EQ(roistats_cell(t, "Scalp", t.columns()[c]), "n/a") << t.columns()[c];
        EXPECT_TRUE(std::isfinite(std::stod(roistats_cell(t, "Striatum_L", t.columns()[c]))))
            << t.columns()[c];
      }
      EXPECT_GT(std::stoll(roistats_cell(t, "Striatum_R", "voxels")), 0);
    }
    const io::Table fx = io::read_tsv(
        func / ("sub-" + sub + "_task-mid_atlas-plus_contrast-gainVsNeutral_desc-fixedeffects_roistats.tsv"));
    // One run: the per-ROI fixed effects are that run's own numbers.
    const io::Table run_table = io::read_tsv(func / (run + "_contrast-gainVsNeutral_roistats.tsv"));
    for (const std::string roi : {"Striatum_L", "Striatum_R"}) {
      for (const std::string col : {"voxels", "effect", "se", "dof"})
        EXPECT_NEAR(std::stod(roistats_cell(fx, roi, col)), std::stod(roistats_cell(run_table, roi, col)),
                    1e-12)
            << roi << " " << col;
      effects[roi].push_back(std::stod(roistats_cell(fx, roi, "effect")));
    }
    // The F contrast too (F fixed effects over one run = that run's F test).
    const io::Table fx_f = io::read_tsv(
        func / ("sub-" + sub + "_task-mid_atlas-plus_contrast-anticipation_desc-fixedeffects_roistats.tsv"));
    const io::Table run_f = io::read_tsv(func / (run + "_contrast-anticipation_roistats.tsv"));
    for (const std::string roi : {"Striatum_L", "Striatum_R"})
      for (const std::string col : {"F", "dof_num", "dof", "p"})
        EXPECT_NEAR(std::stod(roistats_cell(fx_f, roi, col)), std::stod(roistats_cell(run_f, roi, col)),
                    1e-9 * std::max(1.0, std::abs(std::stod(roistats_cell(run_f, roi, col)))))
            << roi << " " << col;
  }
  config["group"] = {{"contrasts", {"gainVsNeutral"}}, {"voxelwise", false}};
  auto p = params(out, write_config("missing_group.json", config));
  pipeline::run_group_level(p);
  const io::Table grp =
      io::read_tsv(out / "group" / "task-mid_atlas-plus_contrast-gainVsNeutral_desc-mean_roistats.tsv");
  for (const std::string roi : {"OutsideHead", "Scalp"}) {
    EXPECT_EQ(roistats_cell(grp, roi, "n"), "0");
    EXPECT_EQ(roistats_cell(grp, roi, "effect"), "n/a");
  }
  for (const std::string roi : {"Striatum_L", "Striatum_R"}) {
    EXPECT_EQ(roistats_cell(grp, roi, "n"), "2");
    EXPECT_NEAR(std::stod(roistats_cell(grp, roi, "effect")), 0.5 * (effects[roi][0] + effects[roi][1]),
                1e-9);
  }
}

// A confound the table lacks fails the subject with a message naming it and the run; a configured
// condition absent from the events drops only the contrasts that use it. The second run also uses
// a user atlas with an ROI outside the head: that ROI is n/a in every ROI output, the subjects
// succeed, and the group level counts it as missing.
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
    j["registration"]["atlas"] = user_atlas_with_an_roi_outside_the_head();
    const auto s =
        pipeline::run_participant_level(params(g_root / "out_missing", write_config("missing.json", j)));
    ASSERT_EQ(s.failed_count(), 0u) << s.to_text();
    const fs::path func = g_root / "out_missing" / "sub-01" / "func";
    EXPECT_TRUE(fs::exists(func / "sub-01_task-mid_run-01_atlas-plus_contrast-gainVsNeutral_roistats.tsv"));
    EXPECT_FALSE(fs::exists(func / "sub-01_task-mid_run-01_atlas-plus_contrast-delivery_roistats.tsv"));
    const io::Json g = io::read_json(func / "sub-01_task-mid_run-01_desc-glm_statmap.json");
    EXPECT_EQ(g.at("SkippedContrasts").at(0).get<std::string>(), "delivery");
    EXPECT_TRUE(g.at("RoisWithoutData").contains("OutsideHead") && g.at("RoisWithoutData").contains("Scalp"))
        << g.dump();
    expect_lost_roi_is_na(j);
  }
}

// A run whose working copy exceeds the memory budget (--mem-gb) is decoded into a scratch file
// (an unlinked, mapped file in --scratch-dir) instead of memory: every output is byte for byte the
// in-memory run's (preprocessing, confounds, design, maps), the GLM summary says where the run was
// kept, and the scratch directory is left empty. (Registration is off to keep the test short; the
// load stage and the whole fMRI stage read through the same storage.)
TEST_F(FmriStage, RunAboveTheMemoryBudgetIsKeptInAScratchFileWithTheSameResults) {
  io::Json j = mid_config();
  j.erase("registration");
  const fs::path config = write_config("noreg.json", j);
  auto in_memory = params(g_root / "out_memory", config);
  in_memory.participant_labels = {"01"};
  auto scratch = in_memory;
  scratch.out_dir = g_root / "out_scratch";
  scratch.mem_gb = 0.001; // ~1 MB: every run is above it
  scratch.scratch_dir = g_root / "scratch";
  for (const auto* p : {&in_memory, &scratch}) {
    const auto s = pipeline::run_participant_level(*p);
    ASSERT_EQ(s.failed_count(), 0u) << s.to_text();
  }
  EXPECT_TRUE(fs::is_empty(g_root / "scratch"));
  const fs::path func = fs::path("sub-01") / "func";
  const fs::path summary = func / "sub-01_task-mid_run-01_desc-glm_statmap.json";
  EXPECT_EQ(io::read_json(g_root / "out_memory" / summary).at("RunKeptIn"), "memory");
  EXPECT_EQ(io::read_json(g_root / "out_scratch" / summary).at("RunKeptIn"),
            "scratch file (above the memory budget)");
  std::size_t compared = 0;
  for (const auto& e : fs::recursive_directory_iterator(g_root / "out_memory" / func)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name.ends_with("_statmap.json")) continue; // timings, RunKeptIn
    const fs::path other = g_root / "out_scratch" / fs::relative(e.path(), g_root / "out_memory");
    std::ifstream a(e.path(), std::ios::binary), b(other, std::ios::binary);
    ASSERT_TRUE(b.good()) << other;
    const std::string da{std::istreambuf_iterator<char>(a), {}}, db{std::istreambuf_iterator<char>(b), {}};
    EXPECT_TRUE(da == db) << name << " differs between the in-memory and the scratch-file run";
    ++compared;
  }
  EXPECT_GE(compared, 10u);
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
