// Transforms without registration: evaluation, composition, resampling, label warping, files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "reg_cases.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"

using namespace rp_reg_test;
using rewardpath::Error;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path p = fs::temp_directory_path() /
               ("rp_reg_test_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

double dist(const Point& a, const Point& b) {
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                   (a[2] - b[2]) * (a[2] - b[2]));
}

reg::Transform pose_transform(const Pose& p, std::string from = "A", std::string to = "B") {
  reg::Transform t;
  t.from = std::move(from);
  t.to = std::move(to);
  t.matrix = pose_affine(p);
  return t;
}

// A smooth displacement field on a coarse grid around the origin.
reg::Transform warp_transform(const Pose& p, double amplitude, std::string from = "A", std::string to = "B") {
  reg::Transform t = pose_transform(p, std::move(from), std::move(to));
  t.displacement = bump_field(centred_grid({40, 48, 40}, 4.0, {0, -18, 18}, from), amplitude);
  return t;
}

} // namespace

TEST(Transform, LinearApplyIsTheMatrix) {
  const reg::Transform t = pose_transform({10, -5, 7, 3, -4, 5, 1.1, 0.9, 1.0, 0.05});
  const Point p{12, -30, 40};
  const Point q = t.apply(p);
  for (int r = 0; r < 3; ++r)
    EXPECT_NEAR(q[static_cast<std::size_t>(r)],
                t.matrix[r][0] * p[0] + t.matrix[r][1] * p[1] + t.matrix[r][2] * p[2] + t.matrix[r][3],
                1e-12);
}

TEST(Transform, DisplacementActsBeforeTheAffine) {
  reg::Transform t = warp_transform({0, 0, 20, 5, 0, 0}, 4.0);
  const Volume& d = *t.displacement;
  // at a field grid point the displacement is the stored value, exactly
  const Point p = d.grid().to_world(20, 24, 20);
  const auto n = static_cast<std::size_t>(d.voxels_per_volume());
  const std::size_t at = d.index(20, 24, 20);
  const Point moved{p[0] + d.data()[at], p[1] + d.data()[n + at], p[2] + d.data()[2 * n + at]};
  reg::Transform lin = t;
  lin.displacement.reset();
  const Point expected = lin.apply(moved);
  const Point got = t.apply(p);
  EXPECT_LT(dist(got, expected), 1e-5);
  EXPECT_GT(dist(got, lin.apply(p)), 0.5); // the warp does something there
  // outside the field grid the displacement is zero
  EXPECT_LT(dist(t.apply({500, 500, 500}), lin.apply({500, 500, 500})), 1e-12);
}

TEST(Transform, ComposeLinearIsMatrixProductAndChecksSpaces) {
  const reg::Transform a = pose_transform({5, 0, 0, 1, 2, 3}, "bold", "T1w");
  const reg::Transform b = pose_transform({0, -7, 3, -4, 0, 2, 1.05, 1, 0.97}, "T1w", "MNI");
  const reg::Transform c = reg::compose(a, b);
  EXPECT_EQ(c.from, "bold");
  EXPECT_EQ(c.to, "MNI");
  EXPECT_TRUE(c.is_linear());
  for (const Point& p : {Point{0, 0, 0}, Point{30, -40, 20}, Point{-60, 10, -5}})
    EXPECT_LT(dist(c.apply(p), b.apply(a.apply(p))), 1e-10);
  EXPECT_THROW(reg::compose(b, a), Error); // MNI != bold
  const reg::Transform inv = reg::invert_linear(c);
  EXPECT_EQ(inv.from, "MNI");
  EXPECT_LT(dist(inv.apply(c.apply({10, 20, 30})), {10, 20, 30}), 1e-10);
}

TEST(Transform, ComposeWithNonlinearPartsMatchesApplyingInTurn) {
  const reg::Transform lin1 = pose_transform({4, -3, 6, 2, -1, 3}, "A", "B");
  const reg::Transform warp2 = warp_transform({-5, 2, 3, -2, 4, 1, 1.03, 0.98, 1.0}, 4.0, "B", "C");
  const reg::Transform warp1 = warp_transform({2, 2, -4, 1, 1, -2}, 3.0, "A", "B");
  for (const auto& [first, second] :
       {std::pair{&lin1, &warp2}, std::pair{&warp1, &warp2}, std::pair{&warp1, &lin1}}) {
    reg::Transform s = *second;
    s.from = "B";
    if (second == &lin1) s.to = "C";
    const reg::Transform c = reg::compose(*first, s);
    ASSERT_FALSE(c.is_linear());
    double worst = 0;
    const Grid& g = c.displacement->grid();
    for (std::int64_t k = 8; k < g.dims[2] - 8; k += 5)
      for (std::int64_t j = 8; j < g.dims[1] - 8; j += 5)
        for (std::int64_t i = 8; i < g.dims[0] - 8; i += 5) {
          const Point p = g.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
          worst = std::max(worst, dist(c.apply(p), s.apply(first->apply(p))));
          // between grid points the composed field is interpolated: small error for smooth fields
          const Point h = g.to_world(i + 0.5, j + 0.5, k + 0.5);
          EXPECT_LT(dist(c.apply(h), s.apply(first->apply(h))), 0.1);
        }
    EXPECT_LT(worst, 1e-4); // exact at the field's grid points (float storage)
  }
}

