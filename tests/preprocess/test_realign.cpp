// Rigid motion correction against known motion: Colin27 moved by known rigid transforms (sampled
// from the 1 mm image), with and without noise, and the simulator's BOLD run with its true
// per-volume motion. Plus determinism at 1 vs 2 threads and bad input.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <numbers>

#include "preprocess_test_util.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/preprocess/realign.hpp"
#include "rewardpath/simulate/simulate.hpp"
#include "temp_dir.hpp"

namespace pp = rewardpath::preprocess;
using pp_test::deg;
using rewardpath::Volume;

namespace {

// Known motion: up to ~2 mm and ~1.7 deg, every parameter exercised.
std::vector<pp::RigidParams> known_motion() {
  return {{0, 0, 0, 0, 0, 0},
          {1.2, -0.8, 0.5, 0.6 * deg, -0.4 * deg, 0.3 * deg},
          {-0.5, 1.5, -1.1, -1.0 * deg, 0.8 * deg, -0.5 * deg},
          {2.0, 0.3, 0.9, 0.2 * deg, 1.5 * deg, 1.0 * deg},
          {-1.7, -1.9, 1.8, 1.7 * deg, -0.2 * deg, -1.2 * deg},
          {0.1, 0.0, -0.2, 0.05 * deg, 0.0, 0.1 * deg}};
}

struct MaxErr {
  double trans_mm = 0, rot_deg = 0;
};
MaxErr max_error(const std::vector<pp::RigidParams>& got, const std::vector<pp::RigidParams>& truth) {
  MaxErr e;
  for (std::size_t t = 0; t < got.size(); ++t)
    for (std::size_t k = 0; k < 6; ++k) {
      const double d = std::abs(got[t][k] - truth[t][k]);
      if (k < 3)
        e.trans_mm = std::max(e.trans_mm, d);
      else
        e.rot_deg = std::max(e.rot_deg, d / deg);
    }
  return e;
}

double rms_diff(const Volume& run, std::int64_t a, std::int64_t b, const std::vector<float>& weight) {
  double s = 0, n = 0;
  for (std::size_t i = 0; i < weight.size(); ++i)
    if (weight[i] > 20.0f) {
      const double d = run.volume(a)[i] - run.volume(b)[i];
      s += d * d, n += 1;
    }
  return std::sqrt(s / n);
}

} // namespace

TEST(Realign, RecoversKnownRigidMotionToVolumeZero) {
  const auto truth = known_motion();
  auto run = pp_test::moved_run(pp_test::bold_grid(), truth);
  const std::vector<float> ref(run.volume(0).begin(), run.volume(0).end());
  const double before = rms_diff(run, 4, 0, ref);
  // Volume 4 resliced with the true parameters: the best trilinear reslicing can do.
  Volume v4(run.grid(), 1);
  std::copy(run.volume(4).begin(), run.volume(4).end(), v4.data());
  const Volume ideal4 =
      rewardpath::resample(v4, run.grid(), pp::rigid_matrix(truth[4], pp::fov_centre(run.grid())));
  pp::RealignParams p;
  p.reference_volume = 0;
  p.register_to_mean = false;
  const auto r = pp::realign(run, p);
  const auto e = max_error(r.params, truth);
  std::printf("max error: %.4f mm, %.4f deg; samples %ld\n", e.trans_mm, e.rot_deg,
              static_cast<long>(r.samples));
  EXPECT_LT(e.trans_mm, 0.05);
  EXPECT_LT(e.rot_deg, 0.05);
  // The run was resliced in place: volume 4 now differs from volume 0 as little as with the true
  // parameters (what remains is trilinear blurring of a 3 mm image with sharp brain edges).
  const double after = rms_diff(run, 4, 0, ref);
  double ideal = 0, n = 0;
  for (std::size_t i = 0; i < ref.size(); ++i)
    if (ref[i] > 20.0f) ideal += (ideal4.data()[i] - ref[i]) * (ideal4.data()[i] - ref[i]), n += 1;
  ideal = std::sqrt(ideal / n);
  std::printf(
      "RMS volume 4 - volume 0 in the brain: %.2f before, %.2f after (%.2f with the true parameters)\n",
      before, after, ideal);
  EXPECT_LT(after, 1.02 * ideal);
  EXPECT_EQ(r.mean.volumes(), 1);
}

