// Percent signal scaling: hand-derived values, and a large run (several TBB blocks) against a
// direct double-precision computation at 1 and 2 threads.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/random.hpp"
#include "rewardpath/glm/scaling.hpp"

using namespace rewardpath;

TEST(Scaling, HandDerivedPercentOfTheVoxelMean) {
  Grid g;
  g.dims = {3, 1, 1};
  Volume run(g, 4, 0.0f);
  const float in[4][3] = {{1, 7, -1}, {2, 7, 0}, {3, 7, 0}, {4, 7, 0}}; // [t][voxel]
  for (int t = 0; t < 4; ++t)
    for (int v = 0; v < 3; ++v) run.data()[t * 3 + v] = in[t][v];
  const std::vector<std::uint8_t> mask = {1, 0, 1}; // voxel 1 outside; voxel 2 has mean -0.25
  glm::scale_to_percent_of_mean(run, mask);
  const float want0[4] = {-60, -20, 20, 60}; // mean 2.5: 100 (y / 2.5 - 1)
  for (int t = 0; t < 4; ++t) {
    EXPECT_NEAR(run.data()[t * 3 + 0], want0[t], 1e-5) << "t " << t;
    EXPECT_EQ(run.data()[t * 3 + 1], 0.0f) << "outside the mask";
    EXPECT_EQ(run.data()[t * 3 + 2], 0.0f) << "mean <= 0";
  }
  EXPECT_THROW(glm::scale_to_percent_of_mean(run, std::vector<std::uint8_t>(2, 1)), Error);
}

TEST(Scaling, LargeRunMatchesDirectComputationAtAnyThreadCount) {
  Grid g;
  g.dims = {37, 29, 11}; // 11803 voxels: blocks of 4096 end mid-row
  const int nt = 23;
  Volume original(g, nt, 0.0f);
  Rng rng(7);
  for (std::size_t i = 0; i < original.size(); ++i)
    original.data()[i] = static_cast<float>(1000.0 + 50.0 * rng.normal());
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(original.voxels_per_volume()));
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = (i * 7919) % 5 != 0;
  const auto nv = original.voxels_per_volume();
  for (int threads : {1, 2}) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    Volume run(g, nt);
    std::copy(original.data(), original.data() + original.size(), run.data());
    glm::scale_to_percent_of_mean(run, mask);
    for (std::int64_t v = 0; v < nv; ++v) {
      double m = 0;
      for (int t = 0; t < nt; ++t) m += original.data()[t * nv + v];
      m /= nt;
      for (int t = 0; t < nt; ++t) {
        const double want =
            mask[static_cast<std::size_t>(v)] ? 100.0 * (original.data()[t * nv + v] / m - 1.0) : 0.0;
        ASSERT_NEAR(run.data()[t * nv + v], want, 2e-4)
            << "voxel " << v << " t " << t << " threads " << threads;
      }
    }
  }
}