TEST(Transform, ApplyTransformLinearIsResampleAndZeroFieldChangesNothing) {
  Grid g = centred_grid({30, 36, 30}, 3.0, {0, -18, 18}, "A");
  Volume v(g, 1);
  for (std::int64_t k = 0; k < 30; ++k)
    for (std::int64_t j = 0; j < 36; ++j)
      for (std::int64_t i = 0; i < 30; ++i)
        v.at(i, j, k) = static_cast<float>(std::sin(0.3 * i) + std::cos(0.2 * j) + 0.1 * k);
  reg::Transform t = pose_transform({6, -4, 9, 3, 2, -1});
  const Grid target = centred_grid({25, 25, 25}, 2.5, {0, -18, 18}, "B");
  const Volume a = reg::apply_transform(v, target, t);
  const Volume b = rewardpath::resample(v, target, t.matrix);
  t.displacement = Volume(centred_grid({10, 10, 10}, 10.0, {0, -18, 18}, "B"), 3, 0.0f);
  const Volume c = reg::apply_transform(v, target, t);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a.data()[i], b.data()[i]);
    EXPECT_NEAR(a.data()[i], c.data()[i], 1e-5);
  }
}

TEST(Transform, FileRoundTripLinearAndNonlinear) {
  const fs::path dir = temp_dir();
  // fixed MNIColin27, moving T1w: the point map template world -> T1w world, which resamples the
  // T1w onto the template, BIDS from-T1w_to-MNIColin27; read back with the same fixed/moving labels.
  const reg::Transform lin =
      pose_transform({12, -8, 5, 10, -20, 7, 1.1, 0.95, 1.02, 0.04}, "MNIColin27", "T1w");
  const fs::path p1 = dir / "sub-01_from-T1w_to-MNIColin27_mode-image_xfm.txt";
  reg::write_transform(p1, lin);
  const reg::Transform r1 = reg::read_transform(p1);
  EXPECT_EQ(r1.from, lin.from); // fixed = B (to-B)
  EXPECT_EQ(r1.to, lin.to);     // moving = A (from-A)
  EXPECT_TRUE(r1.is_linear());
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(r1.matrix[i][j], lin.matrix[i][j], 1e-12);
  // the text is ITK's format, in LPS
  std::ifstream in(p1);
  std::string first, second, type;
  std::getline(in, first);
  std::getline(in, second);
  std::getline(in, type);
  EXPECT_EQ(first, "#Insight Transform File V1.0");
  EXPECT_EQ(type, "Transform: AffineTransform_double_3_3");

  const reg::Transform nl = warp_transform({3, 4, 5, 6, 7, 8}, 4.0, "MNIColin27", "bold");
  const fs::path p2 = dir / "sub-01_from-bold_to-MNIColin27_mode-image_xfm.txt";
  reg::write_transform(p2, nl);
  EXPECT_TRUE(fs::exists(dir / "sub-01_from-bold_to-MNIColin27_mode-image_xfm_field.nii.gz"));
  const reg::Transform r2 = reg::read_transform(p2);
  ASSERT_FALSE(r2.is_linear());
  EXPECT_EQ(r2.from, "MNIColin27");
  EXPECT_EQ(r2.to, "bold");
  EXPECT_TRUE(r2.displacement->grid().same_sampling(nl.displacement->grid(), 1e-4));
  for (const Point& p : {Point{0, -18, 18}, Point{20, -40, 30}, Point{-35, 10, -5}})
    EXPECT_LT(dist(r2.apply(p), nl.apply(p)), 1e-4);
  fs::remove_all(dir);
}

TEST(Transform, ReadsItkRigidAndCentredTransforms) {
  const fs::path dir = temp_dir();
  // Euler3D (LPS): rotation 0.1 rad about z, translation (1, 2, 3), centre (10, 20, 30)
  {
    std::ofstream f(dir / "euler.txt");
    f << "#Insight Transform File V1.0\n#Transform 0\nTransform: Euler3DTransform_double_3_3\n"
         "Parameters: 0 0 0.1 1 2 3\nFixedParameters: 10 20 30 0\n";
  }
  const reg::Transform e = reg::read_transform(dir / "euler.txt");
  // expected, in LPS: x -> R (x - c) + c + t; then RAS = F . F
  const double c = std::cos(0.1), s = std::sin(0.1);
  auto lps_map = [&](const Point& x) {
    const Point d{x[0] - 10, x[1] - 20, x[2] - 30};
    return Point{c * d[0] - s * d[1] + 10 + 1, s * d[0] + c * d[1] + 20 + 2, d[2] + 30 + 3};
  };
  for (const Point& p : {Point{0, 0, 0}, Point{5, -7, 9}}) {
    const Point lq = lps_map({-p[0], -p[1], p[2]});
    EXPECT_LT(dist(e.apply(p), {-lq[0], -lq[1], lq[2]}), 1e-9);
  }
  // ANTs writes MatrixOffsetTransformBase with a centre
  {
    std::ofstream f(dir / "ants.txt");
    f << "#Insight Transform File V1.0\n#Transform 0\nTransform: MatrixOffsetTransformBase_float_3_3\n"
         "Parameters: 1 0 0 0 1 0 0 0 1 5 -6 7\nFixedParameters: 1 2 3\n";
  }
  const reg::Transform a = reg::read_transform(dir / "ants.txt");
  EXPECT_LT(dist(a.apply({0, 0, 0}), {-5, 6, 7}), 1e-9);
  // garbage is rejected with the reason
  {
    std::ofstream f(dir / "bad.txt");
    f << "#Insight Transform File V1.0\nTransform: BSplineTransform_double_3_3\nParameters: 1 2\n";
  }
  try {
    reg::read_transform(dir / "bad.txt");
    FAIL() << "no error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("not supported"), std::string::npos) << err.what();
  }
  fs::remove_all(dir);
}