TEST(Realign, MeanReferenceWithNoiseRelativeToFirstVolume) {
  const auto truth = known_motion();
  // noise sd 2 (brain mean ~90, tissue contrast ~40): temporal SNR ~45, like real BOLD
  auto run = pp_test::moved_run(pp_test::bold_grid(), truth, 2.0, 7); // seeds 1-8: 0.034-0.042 deg
  const auto r = pp::realign(run); // defaults: mean of the run, second pass to the realigned mean
  // Parameters are relative to the mean; re-express them relative to volume 0 (M_t o M_0^-1).
  const auto rel = pp::relative_to(r.params, 0, r.centre_mm);
  const auto e = max_error(rel, truth);
  std::printf("max error (mean reference, noise): %.4f mm, %.4f deg\n", e.trans_mm, e.rot_deg);
  EXPECT_LT(e.trans_mm, 0.05);
  EXPECT_LT(e.rot_deg, 0.05);
}

TEST(Realign, RigidMatrixRoundTripAndCentre) {
  const pp::RigidParams q{1.5, -2.0, 0.7, 0.1, -0.2, 0.3};
  const std::array<double, 3> c{10.0, -20.0, 5.0};
  const auto m = pp::rigid_matrix(q, c);
  const auto back = pp::rigid_params(m, c);
  for (std::size_t k = 0; k < 6; ++k) EXPECT_NEAR(back[k], q[k], 1e-12);
  // The centre moves by the translation only.
  for (int r = 0; r < 3; ++r)
    EXPECT_NEAR(m[r][0] * c[0] + m[r][1] * c[1] + m[r][2] * c[2] + m[r][3], c[r] + q[r], 1e-12);
  // R = Rz Ry Rx: a pure rot_z of 90 deg takes +x to +y (right-handed about +z).
  const auto rz = pp::rigid_matrix({0, 0, 0, 0, 0, std::numbers::pi / 2}, {0, 0, 0});
  EXPECT_NEAR(rz[1][0], 1.0, 1e-12);
  EXPECT_NEAR(rz[0][0], 0.0, 1e-12);
}

TEST(Realign, SameResultAtOneAndTwoThreads) {
  const auto truth = known_motion();
  const auto base = pp_test::moved_run(pp_test::bold_grid(), truth, 2.0, 3);
  auto run_with = [&](int threads) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
    Volume v(base.grid(), base.volumes());
    std::copy(base.data(), base.data() + base.size(), v.data());
    auto r = pp::realign(v);
    return std::make_pair(std::move(v), std::move(r));
  };
  const auto [v1, r1] = run_with(1);
  const auto [v2, r2] = run_with(2);
  for (std::size_t t = 0; t < r1.params.size(); ++t)
    for (std::size_t k = 0; k < 6; ++k) EXPECT_EQ(r1.params[t][k], r2.params[t][k]) << t << " " << k;
  EXPECT_TRUE(std::equal(v1.data(), v1.data() + v1.size(), v2.data()));
  EXPECT_TRUE(std::equal(r1.mean.data(), r1.mean.data() + r1.mean.size(), r2.mean.data()));
}

