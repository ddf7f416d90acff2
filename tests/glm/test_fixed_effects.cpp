// Fixed effects over runs for F contrasts (glm::fixed_effects, docs/glm.md "Fixed effects"):
// a hand-derived two-run case, q = 1 against the t combination, calibration under the null and
// equality with the pooled (stacked-runs) estimate under a true effect, bad input.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "glm_test_util.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/glm/fit.hpp"

namespace g = rewardpath::glm;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

// An F result of one series from its effects and covariance, as contrast_f would give it.
g::ContrastResult f_run(const VectorXd& e, const MatrixXd& cov, double dof) {
  const Index q = e.size();
  g::ContrastResult r;
  r.kind = g::StatKind::F;
  r.expressions = {"a", "b"};
  r.expressions.resize(static_cast<std::size_t>(q));
  r.weights = MatrixXd::Identity(q, q);
  r.dof_num = static_cast<double>(q);
  r.dof = dof;
  r.effect = e;
  r.variance = cov.diagonal();
  r.covariance.resize(q * (q + 1) / 2, 1);
  Index k = 0;
  for (Index i = 0; i < q; ++i)
    for (Index j = i; j < q; ++j) r.covariance(k++, 0) = cov(i, j);
  r.stat = VectorXd::Zero(1);
  r.z = VectorXd::Zero(1);
  r.p = VectorXd::Ones(1);
  return r;
}

MatrixXd inverse2(const MatrixXd& m) { // adjugate / determinant, independent of Eigen's solvers
  MatrixXd out(2, 2);
  const double det = m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0);
  out << m(1, 1) / det, -m(0, 1) / det, -m(1, 0) / det, m(0, 0) / det;
  return out;
}

g::Design run_design(std::int64_t n, std::uint64_t seed) {
  g::DesignParams p;
  p.tr_s = 2.0;
  p.volumes = n;
  return g::make_design(glm_test::two_condition_events(2.0 * static_cast<double>(n), seed), p);
}

g::FitParams ols() {
  g::FitParams p;
  p.noise_model = g::NoiseModel::ols;
  p.diagnostics = false;
  return p;
}

// y = X beta + white noise of sd `sd`, `series` columns; beta_a, beta_b on columns "a", "b".
MatrixXd simulate(const g::Design& d, double beta_a, double beta_b, double sd, Index series,
                  std::mt19937_64& rng) {
  std::normal_distribution<double> z(0.0, sd);
  const Index a = d.column("a"), b = d.column("b"), c = d.column("constant");
  MatrixXd y(d.rows(), series);
  for (Index s = 0; s < series; ++s)
    for (Index t = 0; t < d.rows(); ++t)
      y(t, s) = 100.0 * d.matrix(t, c) + beta_a * d.matrix(t, a) + beta_b * d.matrix(t, b) + z(rng);
  return y;
}

// Strongly correlated rows, so that ignoring the off-diagonal covariance (combining each row on
// its own, as nilearn's compute_fixed_effects does for F) would miscalibrate the test.
const std::vector<std::string> kRows{"a + b", "a"};

} // namespace

// Two runs, q = 2, one series. Expected values: closed forms below (2x2 adjugate inverses), and
// p, z from scipy (stats.f.sf(F, 2, 220), stats.norm.isf(p), computed with /usr/bin/python3 at
// development time, independent of glm/stats): e = (0.91145038167938930, 0.67099236641221380),
// V = [[0.1251908396946565, -0.00381679389312977], [., 0.12633587786259542]], F = 5.252207102555593.
TEST(FixedEffectsF, HandDerivedTwoRuns) {
  VectorXd e1(2), e2(2);
  e1 << 1.0, 0.5;
  e2 << 0.6, 0.9;
  MatrixXd v1(2, 2), v2(2, 2);
  v1 << 0.2, 0.05, 0.05, 0.3;
  v2 << 0.4, -0.1, -0.1, 0.25;
  const auto fx = g::fixed_effects({f_run(e1, v1, 100), f_run(e2, v2, 120)});

  const MatrixXd w = inverse2(v1) + inverse2(v2), v = inverse2(w);
  const VectorXd e = v * (inverse2(v1) * e1 + inverse2(v2) * e2);
  const double f = e.dot(w * e) / 2.0;
  EXPECT_NEAR(e(0), 0.9114503816793893, 1e-15); // the closed form agrees with numpy
  EXPECT_NEAR(f, 5.252207102555593, 1e-13);

  EXPECT_EQ(fx.kind, g::StatKind::F);
  EXPECT_EQ(fx.dof_num, 2.0);
  EXPECT_EQ(fx.dof, 220.0);
  for (Index i = 0; i < 2; ++i) {
    EXPECT_NEAR(fx.effect(i, 0), e(i), 1e-14);
    EXPECT_NEAR(fx.variance(i, 0), v(i, i), 1e-14);
    for (Index j = 0; j < 2; ++j) EXPECT_NEAR(fx.covariance_at(0)(i, j), v(i, j), 1e-14);
  }
  EXPECT_NEAR(fx.stat(0), f, 1e-12);
  EXPECT_NEAR(fx.p(0), 0.005912589953252754, 1e-14);
  EXPECT_NEAR(fx.z(0), 2.517318735642284, 1e-10);
  // Symmetric in the runs.
  const auto swapped = g::fixed_effects({f_run(e2, v2, 120), f_run(e1, v1, 100)});
  EXPECT_NEAR(swapped.stat(0), fx.stat(0), 1e-12);
}

