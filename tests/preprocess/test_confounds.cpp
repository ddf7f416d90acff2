// FD, DVARS, std_dvars and global signal: hand-derived tiny cases and a null AR(1) simulation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "rewardpath/core/error.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/preprocess/confounds.hpp"
#include "temp_dir.hpp"

namespace pp = rewardpath::preprocess;
using rewardpath::Grid;
using rewardpath::Volume;

TEST(Confounds, FramewiseDisplacementByHand) {
  // 1 mm in x and 0.01 rad about x: 1 + 50 * 0.01 = 1.5 mm; then 0.5 mm in y and -0.02 rad about z:
  // 0.5 + 50 * 0.02 = 1.5 mm; then nothing.
  const std::vector<pp::RigidParams> p{
      {0, 0, 0, 0, 0, 0}, {1, 0, 0, 0.01, 0, 0}, {1, 0.5, 0, 0.01, 0, -0.02}, {1, 0.5, 0, 0.01, 0, -0.02}};
  const auto fd = pp::framewise_displacement(p);
  ASSERT_EQ(fd.size(), 4u);
  EXPECT_TRUE(std::isnan(fd[0]));
  EXPECT_NEAR(fd[1], 1.5, 1e-12);
  EXPECT_NEAR(fd[2], 1.5, 1e-12);
  EXPECT_NEAR(fd[3], 0.0, 1e-12);
  EXPECT_NEAR(pp::framewise_displacement(p, 80.0)[1], 1.8, 1e-12);
}

namespace {
// Two voxels, three volumes: voxel 0 = 10, 12, 9; voxel 1 = 20, 20, 24.
Volume two_voxels() {
  Grid g;
  g.dims = {2, 1, 1};
  Volume v(g, 3);
  const float vals[3][2] = {{10, 20}, {12, 20}, {9, 24}};
  for (int t = 0; t < 3; ++t)
    for (int i = 0; i < 2; ++i) v.at(i, 0, 0, t) = vals[t][i];
  v.set_time_step_s(2.0);
  return v;
}
} // namespace

TEST(Confounds, DvarsAndGlobalSignalOnTwoVoxels) {
  const auto v = two_voxels();
  const auto d = pp::dvars(v, {});
  EXPECT_TRUE(std::isnan(d.dvars[0]));
  EXPECT_NEAR(d.dvars[1], std::sqrt((4.0 + 0.0) / 2.0), 1e-12);  // differences (2, 0)
  EXPECT_NEAR(d.dvars[2], std::sqrt((9.0 + 16.0) / 2.0), 1e-12); // differences (-3, 4)
  // std_dvars by hand. Voxel 0: sorted 9, 10, 12; "lower" quartiles are elements floor(0.25*2) = 0
  // and floor(0.75*2) = 1: IQR 1, sd 1/1.349. Demeaned a = (-1/3, 5/3, -4/3): r0 = 42/9, r1 =
  // (-5/9 - 20/9) = -25/9, rho = -25/42. Voxel 1: IQR 20 - 20 = 0: left out (zero variance).
  const double sd = 1.0 / 1.349, rho = -25.0 / 42.0;
  const double expected = sd * std::sqrt(2.0 * (1.0 - rho));
  EXPECT_NEAR(d.expected, expected, 1e-12);
  EXPECT_NEAR(d.std_dvars[1], std::sqrt(2.0) / expected, 1e-12);
  // Scaling the median to 1000 (nipype's default) scales dvars, not std_dvars. Median of all 6 = 16.
  pp::DvarsParams np;
  np.normalise_median_to = 1000.0;
  const auto dn = pp::dvars(v, {}, np);
  EXPECT_NEAR(dn.dvars[1], std::sqrt(2.0) * 1000.0 / 16.0, 1e-9);
  EXPECT_NEAR(dn.std_dvars[1], d.std_dvars[1], 1e-12);
  // Mask: voxel 1 only.
  const auto d1 = pp::dvars(v, {0, 1});
  EXPECT_NEAR(d1.dvars[2], 4.0, 1e-12);
  const auto gs = pp::global_signal(v, {});
  EXPECT_NEAR(gs[0], 15.0, 1e-12);
  EXPECT_NEAR(gs[1], 16.0, 1e-12);
  EXPECT_NEAR(gs[2], 16.5, 1e-12);
}

