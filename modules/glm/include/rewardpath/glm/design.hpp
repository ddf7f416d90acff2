#pragma once
// First-level design matrices: events ⊗ HRF + parametric modulators + confounds + drift + constant.
// Follows nilearn's make_first_level_design_matrix (0.10) wherever it has an answer, so the two
// can be compared column by column (see docs/glm.md):
//   frame_times[i] = (i + slice_time_ref) * TR
//   each condition is a high-resolution boxcar (TR / oversampling grid starting min_onset_s before
//   the first frame; an event adds its amplitude from onset to onset + duration, zero-duration
//   events last one fine sample), convolved with the HRF kernel sampled on that grid and
//   normalised to unit sum (a sustained event plateaus at 1), then linearly interpolated at the
//   frame times; derivative columns are orthogonalised against the earlier ones.
// Column order: per condition (name, name_derivative, name_dispersion | name_delay_D), then
// parametric modulators (condition_x_column), confounds, drift (drift_1..), constant.
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "rewardpath/bids/events.hpp"

namespace rewardpath::glm {

enum class HrfModel {
  spm,                          // SPM canonical: gammas 6 s / 16 s, ratio 1/6
  spm_derivative,               // + temporal derivative
  spm_derivative_dispersion,    // + temporal and dispersion derivatives
  glover,                       // Glover 1999: 6 s / 12 s, dispersion 0.9, ratio 0.35
  glover_derivative,            //
  glover_derivative_dispersion, //
  fir                           // finite impulse response: one column per delay (in scans)
};
enum class DriftModel { cosine, polynomial, none };

// A regressor per condition whose amplitude follows a numeric events column, mean-centred over
// the condition's events (SPM's parametric modulation). Events whose value is n/a get the mean
// (zero after centring), i.e. they contribute to the main column only.
struct Modulator {
  std::string condition; // trial_type
  std::string column;    // numeric events column, e.g. "response_time"
};

struct Confound {
  std::string name;           // becomes the column name
  std::vector<double> values; // one per volume, finite
};

struct DesignParams {
  double tr_s = 0.0;           // RepetitionTime, > 0
  std::int64_t volumes = 0;    // > 0
  double slice_time_ref = 0.0; // fraction of the TR at which volumes are sampled, in [0, 1]
  HrfModel hrf = HrfModel::spm;
  std::vector<int> fir_delays{0}; // in scans, for HrfModel::fir
  int oversampling = 50;
  double min_onset_s = -24.0; // the fine grid starts this long before the first frame
  // Conditions to model (trial types); empty = every trial type in the events, sorted.
  std::vector<std::string> conditions;
  std::vector<Modulator> modulators;
  std::vector<Confound> confounds;
  DriftModel drift = DriftModel::cosine;
  double high_pass_s = 128.0; // cosine: period cut-off
  int drift_order = 1;        // polynomial order
  bool constant = true;       // intercept column "constant"
};

struct Design {
  std::vector<std::string> columns;
  Eigen::MatrixXd matrix;          // volumes x columns
  std::vector<double> frame_times; // seconds
  double tr_s = 0.0;

  std::int64_t rows() const { return matrix.rows(); }
  std::int64_t cols() const { return matrix.cols(); }
  // Index of a column; throws rewardpath::Error listing the columns when absent.
  int column(const std::string& name) const;
  bool has_column(const std::string& name) const;
};

// Validates params and events (unknown conditions and modulator columns, lengths of confounds,
// a column without any signal) and checks the design has full column rank: a rank-deficient
// design throws, naming the columns involved.
Design make_design(const bids::Events& events, const DesignParams& params);

// Drift bases as nilearn builds them (frame_times in s). Cosine: columns
// sqrt(2/n) cos(pi k (i + 0.5) / n), k = 1..floor(2 n dt / high_pass_s), capped at n - 1
// (the constant column is not included).
Eigen::MatrixXd cosine_drift(const std::vector<double>& frame_times, double high_pass_s);
// Polynomial: (t / t_max)^k for k = 1..order, orthogonalised against the lower orders.
Eigen::MatrixXd polynomial_drift(const std::vector<double>& frame_times, int order);

// Throws rewardpath::Error when the columns of `x` are linearly dependent (relative singular value
// < 1e-10 or an all-zero column), naming the columns that take part.
void check_full_rank(const Eigen::MatrixXd& x, const std::vector<std::string>& columns);

} // namespace rewardpath::glm
