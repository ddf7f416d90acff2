#include <cmath>
#include <gtest/gtest.h>
#include <numeric>
#include <random>

#include "rewardpath/core/error.hpp"
#include "rewardpath/timeseries/roi_signal.hpp"

namespace rp = rewardpath;
using rp::timeseries::extract;
using rp::timeseries::first_eigenvariate;
using rp::timeseries::RoiLabel;

namespace {

rp::Grid grid(std::int64_t nx, std::int64_t ny, std::int64_t nz) {
  rp::Grid g;
  g.dims = {nx, ny, nz};
  g.spacing_mm = {2, 2, 2};
  for (int a = 0; a < 3; ++a) g.affine[a][a] = 2.0;
  return g;
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n;
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

} // namespace

// Rank one after centring: Y = 100 + a b'. Worked by hand: the first singular triplet of a b' is
// (a/|a|, |a||b|, b/|b|), so the eigenvariate is a |b| / sqrt(voxels), signed by sum(b).
TEST(RoiSignal, EigenvariateOfRankOneDataIsTheHandDerivedVector) {
  const std::vector<double> a{1.0, -2.0, 0.5, 3.0, -2.5}; // mean zero
  const std::vector<double> b{2.0, 1.0, -0.5};            // sum > 0
  std::vector<double> y;
  for (double ai : a)
    for (double bj : b) y.push_back(100.0 + ai * bj);
  const double norm_b = std::sqrt(4.0 + 1.0 + 0.25);
  const auto e = first_eigenvariate(y, 5, 3);
  ASSERT_EQ(e.size(), 5u);
  for (std::size_t t = 0; t < a.size(); ++t) EXPECT_NEAR(e[t], a[t] * norm_b / std::sqrt(3.0), 1e-10);

  // Flipping the voxel weights' sign flips the data, and the sign convention keeps sum(v) >= 0.
  std::vector<double> y2;
  for (double ai : a)
    for (double bj : b) y2.push_back(100.0 - ai * bj);
  const auto e2 = first_eigenvariate(y2, 5, 3);
  for (std::size_t t = 0; t < a.size(); ++t) EXPECT_NEAR(e2[t], -a[t] * norm_b / std::sqrt(3.0), 1e-10);
}

TEST(RoiSignal, EigenvariateUsesTheSmallerGramMatrixConsistently) {
  // More voxels than times and the transpose case agree with the rank-one answer.
  const std::vector<double> a{1.0, -1.0, 2.0}; // 3 times, not mean zero: centring removes the mean
  std::vector<double> b(40);
  for (std::size_t j = 0; j < b.size(); ++j) b[j] = 0.5 + 0.01 * static_cast<double>(j);
  std::vector<double> y;
  for (double ai : a)
    for (double bj : b) y.push_back(ai * bj);
  const double mean_a = 2.0 / 3.0;
  double nb = 0;
  for (double bj : b) nb += bj * bj;
  const auto e = first_eigenvariate(y, 3, 40);
  for (std::size_t t = 0; t < 3; ++t) EXPECT_NEAR(e[t], (a[t] - mean_a) * std::sqrt(nb / 40.0), 1e-9);
}

TEST(RoiSignal, MeanAndEigenvariateOfLabelledRegions) {
  rp::Grid g = grid(4, 3, 2);
  const std::int64_t nt = 60;
  rp::Volume run(g, nt, 0.0f);
  rp::Volume labels(g, 1, 0.0f);
  // ROI 1: voxels 0..5 carry 50 + w_v s(t) + noise with weights of both signs; ROI 2: voxel 20 constant.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.05);
  std::vector<double> s(nt);
  for (std::int64_t t = 0; t < nt; ++t) s[t] = std::sin(0.3 * static_cast<double>(t));
  const std::vector<double> w{1.0, 0.8, -0.6, 1.2, 0.9, -0.3};
  for (int v = 0; v < 6; ++v) labels.data()[v] = 1.0f;
  labels.data()[20] = 2.0f;
  for (std::int64_t t = 0; t < nt; ++t) {
    for (int v = 0; v < 6; ++v) run.data()[t * 24 + v] = static_cast<float>(50.0 + w[v] * s[t] + noise(rng));
    run.data()[t * 24 + 20] = 7.0f;
  }
  const auto r = extract(run, labels, {RoiLabel{1, "A"}, RoiLabel{2, "B"}});
  ASSERT_EQ(r.names.size(), 2u);
  EXPECT_EQ(r.voxels[0], 6);
  EXPECT_EQ(r.voxels[1], 1);
  for (std::int64_t t = 0; t < nt; ++t) {
    double m = 0;
    for (int v = 0; v < 6; ++v) m += run.data()[t * 24 + v];
    EXPECT_NEAR(r.mean[0][t], m / 6.0, 1e-9);
    EXPECT_DOUBLE_EQ(r.mean[1][t], 7.0);
    EXPECT_DOUBLE_EQ(r.eigenvariate[1][t], 0.0);
  }
  // Mixed-sign weights: the eigenvariate follows s almost perfectly; the mean is diluted by
  // cancellation (its correlation also stays positive, weights sum to 3.0).
  EXPECT_GT(correlation(r.eigenvariate[0], s), 0.999);
  EXPECT_GT(correlation(r.mean[0], s), 0.99);

  // A mask that removes voxels 0..2 changes ROI A's mean to the remaining voxels.
  std::vector<std::uint8_t> mask(24, 1);
  mask[0] = mask[1] = mask[2] = 0;
  const auto rm = extract(run, labels, {RoiLabel{1, "A"}}, mask);
  EXPECT_EQ(rm.voxels[0], 3);
  double m0 = 0;
  for (int v = 3; v < 6; ++v) m0 += run.data()[v];
  EXPECT_NEAR(rm.mean[0][0], m0 / 3.0, 1e-9);
}

TEST(RoiSignal, BadInputIsAClearError) {
  rp::Grid g = grid(4, 3, 2);
  rp::Volume run(g, 5, 1.0f);
  rp::Volume labels(g, 1, 0.0f);
  labels.data()[3] = 1.0f;
  // Labels on another grid.
  rp::Grid other = grid(4, 3, 3);
  rp::Volume wrong(other, 1, 1.0f);
  EXPECT_THROW(extract(run, wrong, {RoiLabel{1, "A"}}), rp::Error);
  // Non-finite data in an ROI.
  run.data()[2 * 24 + 3] = std::nanf("");
  try {
    extract(run, labels, {RoiLabel{1, "A"}});
    FAIL() << "expected an error";
  } catch (const rp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("volume 2"), std::string::npos) << e.what();
  }
}

