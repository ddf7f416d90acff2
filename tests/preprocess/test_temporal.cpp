// Slice-timing correction (a slow signal sampled at slice-specific times is brought to the
// reference time) and the DCT high-pass filter (slow cosine removed, fast sinusoid and mean kept).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numbers>

#include "rewardpath/core/error.hpp"
#include "rewardpath/preprocess/temporal.hpp"

namespace pp = rewardpath::preprocess;
using rewardpath::Grid;
using rewardpath::Volume;

namespace {
constexpr double pi = std::numbers::pi;
// A slow signal (periods 30 s and 47 s; Nyquist at TR 2 s is 4 s).
double signal(double t) {
  return 100.0 + 3.0 * std::sin(2 * pi * t / 30.0) + 1.5 * std::cos(2 * pi * t / 47.0 + 1.0);
}

struct Errors {
  double interior = 0, all = 0;
};
// Max |value - signal(t * TR + ref)| over voxels; interior skips `edge` volumes at each end.
Errors st_errors(const Volume& v, double tr, double ref, int edge) {
  Errors e;
  for (std::int64_t t = 0; t < v.volumes(); ++t)
    for (std::int64_t k = 0; k < v.nz(); ++k) {
      const double d = std::abs(v.at(0, 0, k, t) - signal(static_cast<double>(t) * tr + ref));
      e.all = std::max(e.all, d);
      if (t >= edge && t < v.volumes() - edge) e.interior = std::max(e.interior, d);
    }
  return e;
}

Volume sampled_run(const std::vector<double>& st, double tr, std::int64_t nt) {
  Grid g;
  g.dims = {2, 1, static_cast<std::int64_t>(st.size())};
  Volume v(g, nt);
  v.set_time_step_s(tr);
  for (std::int64_t t = 0; t < nt; ++t)
    for (std::int64_t k = 0; k < g.dims[2]; ++k)
      for (std::int64_t i = 0; i < 2; ++i)
        v.at(i, 0, k, t) =
            static_cast<float>(signal(static_cast<double>(t) * tr + st[static_cast<std::size_t>(k)]));
  return v;
}
} // namespace

TEST(SliceTiming, ShiftsEachSliceToTheReferenceTime) {
  const double tr = 2.0;
  // interleaved, even slices first (as the simulator writes SliceTiming)
  const std::vector<double> st{0.0, 1.0, 0.25, 1.25, 0.5, 1.5, 0.75, 1.75};
  for (double ref : {0.0, 0.5}) {
    auto v = sampled_run(st, tr, 200);
    const auto before = st_errors(v, tr, ref * tr, 8);
    pp::SliceTimingParams p;
    p.slice_timing_s = st;
    p.slice_time_ref = ref;
    pp::slice_time_correct(v, p);
    const auto after = st_errors(v, tr, ref * tr, 8);
    std::printf(
        "slice_time_ref %.1f: max error before %.4f, after %.5f (interior), %.4f (with the 8 edge volumes)\n",
        ref, before.interior, after.interior, after.all);
    // Hann-windowed sinc with 8 taps each side: well below 1% of the uncorrected error inside.
    EXPECT_LT(after.interior, 0.01 * before.interior);
    EXPECT_LT(after.all, 0.5 * before.all); // ends (mirrored samples) are worse but still improved
  }
}

TEST(SliceTiming, ConstantStaysConstantAndReferenceSliceUntouched) {
  Grid g;
  g.dims = {1, 1, 2};
  Volume v(g, 20, 7.0f);
  v.set_time_step_s(1.5);
  v.at(0, 0, 0, 5) = 9.0f; // slice 0 is at the reference time: kept exactly
  pp::SliceTimingParams p;
  p.slice_timing_s = {0.0, 0.7};
  pp::slice_time_correct(v, p);
  EXPECT_EQ(v.at(0, 0, 0, 5), 9.0f);
  for (std::int64_t t = 0; t < 20; ++t) EXPECT_NEAR(v.at(0, 0, 1, t), 7.0f, 1e-5);
}

TEST(SliceTiming, BadInput) {
  auto v = sampled_run({0.0, 1.0}, 2.0, 10);
  pp::SliceTimingParams p;
  p.slice_timing_s = {0.0};
  EXPECT_THROW(pp::slice_time_correct(v, p), rewardpath::Error); // 1 entry, 2 slices
  p.slice_timing_s = {0.0, 2.5};
  try {
    pp::slice_time_correct(v, p);
    ADD_FAILURE() << "no error";
  } catch (const rewardpath::Error& e) {
    EXPECT_NE(std::string(e.what()).find("SliceTiming[1] = 2.5"), std::string::npos) << e.what();
  }
  p.slice_timing_s = {0.0, 1.0};
  v.set_time_step_s(0.0);
  EXPECT_THROW(pp::slice_time_correct(v, p), rewardpath::Error); // no TR
}

