// Registration accuracy on the real Colin27 brain (mricron-data's ch2bet, at 2 mm for speed)
// moved by known transforms; ROI overlap with the reward atlas; QC; determinism.
#include <gtest/gtest.h>

#include <cmath>

#include "reg_cases.hpp"
#include "rewardpath/atlas/atlas.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"

using namespace rp_reg_test;

namespace {

struct Data {
  Volume t1;   // 1 mm
  Volume tmpl; // 2 mm
};
const Data& data() {
  static const Data d = [] {
    Data x;
    x.t1 = load_ch2bet();
    x.tmpl = rewardpath::resample(x.t1, iso_grid(x.t1.grid(), 2.0));
    return x;
  }();
  return d;
}

reg::Result run(const Case& c, reg::Model model) {
  reg::Params p;
  p.model = model;
  p.threads = 2;
  return reg::register_images(c.subject, data().tmpl, p);
}

// Poses: rotations up to 15 degrees, translations up to 20 mm (about the brain's centre).
const Pose kRigidA{15, -10, 8, 20, -12, 10, 1, 1, 1, 0, {0, -18, 18}, "rigidA"};
const Pose kRigidB{-12, 15, -15, -18, 20, -15, 1, 1, 1, 0, {0, -18, 18}, "rigidB"};
const Pose kAffineA{10, -8, 12, 15, 10, -20, 1.08, 0.93, 1.05, 0.06, {0, -18, 18}, "affineA"};
const Pose kAffineB{-15, 5, -10, -20, -15, 18, 0.92, 1.06, 0.95, -0.05, {0, -18, 18}, "affineB"};

void expect_good_qc(const reg::Result& r) {
  EXPECT_FALSE(r.qc.flagged) << r.qc.flag_reason;
  EXPECT_GT(r.qc.mask_dice, 0.95);
  EXPECT_LT(r.qc.final_metric, r.qc.initial_metric);
  EXPECT_FALSE(r.qc.metric_trace.empty());
  EXPECT_GT(r.qc.iterations, 0);
  EXPECT_FALSE(r.qc.level_starts.empty());
}

} // namespace

class RigidAccuracy : public ::testing::TestWithParam<Pose> {};
TEST_P(RigidAccuracy, MeanTargetErrorBelowOneMillimetre) {
  const Case c = make_case(data().t1, GetParam(), 2.0);
  const Tre before = tre(reg::Transform{}, c.truth, c.points);
  const reg::Result r = run(c, reg::Model::rigid);
  const Tre after = tre(r.transform, c.truth, c.points);
  RecordProperty("tre_mean_mm", std::to_string(after.mean));
  std::printf("%s rigid: TRE %.1f mm -> mean %.3f mm, max %.3f mm, %.2f s, MI %.3f, mask Dice %.3f\n",
              GetParam().name.c_str(), before.mean, after.mean, after.max, r.seconds, r.qc.final_metric,
              r.qc.mask_dice);
  EXPECT_GT(before.mean, 10.0);
  EXPECT_LT(after.mean, 1.0); // the requirement
  EXPECT_LT(after.mean, 0.1); // what it achieves (regression guard)
  EXPECT_LT(after.max, 0.5);
  expect_good_qc(r);
  EXPECT_EQ(r.transform.to, "MNIColin27");
  EXPECT_EQ(r.transform.from, "subject");
}
INSTANTIATE_TEST_SUITE_P(Poses, RigidAccuracy, ::testing::Values(kRigidA, kRigidB),
                         [](const auto& info) { return info.param.name; });

class AffineAccuracy : public ::testing::TestWithParam<Pose> {};
TEST_P(AffineAccuracy, MeanTargetErrorBelowOneMillimetre) {
  const Case c = make_case(data().t1, GetParam(), 2.0);
  const reg::Result r = run(c, reg::Model::affine);
  const Tre after = tre(r.transform, c.truth, c.points);
  std::printf("%s affine: TRE mean %.3f mm, max %.3f mm, %.2f s, MI %.3f, mask Dice %.3f\n",
              GetParam().name.c_str(), after.mean, after.max, r.seconds, r.qc.final_metric, r.qc.mask_dice);
  EXPECT_LT(after.mean, 1.0);
  EXPECT_LT(after.mean, 0.1);
  EXPECT_LT(after.max, 0.5);
  expect_good_qc(r);
}
INSTANTIATE_TEST_SUITE_P(Poses, AffineAccuracy, ::testing::Values(kRigidA, kAffineA, kAffineB),
                         [](const auto& info) { return info.param.name; });

