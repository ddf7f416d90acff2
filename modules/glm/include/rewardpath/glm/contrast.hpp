#pragma once
// Contrasts as expressions of design column names, t and F, and fixed-effects combination.
//   "gain_anticipation - neutral_anticipation", "0.5*a + 0.5*b - c", "2 * a", "a/2 - b"
// A term is an optional sign, optional numeric factor(s) and one column name; names are
// [A-Za-z_][A-Za-z0-9_.]*. An F contrast is a list of rows (expressions).
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "rewardpath/glm/fit.hpp"

namespace rewardpath::glm {

// Weights over the design's columns; throws listing the columns for an unknown name.
Eigen::VectorXd parse_contrast(const std::string& expression, const std::vector<std::string>& columns);
// The column names an expression refers to, in order (checked by the same grammar; any name).
std::vector<std::string> contrast_column_names(const std::string& expression);

enum class StatKind { t, F };

struct ContrastResult {
  StatKind kind = StatKind::t;
  std::vector<std::string> expressions;
  Eigen::MatrixXd weights; // q x k
  // Per series:
  Eigen::MatrixXd effect;   // q x V (q = 1 for t)
  Eigen::MatrixXd variance; // q x V, variance of each row's effect
  // F only (empty for t, whose 1 x 1 covariance is `variance`): the full q x q covariance of the
  // effects per series, packed: q(q+1)/2 x V, upper triangle row by row, (0,0), (0,1), ..,
  // (0,q-1), (1,1), .., (q-1,q-1). Filled by contrast_f and fixed_effects; see covariance_at.
  Eigen::MatrixXd covariance;
  Eigen::VectorXd stat; // t or F
  Eigen::VectorXd z;    // from p, exact in the tails (|z| up to ~38)
  Eigen::VectorXd p;    // t: one-sided P(T > t) (nilearn); F: P(F > f)
  double dof = 0.0;     // residual degrees of freedom (per series identical)
  double dof_num = 1.0; // q for F

  Eigen::VectorXd effect_row(int r = 0) const { return effect.row(r).transpose(); }
  // The q x q covariance of series v, unpacked from `covariance` (throws when it is absent).
  Eigen::MatrixXd covariance_at(Eigen::Index v) const;
};

// The row of element (i, j) (either order) of a q x q covariance in ContrastResult::covariance.
Eigen::Index packed_row(Eigen::Index i, Eigen::Index j, Eigen::Index q);

ContrastResult contrast(const FirstLevelFit& fit, const std::string& expression);
ContrastResult contrast(const FirstLevelFit& fit, const std::vector<std::string>& f_rows); // F
ContrastResult contrast_t(const FirstLevelFit& fit, const Eigen::VectorXd& weights);
ContrastResult contrast_f(const FirstLevelFit& fit, const Eigen::MatrixXd& weights);

// Fixed effects over runs of the same contrast on the same series (docs/glm.md, "Fixed effects over runs").
// t: inverse-variance weighted effect, variance 1 / sum(1/v_r), dof = sum of the runs' dofs
// (nilearn's compute_fixed_effects), then t, z, p (one-sided).
// F (q rows): with each run's effects e_r (q) and covariance V_r (q x q, from `covariance`),
// W = sum V_r^-1, V = W^-1, e = V sum V_r^-1 e_r; F = e' W e / q, dof_num = q, dof = sum of the
// runs' dofs, p = P(F(q, dof) > F), z from p. q = 1 gives F = t^2 of the t combination and p
// its two-sided p.
// A series where some run has a zero or singular variance (sigma2 = 0) gets effect 0, variance 0,
// stat 0, z 0, p 1, as contrast_t / contrast_f do. Throws when the runs differ in kind, number of
// series, q, or contrast (expressions when both runs have them, else the weights).
ContrastResult fixed_effects(const std::vector<ContrastResult>& runs);

} // namespace rewardpath::glm
