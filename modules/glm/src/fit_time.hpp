#pragma once
// Internal to modules/glm: the time-blocked engine for the ols and ar1 models.
//
// Each series is summarised, one block of volumes at a time, by sufficient statistics:
// C_s = sum_t x_{t-s} y_t for shifts |s| <= L (only C_0 and the sums C_l + C_-l are needed: one
// float GEMM Z_b' Y_b per block with (L+1)k columns, accumulated in double), S_l = sum_{t>=l} y_t y_{t-l} (l
// <= L) and the last L+1 samples. OLS betas, the residual autocovariances A_l = S_l - b'C_l - b'C_{-l} +
// b'M_l b (M_l = sum_{t>=l} x_t x_{t-l}'), the AR(1) estimate, the GLS fit on the whitened series and the
// whitened residual autocorrelations all follow exactly from these (L = 1 for ar1, + 3 with diagnostics). So
// the samples are read once, in any order of time blocks, and a run never needs to be in memory: volumes can
// stream from a file. Series are shifted by their first sample when the design spans the constant (better
// float accuracy; the betas are shifted back, residuals are unchanged).
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Dense>

#include "rewardpath/glm/fit.hpp"

namespace rewardpath::glm::detail {

// How stored samples become floats (SeriesView): floats as they are; int16 as io::read_nifti
// scales them (in double, rounded once), so a fit from int16 equals the fit from the float copy.
struct SampleScaling {
  double slope = 0.0, inter = 0.0;
  bool active() const { return slope != 0.0 && !(slope == 1.0 && inter == 0.0); }
};
// Calls f(convert) with a per-sample conversion T -> float, the scaling test hoisted out of the loops.
template <class T, class F> void with_conversion(const SampleScaling& s, F&& f) {
  if constexpr (std::is_same_v<T, float>) {
    f([](float v) { return v; });
  } else if (s.active()) {
    const double slope = s.slope, inter = s.inter;
    f([slope, inter](T v) { return static_cast<float>(static_cast<double>(v) * slope + inter); });
  } else {
    f([](T v) { return static_cast<float>(v); });
  }
}

class TimeEngine {
public:
  TimeEngine(const Design& d, const FitParams& prm);

  // Per chunk of series: running sums.
  struct State {
    Eigen::MatrixXd c;    // (L+1)k x m: C_0, then C_l + C_-l for l = 1..L
    Eigen::MatrixXd s;    // m x (L+1)
    Eigen::MatrixXf hist; // (L+1) x m, the last L+1 samples seen (oldest first), shifted
    Eigen::VectorXf off;  // m
    std::int64_t next_t = 0;
  };
  struct Scratch {
    std::vector<float> ext;                                  // (L+1 + block) x m, row-major
    std::vector<std::pair<Eigen::Index, Eigen::Index>> runs; // (first series, length) of consecutive sources
    Eigen::MatrixXf g;                                       // (L+1)k x m
  };

  std::int64_t block() const { return block_; }
  void init(State& st, std::int64_t m) const;
  // Adds times [t0, t0 + nb) (t0 must be the next time of this chunk): sample (t, j) is
  // base[(t - t0) * stride + idx[j]], converted by `scaling` (T: float or std::int16_t).
  template <class T>
  void add(State& st, std::int64_t t0, std::int64_t nb, const T* base, std::int64_t stride,
           const std::int64_t* idx, Scratch& sc, const SampleScaling& scaling = {}) const;
  // Writes beta, sigma2, ar and residual_acf of series first .. first + m - 1.
  void finish(const State& st, FirstLevelFit& out, std::int64_t first) const;

private:
  FitParams prm_;
  Eigen::MatrixXd x_;
  Eigen::MatrixXf z_;                 // n x (L+1)k: x_t, then x_{t-l} + x_{t+l}
  std::vector<Eigen::MatrixXd> mlag_; // M_l, l = 0..L
  std::vector<Eigen::MatrixXd> msym_; // (M_l + M_l') / 2
  Eigen::MatrixXd xtx_inv_;
  Eigen::LLT<Eigen::MatrixXd> xtx_llt_; // of M_0
  Eigen::PartialPivLU<Eigen::MatrixXd> bias_lu_;
  Eigen::VectorXd ones_coef_; // X g = 1 (when centred)
  bool centre_ = false;
  std::int64_t n_ = 0, k_ = 0, block_ = 32;
  int p_ = 0, l_ = 0;
  double scale_ = 100.0;
  std::vector<Eigen::MatrixXd> bins_; // ar1: inverse whitened X'X per rounded coefficient
  long bin_count_ = 0;
};

} // namespace rewardpath::glm::detail
