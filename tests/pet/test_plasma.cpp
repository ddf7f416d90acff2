// Plasma-input models: simulator truth (noise-free) and kinfitr's real [11C]PBR28 data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "rewardpath/pet/plasma.hpp"
#include "sim_support.hpp"

namespace {

using namespace pet_test;

struct Sim {
  sim::FrameSchedule schedule = sim::raclopride_schedule(60.0);
  sim::PlasmaInput input = sim::raclopride_input();
  pet::FrameTiming timing = timing_of(schedule);
  pet::ArterialInput arterial = dense_input(input, 3600.0);
};

TEST(Plasma, OneTissueRecoversRatesNoiseFree) {
  Sim s;
  sim::Kinetics k;
  k.K1 = 0.1;
  k.k2 = 0.25;
  k.vb = 0.05;
  const auto tac = sim::tissue_tac(s.input, k, s.schedule);
  const pet::PlasmaFit f = pet::one_tcm(s.timing, tac, s.arterial);
  std::printf("1TCM: K1 %.5f k2 %.5f vB %.5f VT %.5f (truth 0.1 0.25 0.05 0.4)\n", f.K1, f.k2, f.vb, f.vt);
  EXPECT_NEAR(f.K1, 0.1, 1e-3);
  EXPECT_NEAR(f.k2, 0.25, 2.5e-3);
  EXPECT_NEAR(f.vb, 0.05, 5e-4);
  EXPECT_NEAR(f.vt, 0.4, 4e-3);
  EXPECT_FALSE(f.fit.failed);
}

TEST(Plasma, TwoTissueRecoversRatesNoiseFree) {
  Sim s;
  const auto truth = sim::raclopride_truth(nullptr, 1.0);
  for (const char* roi : {"Putamen_L", "NAcc_L"}) {
    const auto& r = sim::find_region(truth, roi);
    const auto tac = sim::region_tac(s.input, r, s.schedule);
    const pet::PlasmaFit f = pet::two_tcm(s.timing, tac, s.arterial);
    const auto& k = r.kinetics;
    const double vt = k.K1 / k.k2 * (1 + k.k3 / k.k4);
    std::printf("2TCM %s: K1 %.5f/%.5f k2 %.5f/%.5f k3 %.5f/%.5f k4 %.5f/%.5f vB %.4f/%.4f VT %.4f/%.4f\n",
                roi, f.K1, k.K1, f.k2, k.k2, f.k3, k.k3, f.k4, k.k4, f.vb, k.vb, f.vt, vt);
    EXPECT_NEAR(f.K1, k.K1, 0.01 * k.K1) << roi;
    EXPECT_NEAR(f.k2, k.k2, 0.01 * k.k2) << roi;
    EXPECT_NEAR(f.k3, k.k3, 0.01 * k.k3) << roi;
    EXPECT_NEAR(f.k4, k.k4, 0.01 * k.k4) << roi;
    EXPECT_NEAR(f.vt, vt, 0.01 * vt) << roi;
    EXPECT_NEAR(f.bp_nd, r.bp_nd, 0.01 * r.bp_nd) << roi;
    // Logan plasma (no blood correction: vb biases it slightly) and the 1TCM V_T.
    pet::GraphicalParams gp;
    gp.tstar.tstar_s = 20 * 60.0;
    const pet::PlasmaFit lg = pet::logan_plasma(s.timing, tac, s.arterial, gp);
    std::printf("Logan plasma %s: VT %.4f (truth %.4f, %+.2f%%), max rel residual %.2e\n", roi, lg.vt, vt,
                100 * (lg.vt - vt) / vt, lg.max_rel_residual);
    EXPECT_NEAR(lg.vt, vt, 0.05 * vt) << roi;
  }
}

TEST(Plasma, PatlakIrreversible) {
  Sim s;
  sim::Kinetics k;
  k.K1 = 0.1;
  k.k2 = 0.2;
  k.k3 = 0.05;
  k.k4 = 0.0;
  k.vb = 0.0;
  const auto tac = sim::tissue_tac(s.input, k, s.schedule);
  pet::GraphicalParams gp;
  gp.tstar.tstar_s = 20 * 60.0;
  const pet::PlasmaFit p = pet::patlak(s.timing, tac, s.arterial, gp);
  const double ki = k.K1 * k.k3 / (k.k2 + k.k3);
  std::printf("Patlak Ki %.5f (truth %.5f)\n", p.ki, ki);
  // The metabolite-corrected input keeps falling, so the Patlak plot is only asymptotically
  // linear: ~3% low at t* = 20 min on 60 min.
  EXPECT_NEAR(p.ki, ki, 0.05 * ki);
}

// --- kinfitr's real [11C]PBR28 data ----------------------------------------------------------

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, ',')) cells.push_back(c);
    rows.push_back(cells);
  }
  return rows;
}

