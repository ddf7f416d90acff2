#pragma once
// Diagnostics shared by every kinetic fit.
#include <limits>
#include <string>
#include <vector>

namespace rewardpath::pet {

struct FitDiagnostics {
  std::vector<std::string> parameter_names;
  std::vector<double> parameters;
  std::vector<double> standard_errors; // from (J^T W J)^-1 scaled by WRSS/(n-p); NaN if singular
  std::vector<double> fitted;          // per frame; NaN for frames not used by the fit
  std::vector<double> residuals;       // data - fitted per frame; NaN for frames not used
  std::size_t frames_used = 0;
  double weighted_rss = std::numeric_limits<double>::quiet_NaN();
  double r_squared = std::numeric_limits<double>::quiet_NaN(); // weighted, of the fitted frames
  int iterations = 0;
  bool at_bound = false; // a parameter (or the chosen basis function) is at a bound
  bool failed = false;   // no usable fit (singular system, non-finite result); see message
  std::string message;   // why at_bound / failed
};

} // namespace rewardpath::pet