// Null data: every voxel AR(1) (phi in [0, 0.6], sd in [8, 12]) around a mean of 1000; DVARS
// standardised by its AR(1) expectation should be ~1 (the residual excess is sqrt(mean sd^2) /
// mean sd ~ 1.003 from the sd spread, and the Yule-Walker bias ~ -(1 + 4 phi) / n).
TEST(Confounds, StdDvarsIsOneUnderAr1Null) {
  Grid g;
  g.dims = {40, 50, 1};
  const int nt = 400;
  Volume v(g, nt);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> z;
  std::uniform_real_distribution<double> u;
  const auto nv = static_cast<std::size_t>(g.voxel_count());
  for (std::size_t i = 0; i < nv; ++i) {
    const double phi = 0.6 * u(rng), sd = 8.0 + 4.0 * u(rng);
    double e = z(rng);
    for (int t = 0; t < nt; ++t) {
      if (t > 0) e = phi * e + std::sqrt(1 - phi * phi) * z(rng);
      v.data()[static_cast<std::size_t>(t) * nv + i] = static_cast<float>(1000.0 + sd * e);
    }
  }
  const auto d = pp::dvars(v, {});
  double mean = 0;
  for (int t = 1; t < nt; ++t) mean += d.std_dvars[static_cast<std::size_t>(t)] / (nt - 1);
  std::printf("mean std_dvars under the AR(1) null: %.4f\n", mean);
  EXPECT_NEAR(mean, 1.0, 0.03);
  // A volume with a spike: std_dvars far above 1 at the spike and the volume after.
  for (std::size_t i = 0; i < nv; ++i) v.data()[200 * nv + i] += 30.0f;
  const auto ds = pp::dvars(v, {});
  EXPECT_GT(ds.std_dvars[200], 2.5);
  EXPECT_GT(ds.std_dvars[201], 2.5);
}

TEST(Confounds, TableAndTsvWithNaForFirstRow) {
  const auto v = two_voxels();
  const std::vector<pp::RigidParams> p{{0, 0, 0, 0, 0, 0}, {1, 0, 0, 0.01, 0, 0}, {1, 0, 0, 0.01, 0, 0}};
  const auto t = pp::confounds(v, p, {});
  const std::vector<std::string> want{"global_signal", "std_dvars", "dvars",   "framewise_displacement",
                                      "trans_x",       "trans_y",   "trans_z", "rot_x",
                                      "rot_y",         "rot_z"};
  EXPECT_EQ(t.names, want);
  EXPECT_EQ(t.rows(), 3u);
  EXPECT_NEAR(t.column("framewise_displacement")[1], 1.5, 1e-12);
  rewardpath::testdata::TempDir dir("rp_preproc");
  pp::write_confounds_tsv(dir / "confounds.tsv", t);
  const auto back = rewardpath::io::read_tsv(dir / "confounds.tsv");
  EXPECT_EQ(back.columns(), want);
  ASSERT_EQ(back.row_count(), 3u);
  EXPECT_EQ(back.cell(0, back.require_column("framewise_displacement")), "n/a");
  EXPECT_EQ(back.cell(0, back.require_column("dvars")), "n/a");
  EXPECT_EQ(back.cell(0, back.require_column("trans_x")), "0");
  EXPECT_NEAR(back.number(1, back.require_column("rot_x")), 0.01, 1e-15);
  EXPECT_THROW(t.column("csf"), rewardpath::Error);
  EXPECT_THROW(pp::confounds(v, {p[0], p[1]}, {}), rewardpath::Error); // rows differ
  EXPECT_THROW(pp::dvars(v, {0, 0}), rewardpath::Error);               // empty mask
  EXPECT_THROW(pp::dvars(v, {1, 1, 1}), rewardpath::Error);            // wrong size
}
