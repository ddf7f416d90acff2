#pragma once
// Helpers shared by the glm tests: events, AR(1) noise, designs.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "rewardpath/bids/events.hpp"

namespace glm_test {

// Two conditions "a" and "b" alternating every ~10 s (jittered), duration 2 s.
inline rewardpath::bids::Events two_condition_events(double run_s, std::uint64_t seed) {
  rewardpath::bids::Events ev;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> jitter(0.0, 4.0);
  int i = 0;
  for (double t = 6.0; t < run_s - 20.0; t += 8.0 + jitter(rng), ++i) {
    ev.onset.push_back(t);
    ev.duration.push_back(2.0);
    ev.trial_type.push_back(i % 2 ? "b" : "a");
    ev.line.push_back(static_cast<std::size_t>(i + 2));
  }
  return ev;
}

// x_t = rho x_{t-1} + e_t with stationary start and unit marginal variance * sd^2.
inline void ar1_series(std::mt19937_64& rng, double rho, double sd, float* out, std::size_t n,
                       std::size_t stride) {
  std::normal_distribution<double> z(0.0, 1.0);
  const double innov = sd * std::sqrt(1.0 - rho * rho);
  double x = sd * z(rng);
  for (std::size_t t = 0; t < n; ++t) {
    if (t > 0) x = rho * x + innov * z(rng);
    out[t * stride] = static_cast<float>(x);
  }
}

} // namespace glm_test
