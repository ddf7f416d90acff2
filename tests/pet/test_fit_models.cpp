// pet::fit_models and pet::fit_plasma_models: the model table gives exactly what direct calls of
// each model give; k2' is the median MRTM k2'; failures and empty regions are results, not throws.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "rewardpath/pet/fit_models.hpp"
#include "sim_support.hpp"

namespace {

using namespace pet_test;
using pet::PlasmaModel;
using pet::ReferenceModel;

struct Study {
  sim::FrameSchedule schedule = sim::raclopride_schedule(60.0);
  sim::PlasmaInput input = sim::raclopride_input();
  pet::FrameTiming timing = timing_of(schedule);
  std::vector<sim::RegionTruth> truth = sim::raclopride_truth(nullptr, 1.0);
  std::vector<double> reference = tac("CerebellumRef_L").tac;
  std::vector<double> weights = pet::frame_weights(timing, reference, {});

  pet::RegionTac tac(const std::string& roi) const {
    return {roi, 10, sim::region_tac(input, sim::find_region(truth, roi), schedule)};
  }
};

// Equal, NaN equal to NaN (a field a model does not estimate stays NaN).
bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }
bool same(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](double x, double y) { return same(x, y); });
}

// The same BindingPotential, field by field (bit for bit: same code path, same inputs).
void expect_same(const pet::BindingPotential& a, const pet::BindingPotential& b, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_FALSE(a.fit.failed) << a.fit.message;
  EXPECT_TRUE(std::isfinite(a.bp_nd));
  EXPECT_TRUE(same(a.bp_nd, b.bp_nd)) << a.bp_nd << " vs " << b.bp_nd;
  EXPECT_TRUE(same(a.r1, b.r1)) << a.r1 << " vs " << b.r1;
  EXPECT_TRUE(same(a.k2, b.k2)) << a.k2 << " vs " << b.k2;
  EXPECT_TRUE(same(a.k2_prime, b.k2_prime)) << a.k2_prime << " vs " << b.k2_prime;
  EXPECT_TRUE(same(a.dvr, b.dvr)) << a.dvr << " vs " << b.dvr;
  EXPECT_TRUE(same(a.fit.fitted, b.fit.fitted));
  EXPECT_TRUE(same(a.fit.weighted_rss, b.fit.weighted_rss));
}

double mrtm_k2prime(const Study& s, const std::string& roi) {
  pet::MrtmParams p;
  p.weights = s.weights;
  return pet::mrtm(s.timing, s.tac(roi).tac, s.reference, p).k2_prime;
}

TEST(FitModels, EveryReferenceModelEqualsItsDirectCall) {
  const Study s;
  const std::vector<pet::RegionTac> targets{s.tac("Putamen_L"), s.tac("NAcc_R")};
  const std::vector<pet::RegionTac> k2p_regions{s.tac("Putamen_L"), s.tac("Caudate_L"), s.tac("Putamen_R")};
  pet::ReferenceFitSettings set;
  for (const auto& [m, n] : pet::kReferenceModelNames) set.models.push_back(m);
  set.weights = s.weights;
  set.logan_tstar_s = 25.0 * 60.0;
  const pet::ReferenceFits fits = pet::fit_models(s.timing, targets, k2p_regions, s.reference, set);
  ASSERT_EQ(fits.models.size(), 6u);
  const double k2p = fits.k2prime.value;
  EXPECT_EQ(fits.k2prime.regions_used, 3u);
  ASSERT_TRUE(std::isfinite(k2p));
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const auto& y = targets[t].tac;
    const auto& ref = s.reference;
    pet::SrtmParams sp;
    sp.weights = s.weights;
    pet::Srtm2Params s2;
    s2.weights = s.weights;
    s2.k2_prime = k2p;
    pet::MrtmParams mp;
    mp.weights = s.weights;
    pet::Mrtm2Params m2;
    m2.weights = s.weights;
    m2.k2_prime = k2p;
    pet::LoganRefParams lp;
    lp.weights = s.weights;
    lp.k2_prime = k2p;
    lp.tstar.tstar_s = 25.0 * 60.0;
    pet::BfSrtmParams bp;
    bp.weights = s.weights;
    const std::vector<pet::BindingPotential> direct{pet::srtm(s.timing, y, ref, sp),
                                                    pet::srtm2(s.timing, y, ref, s2),
                                                    pet::mrtm(s.timing, y, ref, mp),
                                                    pet::mrtm2(s.timing, y, ref, m2),
                                                    pet::logan_reference(s.timing, y, ref, lp),
                                                    pet::bf_srtm(s.timing, y, ref, bp)};
    for (std::size_t m = 0; m < 6; ++m) {
      EXPECT_EQ(fits.models[m].model, set.models[m]);
      expect_same(fits.models[m].regions[t], direct[m],
                  targets[t].name + " " + std::string(pet::name(set.models[m])));
    }
  }
  // The BP_ND are those of the simulation (a sanity check that the right model ran where).
  EXPECT_GT(fits.models[0].regions[0].bp_nd, 2.0);
}

