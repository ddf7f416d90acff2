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

enum class StatKind { t, F };

struct ContrastResult {
  StatKind kind = StatKind::t;
  std::vector<std::string> expressions;
  Eigen::MatrixXd weights; // q x k
  // Per series:
  Eigen::MatrixXd effect;   // q x V (q = 1 for t)
  Eigen::MatrixXd variance; // q x V, variance of each row's effect
  Eigen::VectorXd stat;     // t or F
  Eigen::VectorXd z;        // from p, exact in the tails (|z| up to ~38)
  Eigen::VectorXd p;        // t: one-sided P(T > t) (nilearn); F: P(F > f)
  double dof = 0.0;         // residual degrees of freedom (per series identical)
  double dof_num = 1.0;     // q for F

  Eigen::VectorXd effect_row(int r = 0) const { return effect.row(r).transpose(); }
};

ContrastResult contrast(const FirstLevelFit& fit, const std::string& expression);
ContrastResult contrast(const FirstLevelFit& fit, const std::vector<std::string>& f_rows); // F
ContrastResult contrast_t(const FirstLevelFit& fit, const Eigen::VectorXd& weights);
ContrastResult contrast_f(const FirstLevelFit& fit, const Eigen::MatrixXd& weights);

// Fixed effects over runs (t contrasts on the same series): inverse-variance weighted effect,
// variance 1 / sum(1/v_i), dof = sum of dofs, then t, z, p.
ContrastResult fixed_effects(const std::vector<ContrastResult>& runs);

} // namespace rewardpath::glm