// contrast_f's packed covariance is sigma2 C (X'X)^-1 C', and q = 1 reduces to the t fixed effects.
TEST(FixedEffectsF, OneRowEqualsTSquared) {
  std::mt19937_64 rng(11);
  std::vector<g::ContrastResult> t_runs, f_runs;
  for (std::uint64_t r = 0; r < 3; ++r) {
    const auto d = run_design(90, 100 + r);
    const auto fit = g::fit(simulate(d, 0.4, 0.1, 0.7 + 0.4 * static_cast<double>(r), 6, rng), d, ols());
    t_runs.push_back(g::contrast(fit, "a - b"));
    f_runs.push_back(g::contrast(fit, std::vector<std::string>{"a - b"}));
    if (r == 0) {
      const auto f2 = g::contrast(fit, kRows);
      MatrixXd c = MatrixXd::Zero(2, fit.beta.rows());
      c(0, d.column("a")) = 1, c(0, d.column("b")) = 1, c(1, d.column("a")) = 1;
      const MatrixXd xtx_inv = (d.matrix.transpose() * d.matrix).inverse();
      for (Index v = 0; v < 6; ++v) {
        const MatrixXd expect = fit.sigma2(v) * c * xtx_inv * c.transpose();
        EXPECT_TRUE(f2.covariance_at(v).isApprox(expect, 1e-10)) << f2.covariance_at(v) << "\n" << expect;
        EXPECT_NEAR(f2.variance(1, v), expect(1, 1), 1e-10 * expect(1, 1));
      }
    }
  }
  const auto ft = g::fixed_effects(t_runs), ff = g::fixed_effects(f_runs);
  EXPECT_EQ(ff.dof, ft.dof);
  EXPECT_EQ(ft.dof, t_runs[0].dof + t_runs[1].dof + t_runs[2].dof);
  for (Index v = 0; v < 6; ++v) {
    EXPECT_NEAR(ff.effect(0, v), ft.effect(0, v), 1e-12 * std::abs(ft.effect(0, v)) + 1e-15);
    EXPECT_NEAR(ff.variance(0, v), ft.variance(0, v), 1e-12 * ft.variance(0, v));
    EXPECT_NEAR(ff.stat(v), ft.stat(v) * ft.stat(v), 1e-10 * ff.stat(v) + 1e-14);
    const double two_sided = 2.0 * std::min(ft.p(v), 1.0 - ft.p(v)); // our t p is one-sided
    EXPECT_NEAR(ff.p(v), two_sided, 1e-9 * two_sided + 1e-15);
  }
}

