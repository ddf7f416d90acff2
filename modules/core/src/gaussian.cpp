#include "rewardpath/core/gaussian.hpp"

#include <cmath>
#include <cstddef>

namespace rewardpath {

std::vector<double> gaussian_kernel(double sigma, std::int64_t radius, bool normalise) {
  std::vector<double> w(static_cast<std::size_t>(2 * radius + 1));
  double sum = 0.0;
  for (std::int64_t x = -radius; x <= radius; ++x) {
    const double v = std::exp(-0.5 * static_cast<double>(x * x) / (sigma * sigma));
    w[static_cast<std::size_t>(x + radius)] = v;
    sum += v;
  }
  if (normalise)
    for (auto& v : w) v /= sum;
  return w;
}

} // namespace rewardpath
