#include "rewardpath/pet/fit_models.hpp"

#include <array>
#include <cmath>
#include <fmt/format.h>
#include <utility>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/statistics.hpp"

namespace rewardpath::pet {
namespace {

constexpr const char* kNoVoxels = "no voxels in PET space";

// What every reference-model fitter gets.
struct ReferenceFitInput {
  const FrameTiming& timing;
  const std::vector<double>& target;
  const std::vector<double>& reference;
  double k2_prime;
  const ReferenceFitSettings& settings;
};

// A model's parameters with the frame weights, and the given k2' for the models that fix it.
template <class Params> Params weighted(const ReferenceFitInput& in) {
  Params p;
  p.weights = in.settings.weights;
  return p;
}
template <class Params> Params with_k2prime(const ReferenceFitInput& in) {
  if (!std::isfinite(in.k2_prime)) throw Error("no k2' (MRTM failed in every k2' region)");
  Params p = weighted<Params>(in);
  p.k2_prime = in.k2_prime;
  return p;
}

BindingPotential fit_srtm(const ReferenceFitInput& in) {
  SrtmParams p = weighted<SrtmParams>(in);
  p.sampling = in.settings.srtm_sampling;
  return srtm(in.timing, in.target, in.reference, p);
}
BindingPotential fit_srtm2(const ReferenceFitInput& in) {
  return srtm2(in.timing, in.target, in.reference, with_k2prime<Srtm2Params>(in));
}
BindingPotential fit_mrtm(const ReferenceFitInput& in) {
  return mrtm(in.timing, in.target, in.reference, weighted<MrtmParams>(in));
}
BindingPotential fit_mrtm2(const ReferenceFitInput& in) {
  return mrtm2(in.timing, in.target, in.reference, with_k2prime<Mrtm2Params>(in));
}
BindingPotential fit_logan_ref(const ReferenceFitInput& in) {
  // A NaN k2' drops the C_R/k2' term (reference.hpp), so no k2' is not an error here.
  LoganRefParams p = weighted<LoganRefParams>(in);
  p.k2_prime = in.k2_prime;
  p.tstar.tstar_s = in.settings.logan_tstar_s;
  return logan_reference(in.timing, in.target, in.reference, p);
}
BindingPotential fit_bf_srtm(const ReferenceFitInput& in) {
  return bf_srtm(in.timing, in.target, in.reference, weighted<BfSrtmParams>(in));
}

using ReferenceFitter = BindingPotential (*)(const ReferenceFitInput&);
constexpr std::array<std::pair<ReferenceModel, ReferenceFitter>, 6> kReferenceFitters{{
    {ReferenceModel::srtm, fit_srtm},
    {ReferenceModel::srtm2, fit_srtm2},
    {ReferenceModel::mrtm, fit_mrtm},
    {ReferenceModel::mrtm2, fit_mrtm2},
    {ReferenceModel::logan_ref, fit_logan_ref},
    {ReferenceModel::bf_srtm, fit_bf_srtm},
}};
static_assert(kReferenceFitters.size() == kReferenceModelNames.size(), "a reference model without a fitter");

// The 1TCM delay that 2TCM and LoganPlasma take from the same region.
struct PlasmaFitInput {
  const FrameTiming& timing;
  const std::vector<double>& tac;
  const ArterialInput& input;
  const PlasmaFitSettings& settings;
};

CompartmentParams compartment_params(const PlasmaFitSettings& s) {
  CompartmentParams cp;
  cp.weights = s.weights;
  cp.fit_delay = s.fit_delay;
  cp.delay_min_s = s.delay_min_s;
  cp.delay_max_s = s.delay_max_s;
  return cp;
}

PlasmaFit fit_one_tcm(const PlasmaFitInput& in) {
  return one_tcm(in.timing, in.tac, in.input, compartment_params(in.settings));
}
PlasmaFit fit_two_tcm(const PlasmaFitInput& in) {
  // The delay from this region's 1TCM (2TCM fits it no better).
  CompartmentParams cp = compartment_params(in.settings);
  const double delay = fit_one_tcm(in).delay_s;
  cp.fit_delay = false;
  cp.delay_s = delay;
  return two_tcm(in.timing, in.tac, in.input, cp);
}
PlasmaFit fit_logan_plasma(const PlasmaFitInput& in) {
  GraphicalParams gp;
  gp.weights = in.settings.weights;
  gp.delay_s = fit_one_tcm(in).delay_s;
  gp.tstar.tstar_s = in.settings.logan_tstar_s;
  return logan_plasma(in.timing, in.tac, in.input, gp);
}

using PlasmaFitter = PlasmaFit (*)(const PlasmaFitInput&);
constexpr std::array<std::pair<PlasmaModel, PlasmaFitter>, 3> kPlasmaFitters{{
    {PlasmaModel::one_tcm, fit_one_tcm},
    {PlasmaModel::two_tcm, fit_two_tcm},
    {PlasmaModel::logan_plasma, fit_logan_plasma},
}};
static_assert(kPlasmaFitters.size() == kPlasmaModelNames.size(), "a plasma model without a fitter");

template <class Table, class Model> auto fitter_of(const Table& table, Model m) {
  for (const auto& [model, fitter] : table)
    if (model == m) return fitter;
  throw Error(fmt::format("no fitter for PET model {}", name(m)));
}

// A fit that throws becomes a failed result with the message; a region without voxels is not fitted.
template <class Result, class Fit> Result failed_or(std::size_t voxels, Fit&& fit) {
  Result r;
  r.fit.failed = true;
  if (voxels == 0) {
    r.fit.message = kNoVoxels;
    return r;
  }
  try {
    return fit();
  } catch (const Error& e) {
    r.fit.message = e.what();
    return r;
  }
}

} // namespace

K2Prime estimate_k2prime(const FrameTiming& timing, const std::vector<RegionTac>& regions,
                         const std::vector<double>& reference, const std::vector<double>& weights) {
  std::vector<double> k2ps;
  for (const RegionTac& r : regions) {
    if (r.voxels == 0) continue;
    try {
      MrtmParams mp;
      mp.weights = weights;
      const auto b = mrtm(timing, r.tac, reference, mp);
      if (!b.fit.failed && std::isfinite(b.k2_prime) && b.k2_prime > 0) k2ps.push_back(b.k2_prime);
    } catch (const Error&) {
      // a region whose MRTM fails does not vote
    }
  }
  return {median(k2ps), k2ps.size()};
}

BindingPotential fit_reference_model(ReferenceModel model, const FrameTiming& timing, const RegionTac& target,
                                     const std::vector<double>& reference, double k2_prime,
                                     const ReferenceFitSettings& settings) {
  const ReferenceFitter fitter = fitter_of(kReferenceFitters, model);
  BindingPotential b = failed_or<BindingPotential>(target.voxels, [&] {
    return fitter({timing, target.tac, reference, k2_prime, settings});
  });
  if (b.fit.failed) b.model = std::string(name(model));
  return b;
}

ReferenceFits fit_models(const FrameTiming& timing, const std::vector<RegionTac>& targets,
                         const std::vector<RegionTac>& k2prime_regions, const std::vector<double>& reference,
                         const ReferenceFitSettings& settings) {
  ReferenceFits out;
  out.k2prime = estimate_k2prime(timing, k2prime_regions, reference, settings.weights);
  for (const ReferenceModel model : settings.models) {
    ReferenceModelFits m{model, {}};
    for (const RegionTac& t : targets)
      m.regions.push_back(fit_reference_model(model, timing, t, reference, out.k2prime.value, settings));
    out.models.push_back(std::move(m));
  }
  return out;
}

std::vector<PlasmaModelFits> fit_plasma_models(const FrameTiming& timing,
                                               const std::vector<RegionTac>& regions,
                                               const ArterialInput& input,
                                               const PlasmaFitSettings& settings) {
  std::vector<PlasmaModelFits> out;
  for (const PlasmaModel model : settings.models) {
    const PlasmaFitter fitter = fitter_of(kPlasmaFitters, model);
    PlasmaModelFits m{model, {}};
    for (const RegionTac& r : regions) {
      PlasmaFit f = failed_or<PlasmaFit>(r.voxels, [&] { return fitter({timing, r.tac, input, settings}); });
      if (f.fit.failed) f.model = std::string(name(model));
      m.regions.push_back(std::move(f));
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<ReferenceModel> reference_model(std::string_view n) {
  for (const auto& [model, model_name] : kReferenceModelNames)
    if (model_name == n) return model;
  return std::nullopt;
}
std::optional<PlasmaModel> plasma_model(std::string_view n) {
  for (const auto& [model, model_name] : kPlasmaModelNames)
    if (model_name == n) return model;
  return std::nullopt;
}

} // namespace rewardpath::pet
