// Fits on simulated data with known truth: bias, CI coverage, null false-positive rates,
// streaming = in-memory, F vs t, fixed effects, residual diagnostics.
#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>

#include "glm_test_util.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/glm/fit.hpp"
#include "rewardpath/glm/stats.hpp"

namespace g = rewardpath::glm;

namespace {

g::Design task_design(std::int64_t n, std::uint64_t seed) {
  g::DesignParams p;
  p.tr_s = 2.0;
  p.volumes = n;
  return g::make_design(glm_test::two_condition_events(2.0 * static_cast<double>(n), seed), p);
}

// Voxels on a grid; series = beta_a * a + beta_b * b + 100 + AR(rho(v)) noise of sd 1.
rewardpath::Volume simulate(const g::Design& d, std::array<std::int64_t, 3> dims, double beta_a,
                            double beta_b,
                            const std::function<double(std::int64_t, std::int64_t, std::int64_t)>& rho,
                            std::uint64_t seed) {
  rewardpath::Grid grid;
  grid.dims = dims;
  grid.spacing_mm = {3.0, 3.0, 3.0};
  const auto n = d.rows();
  rewardpath::Volume v(grid, n);
  const auto nv = static_cast<std::size_t>(grid.voxel_count());
  std::mt19937_64 rng(seed);
  for (std::int64_t z = 0; z < dims[2]; ++z)
    for (std::int64_t y = 0; y < dims[1]; ++y)
      for (std::int64_t x = 0; x < dims[0]; ++x) {
        const auto idx = static_cast<std::size_t>(x + dims[0] * (y + dims[1] * z));
        glm_test::ar1_series(rng, rho(x, y, z), 1.0, v.data() + idx, static_cast<std::size_t>(n), nv);
        for (std::int64_t t = 0; t < n; ++t)
          v.data()[static_cast<std::size_t>(t) * nv + idx] +=
              static_cast<float>(100.0 + beta_a * d.matrix(t, 0) + beta_b * d.matrix(t, 1));
      }
  return v;
}

struct Recovery {
  double mean_error = 0, coverage = 0;
};
Recovery recovery(const g::ContrastResult& c, double truth) {
  Recovery r;
  const double tq = 1.9725; // t quantile 97.5% at dof ~ 188
  int cover = 0;
  for (Eigen::Index v = 0; v < c.effect.cols(); ++v) {
    const double e = c.effect(0, v), se = std::sqrt(c.variance(0, v));
    r.mean_error += e - truth;
    cover += std::fabs(e - truth) <= tq * se;
  }
  r.mean_error /= static_cast<double>(c.effect.cols());
  r.coverage = static_cast<double>(cover) / static_cast<double>(c.effect.cols());
  return r;
}

} // namespace

TEST(Fit, OlsRecoversEffectsOnWhiteNoise) {
  const auto d = task_design(200, 11);
  const auto bold = simulate(
      d, {40, 50, 1}, 1.0, 0.5, [](auto, auto, auto) { return 0.0; }, 12);
  g::FitParams fp;
  fp.noise_model = g::NoiseModel::ols;
  const auto f = g::fit(bold, d, fp);
  const auto c = g::contrast(f, "a - b");
  const auto r = recovery(c, 0.5);
  std::printf("OLS/white: mean error %.4f (truth 0.5), coverage %.4f over %ld voxels\n", r.mean_error,
              r.coverage, static_cast<long>(f.series()));
  EXPECT_LT(std::fabs(r.mean_error), 0.05 * 0.5);
  EXPECT_GE(r.coverage, 0.92);
  EXPECT_LE(r.coverage, 0.98);
  EXPECT_DOUBLE_EQ(c.dof, 200.0 - static_cast<double>(d.cols()));
}

