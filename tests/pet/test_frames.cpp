// Frame timing, weights, TAC integration and input validation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/pet/plasma.hpp"
#include "rewardpath/pet/reference.hpp"
#include "sim_support.hpp"

namespace {

using namespace pet_test;

pet::FrameTiming simple(std::vector<double> start, std::vector<double> dur) {
  pet::FrameTiming t;
  t.start_s = std::move(start);
  t.duration_s = std::move(dur);
  return t;
}

template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const rewardpath::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Frames, FromBidsMetadata) {
  rewardpath::bids::PetMetadata m;
  m.frame_times_start_s = {0, 10, 20};
  m.frame_duration_s = {10, 10, 40};
  m.decay_corrected = true;
  m.tracer_half_life_s = 1223.1;
  const pet::FrameTiming t = pet::frame_timing(m);
  EXPECT_EQ(t.mid_s(), (std::vector<double>{5, 15, 40}));
  EXPECT_EQ(t.end_s().back(), 60.0);
  EXPECT_DOUBLE_EQ(t.half_life_s, 1223.1);
  m.frame_duration_s = {10, 10};
  EXPECT_NE(error_of([&] { pet::frame_timing(m); }).find("FrameDuration"), std::string::npos);
}

TEST(Frames, RejectsOverlappingUnsortedAndBadDurations) {
  EXPECT_NE(error_of([] { pet::validate(simple({0, 5}, {10, 10})); }).find("overlap"), std::string::npos);
  EXPECT_NE(error_of([] { pet::validate(simple({20, 0}, {10, 10})); }).find("not sorted"), std::string::npos);
  EXPECT_NE(error_of([] {
              pet::validate(simple({0, 10}, {10, 0}));
            }).find("FrameDuration[1]"),
            std::string::npos);
  EXPECT_NE(error_of([] { pet::validate(simple({}, {})); }).find("no frames"), std::string::npos);
  pet::validate(simple({0, 10, 30}, {10, 10, 30})); // a gap is fine
}

TEST(Frames, RejectsFrameCountMismatchAndNaN) {
  const auto t = simple({0, 10, 20}, {10, 10, 10});
  EXPECT_NE(error_of([&] {
              pet::validate_tac(t, {1, 2}, "TAC 'Putamen'");
            }).find("2 values but 3 frames"),
            std::string::npos);
  const std::string nan_msg = error_of([&] {
    pet::validate_tac(t, {1, std::numeric_limits<double>::quiet_NaN(), 2}, "TAC 'Putamen'");
  });
  EXPECT_NE(nan_msg.find("TAC 'Putamen': frame 1 is n/a"), std::string::npos) << nan_msg;
  pet::TacTable table;
  table.timing = t;
  table.add("ref", {1, 2, 3});
  EXPECT_NE(error_of([&] { table.add("bad", {1, 2}); }).find("TAC 'bad'"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)table.tac("nope"); }).find("regions are: ref"), std::string::npos);
}

TEST(Frames, ModelsRejectBadReferenceAndInputs) {
  const auto t = simple({0, 60, 120, 180, 240}, {60, 60, 60, 60, 60});
  const std::vector<double> target{1, 2, 3, 3, 3};
  EXPECT_NE(error_of([&] {
              pet::srtm(t, target, {0, 0, 0, 0, 0});
            }).find("reference TAC is zero or negative"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              pet::mrtm(t, target, {1, 2, 3, -1, 2});
            }).find("reference TAC is -1 in frame 3"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              pet::logan_reference(t, target, {1, 2, 3});
            }).find("reference TAC: 3 values but 5"),
            std::string::npos);
  pet::Mrtm2Params m2;
  m2.k2_prime = 0.2;
  EXPECT_NE(error_of([&] {
              pet::mrtm2(t, target, {1, 2, std::numeric_limits<double>::quiet_NaN(), 3, 3}, m2);
            }).find("frame 2 is n/a"),
            std::string::npos);
  EXPECT_NE(error_of([&] { pet::mrtm2(t, target, {1, 2, 3, 3, 3}, {}); }).find("k2'"), std::string::npos);
  pet::SrtmParams sp;
  sp.weights = {1, 1};
  EXPECT_NE(error_of([&] {
              pet::srtm(t, target, {1, 2, 3, 3, 3}, sp);
            }).find("2 weights for 5"),
            std::string::npos);
  pet::ArterialInput in{{0, 10, 5}, {1, 2, 3}, {}};
  EXPECT_NE(error_of([&] { pet::one_tcm(t, target, in); }).find("strictly increasing"), std::string::npos);
}

