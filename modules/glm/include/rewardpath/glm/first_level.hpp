#pragma once
// A run's first-level model from its settings, as nilearn's FirstLevelModel holds them: the design
// of one run (configured conditions absent from its events dropped, with their modulators and the
// contrasts that need them), contrasts by name, the fit of series some of which have no data
// (ROIs lost to dropout), and fixed effects over the runs of a task (combine_runs).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "rewardpath/bids/events.hpp"
#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/glm/design.hpp"
#include "rewardpath/glm/fit.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::glm {

struct NamedContrast {
  std::string name;              // letters and digits: the contrast- entity of outputs
  std::vector<std::string> rows; // expressions of design columns; one: t, several: F
};

// What an analysis configures; the run gives the rest (TR, volumes, slice-time reference, confounds).
struct FirstLevelSettings {
  HrfModel hrf = HrfModel::spm;
  std::vector<int> fir_delays{0};
  DriftModel drift = DriftModel::cosine;
  double high_pass_s = 128.0;
  int drift_order = 1;
  std::vector<std::string> conditions; // empty: every trial type of the run
  std::vector<Modulator> modulators;
  std::vector<std::string> confounds; // columns of the run's confounds table
  std::vector<NamedContrast> contrasts;
};

struct RunDesign {
  Design design;
  double slice_time_ref = 0.0;
  std::vector<std::string> dropped_conditions; // configured but without events in this run (sorted)
  std::vector<NamedContrast> contrasts;        // the configured contrasts this run can estimate
  std::vector<std::string> skipped_contrasts;  // those that need a dropped condition
};

// Throws naming the events file when none of the configured conditions occurs in it, and listing
// the table's columns when a confound is not in `confounds` (n/a rows become 0).
RunDesign design_run(const bids::Events& events, const io::Table& confounds,
                     const FirstLevelSettings& settings, double tr_s, std::int64_t volumes,
                     double slice_time_ref);

// t for one row, F for several.
ContrastResult compute_contrast(const FirstLevelFit& fit, const NamedContrast& contrast);

// Series (the columns of y) of which only those with has_data[s] are fitted. Each contrast is
// returned over every series, NaN in the columns of series without data (what combine_runs and the
// tables read as missing); `fit` is the fit of the series with data (none when no series has).
struct GappedFit {
  std::optional<FirstLevelFit> fit;
  std::vector<ContrastResult> contrasts; // one per requested contrast, same order
};
GappedFit fit_with_gaps(const Eigen::MatrixXd& y, const std::vector<bool>& has_data, const Design& design,
                        const FitParams& params, const std::vector<NamedContrast>& contrasts);

// Fixed effects per series over the runs that have data for it (a finite statistic; see
// fit_with_gaps), t and F alike (glm::fixed_effects); `dof` per series sums the dofs of those runs.
// A series no run has stays NaN (dof NaN). The runs are one contrast's results on the same series.
struct CombinedContrast {
  ContrastResult result;
  std::vector<double> dof;
};
CombinedContrast combine_runs(const std::vector<const ContrastResult*>& runs);

} // namespace rewardpath::glm
