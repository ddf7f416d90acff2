#pragma once
// Distribution tails computed in log space so z stays exact far into the tails.
namespace rewardpath::glm {

// log of the regularised incomplete beta I_x(a, b); `one_minus_x` passed separately for accuracy.
double log_beta_inc(double a, double b, double x, double one_minus_x);
// log P(T > t) for Student's t with `dof` degrees of freedom.
double log_t_sf(double t, double dof);
// log P(F > f) for F(d1, d2).
double log_f_sf(double f, double d1, double d2);
// Upper-tail standard normal: log P(Z > z), and its inverse z such that log P(Z > z) = log_p.
double log_norm_sf(double z);
double norm_isf_log(double log_p);
// z with the same one-sided tail probability as t (sign kept, symmetric).
double t_to_z(double t, double dof);

} // namespace rewardpath::glm