// The simulator's run (64x64x42, 3 mm, 100 volumes, AR(1) noise, drift, task effects) with its true
// motion: volume 0 is the simulator's reference, so compare relative_to(params, 0) with the truth.
TEST(Realign, SimulatedRunMatchesTrueMotion) {
  rewardpath::testdata::TempDir dir("rp_preproc");
  rewardpath::simulate::Options o;
  o.subjects = 1;
  o.pet = false;
  o.seed = 1; // true motion up to 1.04 mm and 0.56 deg
  rewardpath::simulate::simulate_dataset(dir.path(), o);
  auto bold = rewardpath::io::read_nifti(dir.path() / "bids/sub-01/func/sub-01_task-mid_run-01_bold.nii.gz");
  std::filesystem::path motion_tsv;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir.path() / "truth"))
    if (f.path().filename() == "sub-01_task-mid_run-01_motion.tsv") motion_tsv = f.path();
  ASSERT_FALSE(motion_tsv.empty()) << "the simulator's motion.tsv was not found";
  const auto table = rewardpath::io::read_tsv(motion_tsv);
  const char* names[6] = {"trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"};
  std::vector<pp::RigidParams> truth(table.row_count());
  for (std::size_t k = 0; k < 6; ++k) {
    const auto col = table.numbers(names[k]);
    for (std::size_t t = 0; t < col.size(); ++t) truth[t][k] = col[t];
  }
  ASSERT_EQ(static_cast<std::int64_t>(truth.size()), bold.volumes());
  // Every other volume (50 of 100) keeps the test fast under the sanitizers; truth stays relative to
  // volume 0, which is kept.
  Volume run(bold.grid(), bold.volumes() / 2);
  std::vector<pp::RigidParams> truth_sub;
  for (std::int64_t t = 0; t < run.volumes(); ++t) {
    std::copy(bold.volume(2 * t).begin(), bold.volume(2 * t).end(), run.volume(t).begin());
    truth_sub.push_back(truth[static_cast<std::size_t>(2 * t)]);
  }
  truth = truth_sub;
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = pp::realign(run);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto rel = pp::relative_to(r.params, 0, r.centre_mm);
  const auto e = max_error(rel, truth);
  double rms_t = 0, rms_r = 0, max_true = 0;
  for (std::size_t t = 0; t < rel.size(); ++t)
    for (std::size_t k = 0; k < 6; ++k) {
      const double d = rel[t][k] - truth[t][k];
      (k < 3 ? rms_t : rms_r) += d * d / (3.0 * static_cast<double>(rel.size()));
      if (k < 3) max_true = std::max(max_true, std::abs(truth[t][k]));
    }
  std::printf(
      "simulated run: true max translation %.2f mm; error max %.4f mm / %.4f deg, RMS %.4f mm / %.4f deg "
      "(realign %.2f s)\n",
      max_true, e.trans_mm, e.rot_deg, std::sqrt(rms_t), std::sqrt(rms_r) / deg, secs);
  EXPECT_LT(e.trans_mm, 0.1);
  EXPECT_LT(e.rot_deg, 0.1);
  EXPECT_LT(std::sqrt(rms_t), 0.05);
  EXPECT_LT(std::sqrt(rms_r) / deg, 0.05);
}

TEST(Realign, BadInputIsAClearError) {
  auto expect_error = [](auto&& f, const std::string& part) {
    try {
      f();
      ADD_FAILURE() << "no error; expected one mentioning '" << part << "'";
    } catch (const rewardpath::Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  const auto g = pp_test::bold_grid();
  Volume one(g, 1, 1.0f);
  expect_error([&] { pp::realign(one); }, "at least 2 volumes");
  auto run = pp_test::moved_run(g, known_motion());
  run.volume(3)[1000] = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { pp::realign(run); }, "volume 3 has non-finite");
  run = pp_test::moved_run(g, known_motion());
  pp::RealignParams p;
  p.reference_volume = 6;
  expect_error([&] { pp::realign(run, p); }, "reference volume 6 out of range");
  p.reference_volume = 0;
  p.max_iterations = 1;
  p.register_to_mean = false;
  expect_error([&] { pp::realign(run, p); }, "volume 1: motion estimation did not converge");
  Volume empty(g, 3, 0.0f);
  expect_error([&] { pp::realign(empty); }, "in-head sample points");
}