struct Pbr28 {
  pet::FrameTiming timing;
  std::map<std::string, std::vector<double>> tacs;
  std::vector<double> weights;
  pet::ArterialInput input;
};

Pbr28 load_pbr28(const std::string& pet_id) {
  const std::string dir = std::string(RP_SHARED_DATA) + "/pet/pbr28_arterial/data-raw/";
  const auto tac = read_csv(dir + "pbr28_tacdata.csv");
  Pbr28 d;
  const auto& head = tac.at(0);
  for (std::size_t r = 1; r < tac.size(); ++r) {
    const auto& row = tac[r];
    if (row.at(0) != pet_id) continue;
    std::map<std::string, double> v;
    for (std::size_t c = 1; c < head.size(); ++c) v[head[c]] = std::stod(row.at(c));
    if (!(v["Duration"] > 0.0)) continue; // kinfitr's zero-length frame at t = 0
    d.timing.start_s.push_back(v["StartTime"]);
    d.timing.duration_s.push_back(v["Duration"]);
    d.weights.push_back(v["Weights"]);
    for (const char* roi : {"FC", "TC", "STR", "THA", "WB", "CBL"}) d.tacs[roi].push_back(v[roi]);
  }
  d.timing.half_life_s = pet::kC11HalfLifeS;
  const auto blood = read_csv(dir + "pbr28_blooddata.csv");
  for (std::size_t r = 1; r < blood.size(); ++r) {
    if (blood[r].at(0) != pet_id) continue;
    d.input.time_s.push_back(std::stod(blood[r][1]));
    d.input.whole_blood.push_back(std::stod(blood[r][2]));
    d.input.plasma.push_back(std::stod(blood[r][3]));
  }
  return d;
}

// kinfitr's fits of the same data: its default 1TCM fit (delay fitted from 0 within +-0.5 min, vB in
// [0.01, 0.1]), then 1TCM, 2TCM and Logan (tstar = 10: the last 10 frames, uniform weights) at that
// delay. Recorded from kinfitr v0.9.1 (tests/pet/kinfitr_pbr28.R); recomputed live when
// RP_KINFITR_DIR points at kinfitr's sources and Rscript runs.
struct KinfitrPbr28 {
  std::string id, roi;
  double delay_min, vt_1tcm, K1, k2, vb, vt_2tcm, k4_2tcm, vt_logan;
};

const std::vector<KinfitrPbr28> kRecordedKinfitr = {
    {"rwrd_2", "FC", 0.007787915, 2.981198, 0.1217053, 0.04082429, 0.05111862, 3.582802, 0.02399964,
     3.537679},
    {"rwrd_2", "WB", 0.003156158, 2.842685, 0.1009525, 0.03551308, 0.04939395, 3.481922, 0.0251176, 3.507424},
    {"rwrd_1", "FC", -0.007649336, 3.220452, 0.1401245, 0.04351081, 0.08155589, 3.782258, 0.02771307,
     3.759093},
    {"rwrd_1", "WB", 0.1147966, 3.093418, 0.1205913, 0.0389832, 0.1, 3.099086, 0.5, 3.809847},
    {"flfp_1", "FC", 0.08622765, 6.54848, 0.2343797, 0.03579146, 0.1, 7.113506, 0.05697201, 7.450074},
    {"flfp_1", "WB", 0.08365074, 6.323463, 0.1984402, 0.03138156, 0.0897812, 7.000762, 0.04658996, 7.559473},
    {"cgyu_1", "FC", 0.05337307, 1.894298, 0.09709622, 0.05125711, 0.06191407, 2.2135, 0.04699171, 2.506787},
    {"cgyu_1", "WB", 0.06346877, 1.92278, 0.08433266, 0.04385975, 0.06478332, 2.286934, 0.03965003, 2.607717},
    {"cgyu_2", "FC", 0.1438066, 2.192692, 0.1001575, 0.0456779, 0.06270372, 2.444533, 0.05538742, 2.706825},
    {"cgyu_2", "WB", 0.1459094, 2.220566, 0.08804439, 0.03964953, 0.06539548, 2.475376, 0.05559563, 2.770434},
};

std::vector<KinfitrPbr28> kinfitr_pbr28() {
  const char* dir = std::getenv("RP_KINFITR_DIR");
  if (dir == nullptr) {
    std::printf("RP_KINFITR_DIR not set: comparing with kinfitr values recorded in test_plasma.cpp\n");
    return kRecordedKinfitr;
  }
  std::string cmd = "Rscript " + std::string(RP_SOURCE_DIR) + "/tests/pet/kinfitr_pbr28.R '" + dir + "'";
  for (const char* id : {"rwrd_2", "rwrd_1", "flfp_1", "cgyu_1", "cgyu_2"}) cmd += std::string(" ") + id;
  std::string out;
  if (FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    if (pclose(p) != 0) out.clear();
  }
  std::istringstream in(out);
  std::vector<KinfitrPbr28> live;
  KinfitrPbr28 k;
  while (in >> k.id >> k.roi >> k.delay_min >> k.vt_1tcm >> k.K1 >> k.k2 >> k.vb >> k.vt_2tcm >> k.k4_2tcm >>
         k.vt_logan)
    live.push_back(k);
  if (live.size() != kRecordedKinfitr.size()) {
    ADD_FAILURE() << "RP_KINFITR_DIR=" << dir << " set but `" << cmd << "` gave no usable output";
    return kRecordedKinfitr;
  }
  std::printf("kinfitr run live from %s\n", dir);
  return live;
}