TEST(Labels, FractionalWeightsAreExactPartialVolumesAndSumToAtMostOne) {
  // 1 mm template with two cubic ROIs; a 3 mm subject grid whose voxels cover 3x3x3 template voxels.
  Grid tg = centred_grid({60, 60, 60}, 1.0, {0, 0, 0}, "template");
  Volume labels(tg, 1, 0.0f);
  for (std::int64_t k = 10; k < 20; ++k)
    for (std::int64_t j = 10; j < 20; ++j)
      for (std::int64_t i = 10; i < 20; ++i) labels.at(i, j, k) = 5;
  for (std::int64_t k = 20; k < 31; ++k)
    for (std::int64_t j = 10; j < 20; ++j)
      for (std::int64_t i = 10; i < 20; ++i) labels.at(i, j, k) = 9;
  Grid sg = tg;
  sg.dims = {20, 20, 20};
  sg.spacing_mm = {3, 3, 3};
  for (int a = 0; a < 3; ++a) {
    sg.affine[a][a] = 3.0;
    sg.affine[a][3] = tg.affine[a][3] + 1.0; // subject voxel 0 covers template voxels 0..2
  }
  sg.space = "subject";
  reg::Transform id;
  const auto w = reg::warp_labels_fractional(labels, {5, 9}, sg, id, 3);
  ASSERT_EQ(w.size(), 2u);
  double vol5 = 0, vol9 = 0;
  for (std::size_t i = 0; i < w[0].size(); ++i) {
    EXPECT_LE(w[0].data()[i] + w[1].data()[i], 1.0f + 1e-6f);
    vol5 += w[0].data()[i] * 27.0;
    vol9 += w[1].data()[i] * 27.0;
  }
  EXPECT_NEAR(vol5, 1000.0, 1e-3); // 10^3 template voxels of 1 mm^3
  EXPECT_NEAR(vol9, 1100.0, 1e-3);
  // subject voxel (3,3,3) covers template 9..11: x,y,z each 2 of 3 inside label 5's cube
  EXPECT_NEAR(w[0].at(3, 3, 3), 8.0 / 27.0, 1e-6);
  // boundary between the ROIs: voxel (4,4,6) covers z 18..20 -> 2/3 label 5, 1/3 label 9
  EXPECT_NEAR(w[0].at(4, 4, 6), 2.0 / 3.0, 1e-6);
  EXPECT_NEAR(w[1].at(4, 4, 6), 1.0 / 3.0, 1e-6);
  // nearest neighbour picks the centre's label
  const Volume nn = reg::warp_labels_nearest(labels, sg, id);
  EXPECT_EQ(nn.at(4, 4, 6), 5.0f);
  EXPECT_EQ(nn.at(4, 4, 7), 9.0f);
  EXPECT_THROW(reg::warp_labels_fractional(labels, {0}, sg, id), Error);
  EXPECT_THROW(reg::warp_labels_fractional(labels, {5, 5}, sg, id), Error);
}

TEST(Masks, BrainMaskAndDice) {
  Grid g = centred_grid({20, 20, 20}, 2.0, {0, 0, 0}, "x");
  Volume v(g, 1, 0.0f);
  for (std::int64_t k = 5; k < 15; ++k)
    for (std::int64_t j = 5; j < 15; ++j)
      for (std::int64_t i = 5; i < 15; ++i) v.at(i, j, k) = 100.0f + static_cast<float>(i);
  const Volume m = reg::brain_mask(v);
  double n = 0;
  for (std::size_t i = 0; i < m.size(); ++i) n += m.data()[i];
  EXPECT_EQ(n, 1000.0);
  EXPECT_DOUBLE_EQ(reg::dice(m, m), 1.0);
  Volume half(g, 1, 0.0f);
  for (std::int64_t k = 5; k < 10; ++k)
    for (std::int64_t j = 5; j < 15; ++j)
      for (std::int64_t i = 5; i < 15; ++i) half.at(i, j, k) = 1.0f;
  EXPECT_NEAR(reg::dice(m, half), 2.0 * 500 / 1500, 1e-12);
  EXPECT_THROW(reg::brain_mask(Volume(g, 1, 3.0f)), Error);
}
