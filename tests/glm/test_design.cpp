// Design matrices against hand-derived cases.
#include <cmath>

#include <gtest/gtest.h>

#include "glm_test_util.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/glm/design.hpp"
#include "rewardpath/glm/hrf.hpp"

namespace g = rewardpath::glm;

namespace {
rewardpath::bids::Events one_event(double onset, double duration, const std::string& type = "task") {
  rewardpath::bids::Events ev;
  ev.onset = {onset};
  ev.duration = {duration};
  ev.trial_type = {type};
  ev.line = {2};
  return ev;
}
} // namespace

TEST(Design, BoxcarMatchesAnalyticSpmIntegral) {
  // A 6 s boxcar at 20 s, TR 2, 60 volumes: the regressor is H(t - 20) - H(t - 26) with H the
  // integral of the unit-area SPM HRF (closed form through the regularised lower incomplete gamma).
  g::DesignParams p;
  p.tr_s = 2.0;
  p.volumes = 60;
  p.drift = g::DriftModel::none;
  p.constant = false;
  const auto d = g::make_design(one_event(20.0, 6.0), p);
  ASSERT_EQ(d.columns, std::vector<std::string>{"task"});
  double max_err = 0.0, peak = 0.0;
  for (int i = 0; i < 60; ++i) {
    const double t = 2.0 * i;
    const double expect = g::spm_hrf_integral(t - 20.0) - g::spm_hrf_integral(t - 26.0);
    max_err = std::max(max_err, std::fabs(d.matrix(i, 0) - expect));
    peak = std::max(peak, expect);
  }
  // nilearn's discretisation: kernel shifted by one fine step (0.04 s), ratio 0.167 vs 1/6 and
  // the boxcar edges on the 0.04 s grid; all below 1% of the peak.
  EXPECT_LT(max_err, 0.01 * peak) << "max_err " << max_err;
  EXPECT_GT(peak, 0.9);
}

TEST(Design, SliceTimeReferenceShiftsSampling) {
  g::DesignParams p;
  p.tr_s = 2.0;
  p.volumes = 60;
  p.drift = g::DriftModel::none;
  p.constant = false;
  p.slice_time_ref = 0.5;
  const auto d = g::make_design(one_event(20.0, 6.0), p);
  for (int i = 0; i < 60; ++i) {
    const double t = 2.0 * i + 1.0;
    EXPECT_NEAR(d.matrix(i, 0), g::spm_hrf_integral(t - 20.0) - g::spm_hrf_integral(t - 26.0), 0.01);
  }
}

TEST(Design, IndependentFineGridConvolution) {
  // Independent numerical convolution on a 1 ms grid of the unit-area continuous HRF with the
  // boxcar, compared with the design (50x oversampling): within 1% of the peak. nilearn's kernel
  // starts one fine step (TR / 50 = 0.05 s) late (gamma loc = dt); the reference does the same.
  g::DesignParams p;
  p.tr_s = 2.5;
  p.volumes = 40;
  p.drift = g::DriftModel::none;
  p.constant = false;
  const auto d = g::make_design(one_event(12.3, 3.7), p);
  for (int i = 0; i < 40; ++i) {
    const double t = 2.5 * i;
    double s = 0.0;
    for (double u = 12.3 + 0.0005; u < 12.3 + 3.7; u += 0.001)
      s += g::spm_hrf_continuous(t - u - 0.05) * 0.001;
    EXPECT_NEAR(d.matrix(i, 0), s, 0.01) << i;
  }
}