TEST(Fit, Ar1RecoversEffectsOnAr1Noise) {
  const auto d = task_design(200, 21);
  const auto bold = simulate(
      d, {40, 50, 1}, 1.0, 0.5, [](auto, auto, auto) { return 0.4; }, 22);
  for (auto model : {g::NoiseModel::ar1, g::NoiseModel::arp}) {
    g::FitParams fp;
    fp.noise_model = model;
    fp.ar_order = 1;
    const auto f = g::fit(bold, d, fp);
    const auto r = recovery(g::contrast(f, "a - b"), 0.5);
    const auto ra = recovery(g::contrast(f, "a"), 1.0);
    std::printf("%s/AR(1) 0.4: a-b mean error %.4f coverage %.4f; a mean error %.4f coverage %.4f\n",
                model == g::NoiseModel::ar1 ? "ar1" : "arp", r.mean_error, r.coverage, ra.mean_error,
                ra.coverage);
    EXPECT_LT(std::fabs(r.mean_error), 0.05 * 0.5);
    EXPECT_LT(std::fabs(ra.mean_error), 0.05 * 1.0);
    EXPECT_GE(r.coverage, 0.92);
    EXPECT_LE(r.coverage, 0.98);
    EXPECT_GE(ra.coverage, 0.92);
    EXPECT_LE(ra.coverage, 0.98);
    // Whitened residuals are white; the AR estimate is near the truth.
    const auto s = g::residual_autocorrelation_summary(f);
    EXPECT_LT(std::fabs(s.mean[0]), 0.03) << s.mean[0];
    EXPECT_NEAR(f.ar.row(0).mean(), 0.4, 0.03);
  }
  // nilearn's uncorrected estimate is biased low (residuals of a 12-column design, n = 200).
  g::FitParams nl;
  nl.ar_bias_correction = false;
  const double nl_rho = g::fit(bold, d, nl).ar.row(0).mean();
  std::printf("ar1 mean coefficient: nilearn-style (uncorrected) %.3f, truth 0.4\n", nl_rho);
  EXPECT_LT(nl_rho, 0.37);
  g::FitParams ols;
  ols.noise_model = g::NoiseModel::ols;
  const auto s = g::residual_autocorrelation_summary(g::fit(bold, d, ols));
  EXPECT_GT(s.mean[0], 0.3); // OLS leaves the AR(1) structure in the residuals
}

TEST(Fit, NullFalsePositiveRates) {
  // 100k voxels (50x50x40, 3 mm), 200 volumes, no task effect, AR(1) noise whose coefficient
  // varies smoothly over space between 0.1 and 0.5. One-sided p < 0.001 for "a - b": nominal 100.
  const auto d = task_design(200, 31);
  auto rho = [](std::int64_t x, std::int64_t y, std::int64_t z) {
    return 0.3 + 0.2 * std::sin(2 * M_PI * x / 50.0) * std::cos(2 * M_PI * (y + z) / 60.0);
  };
  const auto bold = simulate(d, {50, 50, 40}, 0.0, 0.0, rho, 32);
  const double nominal = 0.001 * 100000;
  for (int m = 0; m < 4; ++m) {
    const auto model = m == 0 ? g::NoiseModel::ols : m == 3 ? g::NoiseModel::arp : g::NoiseModel::ar1;
    const bool nilearn_style = m == 1;
    g::FitParams fp;
    fp.noise_model = model;
    fp.ar_order = 2;
    fp.diagnostics = false;
    fp.ar_bias_correction = !nilearn_style;
    const auto f = g::fit(bold, d, fp);
    int pos = 0, neg = 0;
    for (const char* con : {"a - b", "a"}) {
      const auto c = g::contrast(f, con);
      for (Eigen::Index v = 0; v < c.p.size(); ++v) pos += c.p(v)<0.001, neg += c.p(v)> 0.999;
    }
    // Four one-sided tests (two contrasts, two tails) per voxel.
    const double rate = (pos + neg) / (4.0 * nominal);
    const char* name = m == 0   ? "ols"
                       : m == 1 ? "ar1 (nilearn, uncorrected)"
                       : m == 2 ? "ar1 (bias-corrected)"
                                : "arp(2)";
    std::printf(
        "null FPR %s: %d positive + %d negative tails at p<0.001 over 4 x 100k tests: %.2fx nominal\n", name,
        pos, neg, rate);
    if (nilearn_style) {
      EXPECT_LE(rate, 2.0) << name; // reported; slightly inflated by the AR bias
    } else if (model != g::NoiseModel::ols) {
      EXPECT_GE(rate, 0.5) << name;
      EXPECT_LE(rate, 1.5) << name;
    } else {
      EXPECT_GT(rate, 1.5); // OLS ignores the autocorrelation: inflated
    }
  }
}