TEST(Frames, IntegrationHandCases) {
  // Constant activity 2 over contiguous 60-s frames: integral at frame i averaged over the frame is
  // 2 * (start_i + d/2) / 60 (minutes), both methods exact apart from the first-frame ramp.
  const auto t = simple({0, 60, 120}, {60, 60, 60});
  const auto fm = pet::integrate_tac(t, {2, 2, 2});
  EXPECT_NEAR(fm[0], 1.0, 1e-12);
  EXPECT_NEAR(fm[1], 3.0, 1e-12);
  EXPECT_NEAR(fm[2], 5.0, 1e-12);
  // Trapezoid through (0,0), (0.5,2), (1.5,2), (2.5,2) at the mids: 0.5, 2.5, 4.5.
  const auto tr = pet::integrate_tac(t, {2, 2, 2}, pet::Integration::trapezoid_mids);
  EXPECT_NEAR(tr[0], 0.5, 1e-12);
  EXPECT_NEAR(tr[1], 2.5, 1e-12);
  EXPECT_NEAR(tr[2], 4.5, 1e-12);
  // A linear ramp C = t (min) sampled as frame means: the frame-mean integral t^2/2 averaged over
  // [a, b] is (b^3 - a^3) / (6 (b - a)); the slope correction makes it exact.
  const auto ramp = pet::integrate_tac(t, {0.5, 1.5, 2.5});
  EXPECT_NEAR(ramp[1], (8.0 - 1.0) / 6.0, 1e-12);
  // The simulator's frame means integrate to its fine-grid integral within 0.1% after the peak.
  const auto sched = sim::raclopride_schedule(60.0);
  const auto input = sim::raclopride_input();
  const auto tac = sim::tissue_tac(input, one_tissue_target(1.0, 1.0), sched);
  const auto timing = timing_of(sched);
  const auto got = pet::integrate_tac(timing, tac);
  double exact = 0.0;
  std::vector<double> curve;
  std::vector<double> times;
  for (double s = 0.0; s <= 3600.0; s += 0.5) times.push_back(s);
  curve = sim::tissue_curve(input, one_tissue_target(1.0, 1.0), times);
  // Frame-averaged running integral of the instantaneous curve for the last frame.
  const double a = sched.start_s.back(), b = a + sched.duration_s.back();
  double run = 0.0, acc = 0.0;
  for (std::size_t j = 0; j + 1 < times.size(); ++j) {
    run += 0.5 * (curve[j] + curve[j + 1]) * 0.5 / 60.0;
    if (times[j + 1] > a && times[j + 1] <= b) acc += run * 0.5;
  }
  exact = acc / (b - a);
  EXPECT_NEAR(got.back(), exact, 1e-3 * exact);
}

TEST(Frames, Weights) {
  const auto t = simple({0, 60, 360}, {60, 300, 600});
  pet::WeightParams wp;
  wp.scheme = pet::Weighting::duration;
  const auto wd = pet::frame_weights(t, {}, wp);
  EXPECT_NEAR(wd[0], 0.1, 1e-12);
  EXPECT_NEAR(wd[2], 1.0, 1e-12);
  const auto wi = pet::frame_weights(t, {100, 50, 25}); // inverse_variance is the default
  // d e^{-lambda t} / C: 60 e^{-l 30}/100, 300 e^{-l 210}/50, 600 e^{-l 660}/25; normalised to max.
  const double l = std::log(2.0) / pet::kC11HalfLifeS;
  const double w0 = 60 * std::exp(-l * 30) / 100, w1 = 300 * std::exp(-l * 210) / 50,
               w2 = 600 * std::exp(-l * 660) / 25;
  const double mx = std::max({w0, w1, w2});
  EXPECT_NEAR(wi[0], w0 / mx, 1e-12);
  EXPECT_NEAR(wi[1], w1 / mx, 1e-12);
  EXPECT_NEAR(wi[2], w2 / mx, 1e-12);
}

} // namespace
