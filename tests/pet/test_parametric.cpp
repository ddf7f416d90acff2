// Voxelwise maps equal the ROI-level fits of the same estimator.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "rewardpath/pet/parametric.hpp"
#include "sim_support.hpp"

namespace {

using namespace pet_test;

TEST(Parametric, MapsEqualRoiFits) {
  const auto sched = sim::raclopride_schedule(60.0);
  const auto input = sim::raclopride_input();
  const auto timing = timing_of(sched);
  const auto truth = sim::raclopride_truth(nullptr, 0.0);
  const auto ref = sim::region_tac(input, sim::find_region(truth, "CerebellumRef_L"), sched);
  std::vector<std::vector<double>> tacs;
  for (double bp : {0.2, 0.5, 1.0, 2.0, 3.0})
    tacs.push_back(sim::tissue_tac(input, one_tissue_target(1.1, bp), sched));
  tacs.push_back(sim::region_tac(input, sim::find_region(truth, "Putamen_L"), sched));
  const std::size_t nv = tacs.size(), nf = timing.size();
  std::vector<float> data(nf * nv);
  for (std::size_t v = 0; v < nv; ++v)
    for (std::size_t f = 0; f < nf; ++f) data[f * nv + v] = static_cast<float>(tacs[v][f]);
  const pet::VoxelTacs vox{nf, nv, data.data()};
  const auto bf = pet::bf_srtm_map(timing, ref, vox);
  pet::Mrtm2Params mp;
  mp.k2_prime = 0.25;
  const auto m2 = pet::mrtm2_map(timing, ref, vox, mp);
  for (std::size_t v = 0; v < nv; ++v) {
    std::vector<double> tac(nf);
    for (std::size_t f = 0; f < nf; ++f) tac[f] = static_cast<double>(data[f * nv + v]);
    const auto roi_bf = pet::bf_srtm(timing, tac, ref);
    const auto roi_m2 = pet::mrtm2(timing, tac, ref, mp);
    EXPECT_NEAR(bf.bp_nd[v], roi_bf.bp_nd, 1e-4 * std::abs(roi_bf.bp_nd) + 1e-5) << v;
    EXPECT_NEAR(bf.r1[v], roi_bf.r1, 1e-4) << v;
    EXPECT_NEAR(m2.bp_nd[v], roi_m2.bp_nd, 1e-4 * std::abs(roi_m2.bp_nd) + 1e-5) << v;
    EXPECT_NEAR(m2.r1[v], roi_m2.r1, 1e-4) << v;
    EXPECT_EQ(m2.flags[v], 0);
  }
  // A NaN voxel is flagged, not propagated.
  data[3 * nv + 1] = std::nanf("");
  const auto bad = pet::bf_srtm_map(timing, ref, vox);
  EXPECT_EQ(bad.flags[1], pet::kFlagFailed);
  EXPECT_TRUE(std::isnan(bad.bp_nd[1]));
  EXPECT_NEAR(bad.bp_nd[0], bf.bp_nd[0], 1e-6);
}

} // namespace