TEST(FitModels, K2PrimeIsTheMedianOfTheRegionsMrtmK2Prime) {
  const Study s;
  const std::vector<std::string> rois{"Putamen_L", "Caudate_L", "NAcc_L"};
  std::vector<double> k;
  for (const auto& r : rois) k.push_back(mrtm_k2prime(s, r));
  ASSERT_NE(k[0], k[1]);
  ASSERT_NE(k[1], k[2]);
  // Odd count: the middle value.
  std::vector<double> sorted = k;
  std::sort(sorted.begin(), sorted.end());
  const auto odd = pet::estimate_k2prime(s.timing, {s.tac(rois[0]), s.tac(rois[1]), s.tac(rois[2])},
                                         s.reference, s.weights);
  EXPECT_EQ(odd.value, sorted[1]);
  EXPECT_EQ(odd.regions_used, 3u);
  // Even count: the mean of the two middle values. An empty region does not vote.
  pet::RegionTac empty{"empty", 0, std::vector<double>(s.timing.size(), pet::kNaN)};
  const auto even =
      pet::estimate_k2prime(s.timing, {s.tac(rois[0]), empty, s.tac(rois[2])}, s.reference, s.weights);
  EXPECT_EQ(even.value, 0.5 * (k[0] + k[2]));
  EXPECT_EQ(even.regions_used, 2u);
  // A region whose MRTM throws (a TAC of the wrong length) does not vote either; none left: NaN.
  pet::RegionTac bad{"bad", 5, {1.0, 2.0}};
  const auto none = pet::estimate_k2prime(s.timing, {bad, empty}, s.reference, s.weights);
  EXPECT_TRUE(std::isnan(none.value));
  EXPECT_EQ(none.regions_used, 0u);
}

TEST(FitModels, AFailingFitAndAnEmptyRegionAreReportedNotThrown) {
  const Study s;
  const pet::RegionTac empty{"NAcc_R", 0, std::vector<double>(s.timing.size(), pet::kNaN)};
  const pet::RegionTac bad{"Putamen_L", 5, {1.0, 2.0}}; // wrong length: srtm throws
  pet::ReferenceFitSettings set;
  set.models = {ReferenceModel::srtm, ReferenceModel::mrtm2};
  set.weights = s.weights;
  // No k2' regions: no k2', so MRTM2 fails with that reason even for a good TAC.
  pet::ReferenceFits fits;
  ASSERT_NO_THROW(fits = pet::fit_models(s.timing, {bad, empty, s.tac("Caudate_L")}, {}, s.reference, set));
  EXPECT_TRUE(std::isnan(fits.k2prime.value));
  const auto& srtm = fits.models[0].regions;
  EXPECT_TRUE(srtm[0].fit.failed);
  EXPECT_FALSE(srtm[0].fit.message.empty());
  EXPECT_EQ(srtm[0].model, "SRTM");
  EXPECT_TRUE(std::isnan(srtm[0].bp_nd));
  EXPECT_TRUE(srtm[1].fit.failed);
  EXPECT_EQ(srtm[1].fit.message, "no voxels in PET space");
  EXPECT_FALSE(srtm[2].fit.failed) << srtm[2].fit.message;
  const auto& mrtm2 = fits.models[1].regions;
  EXPECT_TRUE(mrtm2[2].fit.failed);
  EXPECT_EQ(mrtm2[2].fit.message, "no k2' (MRTM failed in every k2' region)");
  EXPECT_EQ(mrtm2[1].fit.message, "no voxels in PET space");
}

