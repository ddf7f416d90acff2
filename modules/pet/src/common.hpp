#pragma once
// Internal helpers shared by the model files.
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "grid.hpp"
#include "nls.hpp"
#include "rewardpath/pet/reference.hpp"

namespace rewardpath::pet::detail {

// Frame weights or 1s; throws unless one finite, >= 0 weight per frame with a positive sum.
Eigen::VectorXd checked_weights(const std::vector<double>& weights, std::size_t frames,
                                const std::string& what);

// Validates timing, target, reference (see reference.hpp: the reference must be positive in the
// second half of the scan and somewhere at all).
void check_reference_inputs(const FrameTiming& timing, const std::vector<double>& target,
                            const std::vector<double>& reference, const std::string& model);

// A linear fit on the frames from t* on (fixed or by the max-error criterion).
struct TstarFit {
  LinearResult lr;
  std::vector<std::size_t> used;
  double tstar_s = kNaN;
  double max_rel = kNaN;
  std::string message;
};
// valid[i] false: frame i cannot be used (e.g. division by a non-positive TAC); candidates start
// after the last invalid frame.
TstarFit fit_after_tstar(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& w,
                         const std::vector<double>& mid_s, const TstarParams& tp,
                         const std::vector<bool>& valid, const std::string& model);

// The linear design of a graphical plot (Logan, Patlak): row i is (xnum[i] / d, 1) with ordinate
// ynum[i] / d, d = den[i]. A frame with den[i] <= 0 cannot be used (valid false; d = 1 there keeps
// the row finite).
struct GraphicalDesign {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
  std::vector<bool> valid;
};
GraphicalDesign graphical_design(const std::vector<double>& xnum, const std::vector<double>& ynum,
                                 const std::vector<double>& den);

// SRTM basis functions: columns C_R (x) exp(-theta_b t) sampled at frame mids, and C_R at mids.
struct SrtmBasis {
  Eigen::VectorXd theta;  // 1/min
  Eigen::MatrixXd basis;  // frames x B
  Eigen::VectorXd cr_mid; // frames
};
SrtmBasis srtm_basis(const FrameTiming& timing, const std::vector<double>& reference, double k2a_min,
                     double k2a_max, int count, double max_step_s);

} // namespace rewardpath::pet::detail
