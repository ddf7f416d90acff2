#include "rewardpath/glm/hrf.hpp"

#include <cmath>

#include "rewardpath/core/error.hpp"

namespace rewardpath::glm {
namespace {

double gamma_pdf(double x, double shape, double loc, double scale) {
  const double y = (x - loc) / scale;
  if (y <= 0.0) return 0.0;
  return std::exp((shape - 1.0) * std::log(y) - y - std::lgamma(shape)) / scale;
}

// P(a, t) for integer a: 1 - e^-t sum_{k<a} t^k / k!.
double lower_gamma_regularised_int(int a, double t) {
  if (t <= 0.0) return 0.0;
  double term = 1.0, sum = 1.0;
  for (int k = 1; k < a; ++k) {
    term *= t / k;
    sum += term;
  }
  return 1.0 - std::exp(-t) * sum;
}

} // namespace

GammaDifference spm_hrf_params() { return {}; }
GammaDifference glover_hrf_params() {
  GammaDifference g;
  g.undershoot = 12.0;
  g.dispersion = 0.9;
  g.u_dispersion = 0.9;
  g.ratio = 0.35;
  return g;
}

std::vector<double> gamma_difference_kernel(const GammaDifference& g, double tr_s, int oversampling) {
  if (!(tr_s > 0.0) || oversampling < 1)
    throw Error("HRF kernel needs TR > 0 and oversampling >= 1, got TR " + std::to_string(tr_s) +
                " and oversampling " + std::to_string(oversampling));
  const double dt = tr_s / oversampling;
  const auto count = static_cast<std::int64_t>(std::nearbyint(g.time_length / dt));
  std::vector<double> h(static_cast<std::size_t>(std::max<std::int64_t>(count, 1)), 0.0);
  double sum = 0.0;
  for (std::int64_t i = 0; i < count; ++i) {
    // np.linspace(0, time_length, count) - onset
    const double t =
        (count > 1 ? g.time_length * static_cast<double>(i) / static_cast<double>(count - 1) : 0.0) - g.onset;
    const double v = gamma_pdf(t, g.delay / g.dispersion, dt, g.dispersion) -
                     g.ratio * gamma_pdf(t, g.undershoot / g.u_dispersion, dt, g.u_dispersion);
    h[static_cast<std::size_t>(i)] = v;
    sum += v;
  }
  for (double& v : h) v /= sum;
  return h;
}

HrfKernels hrf_kernels(HrfModel model, double tr_s, int oversampling, const std::vector<int>& fir_delays) {
  HrfKernels out;
  const bool glover = model == HrfModel::glover || model == HrfModel::glover_derivative ||
                      model == HrfModel::glover_derivative_dispersion;
  if (model == HrfModel::fir) {
    if (fir_delays.empty()) throw Error("FIR model needs at least one delay (in scans)");
    for (int f : fir_delays) {
      if (f < 0) throw Error("FIR delays must be >= 0 scans, got " + std::to_string(f));
      std::vector<double> k(static_cast<std::size_t>((f + 1) * oversampling), 0.0);
      for (int i = 0; i < oversampling; ++i)
        k[static_cast<std::size_t>(f * oversampling + i)] = 1.0 / oversampling;
      out.kernels.push_back(std::move(k));
      out.suffixes.push_back("_delay_" + std::to_string(f));
    }
    return out;
  }
  const GammaDifference base = glover ? glover_hrf_params() : spm_hrf_params();
  const auto h = gamma_difference_kernel(base, tr_s, oversampling);
  out.kernels.push_back(h);
  out.suffixes.push_back("");
  const bool deriv = model != HrfModel::spm && model != HrfModel::glover;
  const bool disp =
      model == HrfModel::spm_derivative_dispersion || model == HrfModel::glover_derivative_dispersion;
  if (deriv) {
    GammaDifference shifted = base;
    shifted.onset += 0.1;
    const auto h2 = gamma_difference_kernel(shifted, tr_s, oversampling);
    std::vector<double> d(h.size());
    for (std::size_t i = 0; i < h.size(); ++i) d[i] = (h[i] - h2[i]) / 0.1;
    out.kernels.push_back(std::move(d));
    out.suffixes.push_back("_derivative");
  }
  if (disp) {
    // nilearn: only the peak dispersion changes (u_dispersion is left at its default of 1).
    GammaDifference a = base, b = base;
    a.u_dispersion = b.u_dispersion = 1.0;
    b.dispersion += 0.01;
    const auto ha = gamma_difference_kernel(a, tr_s, oversampling);
    const auto hb = gamma_difference_kernel(b, tr_s, oversampling);
    std::vector<double> d(h.size());
    for (std::size_t i = 0; i < h.size(); ++i) d[i] = (ha[i] - hb[i]) / 0.01;
    out.kernels.push_back(std::move(d));
    out.suffixes.push_back("_dispersion");
  }
  return out;
}

double spm_hrf_continuous(double t) {
  if (t <= 0.0) return 0.0;
  return (gamma_pdf(t, 6.0, 0.0, 1.0) - gamma_pdf(t, 16.0, 0.0, 1.0) / 6.0) / (1.0 - 1.0 / 6.0);
}

double spm_hrf_integral(double t) {
  if (t <= 0.0) return 0.0;
  return (lower_gamma_regularised_int(6, t) - lower_gamma_regularised_int(16, t) / 6.0) / (1.0 - 1.0 / 6.0);
}

} // namespace rewardpath::glm