// Null: 2000 replicates of 2-4 runs (run noise sd 0.5..2, 5 series each = 10000 independent
// tests): the combined F rejects at the nominal rate. True effect: the combined effect and F equal
// those of the pooled model (runs stacked, separate nuisance columns per run, shared a and b,
// rows weighted by 1 / each run's estimated sigma), and the effect is unbiased.
TEST(FixedEffectsF, NullCalibrationAndPooledModel) {
  std::vector<g::Design> designs;
  for (std::uint64_t r = 0; r < 4; ++r) designs.push_back(run_design(80, 200 + r));
  const double sds[4] = {1.0, 2.0, 0.5, 1.5};
  std::mt19937_64 rng(7);
  const Index series = 5;
  int tests = 0, below05 = 0, below01 = 0, below50 = 0;
  double mean_f = 0;
  for (int rep = 0; rep < 2000; ++rep) {
    const int nruns = 2 + rep % 3;
    std::vector<g::ContrastResult> runs;
    for (int r = 0; r < nruns; ++r)
      runs.push_back(
          g::contrast(g::fit(simulate(designs[static_cast<std::size_t>(r)], 0, 0, sds[r], series, rng),
                             designs[static_cast<std::size_t>(r)], ols()),
                      kRows));
    const auto fx = g::fixed_effects(runs);
    for (Index v = 0; v < series; ++v) {
      ASSERT_TRUE(std::isfinite(fx.p(v)));
      ++tests;
      below05 += fx.p(v) < 0.05;
      below01 += fx.p(v) < 0.01;
      below50 += fx.p(v) < 0.5;
      mean_f += fx.stat(v);
    }
  }
  const double n = tests;
  // Binomial sd at 10000 tests: 0.0022 (0.05), 0.001 (0.01), 0.005 (0.5). dof = the sum of the
  // runs' dofs treats the estimated weights as known, so the test is slightly liberal: an
  // independent numpy simulation of this setting (40000 tests, white noise, designs of 5 columns,
  // the same run sds and row pairs) gave 0.0546 at p < 0.05, 0.0122 at p < 0.01, mean F 1.039
  // where F(2, ~225) has mean 1.009.
  EXPECT_GE(below05 / n, 0.035);
  EXPECT_LE(below05 / n, 0.065);
  EXPECT_NEAR(below01 / n, 0.01, 0.004);
  EXPECT_NEAR(below50 / n, 0.5, 0.02);
  EXPECT_NEAR(mean_f / n, 1.03, 0.04);
  std::printf("null F fixed effects: %d tests, rate p<0.05 %.4f, p<0.01 %.4f, mean F %.3f\n", tests,
              below05 / n, below01 / n, mean_f / n);

  // True effect a = 1.5, b = -0.5: rows (a + b, a) = (1, 1.5).
  double err0 = 0, err1 = 0, var0 = 0, var1 = 0;
  int significant = 0;
  const int reps = 100;
  for (int rep = 0; rep < reps; ++rep) {
    const int nruns = 2 + rep % 3;
    std::vector<g::ContrastResult> runs;
    std::vector<g::FirstLevelFit> fits;
    std::vector<MatrixXd> ys;
    for (int r = 0; r < nruns; ++r) {
      const auto& d = designs[static_cast<std::size_t>(r)];
      ASSERT_EQ(d.cols(), designs[0].cols());
      ys.push_back(simulate(d, 1.5, -0.5, sds[r], 1, rng));
      fits.push_back(g::fit(ys.back(), d, ols()));
      runs.push_back(g::contrast(fits.back(), kRows));
    }
    const auto fx = g::fixed_effects(runs);
    // Pooled model: columns a, b shared, then each run's other columns in its own block.
    const Index k = designs[0].cols(), nt = designs[0].rows();
    MatrixXd x = MatrixXd::Zero(nt * nruns, 2 + (k - 2) * nruns);
    VectorXd y(nt * nruns);
    for (int r = 0; r < nruns; ++r) {
      const auto& d = designs[static_cast<std::size_t>(r)];
      const double w = 1.0 / std::sqrt(fits[static_cast<std::size_t>(r)].sigma2(0));
      Index other = 0;
      for (Index j = 0; j < k; ++j) {
        const std::string& name = d.columns[static_cast<std::size_t>(j)];
        const Index col = name == "a" ? 0 : name == "b" ? 1 : 2 + (k - 2) * r + other++;
        x.block(nt * r, col, nt, 1) = w * d.matrix.col(j);
      }
      y.segment(nt * r, nt) = w * ys[static_cast<std::size_t>(r)].col(0);
    }
    const VectorXd beta = x.colPivHouseholderQr().solve(y);
    MatrixXd c = MatrixXd::Zero(2, x.cols());
    c(0, 0) = 1, c(0, 1) = 1, c(1, 0) = 1;
    const VectorXd e = c * beta;
    const MatrixXd cov = c * (x.transpose() * x).inverse() * c.transpose(); // unit weighted variance
    const double f = e.dot(cov.inverse() * e) / 2.0;
    // glm::fit reads float samples (and sums them in float): agreement to ~1e-6 relative, far
    // below the O(se) differences a wrong weighting or a dropped covariance would make.
    EXPECT_NEAR(fx.effect(0, 0), e(0), 1e-4 * std::sqrt(cov(0, 0)));
    EXPECT_NEAR(fx.effect(1, 0), e(1), 1e-4 * std::sqrt(cov(1, 1)));
    EXPECT_TRUE(fx.covariance_at(0).isApprox(cov, 1e-4)) << fx.covariance_at(0) << "\n" << cov;
    EXPECT_NEAR(fx.stat(0), f, 1e-4 * f);
    err0 += fx.effect(0, 0) - 1.0;
    err1 += fx.effect(1, 0) - 1.5;
    var0 += fx.variance(0, 0);
    var1 += fx.variance(1, 0);
    significant += fx.p(0) < 0.05;
  }
  // Unbiased: mean error within 4 sd of the mean (from the reported variances).
  const double sd0 = std::sqrt(var0 / reps / reps), sd1 = std::sqrt(var1 / reps / reps);
  EXPECT_NEAR(err0 / reps, 0.0, 4 * sd0);
  EXPECT_NEAR(err1 / reps, 0.0, 4 * sd1);
  EXPECT_GE(significant, 0.75 * reps); // 0.89 measured over 3000 replicates
  std::printf("true effect: mean error (%.4f, %.4f), sd of the mean (%.4f, %.4f), detected %d / %d\n",
              err0 / reps, err1 / reps, sd0, sd1, significant, reps);
}