TEST(Design, CosineDriftOrthonormalWithExpectedFrequencies) {
  g::DesignParams p;
  p.tr_s = 2.0;
  p.volumes = 300;
  const auto ev = glm_test::two_condition_events(600.0, 3);
  const auto d = g::make_design(ev, p);
  // floor(2 * 300 * 2 / 128) = 9 cosines, then the constant.
  std::vector<std::string> expect{"a", "b"};
  for (int k = 1; k <= 9; ++k) expect.push_back("drift_" + std::to_string(k));
  expect.push_back("constant");
  ASSERT_EQ(d.columns, expect);
  const Eigen::MatrixXd c = d.matrix.middleCols(2, 9);
  EXPECT_LT((c.transpose() * c - Eigen::MatrixXd::Identity(9, 9)).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LT((c.transpose() * Eigen::VectorXd::Ones(300)).cwiseAbs().maxCoeff(), 1e-10);
  // Column k has k half-cycles over the run: frequency k / (2 n TR) Hz, all below 1/128 Hz.
  for (int k = 1; k <= 9; ++k) {
    int crossings = 0;
    for (int i = 1; i < 300; ++i) crossings += (c(i - 1, k - 1) > 0) != (c(i, k - 1) > 0);
    EXPECT_EQ(crossings, k);
    EXPECT_LE(k / (2.0 * 300 * 2.0), 1.0 / 128.0);
  }
  EXPECT_EQ(d.matrix.col(11), Eigen::VectorXd::Ones(300));
}

TEST(Design, PolynomialDriftAndDerivatives) {
  g::DesignParams p;
  p.tr_s = 2.0;
  p.volumes = 100;
  p.drift = g::DriftModel::polynomial;
  p.drift_order = 3;
  p.hrf = g::HrfModel::spm_derivative_dispersion;
  const auto d = g::make_design(glm_test::two_condition_events(200.0, 5), p);
  std::vector<std::string> expect{
      "a",       "a_derivative", "a_dispersion", "b",       "b_derivative", "b_dispersion",
      "drift_1", "drift_2",      "drift_3",      "constant"};
  ASSERT_EQ(d.columns, expect);
  // Derivatives are orthogonalised against the main column; drifts against lower orders.
  EXPECT_NEAR(d.matrix.col(0).dot(d.matrix.col(1)), 0.0, 1e-9);
  EXPECT_NEAR(d.matrix.col(0).dot(d.matrix.col(2)), 0.0, 1e-9);
  EXPECT_NEAR(d.matrix.col(1).dot(d.matrix.col(2)), 0.0, 1e-9);
  EXPECT_NEAR(d.matrix.col(6).sum(), 0.0, 1e-9);
  EXPECT_NEAR(d.matrix.col(6).dot(d.matrix.col(7)), 0.0, 1e-9);
}

TEST(Design, ParametricModulatorIsMeanCentred) {
  rewardpath::bids::Events ev;
  ev.onset = {10, 40, 70, 100};
  ev.duration = {2, 2, 2, 2};
  ev.trial_type = {"probe", "probe", "probe", "probe"};
  ev.line = {2, 3, 4, 5};
  ev.modulator_names = {"rt"};
  ev.modulators = {{0.2, 0.3, 0.5, std::nan("")}};
  g::DesignParams p;
  p.tr_s = 2.0;
  p.volumes = 80;
  p.modulators = {{"probe", "rt"}};
  p.drift = g::DriftModel::none;
  const auto d = g::make_design(ev, p);
  ASSERT_EQ(d.columns, (std::vector<std::string>{"probe", "probe_x_rt", "constant"}));
  // Expected: sum over events of (rt - mean(0.2, 0.3, 0.5)) times that event's own regressor;
  // the n/a event contributes nothing.
  Eigen::VectorXd expect = Eigen::VectorXd::Zero(80);
  const double mean = (0.2 + 0.3 + 0.5) / 3.0;
  g::DesignParams single = p;
  single.modulators.clear();
  single.constant = false;
  for (int e = 0; e < 3; ++e) {
    const auto de = g::make_design(one_event(ev.onset[static_cast<std::size_t>(e)], 2.0, "probe"), single);
    expect += (ev.modulators[0][static_cast<std::size_t>(e)] - mean) * de.matrix.col(0);
  }
  EXPECT_LT((d.matrix.col(1) - expect).cwiseAbs().maxCoeff(), 1e-12);
  // Centred amplitudes: the modulator column sums to ~0 (each event's response integrates to
  // about its duration / TR).
  EXPECT_NEAR(d.matrix.col(1).sum(), 0.0, 1e-6);
}

TEST(Design, ErrorsNameTheProblem) {
  g::DesignParams p;
  p.tr_s = 2.0;
  p.volumes = 100;
  const auto ev = glm_test::two_condition_events(200.0, 1);
  // A confound equal to the constant: rank deficient.
  p.confounds = {{"ones", std::vector<double>(100, 1.0)}};
  try {
    g::make_design(ev, p);
    FAIL() << "expected rank-deficiency error";
  } catch (const rewardpath::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank deficient"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ones"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("constant"), std::string::npos) << e.what();
  }
  p.confounds = {{"fd", std::vector<double>(99, 0.0)}};
  EXPECT_THROW(g::make_design(ev, p), rewardpath::Error);
  p.confounds.clear();
  p.conditions = {"a", "c"};
  try {
    g::make_design(ev, p);
    FAIL();
  } catch (const rewardpath::Error& e) {
    EXPECT_NE(std::string(e.what()).find("trial types in the events are: a, b"), std::string::npos)
        << e.what();
  }
  p.conditions.clear();
  const auto d = g::make_design(ev, p);
  try {
    g::parse_contrast("a - gain", d.columns);
    FAIL();
  } catch (const rewardpath::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no design column 'gain'; columns are: a, b, drift_1"),
              std::string::npos)
        << e.what();
  }
}

