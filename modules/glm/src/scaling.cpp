#include "rewardpath/glm/scaling.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "rewardpath/core/error.hpp"

namespace rewardpath::glm {

void scale_to_percent_of_mean(Volume& run, std::span<const std::uint8_t> mask) {
  const std::int64_t nv = run.voxels_per_volume(), nt = run.volumes();
  if (static_cast<std::int64_t>(mask.size()) != nv)
    throw Error("signal scaling: the mask has " + std::to_string(mask.size()) + " voxels, a volume " +
                std::to_string(nv));
  if (nt == 0) return;
  float* data = run.data();
  // Two passes in file order (blocks of volumes, each voxel summed in time order): the means, then
  // the scaling. A run kept in a scratch file (above the memory budget) pages best this way.
  const auto nvox = static_cast<std::size_t>(nv);
  const std::int64_t block = std::max<std::int64_t>(1, (std::int64_t{16} << 20) / (nv * 4));
  auto by_blocks = [&](const auto& body) {
    for (std::int64_t t0 = 0; t0 < nt; t0 += block) {
      const std::int64_t t1 = std::min(nt, t0 + block);
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, nvox, 8192),
                        [&](const tbb::blocked_range<std::size_t>& r) {
                          for (std::int64_t t = t0; t < t1; ++t) body(data + t * nv, r.begin(), r.end());
                        });
    }
  };
  std::vector<double> mean(nvox, 0.0);
  by_blocks([&](const float* v, std::size_t b, std::size_t e) {
    for (std::size_t i = b; i != e; ++i) mean[i] += v[i];
  });
  std::vector<float> scale(nvox, 0.0f);
  for (std::size_t i = 0; i < nvox; ++i) {
    const double m = mean[i] / static_cast<double>(nt);
    if (mask[i] && m > 0) scale[i] = static_cast<float>(100.0 / m);
  }
  by_blocks([&](float* v, std::size_t b, std::size_t e) {
    for (std::size_t i = b; i != e; ++i) v[i] = scale[i] > 0 ? v[i] * scale[i] - 100.0f : 0.0f;
  });
}

std::vector<double> percent_of_mean(const std::vector<double>& y) {
  double m = 0;
  for (double v : y) m += v;
  m /= static_cast<double>(y.size());
  std::vector<double> out(y.size(), 0.0);
  if (m > 0)
    for (std::size_t t = 0; t < y.size(); ++t) out[t] = 100.0 * (y[t] / m - 1.0);
  return out;
}

} // namespace rewardpath::glm
