// Reference-tissue models against the simulator's [11C]raclopride kinetics (independent ground
// truth: a compartment ODE solved on a fine grid and frame-averaged in modules/simulate).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/pet/reference.hpp"
#include "sim_support.hpp"

namespace {

using namespace pet_test;
using rewardpath::simulate::Rng;

constexpr double kK2Ref = 0.25; // reference efflux of the simulator (K1' = 0.1, V_ND = 0.4)

struct SimStudy {
  sim::FrameSchedule schedule = sim::raclopride_schedule(60.0);
  sim::PlasmaInput input = sim::raclopride_input();
  pet::FrameTiming timing = timing_of(schedule);
  std::vector<sim::RegionTruth> truth;
  std::vector<double> reference;
  explicit SimStudy(double vb_scale) : truth(sim::raclopride_truth(nullptr, vb_scale)) {
    reference = sim::region_tac(input, sim::find_region(truth, "CerebellumRef_L"), schedule);
  }
};

// Every reference model on one target; BP_ND in a fixed order.
struct AllModels {
  double srtm, srtm2, mrtm, mrtm2, logan, bf;
};
AllModels fit_all(const pet::FrameTiming& t, const std::vector<double>& target,
                  const std::vector<double>& ref, const std::vector<double>& weights = {}) {
  AllModels m{};
  pet::SrtmParams sp;
  sp.weights = weights;
  m.srtm = pet::srtm(t, target, ref, sp).bp_nd;
  pet::Srtm2Params s2;
  s2.weights = weights;
  s2.k2_prime = kK2Ref;
  m.srtm2 = pet::srtm2(t, target, ref, s2).bp_nd;
  pet::MrtmParams mp;
  mp.weights = weights;
  m.mrtm = pet::mrtm(t, target, ref, mp).bp_nd;
  pet::Mrtm2Params m2;
  m2.weights = weights;
  m2.k2_prime = kK2Ref;
  m.mrtm2 = pet::mrtm2(t, target, ref, m2).bp_nd;
  pet::LoganRefParams lp;
  lp.weights = weights;
  lp.k2_prime = kK2Ref;
  lp.tstar.tstar_s = 25.0 * 60.0;
  m.logan = pet::logan_reference(t, target, ref, lp).bp_nd;
  pet::BfSrtmParams bp;
  bp.weights = weights;
  m.bf = pet::bf_srtm(t, target, ref, bp).bp_nd;
  return m;
}

double rel(double got, double want) { return (got - want) / want; }

TEST(Reference, NoiseFreeOneTissueTargetsAllModelsWithin1Percent) {
  SimStudy s(0.0);
  for (double bp : {0.3, 1.0, 2.0, 3.0}) {
    const auto tac = sim::tissue_tac(s.input, one_tissue_target(1.1, bp), s.schedule);
    const AllModels m = fit_all(s.timing, tac, s.reference);
    std::printf(
        "1T target BP %.2f: SRTM %+.4f%% SRTM2 %+.4f%% MRTM %+.4f%% MRTM2 %+.4f%% Logan %+.4f%% BF %+.4f%%\n",
        bp, 100 * rel(m.srtm, bp), 100 * rel(m.srtm2, bp), 100 * rel(m.mrtm, bp), 100 * rel(m.mrtm2, bp),
        100 * rel(m.logan, bp), 100 * rel(m.bf, bp));
    EXPECT_NEAR(m.srtm, bp, 0.01 * bp);
    EXPECT_NEAR(m.srtm2, bp, 0.01 * bp);
    EXPECT_NEAR(m.mrtm, bp, 0.01 * bp);
    EXPECT_NEAR(m.mrtm2, bp, 0.01 * bp);
    EXPECT_NEAR(m.logan, bp, 0.01 * bp);
    EXPECT_NEAR(m.bf, bp, 0.03 * bp); // basis grid spacing (100 log-spaced theta3) limits BF-SRTM
  }
}

TEST(Reference, NoiseFreeSimulatorTruthNoBlood) {
  SimStudy s(0.0);
  for (const char* roi : {"Putamen_L", "Caudate_L", "NAcc_L", "Amygdala_L", "vmPFC_L"}) {
    const auto& r = sim::find_region(s.truth, roi);
    const auto tac = sim::region_tac(s.input, r, s.schedule);
    const AllModels m = fit_all(s.timing, tac, s.reference);
    std::printf(
        "%-12s BP %.2f: SRTM %+.3f%% SRTM2 %+.3f%% MRTM %+.3f%% MRTM2 %+.3f%% Logan %+.3f%% BF %+.3f%%\n",
        roi, r.bp_nd, 100 * rel(m.srtm, r.bp_nd), 100 * rel(m.srtm2, r.bp_nd), 100 * rel(m.mrtm, r.bp_nd),
        100 * rel(m.mrtm2, r.bp_nd), 100 * rel(m.logan, r.bp_nd), 100 * rel(m.bf, r.bp_nd));
    // Logan (t* = 25 min, k2' known) holds for two-tissue targets once they equilibrate.
    // Low-BP regions: within 0.01 absolute (1.2% and 1.7% relative at BP 0.4 and 0.2).
    EXPECT_NEAR(m.logan, r.bp_nd, r.bp_nd >= 1.0 ? 0.01 * r.bp_nd : 0.01) << roi;
    // SRTM/MRTM (all frames) assume a target that behaves as one tissue; the simulator's k4 =
    // 0.15/min is slow, so they overestimate by a few percent (documented, asserted as a range).
    EXPECT_GT(rel(m.srtm, r.bp_nd), 0.0) << roi;
    EXPECT_LT(rel(m.srtm, r.bp_nd), 0.06) << roi;
    EXPECT_GT(rel(m.mrtm, r.bp_nd), 0.0) << roi;
    EXPECT_LT(rel(m.mrtm, r.bp_nd), 0.06) << roi;
  }
}

TEST(Reference, BloodVolumeBiasesReferenceModels) {
  SimStudy s(1.0);
  const auto& r = sim::find_region(s.truth, "Putamen_L");
  const auto tac = sim::region_tac(s.input, r, s.schedule);
  const AllModels m = fit_all(s.timing, tac, s.reference);
  std::printf("vb realistic, putamen BP %.2f: SRTM %+.2f%% SRTM2 %+.2f%% MRTM %+.2f%% MRTM2 %+.2f%% Logan "
              "%+.2f%% BF %+.2f%%\n",
              r.bp_nd, 100 * rel(m.srtm, r.bp_nd), 100 * rel(m.srtm2, r.bp_nd), 100 * rel(m.mrtm, r.bp_nd),
              100 * rel(m.mrtm2, r.bp_nd), 100 * rel(m.logan, r.bp_nd), 100 * rel(m.bf, r.bp_nd));
  // The simulator's engineer measured ~14% low for Logan at these vb; every reference model is
  // biased low by the vascular signal in the reference and target.
  EXPECT_LT(rel(m.logan, r.bp_nd), -0.10);
  EXPECT_GT(rel(m.logan, r.bp_nd), -0.20);
  for (double v : {m.srtm, m.srtm2, m.mrtm, m.mrtm2, m.bf}) {
    EXPECT_LT(rel(v, r.bp_nd), -0.08);
    EXPECT_GT(rel(v, r.bp_nd), -0.22);
  }
}

TEST(Reference, NoisyReplicatesBiasAndSpread) {
  // 200 replicates of a one-tissue putamen-like target (BP_ND 3, R1 1.15) and the reference with
  // the simulator's counting-noise model (level 30: ~1-2% per late ROI frame), inverse-variance
  // weights from the noisy target. Bias and spread per model are printed and asserted loosely.
  SimStudy s(0.0);
  const double bp = 3.0;
  const auto target = sim::tissue_tac(s.input, one_tissue_target(1.15, bp), s.schedule);
  const auto sd_t = sim::frame_noise_sds(target, s.schedule, 30.0);
  const auto sd_r = sim::frame_noise_sds(s.reference, s.schedule, 30.0);
  Rng rng(20240611);
  const char* names[] = {"SRTM", "SRTM2", "MRTM", "MRTM2", "LoganRef", "BF-SRTM"};
  std::vector<std::vector<double>> est(6);
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<double> t = target, r = s.reference;
    for (std::size_t i = 0; i < t.size(); ++i) {
      t[i] += sd_t[i] * rng.normal();
      r[i] += sd_r[i] * rng.normal();
    }
    const auto w = pet::frame_weights(s.timing, t);
    const AllModels m = fit_all(s.timing, t, r, w);
    const double v[] = {m.srtm, m.srtm2, m.mrtm, m.mrtm2, m.logan, m.bf};
    for (int k = 0; k < 6; ++k) est[static_cast<std::size_t>(k)].push_back(v[k]);
  }
  for (int k = 0; k < 6; ++k) {
    const auto& e = est[static_cast<std::size_t>(k)];
    double mean = 0.0, var = 0.0;
    for (double x : e) mean += x / static_cast<double>(e.size());
    for (double x : e) var += (x - mean) * (x - mean) / static_cast<double>(e.size() - 1);
    const double bias = 100 * (mean - bp) / bp, spread = 100 * std::sqrt(var) / bp;
    std::printf("noisy (200 reps, BP 3): %-8s bias %+.2f%%  sd %.2f%%\n", names[k], bias, spread);
    EXPECT_LT(std::abs(bias), 5.0) << names[k];
    EXPECT_LT(spread, 10.0) << names[k];
    EXPECT_GT(spread, 0.05) << names[k];
  }
}

