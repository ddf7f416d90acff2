// The nonlinear stage's metric (internal): analytic gradient against finite differences, and the
// exactness of control-grid refinement.
#include <gtest/gtest.h>

#include <cmath>

#include "bspline_mi.hpp"
#include "reg_cases.hpp"
#include "rewardpath/core/resample.hpp"

using namespace rp_reg_test;
using rewardpath::registration::detail::BsplineMattes;
using rewardpath::registration::detail::ControlGrid;

namespace {

// Deterministic pseudo-random coefficients in [-amp, amp].
std::vector<double> random_coef(std::size_t n, double amp, std::uint64_t seed) {
  std::vector<double> c(n);
  std::uint64_t s = seed;
  for (auto& x : c) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = amp * (static_cast<double>(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  return c;
}

} // namespace

TEST(BsplineMetric, GradientMatchesFiniteDifferences) {
  const Volume t1 = load_ch2bet();
  const Volume moving = rewardpath::resample(t1, iso_grid(t1.grid(), 4.0));
  const Case c = make_case(t1, {4, -3, 5, 3, -2, 4}, 4.0);
  // samples: a regular subset of the subject's brain points
  std::vector<Point> samples;
  for (std::size_t i = 0; i < c.points.size(); i += 3) samples.push_back(c.points[i]);
  const ControlGrid grid = ControlGrid::over(c.subject.grid(), 40.0);
  const BsplineMattes metric(c.subject, moving, samples, c.truth.matrix, grid, 32);
  const auto coef = random_coef(static_cast<std::size_t>(grid.parameters()), 2.0, 7);
  std::vector<double> g;
  const double v = metric.evaluate(coef, &g);
  ASSERT_EQ(g.size(), coef.size());
  EXPECT_LT(v, -0.3); // near alignment: plenty of shared information

  // directional derivatives along random directions, and single coefficients with large gradients
  int checked = 0;
  for (int trial = 0; trial < 4; ++trial) {
    const auto dir = random_coef(coef.size(), 1.0, 100 + static_cast<std::uint64_t>(trial));
    double analytic = 0;
    for (std::size_t i = 0; i < dir.size(); ++i) analytic += g[i] * dir[i];
    const double h = 1e-4;
    auto plus = coef, minus = coef;
    for (std::size_t i = 0; i < dir.size(); ++i) plus[i] += h * dir[i], minus[i] -= h * dir[i];
    const double numeric = (metric.evaluate(plus, nullptr) - metric.evaluate(minus, nullptr)) / (2 * h);
    EXPECT_NEAR(analytic, numeric, 0.02 * std::abs(numeric) + 1e-6) << "direction " << trial;
    ++checked;
  }
  std::vector<std::size_t> idx(g.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::partial_sort(idx.begin(), idx.begin() + 5, idx.end(),
                    [&](std::size_t a, std::size_t b) { return std::abs(g[a]) > std::abs(g[b]); });
  for (int k = 0; k < 5; ++k) {
    const std::size_t i = idx[static_cast<std::size_t>(k)];
    const double h = 1e-3;
    auto plus = coef, minus = coef;
    plus[i] += h;
    minus[i] -= h;
    const double numeric = (metric.evaluate(plus, nullptr) - metric.evaluate(minus, nullptr)) / (2 * h);
    EXPECT_NEAR(g[i], numeric, 0.03 * std::abs(numeric) + 1e-7) << "coefficient " << i;
    ++checked;
  }
  EXPECT_EQ(checked, 9);
}

TEST(BsplineMetric, RefinementIsExact) {
  const Grid fixed = centred_grid({50, 60, 45}, 2.0, {0, -18, 18}, "x");
  const ControlGrid coarse = ControlGrid::over(fixed, 40.0);
  const ControlGrid fine = coarse.refined();
  EXPECT_DOUBLE_EQ(fine.spacing_mm[0], 20.0);
  const auto coef = random_coef(static_cast<std::size_t>(coarse.parameters()), 5.0, 3);
  const auto refined = rewardpath::registration::detail::refine(coarse, coef, fine);
  ASSERT_EQ(static_cast<std::int64_t>(refined.size()), fine.parameters());
  double worst = 0;
  for (std::int64_t k = 0; k < 45; k += 4)
    for (std::int64_t j = 0; j < 60; j += 5)
      for (std::int64_t i = 0; i < 50; i += 3) {
        const Point p = fixed.to_world(i + 0.3, j - 0.2, k + 0.45);
        const Point a = coarse.displacement(coef, p), b = fine.displacement(refined, p);
        for (int x = 0; x < 3; ++x)
          worst = std::max(worst, std::abs(a[static_cast<std::size_t>(x)] - b[static_cast<std::size_t>(x)]));
      }
  EXPECT_LT(worst, 1e-9);
}