TEST(FixedEffectsF, ZeroVarianceAndBadInput) {
  VectorXd e(2);
  e << 1.0, 2.0;
  MatrixXd v = MatrixXd::Identity(2, 2) * 0.1;
  // A run with zero covariance (sigma2 = 0): F = 0, p = 1, z = 0, never NaN.
  auto fx = g::fixed_effects({f_run(e, v, 50), f_run(e, MatrixXd::Zero(2, 2), 50)});
  EXPECT_EQ(fx.stat(0), 0.0);
  EXPECT_EQ(fx.p(0), 1.0);
  EXPECT_EQ(fx.z(0), 0.0);
  EXPECT_EQ(fx.effect(0, 0), 0.0);
  // Singular (rank 1) covariance: the same.
  MatrixXd singular(2, 2);
  singular << 1.0, 1.0, 1.0, 1.0;
  fx = g::fixed_effects({f_run(e, v, 50), f_run(e, singular, 50)});
  EXPECT_EQ(fx.stat(0), 0.0);
  EXPECT_EQ(fx.p(0), 1.0);
  // From a fit: a series of zeros has sigma2 = 0.
  const auto d = run_design(60, 5);
  std::mt19937_64 rng(3);
  MatrixXd y = simulate(d, 0.3, 0.3, 1.0, 2, rng);
  y.col(1).setZero();
  const auto c = g::contrast(g::fit(y, d, ols()), kRows);
  fx = g::fixed_effects({c, c});
  EXPECT_TRUE(std::isfinite(fx.stat(0)) && fx.stat(0) > 0);
  EXPECT_EQ(fx.stat(1), 0.0);
  EXPECT_EQ(fx.p(1), 1.0);
  EXPECT_EQ(fx.z(1), 0.0);

  auto expect_error = [](const std::vector<g::ContrastResult>& runs, const std::string& needle) {
    try {
      g::fixed_effects(runs);
      ADD_FAILURE() << "no error, expected one mentioning " << needle;
    } catch (const rewardpath::Error& err) {
      EXPECT_NE(std::string(err.what()).find(needle), std::string::npos) << err.what();
    }
  };
  VectorXd e3(3);
  e3 << 1, 2, 3;
  auto q3 = f_run(e3, MatrixXd::Identity(3, 3), 50);
  q3.expressions = {"a", "b"}; // same expressions, a third row: q differs
  expect_error({f_run(e, v, 50), q3}, "rows");
  auto other = f_run(e, v, 50);
  other.expressions = {"a", "c"};
  expect_error({f_run(e, v, 50), other}, "contrast 'a, c'");
  auto no_expr1 = f_run(e, v, 50), no_expr2 = f_run(e, v, 50);
  no_expr1.expressions.clear(), no_expr2.expressions.clear();
  no_expr2.weights(0, 1) = 0.5;
  expect_error({no_expr1, no_expr2}, "weights");
  auto no_cov = f_run(e, v, 50);
  no_cov.covariance.resize(0, 0);
  expect_error({f_run(e, v, 50), no_cov}, "covariance");
  expect_error({c, f_run(e, v, 50)}, "run 2 has 1 series, run 1 has 2");
  expect_error({g::contrast(g::fit(y, d, ols()), "a"), c}, "an F contrast, run 1 a t");
}

// packed_row addresses ContrastResult::covariance as covariance_at unpacks it (q = 1..4, both orders).
TEST(FixedEffectsF, PackedRowMatchesCovarianceAt) {
  for (Index q = 1; q <= 4; ++q) {
    g::ContrastResult c;
    c.kind = g::StatKind::F;
    c.effect = Eigen::MatrixXd::Zero(q, 1);
    c.covariance.resize(q * (q + 1) / 2, 1);
    for (Index k = 0; k < c.covariance.rows(); ++k) c.covariance(k, 0) = static_cast<double>(k + 1);
    const Eigen::MatrixXd m = c.covariance_at(0);
    for (Index i = 0; i < q; ++i)
      for (Index j = 0; j < q; ++j)
        EXPECT_EQ(c.covariance(g::packed_row(i, j, q), 0), m(i, j)) << q << i << j;
  }
}