TEST(Contrast, ParsesExpressions) {
  const std::vector<std::string> cols{"gain_anticipation", "neutral_anticipation", "a", "b", "c", "constant"};
  Eigen::VectorXd w = g::parse_contrast("gain_anticipation - neutral_anticipation", cols);
  EXPECT_EQ(w, (Eigen::VectorXd(6) << 1, -1, 0, 0, 0, 0).finished());
  w = g::parse_contrast("0.5*a + 0.5*b - c", cols);
  EXPECT_EQ(w, (Eigen::VectorXd(6) << 0, 0, 0.5, 0.5, -1, 0).finished());
  w = g::parse_contrast(" -a/4 + 2 * b*1.5 + a", cols);
  EXPECT_EQ(w, (Eigen::VectorXd(6) << 0, 0, 0.75, 3, 0, 0).finished());
  w = g::parse_contrast("1e-1*c", cols);
  EXPECT_DOUBLE_EQ(w(4), 0.1);
  EXPECT_THROW(g::parse_contrast("a b", cols), rewardpath::Error);
  EXPECT_THROW(g::parse_contrast("a * b", cols), rewardpath::Error);
  EXPECT_THROW(g::parse_contrast("", cols), rewardpath::Error);
  EXPECT_THROW(g::parse_contrast("2 - a", cols), rewardpath::Error);
  EXPECT_THROW(g::parse_contrast("a / b", cols), rewardpath::Error);
}

// nilearn samples events on np.linspace(-24, end, n) (start + i * step). At TR 2 s x 200 volumes
// its point 1620 is exactly 40.8 s (numpy 1.24: np.linspace(-24.0, 400.0, 10601)[1620] == 40.8),
// so an event ending at 40.8 s closes its boxcar there, exactly as one ending just before it; one
// ending just after closes it a fine step later. (start + (end - start) i / (n - 1) gives
// 40.79999999999998 there and moved the boxcar's end by one fine step.)
TEST(Design, AnEventEndingOnAFineGridPointEndsWhereNilearnsDoes) {
  g::DesignParams p;
  p.tr_s = 2.0;
  p.volumes = 200;
  p.drift = g::DriftModel::none;
  auto column = [&](double duration) {
    const g::Design d = g::make_design(one_event(38.8, duration), p);
    return Eigen::VectorXd(d.matrix.col(d.column("task")));
  };
  ASSERT_EQ(38.8 + 2.0, 40.8);
  const Eigen::VectorXd on_point = column(2.0), before = column(2.0 - 1e-9), after = column(2.0 + 1e-9);
  EXPECT_EQ((on_point - before).cwiseAbs().maxCoeff(), 0.0);
  EXPECT_GT((after - on_point).cwiseAbs().maxCoeff(), 1e-4);
}
