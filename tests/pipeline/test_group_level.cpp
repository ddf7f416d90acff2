// `rewardpath run ... group` on subject-level results written by hand, whose group statistics are
// published: Student's sleep data (Cushny & Peebles 1905, as in R's `sleep`): extra hours of sleep
// of 10 patients under drug 1 and drug 2. Paired t (drug 2 - drug 1) = 4.0621, df 9, two-sided
// p = 0.002833; pooled two-sample t (group 1 - group 2) = -1.8608, df 18, p = 0.07919.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <string>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/pipeline/group.hpp"

namespace fs = std::filesystem;
using namespace rewardpath;

namespace {

const std::vector<double> kDrug1{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
const std::vector<double> kDrug2{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};

std::string label(int i) { return fmt::format("{:02d}", i); }

class GroupLevel : public ::testing::Test {
protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("rp_grouplevel_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    bids_ = root_ / "bids";
    out_ = root_ / "out";
    fs::create_directories(bids_);
    io::write_json(bids_ / "dataset_description.json", {{"Name", "sleep"}, {"BIDSVersion", "1.9.0"}});
    // 20 subjects: 01-10 patients (drug-1 values), 11-20 controls (drug-2 values), a SHAPS score
    // with one n/a (sub-20, excluded from the covariate analysis only).
    io::Table participants({"participant_id", "group", "shaps"});
    for (int i = 1; i <= 20; ++i) {
      fs::create_directories(bids_ / ("sub-" + label(i)));
      participants.add_row(
          {"sub-" + label(i), i <= 10 ? "patient" : "control", i == 20 ? "n/a" : std::to_string(i % 7)});
    }
    io::write_tsv(bids_ / "participants.tsv", participants);
    Grid g;
    g.dims = {3, 2, 1};
    for (int i = 1; i <= 20; ++i) {
      const fs::path func = out_ / ("sub-" + label(i)) / "func";
      fs::create_directories(func);
      const double gain = i <= 10 ? kDrug1[i - 1] : kDrug2[i - 11];
      // ROI "A" carries the sleep values; ROI "B" = 0.5 x SHAPS + a small wobble.
      write_roi_table(func, i, "gain", {{"A", gain}, {"B", 0.5 * (i % 7) + 0.1 * std::sin(i)}});
      // The paired contrasts exist for the patients only: drug 2 and drug 1.
      if (i <= 10) {
        write_roi_table(func, i, "drugB", {{"A", kDrug2[i - 1]}, {"B", 1.0}});
        write_roi_table(func, i, "drugA", {{"A", kDrug1[i - 1]}, {"B", 1.0 + 0.01 * i}});
      }
      // Template-space maps: voxel 0 = the ROI A value, voxel 5 outside the subject's mask (NaN)
      // for sub-03 only, the rest noise-free copies.
      Volume m(g, 1, static_cast<float>(gain));
      m.grid().space = "MNIColin27";
      if (i == 3) m.data()[5] = std::nanf("");
      io::write_nifti(func / ("sub-" + label(i) +
                              "_task-mid_space-MNIColin27_res-2_contrast-gain_stat-effect_desc-fixedeffects_"
                              "statmap.nii.gz"),
                      m);
    }
  }
  void TearDown() override { fs::remove_all(root_); }

  void write_roi_table(const fs::path& func, int i, const std::string& contrast,
                       const std::vector<std::pair<std::string, double>>& rows) {
    io::Table t({"roi", "voxels", "effect", "se"});
    for (const auto& [roi, v] : rows) t.add_row({roi, "10", io::format_number(v), "0.1"});
    io::write_tsv(func / ("sub-" + label(i) + "_task-mid_atlas-reward_contrast-" + contrast +
                          "_desc-fixedeffects_roistats.tsv"),
                  t);
  }

  pipeline::RunParams params(const io::Json& config) {
    io::write_json(root_ / "config.json", config);
    pipeline::RunParams p;
    p.bids_dir = bids_;
    p.out_dir = out_;
    p.config_file = root_ / "config.json";
    p.command_line = "test";
    return p;
  }

  static io::Json config(const io::Json& analyses) {
    return {{"glm", {{"contrasts", {{{"name", "gain"}, {"expression", "gain_anticipation"}}}}}},
            {"group", {{"analyses", analyses}, {"contrasts", {"gain"}}, {"permutations", 200}}}};
  }

  io::Table group_table(const std::string& contrast, const std::string& analysis) {
    return io::read_tsv(
        out_ / "group" /
        ("task-mid_atlas-reward_contrast-" + contrast + "_desc-" + analysis + "_roistats.tsv"));
  }

  static double cell(const io::Table& t, const std::string& roi, const std::string& column) {
    const auto r = t.require_column("roi"), c = t.require_column(column);
    for (std::size_t i = 0; i < t.row_count(); ++i)
      if (t.cell(i, r) == roi) return t.number(i, c);
    throw std::runtime_error("no ROI " + roi);
  }

  fs::path root_, bids_, out_;
};

} // namespace

TEST_F(GroupLevel, TwoSampleMatchesThePublishedPooledT) {
  const auto s = pipeline::run_group_level(params(config({{{"name", "patientsVsControls"},
                                                           {"kind", "two_sample"},
                                                           {"group_column", "group"},
                                                           {"levels", {"patient", "control"}}}})));
  const io::Table t = group_table("gain", "patientsVsControls");
  EXPECT_EQ(cell(t, "A", "n"), 20);
  EXPECT_NEAR(cell(t, "A", "effect"), 0.75 - 2.33, 1e-9);
  EXPECT_NEAR(cell(t, "A", "t"), -1.8608, 1e-4);
  EXPECT_EQ(cell(t, "A", "dof"), 18);
  EXPECT_NEAR(cell(t, "A", "p"), 0.07919, 1e-5);
  // The voxelwise map at voxel 0 is the same test; voxel 5 is NaN for sub-03, so outside the
  // group mask (the intersection of the subjects' masks).
  const Volume tmap =
      io::read_nifti(out_ / "group" /
                     "task-mid_space-MNIColin27_res-2_contrast-gain_stat-t_desc-patientsVsControls_"
                     "statmap.nii.gz");
  EXPECT_NEAR(tmap.data()[0], -1.8608, 1e-3);
  EXPECT_TRUE(std::isnan(tmap.data()[5]));
  EXPECT_TRUE(fs::exists(out_ / "group" / "group_desc-provenance.json"));
  EXPECT_FALSE(s.outputs.empty());
}

TEST_F(GroupLevel, PairedMatchesThePublishedPairedT) {
  const auto s = pipeline::run_group_level(
      params(config({{{"name", "drugs"}, {"kind", "paired"}, {"pair", {"drugB", "drugA"}}}})));
  const io::Table t = group_table("drugBMinusdrugA", "drugs");
  EXPECT_EQ(cell(t, "A", "n"), 10);
  EXPECT_NEAR(cell(t, "A", "effect"), 1.58, 1e-9);
  EXPECT_NEAR(cell(t, "A", "t"), 4.0621, 1e-4);
  EXPECT_NEAR(cell(t, "A", "p"), 0.002833, 1e-6);
  // Subjects 11-20 have no paired results: reported, not silently dropped.
  bool reported = false;
  for (const auto& n : s.notes)
    reported = reported || n.find("without subject-level results: sub-11") != std::string::npos;
  EXPECT_TRUE(reported);
}

TEST_F(GroupLevel, CovariateSlopeAndExclusionsAreReported) {
  pipeline::run_group_level(params(config(
      {{{"name", "anhedonia"}, {"kind", "one_sample"}, {"covariates", {"shaps"}}, {"contrast", "shaps"}}})));
  const io::Table t = group_table("gain", "anhedonia");
  EXPECT_EQ(cell(t, "B", "n"), 19); // sub-20's SHAPS is n/a
  // Pearson r of B with SHAPS over the 19 subjects, computed here from the definition.
  std::vector<double> x, y;
  for (int i = 1; i <= 19; ++i) {
    x.push_back(i % 7);
    y.push_back(0.5 * (i % 7) + 0.1 * std::sin(i));
  }
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    mx += x[i] / 19.0;
    my += y[i] / 19.0;
  }
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  EXPECT_NEAR(cell(t, "B", "slope"), sxy / sxx, 1e-9);
  EXPECT_NEAR(cell(t, "B", "r"), sxy / std::sqrt(sxx * syy), 1e-9);
  const io::Json j =
      io::read_json(out_ / "group" / "task-mid_atlas-reward_contrast-gain_desc-anhedonia_roistats.json");
  EXPECT_NE(j.dump().find("sub-20"), std::string::npos) << "the exclusion of sub-20 is recorded";
}

TEST_F(GroupLevel, BadDesignsAreClearErrors) {
  try {
    pipeline::run_group_level(params(config({{{"name", "x"},
                                              {"kind", "two_sample"},
                                              {"group_column", "group"},
                                              {"levels", {"patient", "healthy"}}}})));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("healthy"), std::string::npos) << e.what();
  }
  try {
    pipeline::run_group_level(params(config({{{"name", "x"}, {"covariates", {"age"}}}})));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("age"), std::string::npos) << e.what();
  }
  // No glm section: the group level cannot know the contrasts.
  try {
    pipeline::run_group_level(params({{"group", {{"permutations", 10}}}}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"glm\""), std::string::npos) << e.what();
  }
}
