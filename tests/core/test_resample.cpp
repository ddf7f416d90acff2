#include <gtest/gtest.h>

#include <cmath>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"

using namespace rewardpath;

namespace {
Grid grid(std::int64_t n, double mm) {
  Grid g;
  g.dims = {n, n, n};
  g.spacing_mm = {mm, mm, mm};
  g.affine = identity_affine();
  for (int i = 0; i < 3; ++i) {
    g.affine[i][i] = mm;
    g.affine[i][3] = -mm * static_cast<double>(n - 1) / 2.0;
  }
  return g;
}
// A linear function of world position: trilinear interpolation reproduces it exactly.
float linear_field(const std::array<double, 3>& w) {
  return static_cast<float>(2.0 * w[0] - 3.0 * w[1] + 0.5 * w[2] + 7.0);
}
} // namespace

TEST(Affine, InverseTimesAffineIsIdentity) {
  Affine a = {{{0.9, -0.2, 0.1, 5}, {0.25, 1.1, -0.05, -3}, {-0.1, 0.15, 0.95, 12}, {0, 0, 0, 1}}};
  const Affine p = multiply(a, invert(a));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(p[i][j], i == j ? 1.0 : 0.0, 1e-12);
  Affine singular{};
  EXPECT_THROW(invert(singular), Error);
}

TEST(Resample, LinearFieldIsReproducedUnderRotationAndResolutionChange) {
  const Grid src_grid = grid(40, 2.0);
  Volume src(src_grid, 1);
  for (std::int64_t k = 0; k < 40; ++k)
    for (std::int64_t j = 0; j < 40; ++j)
      for (std::int64_t i = 0; i < 40; ++i)
        src.at(i, j, k) = linear_field(
            src_grid.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)));
  // target world -> source world: 10 degree rotation about z plus a shift
  const double c = std::cos(10 * M_PI / 180), s = std::sin(10 * M_PI / 180);
  const Affine rot = {{{c, -s, 0, 3}, {s, c, 0, -2}, {0, 0, 1, 1}, {0, 0, 0, 1}}};
  const Grid tgt_grid = grid(20, 3.0);
  const Volume out = resample(src, tgt_grid, rot, Interpolation::linear, -1000.0f);
  int checked = 0;
  for (std::int64_t k = 3; k < 17; ++k)
    for (std::int64_t j = 3; j < 17; ++j)
      for (std::int64_t i = 3; i < 17; ++i) {
        const auto w =
            tgt_grid.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
        std::array<double, 3> ws{};
        for (int r = 0; r < 3; ++r)
          ws[r] = rot[r][0] * w[0] + rot[r][1] * w[1] + rot[r][2] * w[2] + rot[r][3];
        EXPECT_NEAR(out.at(i, j, k), linear_field(ws), 1e-3);
        ++checked;
      }
  EXPECT_GT(checked, 2000);
}

TEST(Resample, NearestKeepsLabelsAndOutsideValue) {
  Volume labels(grid(10, 1.0), 1, 0.0f);
  labels.at(5, 5, 5) = 7.0f;
  labels.at(2, 3, 4) = 3.0f;
  const Volume same = resample(labels, labels.grid(), identity_affine(), Interpolation::nearest);
  for (std::size_t i = 0; i < labels.size(); ++i) EXPECT_EQ(same.data()[i], labels.data()[i]);
  Affine shift = identity_affine();
  shift[0][3] = 100.0; // everything maps outside
  const Volume out = resample(labels, labels.grid(), shift, Interpolation::nearest, -1.0f);
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out.data()[i], -1.0f);
}

TEST(Resample, FourDimensionalSourceKeepsVolumes) {
  Volume src(grid(6, 2.0), 3, 0.0f);
  for (std::int64_t t = 0; t < 3; ++t)
    for (auto& v : src.volume(t)) v = static_cast<float>(t + 1);
  src.set_time_step_s(2.5);
  const Volume out = resample(src, grid(4, 3.0));
  ASSERT_EQ(out.volumes(), 3);
  EXPECT_EQ(out.time_step_s(), 2.5);
  EXPECT_FLOAT_EQ(out.at(1, 1, 1, 2), 3.0f);
}