TEST(Reference, ReportsDiagnostics) {
  SimStudy s(0.0);
  const auto tac = sim::tissue_tac(s.input, one_tissue_target(1.1, 2.0), s.schedule);
  const pet::BindingPotential f = pet::srtm(s.timing, tac, s.reference);
  ASSERT_EQ(f.fit.parameter_names.size(), 3u);
  EXPECT_EQ(f.fit.residuals.size(), s.timing.size());
  EXPECT_GT(f.fit.r_squared, 0.99999);
  EXPECT_FALSE(f.fit.failed);
  EXPECT_FALSE(f.fit.at_bound);
  EXPECT_NEAR(f.r1, 1.1, 0.011);
  EXPECT_NEAR(f.k2_prime, kK2Ref, 0.01 * kK2Ref);
  EXPECT_TRUE(std::isfinite(f.bp_nd_se));
  // A bound that binds is flagged.
  pet::SrtmParams p;
  p.bp_max = 1.5;
  const pet::BindingPotential b = pet::srtm(s.timing, tac, s.reference, p);
  EXPECT_TRUE(b.fit.at_bound);
  EXPECT_NEAR(b.bp_nd, 1.5, 1e-6);
  // MRTM's k2' feeds MRTM2; automatic Logan t* reports its linearity check.
  const pet::BindingPotential m1 = pet::mrtm(s.timing, tac, s.reference);
  EXPECT_NEAR(m1.k2_prime, kK2Ref, 1e-3 * kK2Ref);
  pet::LoganRefParams lp;
  lp.k2_prime = m1.k2_prime;
  lp.tstar.max_rel_error = 0.01;
  const pet::BindingPotential lg = pet::logan_reference(s.timing, tac, s.reference, lp);
  std::printf("Logan auto t*: %.0f s, max rel residual %.2e, BP %.4f\n", lg.tstar_s, lg.max_rel_residual,
              lg.bp_nd);
  EXPECT_LE(lg.max_rel_residual, 0.01);
  EXPECT_NEAR(lg.bp_nd, 2.0, 0.02);
}

} // namespace