TEST(Plasma, Pbr28MatchesKinfitr) {
  // Same subject, same input, same delay: our 1TCM equals kinfitr's to ~1e-4 (kinfitr samples the
  // model at the frame mids, we average it over the frame: with 10-s early frames that is ~0.01%).
  // 2TCM: both are local fits (kinfitr one start with k4 <= 0.5; ours several starts) of a model
  // that PBR28 data barely identify; Logan: kinfitr interpolates the TAC linearly between mid
  // times for its integral and samples int C_p at the mids, we use frame means (a few 0.1%).
  // Our delay search (a grid over [-30, 30] s, the global WRSS minimum) can end elsewhere than
  // kinfitr's local LM from 0: the first frames, which carry the arrival, have zero weight, so the
  // delay is set by the curve shape (rwrd_2 FC: WRSS falls to a minimum near -41 s, where kinfitr's
  // own model agrees with ours, V_T +3%). The published table NOTES.md names
  // (reference_values/pbr28_VT_testretest_kinfitr.tsv) is not in ../shared/data.
  for (const KinfitrPbr28& k : kinfitr_pbr28()) {
    const Pbr28 d = load_pbr28(k.id);
    ASSERT_GT(d.timing.size(), 20u) << k.id;
    const auto& tac = d.tacs.at(k.roi);
    const std::string what = k.id + " " + k.roi;
    pet::CompartmentParams cp;
    cp.weights = d.weights;
    cp.delay_s = 60.0 * k.delay_min;
    cp.vb_max = 0.1; // kinfitr's vB.upper
    const pet::PlasmaFit one = pet::one_tcm(d.timing, tac, d.input, cp);
    const pet::PlasmaFit two = pet::two_tcm(d.timing, tac, d.input, cp);
    pet::GraphicalParams gp;
    gp.delay_s = cp.delay_s;
    gp.tstar.tstar_s = d.timing.mid_s()[d.timing.size() - 10];
    const pet::PlasmaFit lg = pet::logan_plasma(d.timing, tac, d.input, gp);
    pet::CompartmentParams free = cp;
    free.fit_delay = true; // default grid [-30, 30] s = kinfitr's inpshift bounds
    const pet::PlasmaFit fd = pet::one_tcm(d.timing, tac, d.input, free);
    const auto rel = [](double a, double b) { return 100.0 * (a - b) / b; };
    std::printf(
        "PBR28 %s delay %+5.1f s | 1TCM VT %.4f/%.4f (%+.3f%%) K1 %+.3f%% k2 %+.3f%% vB %.4f/%.4f | "
        "2TCM VT %.3f/%.3f (%+.2f%%) | Logan VT %.3f/%.3f (%+.2f%%) | own delay %+5.1f s: 1TCM VT %.3f "
        "(%+.2f%%)\n",
        what.c_str(), cp.delay_s, one.vt, k.vt_1tcm, rel(one.vt, k.vt_1tcm), rel(one.K1, k.K1),
        rel(one.k2, k.k2), one.vb, k.vb, two.vt, k.vt_2tcm, rel(two.vt, k.vt_2tcm), lg.vt, k.vt_logan,
        rel(lg.vt, k.vt_logan), fd.delay_s, fd.vt, rel(fd.vt, k.vt_1tcm));
    EXPECT_NEAR(one.vt, k.vt_1tcm, 2e-3 * k.vt_1tcm) << what; // flfp_1 FC: kinfitr's vB at 0.1
    EXPECT_NEAR(one.K1, k.K1, 5e-3 * k.K1) << what;
    EXPECT_NEAR(one.k2, k.k2, 5e-3 * k.k2) << what;
    if (k.k4_2tcm < 0.499) { // rwrd_1 WB: kinfitr's 2TCM stops at k4 = 0.5 and vB = 0.1 (its bounds)
      EXPECT_NEAR(two.vt, k.vt_2tcm, 0.02 * k.vt_2tcm) << what;
    } else {
      EXPECT_GE(two.vt, k.vt_1tcm) << what; // ours, unbounded in k4: 2TCM V_T above 1TCM's
    }
    EXPECT_NEAR(lg.vt, k.vt_logan, 0.01 * k.vt_logan) << what;
    EXPECT_NEAR(fd.vt, k.vt_1tcm, 0.05 * k.vt_1tcm) << what;
  }
}

} // namespace