TEST(Fit, StreamingAndMaskMatchInMemory) {
  const auto d = task_design(120, 41);
  const auto bold = simulate(
      d, {12, 10, 6}, 1.0, 0.5, [](auto x, auto, auto) { return 0.1 + 0.03 * x; }, 42);
  const auto nv = bold.voxels_per_volume();
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(nv), 1);
  for (std::int64_t i = 0; i < nv; i += 3) mask[static_cast<std::size_t>(i)] = 0;
  for (auto model : {g::NoiseModel::ols, g::NoiseModel::ar1, g::NoiseModel::arp}) {
    g::FitParams fp;
    fp.noise_model = model;
    fp.chunk_voxels = 37;
    const auto a = g::fit(bold, d, fp, mask);
    int calls = 0;
    g::ChunkReader reader = [&](std::int64_t first, std::int64_t count, std::span<float> out) {
      ++calls;
      ASSERT_EQ(static_cast<std::int64_t>(out.size()), count * bold.volumes());
      for (std::int64_t t = 0; t < bold.volumes(); ++t)
        for (std::int64_t j = 0; j < count; ++j)
          out[static_cast<std::size_t>(t * count + j)] =
              bold.data()[static_cast<std::size_t>(t * nv + first + j)];
    };
    const auto b = g::fit_streaming(nv, reader, d, fp, bold.grid(), mask);
    EXPECT_GT(calls, 1);
    ASSERT_EQ(a.series(), b.series());
    EXPECT_EQ(a.series(), nv - (nv + 2) / 3);
    EXPECT_LT((a.beta - b.beta).cwiseAbs().maxCoeff(), 1e-9);
    EXPECT_LT((a.sigma2 - b.sigma2).cwiseAbs().maxCoeff(), 1e-9);
    // A different chunking gives the same numbers (results independent of chunks and threads).
    fp.chunk_voxels = 1000;
    const auto c = g::fit(bold, d, fp, mask);
    EXPECT_LT((a.beta - c.beta).cwiseAbs().maxCoeff(), 1e-9);
    // Maps back onto the grid.
    const auto vol = g::to_volume(a, a.sigma2, -1.0f);
    EXPECT_EQ(vol.data()[0], -1.0f);
    EXPECT_NEAR(vol.data()[1], a.sigma2(0), 1e-4);
  }
}

// A run kept as int16 (as a NIfTI file stores it, io::read_nifti_int16) is converted while the
// fit gathers it: the fit equals, bit for bit, the fit of the float copy read_nifti would make,
// for every model, with and without scl_slope/scl_inter, with a mask that breaks the voxel runs.
TEST(Fit, Int16SamplesGiveTheFitOfTheirFloatCopy) {
  const auto d = task_design(120, 43);
  const auto bold = simulate(
      d, {12, 10, 6}, 1.0, 0.5, [](auto x, auto, auto) { return 0.1 + 0.03 * x; }, 44);
  const auto nv = bold.voxels_per_volume();
  std::vector<std::uint8_t> holes(static_cast<std::size_t>(nv), 1);
  for (std::int64_t i = 0; i < nv; i += 3) holes[static_cast<std::size_t>(i)] = 0;
  for (const auto& [slope, inter] : {std::pair{0.0, 0.0}, std::pair{0.1, -3.3}}) {
    std::vector<std::int16_t> raw(bold.size());
    rewardpath::Volume copy(bold.grid(), bold.volumes());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const double x = bold.data()[i];
      raw[i] = static_cast<std::int16_t>(std::lround(slope != 0.0 ? (x - inter) / slope : 8.0 * x));
      const double r = raw[i];
      copy.data()[i] = static_cast<float>(slope != 0.0 ? r * slope + inter : r); // io's conversion
    }
    const auto view = g::series_view(raw.data(), bold.volumes(), bold.grid(), slope, inter);
    for (auto model : {g::NoiseModel::ols, g::NoiseModel::ar1, g::NoiseModel::arp}) {
      for (const bool holed : {true, false}) {
        SCOPED_TRACE(testing::Message() << "slope " << slope << " model " << static_cast<int>(model)
                                        << (holed ? " holed mask" : " no mask"));
        g::FitParams fp;
        fp.noise_model = model;
        fp.chunk_voxels = 53;
        const auto m = holed ? std::span<const std::uint8_t>(holes) : std::span<const std::uint8_t>{};
        const auto a = g::fit(copy, d, fp, m);
        const auto b = g::fit(view, d, fp, bold.grid(), m);
        ASSERT_EQ(a.series(), b.series());
        EXPECT_EQ(a.beta, b.beta);
        EXPECT_EQ(a.sigma2, b.sigma2);
        EXPECT_EQ(a.ar, b.ar);
        EXPECT_EQ(a.residual_acf, b.residual_acf);
        EXPECT_EQ(a.voxel_index, b.voxel_index);
      }
    }
  }
  g::SeriesView neither;
  neither.times = bold.volumes();
  EXPECT_THROW(g::fit(neither, d), rewardpath::Error);
  EXPECT_THROW(g::fit(g::series_view(bold), d, {}, std::nullopt, holes), rewardpath::Error); // mask, no grid
}

