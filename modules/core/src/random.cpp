// Deterministic random numbers: splitmix64 (seed derivation and state seeding) and xoshiro256**
// (Blackman & Vigna, https://prng.di.unimi.it/), with the Marsaglia polar method for normals.
// Every operation is integer arithmetic or IEEE double arithmetic in a fixed order, so the
// stream is identical on every machine and compiler for a given seed.
#include "rewardpath/core/random.hpp"

#include <cmath>
#include <string>

#include "rewardpath/core/error.hpp"

namespace rewardpath {
namespace {

// splitmix64 step (Steele, Lea & Flood 2014; reference code by S. Vigna): advances `x` by the
// golden-ratio increment and returns the mixed value.
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

} // namespace

// Chains splitmix64 through the seed and each key: h = sm(seed); h = sm(h ^ a); h = sm(h ^ b);
// h = sm(h ^ c). Distinct (seed, a, b, c) give unrelated streams.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  std::uint64_t x = seed;
  std::uint64_t h = splitmix64(x);
  for (std::uint64_t key : {a, b, c}) {
    x = h ^ key;
    h = splitmix64(x);
  }
  return h;
}

// State = four consecutive splitmix64 outputs starting from `seed` (the seeding the xoshiro
// authors recommend); never all zero because splitmix64 is a bijection of successive states.
Rng::Rng(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

// xoshiro256** 1.0.
std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

// Top 53 bits scaled by 2^-53: exactly representable, in [0, 1).
double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::uniform(double lo, double hi) {
  if (!(hi > lo)) {
    throw Error("Rng::uniform: need lo < hi (got lo=" + std::to_string(lo) + ", hi=" + std::to_string(hi) +
                ")");
  }
  const double u = lo + (hi - lo) * uniform();
  return u < hi ? u : lo; // guard the rounding case lo + (hi-lo)*u == hi
}

// Marsaglia polar method: draw (u, v) uniform in (-1, 1)^2 until 0 < s = u^2 + v^2 < 1; then
// u*m and v*m with m = sqrt(-2 ln s / s) are independent N(0, 1). The second is kept as spare.
double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u = 0.0, v = 0.0, s = 0.0;
  do {
    u = 2.0 * uniform() - 1.0;
    v = 2.0 * uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double m = std::sqrt(-2.0 * std::log(s) / s);
  spare_ = v * m;
  has_spare_ = true;
  return u * m;
}

// Uniform in [0, bound): rejection of the top partial block, then the remainder.
std::uint64_t Rng::below(std::uint64_t bound) {
  if (bound == 0) throw Error("Rng::below: bound must be positive");
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  std::uint64_t x = next();
  while (x >= limit) x = next();
  return x % bound;
}

// Unbiased integer in [lo, hi]: rejection of the top partial block, then the remainder.
int Rng::integer(int lo, int hi) {
  if (hi < lo) {
    throw Error("Rng::integer: need lo <= hi (got lo=" + std::to_string(lo) + ", hi=" + std::to_string(hi) +
                ")");
  }
  const std::uint64_t range =
      static_cast<std::uint64_t>(static_cast<std::int64_t>(hi) - static_cast<std::int64_t>(lo)) + 1;
  const std::uint64_t limit = UINT64_MAX - (UINT64_MAX % range + 1) % range; // largest multiple - 1
  std::uint64_t r = 0;
  do {
    r = next();
  } while (r > limit);
  return static_cast<int>(static_cast<std::int64_t>(lo) + static_cast<std::int64_t>(r % range));
}

} // namespace rewardpath