TEST(Highpass, CosineBasisIsOrthonormalAndMatchesTheFormula) {
  const auto c = pp::cosine_basis(200, 2.0, 128.0);
  ASSERT_EQ(c.size(), 6u); // floor(2 * 200 * 2 / 128) = 6
  for (std::size_t a = 0; a < c.size(); ++a) {
    EXPECT_NEAR(c[a][3], std::sqrt(2.0 / 200) * std::cos(pi * static_cast<double>(a + 1) * 3.5 / 200), 1e-15);
    double sum = 0;
    for (double x : c[a]) sum += x;
    EXPECT_NEAR(sum, 0.0, 1e-12); // orthogonal to the constant
    for (std::size_t b = 0; b < c.size(); ++b) {
      double dot = 0;
      for (std::size_t i = 0; i < 200; ++i) dot += c[a][i] * c[b][i];
      EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-12);
    }
  }
}

TEST(Highpass, RemovesSlowDriftKeepsFastSignalAndMean) {
  const std::int64_t n = 200;
  const double tr = 2.0;
  Grid g;
  g.dims = {2, 1, 1};
  Volume v(g, n);
  v.set_time_step_s(tr);
  std::vector<double> fast(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) * tr;
    fast[static_cast<std::size_t>(i)] = 3.0 * std::sin(2 * pi * t / 10.0);
    // slow: basis functions k = 1, 3 and 6 (periods 800, 267 and 133 s, all longer than the cut-off)
    const double x = (static_cast<double>(i) + 0.5) / static_cast<double>(n);
    const double slow = 4.0 * std::cos(pi * x) + 8.0 * std::cos(pi * 3.0 * x) - 3.0 * std::cos(pi * 6.0 * x);
    v.at(0, 0, 0, i) = static_cast<float>(500.0 + slow + fast[static_cast<std::size_t>(i)]);
    v.at(1, 0, 0, i) = static_cast<float>(500.0 + slow);
  }
  double mean_before = 0;
  for (std::int64_t i = 0; i < n; ++i) mean_before += v.at(0, 0, 0, i) / static_cast<double>(n);
  pp::highpass(v, 128.0, {1, 0}); // voxel 1 is outside the mask: untouched
  // The slow part is in the span of the basis and is removed exactly; the fast sinusoid (period 10 s)
  // loses only its least-squares projection onto the 6 cosines (k <= 6, written out here), ~2% of it.
  std::vector<double> leak(static_cast<std::size_t>(n), 0.0);
  for (int k = 1; k <= 6; ++k) {
    std::vector<double> c(static_cast<std::size_t>(n));
    double dot = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      c[static_cast<std::size_t>(i)] = std::sqrt(2.0 / n) * std::cos(pi * k * (i + 0.5) / n);
      dot += c[static_cast<std::size_t>(i)] * fast[static_cast<std::size_t>(i)];
    }
    for (std::int64_t i = 0; i < n; ++i)
      leak[static_cast<std::size_t>(i)] += dot * c[static_cast<std::size_t>(i)];
  }
  double mean_after = 0, err = 0, leak_ss = 0, fast_ss = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto u = static_cast<std::size_t>(i);
    mean_after += v.at(0, 0, 0, i) / static_cast<double>(n);
    const double d = v.at(0, 0, 0, i) - (500.0 + fast[u] - leak[u]);
    err = std::max(err, std::abs(d));
    leak_ss += leak[u] * leak[u], fast_ss += fast[u] * fast[u];
  }
  std::printf("high-pass: mean %.5f -> %.5f, max error %.2g, fast signal lost %.2f%% (RMS)\n", mean_before,
              mean_after, err, 100 * std::sqrt(leak_ss / fast_ss));
  EXPECT_NEAR(mean_after, mean_before, 1e-3);
  EXPECT_LT(err, 1e-3);
  EXPECT_LT(std::sqrt(leak_ss / fast_ss), 0.05);
  const double x7 = 7.5 / 200.0;
  EXPECT_NEAR(v.at(1, 0, 0, 7),
              500.0 + 4.0 * std::cos(pi * x7) + 8.0 * std::cos(pi * 3.0 * x7) - 3.0 * std::cos(pi * 6.0 * x7),
              1e-3);
  EXPECT_THROW(pp::highpass(v, 0.0), rewardpath::Error);
  EXPECT_THROW(pp::highpass(v, 128.0, {1}), rewardpath::Error);
}