TEST(Fit, OlsMatchesDirectSolution) {
  // One series: beta = (X'X)^-1 X'y, sigma2 = RSS / (n - k), t by hand.
  const auto d = task_design(150, 51);
  std::mt19937_64 rng(52);
  std::normal_distribution<double> z;
  Eigen::MatrixXd y(150, 2);
  for (int t = 0; t < 150; ++t) y(t, 0) = 3 * d.matrix(t, 0) + z(rng) + 50, y(t, 1) = z(rng);
  g::FitParams fp;
  fp.noise_model = g::NoiseModel::ols;
  const auto f = g::fit(y, d, fp);
  const Eigen::MatrixXd xtx_inv = (d.matrix.transpose() * d.matrix).inverse();
  const Eigen::VectorXd b = xtx_inv * d.matrix.transpose() * y.col(0).cast<float>().cast<double>();
  EXPECT_LT((f.beta.col(0) - b).cwiseAbs().maxCoeff(), 1e-6);
  const Eigen::VectorXd r = y.col(0).cast<float>().cast<double>() - d.matrix * b;
  const double s2 = r.squaredNorm() / (150.0 - static_cast<double>(d.cols()));
  EXPECT_NEAR(f.sigma2(0), s2, 1e-6 * s2);
  const auto c = g::contrast(f, "a - b");
  const double eff = b(0) - b(1);
  const double var = s2 * (xtx_inv(0, 0) + xtx_inv(1, 1) - 2 * xtx_inv(0, 1));
  EXPECT_NEAR(c.effect(0, 0), eff, 1e-6);
  EXPECT_NEAR(c.stat(0), eff / std::sqrt(var), 1e-6);
  // F with one row = t^2, same two-sided p.
  const auto fc = g::contrast(f, std::vector<std::string>{"a - b"});
  EXPECT_NEAR(fc.stat(0), c.stat(0) * c.stat(0), 1e-6);
  const double two_sided = 2 * std::min(c.p(0), 1 - c.p(0));
  EXPECT_NEAR(fc.p(0), two_sided, 1e-9);
  const auto f2 = g::contrast(f, std::vector<std::string>{"a", "b"});
  EXPECT_EQ(f2.dof_num, 2.0);
  EXPECT_GT(f2.stat(0), 10.0); // a = 3 is strong
  EXPECT_THROW(g::contrast(f, std::vector<std::string>{"a", "2*a"}), rewardpath::Error);
}

TEST(Fit, FixedEffectsCombineRuns) {
  const auto d1 = task_design(150, 61), d2 = task_design(150, 62);
  const auto b1 = simulate(
      d1, {20, 20, 1}, 1.0, 0.5, [](auto, auto, auto) { return 0.3; }, 63);
  const auto b2 = simulate(
      d2, {20, 20, 1}, 1.0, 0.5, [](auto, auto, auto) { return 0.3; }, 64);
  const auto c1 = g::contrast(g::fit(b1, d1), "a - b"), c2 = g::contrast(g::fit(b2, d2), "a - b");
  const auto fe = g::fixed_effects({c1, c2});
  EXPECT_EQ(fe.dof, c1.dof + c2.dof);
  for (Eigen::Index v = 0; v < 5; ++v) {
    const double w1 = 1 / c1.variance(0, v), w2 = 1 / c2.variance(0, v);
    EXPECT_NEAR(fe.effect(0, v), (w1 * c1.effect(0, v) + w2 * c2.effect(0, v)) / (w1 + w2), 1e-12);
    EXPECT_NEAR(fe.variance(0, v), 1 / (w1 + w2), 1e-12);
    EXPECT_NEAR(fe.stat(v), fe.effect(0, v) / std::sqrt(fe.variance(0, v)), 1e-9);
  }
  // Coverage of the combined interval.
  EXPECT_GE(recovery(fe, 0.5).coverage, 0.9);
}

TEST(Fit, AutocovarianceBiasMatrixMatchesExplicitTraces) {
  const auto d = task_design(60, 71);
  const Eigen::MatrixXd x = d.matrix;
  const Eigen::MatrixXd r =
      Eigen::MatrixXd::Identity(60, 60) - x * (x.transpose() * x).inverse() * x.transpose();
  const auto m = g::autocovariance_bias_matrix(x, 2);
  for (int j = 0; j <= 2; ++j)
    for (int l = 0; l <= 2; ++l) {
      Eigen::MatrixXd dj = Eigen::MatrixXd::Zero(60, 60), sl = Eigen::MatrixXd::Zero(60, 60);
      for (int t = 0; t + j < 60; ++t) dj(t, t + j) = 1;
      for (int t = 0; t + l < 60; ++t) sl(t, t + l) = 1, sl(t + l, t) = 1;
      if (l == 0) sl = Eigen::MatrixXd::Identity(60, 60);
      EXPECT_NEAR(m(j, l), (r * dj * r * sl).trace(), 1e-9) << j << " " << l;
    }
  const std::vector<double> rr{0.5, 0.25};
  const auto a = g::yule_walker(rr);
  EXPECT_NEAR(a(0), 0.5, 1e-12);
  EXPECT_NEAR(a(1), 0.0, 1e-12);
}