// An ROI with no voxel in the mask (dropout, field of view) or none in the image at all keeps its
// place with voxels 0, NaN series and a reason; the other ROIs are as before. Hand-computed: voxel v
// at volume t holds v + 10 t, so the mean of voxels {a..b} is (a + b) / 2 + 10 t.
TEST(RoiSignal, RoiOutsideTheMaskIsKeptWithoutData) {
  rp::Grid g = grid(4, 3, 2);
  const std::int64_t nt = 5;
  rp::Volume run(g, nt, 0.0f);
  for (std::int64_t t = 0; t < nt; ++t)
    for (int v = 0; v < 24; ++v) run.data()[t * 24 + v] = static_cast<float>(v + 10 * t);
  rp::Volume labels(g, 1, 0.0f);
  for (int v = 0; v <= 3; ++v) labels.data()[v] = 1.0f;   // A: voxels 0..3
  for (int v = 10; v <= 11; ++v) labels.data()[v] = 2.0f; // B: voxels 10..11
  for (int v = 20; v <= 22; ++v) labels.data()[v] = 3.0f; // Lost: voxels 20..22, all outside the mask
  std::vector<std::uint8_t> mask(24, 1);
  for (int v = 20; v < 24; ++v) mask[v] = 0;
  // Outside the mask the data are never read (no "non-finite" error for them).
  for (std::int64_t t = 0; t < nt; ++t) run.data()[t * 24 + 21] = std::nanf("");
  const auto r = extract(
      run, labels, {RoiLabel{1, "A"}, RoiLabel{3, "Lost"}, RoiLabel{2, "B"}, RoiLabel{9, "Absent"}}, mask);
  ASSERT_EQ(r.names, (std::vector<std::string>{"A", "Lost", "B", "Absent"}));
  EXPECT_EQ(r.voxels, (std::vector<std::int64_t>{4, 0, 2, 0}));
  ASSERT_EQ(r.mean.size(), 4u);
  ASSERT_EQ(r.eigenvariate.size(), 4u);
  ASSERT_EQ(r.missing.size(), 4u);
  EXPECT_EQ(r.times(), nt);
  for (std::size_t k : {1u, 3u}) {
    EXPECT_FALSE(r.has_data(k));
    ASSERT_EQ(r.mean[k].size(), static_cast<std::size_t>(nt));
    ASSERT_EQ(r.eigenvariate[k].size(), static_cast<std::size_t>(nt));
    for (std::int64_t t = 0; t < nt; ++t) {
      EXPECT_TRUE(std::isnan(r.mean[k][t]));
      EXPECT_TRUE(std::isnan(r.eigenvariate[k][t]));
    }
  }
  EXPECT_TRUE(r.has_data(0) && r.has_data(2));
  EXPECT_EQ(r.missing[0], "");
  EXPECT_EQ(r.missing[2], "");
  EXPECT_NE(r.missing[1].find("all 3 voxel(s) of label 3 are outside the run's brain mask"),
            std::string::npos)
      << r.missing[1];
  EXPECT_NE(r.missing[3].find("label 9 has no voxel in the run's image (outside its field of view"),
            std::string::npos)
      << r.missing[3];
  for (std::int64_t t = 0; t < nt; ++t) {
    EXPECT_DOUBLE_EQ(r.mean[0][t], 1.5 + 10.0 * static_cast<double>(t));
    EXPECT_DOUBLE_EQ(r.mean[2][t], 10.5 + 10.0 * static_cast<double>(t));
  }
  // Every ROI lost: still no error, every column without data.
  const std::vector<std::uint8_t> none(24, 0);
  const auto all = extract(run, labels, {RoiLabel{1, "A"}, RoiLabel{2, "B"}}, none);
  EXPECT_EQ(all.voxels, (std::vector<std::int64_t>{0, 0}));
  EXPECT_EQ(all.times(), nt);
}

