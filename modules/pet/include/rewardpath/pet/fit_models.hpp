#pragma once
// Every configured model on every target region, from TACs (no images, no files): the step between
// a PET stage's TAC table and its model tables. Models are dispatched through a table (enum ->
// function, fit_models.cpp), never by name. A fit that throws is returned as fit.failed with the
// message; a region without voxels as failed with "no voxels in PET space".
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rewardpath/pet/frames.hpp"
#include "rewardpath/pet/models.hpp"
#include "rewardpath/pet/plasma.hpp"
#include "rewardpath/pet/reference.hpp"

namespace rewardpath::pet {

// A region's TAC; voxels = 0 marks a region without data (its TAC is then NaN).
struct RegionTac {
  std::string name;
  std::size_t voxels = 0;
  std::vector<double> tac;
};

struct ReferenceFitSettings {
  std::vector<ReferenceModel> models;
  std::vector<double> weights; // one per frame
  double logan_tstar_s = 1200.0;
  ModelSampling srtm_sampling = ModelSampling::frame_mean;
};

// k2' for the models that fix it: the median (core/statistics) of the MRTM k2' of the regions with
// voxels whose MRTM fit succeeds with a finite k2' > 0; NaN when none does.
struct K2Prime {
  double value = kNaN;
  std::size_t regions_used = 0;
};
K2Prime estimate_k2prime(const FrameTiming& timing, const std::vector<RegionTac>& regions,
                         const std::vector<double>& reference, const std::vector<double>& weights);

// One model on one target; k2_prime is used by the models that fix it (uses_fixed_k2prime).
BindingPotential fit_reference_model(ReferenceModel model, const FrameTiming& timing, const RegionTac& target,
                                     const std::vector<double>& reference, double k2_prime,
                                     const ReferenceFitSettings& settings);

struct ReferenceModelFits {
  ReferenceModel model;
  std::vector<BindingPotential> regions; // one per target, in order
};
struct ReferenceFits {
  K2Prime k2prime;
  std::vector<ReferenceModelFits> models; // one per settings.models, in order
};
ReferenceFits fit_models(const FrameTiming& timing, const std::vector<RegionTac>& targets,
                         const std::vector<RegionTac>& k2prime_regions, const std::vector<double>& reference,
                         const ReferenceFitSettings& settings);

struct PlasmaFitSettings {
  std::vector<PlasmaModel> models;
  std::vector<double> weights; // one per frame
  bool fit_delay = true;       // 1TCM delay grid search; 2TCM and LoganPlasma use the region's 1TCM delay
  double delay_min_s = -30.0, delay_max_s = 30.0;
  double logan_tstar_s = 1200.0;
};
struct PlasmaModelFits {
  PlasmaModel model;
  std::vector<PlasmaFit> regions; // one per region, in order
};
std::vector<PlasmaModelFits> fit_plasma_models(const FrameTiming& timing,
                                               const std::vector<RegionTac>& regions,
                                               const ArterialInput& input, const PlasmaFitSettings& settings);

// The model of a configuration name (models.hpp's table); nullopt for an unknown name.
std::optional<ReferenceModel> reference_model(std::string_view name);
std::optional<PlasmaModel> plasma_model(std::string_view name);

} // namespace rewardpath::pet