TEST(FitModels, PlasmaModelsEqualDirectCallsWithThe1TcmDelay) {
  const Study s;
  const pet::ArterialInput input = dense_input(s.input, s.timing.end_s().back());
  const pet::RegionTac target = s.tac("Putamen_L");
  const pet::RegionTac empty{"NAcc_R", 0, std::vector<double>(s.timing.size(), pet::kNaN)};
  pet::PlasmaFitSettings set;
  set.models = {PlasmaModel::one_tcm, PlasmaModel::two_tcm, PlasmaModel::logan_plasma};
  set.weights = s.weights;
  set.delay_min_s = -5;
  set.delay_max_s = 5;
  const auto fits = pet::fit_plasma_models(s.timing, {target, empty}, input, set);
  ASSERT_EQ(fits.size(), 3u);
  pet::CompartmentParams cp;
  cp.weights = s.weights;
  cp.fit_delay = true;
  cp.delay_min_s = -5;
  cp.delay_max_s = 5;
  const pet::PlasmaFit one = pet::one_tcm(s.timing, target.tac, input, cp);
  pet::CompartmentParams fixed = cp;
  fixed.fit_delay = false;
  fixed.delay_s = one.delay_s;
  const pet::PlasmaFit two = pet::two_tcm(s.timing, target.tac, input, fixed);
  pet::GraphicalParams gp;
  gp.weights = s.weights;
  gp.delay_s = one.delay_s;
  gp.tstar.tstar_s = set.logan_tstar_s;
  const pet::PlasmaFit logan = pet::logan_plasma(s.timing, target.tac, input, gp);
  const std::vector<const pet::PlasmaFit*> direct{&one, &two, &logan};
  for (std::size_t m = 0; m < 3; ++m) {
    SCOPED_TRACE(std::string(pet::name(set.models[m])));
    const pet::PlasmaFit& f = fits[m].regions[0];
    EXPECT_FALSE(f.fit.failed) << f.fit.message;
    EXPECT_TRUE(std::isfinite(f.vt));
    EXPECT_TRUE(same(f.vt, direct[m]->vt)) << f.vt << " vs " << direct[m]->vt;
    EXPECT_TRUE(same(f.delay_s, direct[m]->delay_s));
    EXPECT_TRUE(same(f.K1, direct[m]->K1)) << f.K1 << " vs " << direct[m]->K1;
    EXPECT_TRUE(same(f.fit.fitted, direct[m]->fit.fitted));
    EXPECT_TRUE(fits[m].regions[1].fit.failed);
    EXPECT_EQ(fits[m].regions[1].fit.message, "no voxels in PET space");
  }
  EXPECT_EQ(fits[1].regions[0].delay_s, one.delay_s);
}

TEST(FitModels, ModelNamesMapBothWays) {
  for (const auto& [m, n] : pet::kReferenceModelNames) EXPECT_EQ(pet::reference_model(n), m);
  for (const auto& [m, n] : pet::kPlasmaModelNames) EXPECT_EQ(pet::plasma_model(n), m);
  EXPECT_FALSE(pet::reference_model("srtm").has_value());
  EXPECT_FALSE(pet::plasma_model("SRTM").has_value());
}

} // namespace
