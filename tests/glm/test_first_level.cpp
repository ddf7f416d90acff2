// glm/first_level.hpp: a run's design from settings (conditions dropped with their contrasts and
// modulators), contrasts by name, fits with series that have no data, fixed effects over runs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "glm_test_util.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/first_level.hpp"

namespace {

using namespace rewardpath;

constexpr double kTr = 2.0;
constexpr std::int64_t kVolumes = 120;

glm::FirstLevelSettings settings_with(std::vector<std::string> conditions) {
  glm::FirstLevelSettings s;
  s.conditions = std::move(conditions);
  s.contrasts = {{"aVsB", {"a - b"}}, {"c", {"c"}}, {"both", {"a", "0.5*c + a"}}, {"a", {"a"}}};
  return s;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(ContrastColumnNames, AreTheNamesOfEachTermInOrder) {
  EXPECT_EQ(glm::contrast_column_names("0.5*gain + 0.5*loss - neutral"),
            (std::vector<std::string>{"gain", "loss", "neutral"}));
  EXPECT_EQ(glm::contrast_column_names("a/2 - x.y_1"), (std::vector<std::string>{"a", "x.y_1"}));
  EXPECT_THROW(glm::contrast_column_names("a - "), Error);
  EXPECT_THROW(glm::contrast_column_names("2 * 3"), Error); // a term without a column name
}

TEST(DesignRun, DropsAbsentConditionsWithTheirContrastsAndModulators) {
  bids::Events ev = glm_test::two_condition_events(kVolumes * kTr, 3);
  ev.modulator_names = {"rt"};
  ev.modulators = {std::vector<double>(ev.size(), 0.5)};
  for (std::size_t i = 0; i < ev.size(); ++i) ev.modulators[0][i] = 0.3 + 0.01 * static_cast<double>(i);
  glm::FirstLevelSettings s = settings_with({"a", "b", "c"});
  s.modulators = {{"a", "rt"}, {"c", "rt"}};
  const glm::RunDesign rd = glm::design_run(ev, io::Table{}, s, kTr, kVolumes, 0.5);
  EXPECT_EQ(rd.dropped_conditions, std::vector<std::string>{"c"});
  EXPECT_EQ(rd.skipped_contrasts, (std::vector<std::string>{"c", "both"}));
  ASSERT_EQ(rd.contrasts.size(), 2u);
  EXPECT_EQ(rd.contrasts[0].name, "aVsB");
  EXPECT_EQ(rd.contrasts[1].name, "a");
  EXPECT_TRUE(rd.design.has_column("a"));
  EXPECT_TRUE(rd.design.has_column("b"));
  EXPECT_FALSE(rd.design.has_column("c"));
  EXPECT_EQ(rd.slice_time_ref, 0.5);
  EXPECT_TRUE(rd.design.has_column("a_x_rt")); // a's modulator kept, c's dropped with c
  EXPECT_FALSE(rd.design.has_column("c_x_rt"));
  EXPECT_EQ(rd.design.rows(), kVolumes);
}

TEST(DesignRun, NamesTheEventsFileWhenNoConfiguredConditionOccurs) {
  bids::Events ev = glm_test::two_condition_events(kVolumes * kTr, 3);
  ev.source = "sub-01_task-mid_events.tsv";
  const std::string msg = message_of([&] {
    glm::design_run(ev, io::Table{}, settings_with({"x", "y"}), kTr, kVolumes, 0);
  });
  EXPECT_NE(msg.find("none of the configured conditions (x, y)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sub-01_task-mid_events.tsv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("trial types there: a, b"), std::string::npos) << msg;
}

TEST(DesignRun, TakesConfoundsByNameAndListsTheTableWhenOneIsMissing) {
  const bids::Events ev = glm_test::two_condition_events(kVolumes * kTr, 3);
  io::Table confounds({"trans_x", "framewise_displacement"});
  for (std::int64_t t = 0; t < kVolumes; ++t)
    confounds.add_row({std::to_string(0.01 * static_cast<double>(t % 7)), t == 0 ? "n/a" : "0.1"});
  glm::FirstLevelSettings s = settings_with({});
  s.confounds = {"framewise_displacement", "trans_x"};
  const glm::RunDesign rd = glm::design_run(ev, confounds, s, kTr, kVolumes, 0);
  const int fd = rd.design.column("framewise_displacement");
  EXPECT_EQ(rd.design.matrix(0, fd), 0.0); // n/a -> 0
  EXPECT_EQ(rd.design.matrix(5, fd), 0.1);
  EXPECT_DOUBLE_EQ(rd.design.matrix(3, rd.design.column("trans_x")), 0.03);
  s.confounds = {"rot_z"};
  const std::string msg = message_of([&] { glm::design_run(ev, confounds, s, kTr, kVolumes, 0); });
  EXPECT_NE(msg.find("confound \"rot_z\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("it has: trans_x, framewise_displacement"), std::string::npos) << msg;
}

// Three series: 0 and 2 with data, 1 without (NaN samples must not reach the fit).
struct GapCase {
  glm::RunDesign rd;
  Eigen::MatrixXd y;
  std::vector<bool> has_data{true, false, true};
};
GapCase gap_case(std::uint64_t seed, double effect) {
  GapCase g;
  const bids::Events ev = glm_test::two_condition_events(kVolumes * kTr, seed);
  g.rd = glm::design_run(ev, io::Table{}, settings_with({"a", "b", "c"}), kTr, kVolumes, 0);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  g.y.resize(kVolumes, 3);
  const int a = g.rd.design.column("a");
  for (Eigen::Index s = 0; s < 3; ++s)
    for (std::int64_t t = 0; t < kVolumes; ++t)
      g.y(t, s) = 100 + effect * (1 + s) * g.rd.design.matrix(t, a) + noise(rng);
  g.y.col(1).setConstant(std::nan(""));
  return g;
}

TEST(FitWithGaps, FitsTheSeriesWithDataExactlyAsAlone) {
  const GapCase g = gap_case(7, 2.0);
  glm::FitParams fp;
  fp.noise_model = glm::NoiseModel::ols;
  const glm::GappedFit gf = glm::fit_with_gaps(g.y, g.has_data, g.rd.design, fp, g.rd.contrasts);
  ASSERT_TRUE(gf.fit);
  EXPECT_EQ(gf.fit->series(), 2);
  Eigen::MatrixXd alone(kVolumes, 2);
  alone << g.y.col(0), g.y.col(2);
  const glm::FirstLevelFit direct = glm::fit(alone, g.rd.design, fp);
  ASSERT_EQ(gf.contrasts.size(), g.rd.contrasts.size());
  for (std::size_t c = 0; c < g.rd.contrasts.size(); ++c) {
    const glm::ContrastResult ref = glm::compute_contrast(direct, g.rd.contrasts[c]);
    const glm::ContrastResult& got = gf.contrasts[c];
    ASSERT_EQ(got.stat.size(), 3);
    EXPECT_EQ(got.stat(0), ref.stat(0));
    EXPECT_EQ(got.stat(2), ref.stat(1));
    EXPECT_EQ(got.effect(0, 2), ref.effect(0, 1));
    EXPECT_TRUE(std::isnan(got.stat(1)));
    EXPECT_TRUE(std::isnan(got.effect(0, 1)));
    EXPECT_TRUE(std::isnan(got.p(1)));
  }
  // The true effect of "a" is 2 and 6 in series 0 and 2: within 4 standard errors.
  const glm::ContrastResult& a = gf.contrasts[1];
  EXPECT_NEAR(a.effect(0, 0), 2.0, 4 * std::sqrt(a.variance(0, 0)));
  EXPECT_NEAR(a.effect(0, 2), 6.0, 4 * std::sqrt(a.variance(0, 2)));
}

TEST(FitWithGaps, WithoutAnySeriesGivesNaNContrastsOfTheRightKind) {
  GapCase g = gap_case(7, 2.0);
  const glm::NamedContrast f{"F", {"a", "b"}};
  const glm::GappedFit gf = glm::fit_with_gaps(g.y, {false, false, false}, g.rd.design, {}, {f});
  EXPECT_FALSE(gf.fit);
  ASSERT_EQ(gf.contrasts.size(), 1u);
  EXPECT_EQ(gf.contrasts[0].kind, glm::StatKind::F);
  EXPECT_EQ(gf.contrasts[0].stat.size(), 3);
  EXPECT_TRUE(gf.contrasts[0].stat.array().isNaN().all());
  EXPECT_THROW(glm::fit_with_gaps(g.y, {true, true}, g.rd.design, {}, {f}), Error);
}

// Hand-derived: series 0 in both runs, series 1 only in run 2, series 2 in none.
TEST(CombineRuns, CombinesEachSeriesOverTheRunsThatHaveIt) {
  auto run = [](double e0, double v0, double e1, double v1, double dof) {
    glm::ContrastResult r;
    r.kind = glm::StatKind::t;
    r.expressions = {"a - b"};
    r.weights.resize(1, 2);
    r.weights << 1, -1;
    const double nan = std::nan("");
    r.effect.resize(1, 3);
    r.effect << e0, e1, nan;
    r.variance.resize(1, 3);
    r.variance << v0, v1, nan;
    r.stat.resize(3);
    r.stat << e0 / std::sqrt(v0), e1 / std::sqrt(v1), nan;
    r.z = r.p = Eigen::VectorXd::Zero(3);
    r.dof = dof;
    return r;
  };
  const glm::ContrastResult r1 = run(1.0, 0.25, std::nan(""), std::nan(""), 100);
  glm::ContrastResult r1_missing = r1;
  r1_missing.stat(1) = std::nan("");
  const glm::ContrastResult r2 = run(3.0, 0.5, 2.0, 0.16, 90);
  const glm::CombinedContrast fx = glm::combine_runs({&r1_missing, &r2});
  // Series 0: inverse-variance weights 4 and 2: effect (4*1 + 2*3)/6 = 5/3, variance 1/6.
  EXPECT_NEAR(fx.result.effect(0, 0), 5.0 / 3.0, 1e-14);
  EXPECT_NEAR(fx.result.variance(0, 0), 1.0 / 6.0, 1e-14);
  EXPECT_NEAR(fx.result.stat(0), (5.0 / 3.0) / std::sqrt(1.0 / 6.0), 1e-12);
  EXPECT_EQ(fx.dof[0], 190);
  // Series 1: run 2 alone.
  EXPECT_NEAR(fx.result.effect(0, 1), 2.0, 1e-14);
  EXPECT_NEAR(fx.result.stat(1), 2.0 / 0.4, 1e-12);
  EXPECT_EQ(fx.dof[1], 90);
  // Series 2: no run has it.
  EXPECT_TRUE(std::isnan(fx.result.stat(2)));
  EXPECT_TRUE(std::isnan(fx.result.effect(0, 2)));
  EXPECT_TRUE(std::isnan(fx.dof[2]));
  EXPECT_THROW(glm::combine_runs({}), Error);
}

} // namespace

namespace {

// Hand values: 100 volumes (expected sd 0.1, bound 0.196), four series of which one has sigma2 0
// (not counted).
TEST(ResidualAutocorrelationSummary, MeanMedianAndFractionOutsideByHand) {
  glm::FirstLevelFit fit;
  fit.design = Eigen::MatrixXd::Zero(100, 2);
  fit.sigma2 = Eigen::Vector4d(1.0, 2.0, 0.0, 1.0);
  fit.residual_acf.resize(3, 4);
  fit.residual_acf << 0.1f, 0.3f, 0.9f, -0.25f, //
      0.0f, 0.0f, 0.9f, 0.0f,                   //
      0.2f, -0.2f, 0.9f, 0.1f;
  const glm::AutocorrelationSummary s = glm::residual_autocorrelation_summary(fit);
  EXPECT_DOUBLE_EQ(s.expected_sd, 0.1);
  EXPECT_NEAR(s.mean[0], (0.1 + 0.3 - 0.25) / 3, 1e-7);
  EXPECT_NEAR(s.median[0], 0.1, 1e-7);
  EXPECT_NEAR(s.fraction_outside[0], 2.0 / 3.0, 1e-15); // 0.3 and -0.25
  EXPECT_EQ(s.fraction_outside[1], 0.0);
  EXPECT_NEAR(s.fraction_outside[2], 2.0 / 3.0, 1e-15); // 0.2 and -0.2
  EXPECT_NEAR(s.median[2], 0.1, 1e-7);
}

} // namespace
