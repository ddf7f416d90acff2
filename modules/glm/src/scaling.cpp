#include "rewardpath/glm/scaling.hpp"

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
  // Blocks of voxels: each block's rows are read volume by volume (contiguous within a volume),
  // and its means stay in cache between the two passes.
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, nv, 4096),
                    [&](const tbb::blocked_range<std::int64_t>& r) {
                      const std::int64_t b = r.begin(), n = r.end() - r.begin();
                      std::vector<double> mean(static_cast<std::size_t>(n), 0.0);
                      for (std::int64_t t = 0; t < nt; ++t) {
                        const float* v = data + t * nv + b;
                        for (std::int64_t i = 0; i < n; ++i) mean[static_cast<std::size_t>(i)] += v[i];
                      }
                      std::vector<float> scale(static_cast<std::size_t>(n), 0.0f);
                      for (std::int64_t i = 0; i < n; ++i) {
                        const double m = mean[static_cast<std::size_t>(i)] / static_cast<double>(nt);
                        if (mask[static_cast<std::size_t>(b + i)] && m > 0)
                          scale[static_cast<std::size_t>(i)] = static_cast<float>(100.0 / m);
                      }
                      for (std::int64_t t = 0; t < nt; ++t) {
                        float* v = data + t * nv + b;
                        for (std::int64_t i = 0; i < n; ++i) {
                          const float s = scale[static_cast<std::size_t>(i)];
                          v[i] = s > 0 ? v[i] * s - 100.0f : 0.0f;
                        }
                      }
                    });
}

} // namespace rewardpath::glm
