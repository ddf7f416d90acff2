#pragma once
// Deterministic random numbers, identical on every machine and compiler for a given seed
// (std::normal_distribution is implementation-defined, so we do not use it).
#include <cstdint>

namespace rewardpath::simulate {

// splitmix64: derives independent stream seeds, e.g. derive_seed(seed, subject, stream).
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0);

// xoshiro256** generator with uniform and standard-normal draws.
class Rng {
public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  double uniform();                     // [0, 1)
  double uniform(double lo, double hi); // [lo, hi)
  double normal();                      // N(0, 1), Marsaglia polar method
  double normal(double mean, double sd) { return mean + sd * normal(); }
  int integer(int lo, int hi); // inclusive range

private:
  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

} // namespace rewardpath::simulate
