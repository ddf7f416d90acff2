#include "rewardpath/glm/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rewardpath::glm {
namespace {

constexpr double kLogHalf = -0.69314718055994530942;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Continued fraction of the incomplete beta (modified Lentz).
double beta_cf(double a, double b, double x) {
  constexpr int max_iter = 10000;
  constexpr double eps = 1e-16, tiny = 1e-300;
  const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0, d = 1.0 - qab * x / qap;
  if (std::fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= max_iter; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < eps) break;
  }
  return h;
}

// Voxelwise maps call this with the same (a, b) for every voxel (a contrast's dof): remember the
// last pair per thread, which saves three lgamma calls per voxel.
double log_beta_fn(double a, double b) {
  thread_local double last_a = std::numeric_limits<double>::quiet_NaN(), last_b = last_a, last = 0.0;
  if (a != last_a || b != last_b) {
    last = std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
    last_a = a;
    last_b = b;
  }
  return last;
}

// log(1 - exp(l)) for l < 0.
double log1mexp(double l) { return l > -0.693 ? std::log(-std::expm1(l)) : std::log1p(-std::exp(l)); }

} // namespace

double log_beta_inc(double a, double b, double x, double one_minus_x) {
  if (x <= 0.0) return -kInf;
  if (one_minus_x <= 0.0) return 0.0;
  if (x < (a + 1.0) / (a + b + 2.0)) {
    return a * std::log(x) + b * std::log(one_minus_x) - log_beta_fn(a, b) + std::log(beta_cf(a, b, x)) -
           std::log(a);
  }
  const double other = b * std::log(one_minus_x) + a * std::log(x) - log_beta_fn(a, b) +
                       std::log(beta_cf(b, a, one_minus_x)) - std::log(b);
  return log1mexp(std::min(other, -1e-300));
}

double log_t_sf(double t, double dof) {
  if (std::isnan(t)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(t)) return t > 0 ? -kInf : 0.0;
  const double t2 = t * t;
  const double x = dof / (dof + t2), omx = t2 / (dof + t2);
  const double half_tail = kLogHalf + log_beta_inc(0.5 * dof, 0.5, x, omx); // log P(T > |t|)
  return t >= 0 ? half_tail : log1mexp(half_tail);
}

double log_f_sf(double f, double d1, double d2) {
  if (std::isnan(f)) return std::numeric_limits<double>::quiet_NaN();
  if (f <= 0) return 0.0;
  const double x = d2 / (d2 + d1 * f), omx = d1 * f / (d2 + d1 * f);
  return log_beta_inc(0.5 * d2, 0.5 * d1, x, omx);
}

double log_norm_sf(double z) {
  if (z < 30.0) return std::log(0.5 * std::erfc(z / std::sqrt(2.0)));
  // Asymptotic series of the Mills ratio.
  const double z2 = z * z;
  const double s = 1.0 - 1.0 / z2 + 3.0 / (z2 * z2) - 15.0 / (z2 * z2 * z2) + 105.0 / (z2 * z2 * z2 * z2);
  return -0.5 * z2 - std::log(z) - 0.5 * std::log(2.0 * M_PI) + std::log(s);
}

double norm_isf_log(double log_p) {
  if (std::isnan(log_p)) return log_p;
  if (log_p >= 0.0) return -kInf;
  if (log_p == -kInf) return kInf;
  if (log_p > kLogHalf) return -norm_isf_log(log1mexp(log_p)); // p > 0.5
  // Acklam's rational approximation of the lower-tail quantile at p (<= 0.5), z = -x.
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549671348283180e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  double x;
  if (log_p < std::log(0.02425)) {
    const double q = std::sqrt(-2.0 * log_p);
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  } else {
    const double p = std::exp(log_p);
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  }
  double z = -x;
  // Newton on log P(Z > z) = log_p: d/dz log sf = -phi(z) / sf(z). Convergence is quadratic and the
  // curvature of log sf is ~|z|, so after a step s the error is ~|z| s^2 / 2: a step below 1e-8
  // (Acklam's start is within ~1e-9 relative) leaves an error under 1e-15, and no further step.
  for (int it = 0; it < 4; ++it) {
    const double ls = log_norm_sf(z);
    const double log_phi = -0.5 * z * z - 0.5 * std::log(2.0 * M_PI);
    const double deriv = -std::exp(log_phi - ls);
    const double step = (ls - log_p) / deriv;
    z -= step;
    if (std::fabs(step) < 1e-8 / std::max(1.0, std::fabs(z))) break;
  }
  return z;
}

double t_to_z(double t, double dof) {
  if (std::isnan(t)) return t;
  if (t >= 0) return norm_isf_log(log_t_sf(t, dof));
  return -norm_isf_log(log_t_sf(-t, dof));
}

} // namespace rewardpath::glm
