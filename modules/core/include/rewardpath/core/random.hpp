#pragma once
// Deterministic random numbers, identical on every machine and compiler for a given seed
// (std::normal_distribution is implementation-defined, so we do not use it). Used by the simulator
// (data with known truth) and by the group level's permutations.
#include <cstdint>

namespace rewardpath {

// splitmix64: derives independent stream seeds, e.g. derive_seed(seed, subject, stream).
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0);

// xoshiro256** generator (state seeded by splitmix64) with uniform and standard-normal draws.
class Rng {
public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  double uniform();                     // [0, 1)
  double uniform(double lo, double hi); // [lo, hi)
  double normal();                      // N(0, 1), Marsaglia polar method
  double normal(double mean, double sd) { return mean + sd * normal(); }
  int integer(int lo, int hi);              // inclusive range
  std::uint64_t below(std::uint64_t bound); // [0, bound), no modulo bias

private:
  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

} // namespace rewardpath