// ROIs of the reward atlas brought to the subject through the estimated transform overlap the
// ROIs brought through the true one.
TEST(RoiOverlap, DiceAtLeast0p8ForAmygdalaHippocampusPutamen) {
  const rewardpath::atlas::Atlas atlas = rewardpath::atlas::build_reward_atlas();
  for (const Pose& pose : {kAffineA, kAffineB}) {
    const Case c = make_case(data().t1, pose, 2.0);
    const reg::Result r = run(c, reg::Model::affine);
    const Volume truth = reg::warp_labels_nearest(atlas.labels, c.subject.grid(), c.truth);
    const Volume est = reg::warp_labels_nearest(atlas.labels, c.subject.grid(), r.transform);
    for (const char* name :
         {"Amygdala_L", "Amygdala_R", "Hippocampus_L", "Hippocampus_R", "Putamen_L", "Putamen_R"}) {
      const auto* roi = atlas.find(name);
      ASSERT_NE(roi, nullptr) << name;
      Volume a(c.subject.grid(), 1, 0.0f), b(c.subject.grid(), 1, 0.0f);
      for (std::size_t i = 0; i < a.size(); ++i) {
        a.data()[i] = truth.data()[i] == static_cast<float>(roi->index);
        b.data()[i] = est.data()[i] == static_cast<float>(roi->index);
      }
      const double d = reg::dice(a, b);
      std::printf("%s %s: Dice %.3f\n", pose.name.c_str(), name, d);
      EXPECT_GE(d, 0.8) << pose.name << " " << name;
    }
    // fractional weights: the ROI's volume is preserved up to the pose's scaling
    const auto* put = atlas.find("Putamen_L");
    const auto w = reg::warp_labels_fractional(atlas.labels, {put->index}, c.subject.grid(), r.transform);
    double voxels = 0;
    for (std::size_t i = 0; i < w[0].size(); ++i) voxels += w[0].data()[i];
    double template_voxels = 0;
    for (std::size_t i = 0; i < atlas.labels.size(); ++i)
      template_voxels += atlas.labels.data()[i] == static_cast<float>(put->index);
    // subject volume = template volume / det(S) (2 mm subject voxels, 1 mm atlas voxels)
    const double expected = template_voxels / (pose.sx * pose.sy * pose.sz);
    EXPECT_NEAR(voxels * 8.0, expected, 0.03 * expected);
  }
}

