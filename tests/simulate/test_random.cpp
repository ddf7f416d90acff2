// Rng: the stream must equal the published algorithms (splitmix64 seeding, xoshiro256** 1.0,
// Marsaglia polar normals), re-implemented here from the reference code
// (https://prng.di.unimi.it/xoshiro256starstar.c, https://prng.di.unimi.it/splitmix64.c), and
// its draws must have the right distributions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/simulate/random.hpp"

namespace {

using rewardpath::simulate::derive_seed;
using rewardpath::simulate::Rng;

// --- Independent reference implementations -------------------------------------------------
struct RefSplitMix64 {
  std::uint64_t x;
  std::uint64_t next() {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

struct RefXoshiro256ss {
  std::uint64_t s[4];
  explicit RefXoshiro256ss(std::uint64_t seed) {
    RefSplitMix64 sm{seed};
    for (auto& v : s) v = sm.next();
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) / 9007199254740992.0; } // 2^53
};

// ---------------------------------------------------------------------------------------------

TEST(Random, SplitMix64ReferenceValue) {
  // First outputs of splitmix64 from state 0, as published with the reference code.
  RefSplitMix64 sm{0};
  EXPECT_EQ(sm.next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(sm.next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(sm.next(), 0x06c45d188009454fULL);
}

TEST(Random, StreamEqualsXoshiro256StarStarSeededBySplitMix64) {
  for (std::uint64_t seed : {0ULL, 1ULL, 42ULL, 0xdeadbeefcafef00dULL, ~0ULL}) {
    Rng rng(seed);
    RefXoshiro256ss ref(seed);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(rng.next(), ref.next()) << "seed " << seed << " draw " << i;
  }
}

TEST(Random, UniformIsTop53BitsOfTheStream) {
  Rng rng(7);
  RefXoshiro256ss ref(7);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(rng.uniform(), ref.uniform());
}

TEST(Random, NormalIsMarsagliaPolarOnTheUniforms) {
  Rng rng(2024);
  RefXoshiro256ss ref(2024);
  for (int pair = 0; pair < 500; ++pair) {
    double u = 0, v = 0, s = 0;
    do {
      u = 2.0 * ref.uniform() - 1.0;
      v = 2.0 * ref.uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double m = std::sqrt(-2.0 * std::log(s) / s);
    ASSERT_DOUBLE_EQ(rng.normal(), u * m);
    ASSERT_DOUBLE_EQ(rng.normal(), v * m);
  }
}

TEST(Random, DeterministicPerSeedAndDistinctAcrossSeeds) {
  Rng a(123), b(123), c(124);
  bool any_diff = false;
  for (int i = 0; i < 100; ++i) {
    const double x = a.normal(), y = b.normal(), z = c.normal();
    EXPECT_EQ(x, y);
    any_diff = any_diff || x != z;
  }
  EXPECT_TRUE(any_diff);
}

TEST(Random, DeriveSeedIsDeterministicAndSeparatesStreams) {
  EXPECT_EQ(derive_seed(1, 2, 3, 4), derive_seed(1, 2, 3, 4));
  // The documented chain: h = sm(seed); h = sm(h ^ a); h = sm(h ^ b); h = sm(h ^ c), where sm(x)
  // is the first splitmix64 output from state x.
  const auto sm = [](std::uint64_t x) { return RefSplitMix64{x}.next(); };
  EXPECT_EQ(derive_seed(5, 6, 7, 8), sm(sm(sm(sm(5) ^ 6) ^ 7) ^ 8));
  EXPECT_EQ(derive_seed(5, 6), sm(sm(sm(sm(5) ^ 6) ^ 0) ^ 0));
  std::set<std::uint64_t> seen;
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    for (std::uint64_t a = 0; a < 16; ++a) {
      for (std::uint64_t b = 0; b < 4; ++b) seen.insert(derive_seed(seed, a, b));
    }
  }
  EXPECT_EQ(seen.size(), 4u * 16u * 4u);
}

TEST(Random, UniformInUnitIntervalWithRightMoments) {
  Rng rng(99);
  const int n = 1000000;
  double lo = 1.0, hi = 0.0, sum = 0.0, sum2 = 0.0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    sum += u;
    sum2 += u * u;
  }
  EXPECT_GE(lo, 0.0);
  EXPECT_LT(hi, 1.0);
  const double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 5 * std::sqrt(1.0 / 12.0 / n)); // 5 standard errors
  EXPECT_NEAR(var, 1.0 / 12.0, 1e-3);
  for (int i = 0; i < 10000; ++i) {
    const double x = rng.uniform(-3.0, 2.0);
    ASSERT_GE(x, -3.0);
    ASSERT_LT(x, 2.0);
  }
  EXPECT_THROW(rng.uniform(1.0, 1.0), rewardpath::Error);
}

TEST(Random, IntegerCoversInclusiveRangeUniformly) {
  Rng rng(5);
  std::vector<int> counts(7, 0);
  const int n = 700000;
  for (int i = 0; i < n; ++i) {
    const int k = rng.integer(-3, 3);
    ASSERT_GE(k, -3);
    ASSERT_LE(k, 3);
    ++counts[static_cast<std::size_t>(k + 3)];
  }
  double chi2 = 0.0;
  for (int c : counts) chi2 += (c - n / 7.0) * (c - n / 7.0) / (n / 7.0);
  EXPECT_LT(chi2, 22.5); // 6 dof: p = 0.001
  EXPECT_EQ(rng.integer(4, 4), 4);
  EXPECT_THROW(rng.integer(2, 1), rewardpath::Error);
}

TEST(Random, NormalHasStandardMoments) {
  Rng rng(31415);
  const int n = 1000000;
  std::vector<double> x(n);
  double sum = 0.0;
  for (double& v : x) sum += (v = rng.normal());
  const double mean = sum / n;
  double m2 = 0, m3 = 0, m4 = 0;
  for (double v : x) {
    const double d = v - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  const double skew = m3 / std::pow(m2, 1.5), excess_kurtosis = m4 / (m2 * m2) - 3.0;
  // Tolerances ~5 standard errors: se(mean) = 1e-3, se(sd) ~ 7e-4, se(skew) ~ 2.4e-3,
  // se(kurtosis) ~ 4.9e-3.
  EXPECT_NEAR(mean, 0.0, 0.005);
  EXPECT_NEAR(std::sqrt(m2), 1.0, 0.0035);
  EXPECT_NEAR(skew, 0.0, 0.012);
  EXPECT_NEAR(excess_kurtosis, 0.0, 0.025);
  // Tail mass: P(|Z| > 1.96) = 0.05, P(|Z| > 3) = 0.0027.
  const auto tail = [&](double z) {
    return static_cast<double>(std::count_if(x.begin(), x.end(), [z](double v) { return std::abs(v) > z; })) /
           n;
  };
  EXPECT_NEAR(tail(1.959964), 0.05, 0.0012);
  EXPECT_NEAR(tail(3.0), 0.0026998, 0.0003);
  Rng r2(1);
  double s2 = 0;
  for (int i = 0; i < 100000; ++i) s2 += r2.normal(10.0, 2.0);
  EXPECT_NEAR(s2 / 100000, 10.0, 0.03);
}

} // namespace
