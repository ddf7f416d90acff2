#pragma once
// Haemodynamic response kernels, sampled on a fine grid of step dt = TR / oversampling, as nilearn
// builds them (nilearn.glm.first_level.hemodynamic_models): a difference of gamma densities
// evaluated at t = 0, .., time_length (linspace with round(time_length / dt) points, shifted by
// one step), normalised to unit sum. Derivatives are finite differences (temporal: onset shifted
// by 0.1 s; dispersion: dispersion + 0.01), as in SPM and nilearn.
#include <vector>

#include "rewardpath/glm/design.hpp"

namespace rewardpath::glm {

struct GammaDifference {
  double delay = 6.0;       // peak gamma shape * dispersion (s)
  double undershoot = 16.0; // undershoot gamma shape * u_dispersion (s)
  double dispersion = 1.0;
  double u_dispersion = 1.0;
  double ratio = 0.167;
  double time_length = 32.0;
  double onset = 0.0;
};
GammaDifference spm_hrf_params();
GammaDifference glover_hrf_params();

// Kernel on the fine grid of step tr_s / oversampling, unit sum.
std::vector<double> gamma_difference_kernel(const GammaDifference& g, double tr_s, int oversampling);

// Kernels of an HRF model on the fine grid (1 for spm/glover, 2 with derivative, 3 with
// dispersion, one per delay for FIR) and their column suffixes ("", "_derivative", ...).
struct HrfKernels {
  std::vector<std::vector<double>> kernels;
  std::vector<std::string> suffixes;
};
HrfKernels hrf_kernels(HrfModel model, double tr_s, int oversampling, const std::vector<int>& fir_delays);

// Continuous SPM canonical HRF (unit area) and its exact integral, for checks: difference of
// Gamma(6, 1) and Gamma(16, 1) densities with ratio 1/6, divided by (1 - 1/6).
double spm_hrf_continuous(double t_s);
double spm_hrf_integral(double t_s);

} // namespace rewardpath::glm