// Two labels pooled: the mean is over all their voxels (voxel-weighted), not the mean of the two
// label means; a group whose labels are absent is kept without data.
TEST(RoiSignal, PooledLabelsGiveTheVoxelWeightedMean) {
  rp::Grid g = grid(4, 3, 2);
  rp::Volume run(g, 2, 0.0f);
  rp::Volume labels(g, 1, 0.0f);
  labels.data()[0] = 1.0f; // label 1: one voxel of 10
  labels.data()[1] = 2.0f; // label 2: three voxels of 2
  labels.data()[2] = 2.0f;
  labels.data()[3] = 2.0f;
  for (int t = 0; t < 2; ++t) {
    run.data()[t * 24 + 0] = 10.0f + static_cast<float>(t);
    for (int v = 1; v < 4; ++v) run.data()[t * 24 + v] = 2.0f;
  }
  const auto r =
      rp::timeseries::extract_pooled(run, labels, {{"both", {1, 2}}, {"one", {2}}, {"absent", {7, 8}}});
  ASSERT_EQ(r.names.size(), 3u);
  EXPECT_EQ(r.voxels[0], 4);
  EXPECT_DOUBLE_EQ(r.mean[0][0], (10.0 + 3 * 2.0) / 4.0); // 4, not (10 + 2) / 2 = 6
  EXPECT_DOUBLE_EQ(r.mean[0][1], (11.0 + 3 * 2.0) / 4.0);
  EXPECT_EQ(r.voxels[1], 3);
  EXPECT_DOUBLE_EQ(r.mean[1][0], 2.0);
  EXPECT_EQ(r.voxels[2], 0);
  EXPECT_TRUE(std::isnan(r.mean[2][0]));
  EXPECT_NE(r.missing[2].find("labels 7+8"), std::string::npos) << r.missing[2];
  // A single-label group equals extract's ROI.
  const auto single = extract(run, labels, {RoiLabel{2, "one"}});
  EXPECT_EQ(single.mean[0], r.mean[1]);
}
