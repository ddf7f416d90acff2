#pragma once
// Internal: bounded Levenberg-Marquardt and weighted linear least squares.
#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "rewardpath/pet/fit.hpp"

namespace rewardpath::pet::detail {

using Model = std::function<void(const Eigen::VectorXd& p, Eigen::VectorXd& f)>;

struct NlsResult {
  Eigen::VectorXd p;
  Eigen::VectorXd se; // NaN where not estimable
  Eigen::MatrixXd cov;
  Eigen::VectorXd fitted;
  double wrss = 0.0;
  int iterations = 0;
  bool converged = false;
  bool at_bound = false;
  bool singular = false;
};

// Minimises sum w_i (y_i - f_i(p))^2 with lo <= p <= hi (projected steps), numeric Jacobian
// (central differences). Covariance = WRSS/(n - p) (J^T W J)^-1 at the solution.
NlsResult fit_lm(const Model& model, const Eigen::VectorXd& y, const Eigen::VectorXd& w, Eigen::VectorXd p0,
                 const Eigen::VectorXd& lo, const Eigen::VectorXd& hi, int max_iter = 300);

struct LinearResult {
  Eigen::VectorXd beta;
  Eigen::MatrixXd cov;
  Eigen::VectorXd fitted;
  double wrss = 0.0;
  bool ok = false;
};
LinearResult fit_wls(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& w);

// Fills the diagnostics common to all fits (residuals per frame for the used frames, R^2, SEs).
void fill_diagnostics(FitDiagnostics& d, const std::vector<std::string>& names, const Eigen::VectorXd& p,
                      const Eigen::VectorXd& se, const std::vector<std::size_t>& used,
                      const Eigen::VectorXd& y, const Eigen::VectorXd& fitted, const Eigen::VectorXd& w,
                      std::size_t frames);

Eigen::VectorXd to_eigen(const std::vector<double>& v);

} // namespace rewardpath::pet::detail