TEST(Nonlinear, RecoversASmoothWarpBetterThanAffine) {
  const Case c = make_case(data().t1, kAffineB, 2.0, /*nonlinear=*/true);
  const reg::Result lin = run(c, reg::Model::affine);
  const reg::Result nl = run(c, reg::Model::nonlinear);
  const Tre tl = tre(lin.transform, c.truth, c.points), tn = tre(nl.transform, c.truth, c.points);
  std::printf("warp: affine TRE mean %.3f max %.3f (%.2f s); nonlinear mean %.3f max %.3f (%.2f s)\n",
              tl.mean, tl.max, lin.seconds, tn.mean, tn.max, nl.seconds);
  ASSERT_FALSE(nl.transform.is_linear());
  EXPECT_EQ(nl.transform.displacement->volumes(), 3);
  EXPECT_GT(tl.mean, 0.6);
  EXPECT_LT(tn.mean, 0.3);
  EXPECT_LT(tn.mean, tl.mean / 3);
  EXPECT_FALSE(nl.qc.flagged) << nl.qc.flag_reason;
  // ROIs through the nonlinear estimate vs through the true warp
  const rewardpath::atlas::Atlas atlas = rewardpath::atlas::build_reward_atlas();
  const Volume truth = reg::warp_labels_nearest(atlas.labels, c.subject.grid(), c.truth);
  const Volume est_nl = reg::warp_labels_nearest(atlas.labels, c.subject.grid(), nl.transform);
  const Volume est_lin = reg::warp_labels_nearest(atlas.labels, c.subject.grid(), lin.transform);
  for (const char* name :
       {"Amygdala_L", "Amygdala_R", "Hippocampus_L", "Hippocampus_R", "Putamen_L", "Putamen_R"}) {
    const auto* roi = atlas.find(name);
    ASSERT_NE(roi, nullptr) << name;
    auto roi_dice = [&](const Volume& est) {
      Volume a(c.subject.grid(), 1, 0.0f), b(c.subject.grid(), 1, 0.0f);
      for (std::size_t i = 0; i < a.size(); ++i) {
        a.data()[i] = truth.data()[i] == static_cast<float>(roi->index);
        b.data()[i] = est.data()[i] == static_cast<float>(roi->index);
      }
      return reg::dice(a, b);
    };
    const double dn = roi_dice(est_nl), dl = roi_dice(est_lin);
    std::printf("warp %s: Dice affine-only %.3f, nonlinear %.3f\n", name, dl, dn);
    EXPECT_GE(dn, 0.8) << name;
  }
}

// Same inputs, same transform, bit for bit, with one ITK thread (the pipeline's setting inside its
// subject loop). With more ITK threads, ITK's Mattes metric adds per-thread derivative buffers in
// the order the threads finish, so results may differ in the last digits (~1e-3 mm).
TEST(Determinism, SameInputsSameTransform) {
  const Case c = make_case(data().t1, kAffineA, 2.0);
  for (const reg::Model m : {reg::Model::affine, reg::Model::nonlinear}) {
    reg::Params p;
    p.model = m;
    p.threads = 1;
    const reg::Result a = reg::register_images(c.subject, data().tmpl, p);
    const reg::Result b = reg::register_images(c.subject, data().tmpl, p);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) EXPECT_EQ(a.transform.matrix[i][j], b.transform.matrix[i][j]);
    EXPECT_EQ(a.qc.metric_trace, b.qc.metric_trace);
    EXPECT_EQ(a.qc.final_metric, b.qc.final_metric);
    if (m == reg::Model::nonlinear) {
      for (std::size_t i = 0; i < a.transform.displacement->size(); ++i) {
        ASSERT_EQ(a.transform.displacement->data()[i], b.transform.displacement->data()[i]);
      }
    }
    // two ITK threads: the same answer up to summation order (a few hundredths of a mm)
    p.threads = 2;
    const reg::Result two = reg::register_images(c.subject, data().tmpl, p);
    const Tre diff = tre(two.transform, a.transform, c.points);
    std::printf("%s: 1 vs 2 ITK threads differ by mean %.4f, max %.4f mm\n", reg::to_string(m).c_str(),
                diff.mean, diff.max);
    EXPECT_LT(diff.max, 0.1);
    // another sampling seed: a different but equally good answer
    p.seed = 12345;
    const reg::Result other = reg::register_images(c.subject, data().tmpl, p);
    EXPECT_LT(tre(other.transform, c.truth, c.points).mean, m == reg::Model::affine ? 0.1 : 0.3);
  }
}

TEST(Qc, NoiseDominatedImageIsFlagged) {
  // The template buried in noise: registration still runs, but the shared information is low.
  Case c = make_case(data().t1, kRigidA, 2.0);
  add_noise_and_scale(c.subject, 1.0, 0.0, 400.0, 99);
  reg::Params p;
  p.model = reg::Model::rigid;
  p.threads = 2;
  const reg::Result r = reg::register_images(c.subject, data().tmpl, p);
  std::printf("noisy: MI %.3f, mask Dice %.3f, flag: %s\n", r.qc.final_metric, r.qc.mask_dice,
              r.qc.flag_reason.c_str());
  EXPECT_TRUE(r.qc.flagged);
  EXPECT_FALSE(r.qc.flag_reason.empty());
}
