#include "fit_time.hpp"

#include <algorithm>
#include <cmath>

#include "rewardpath/core/error.hpp"

namespace rewardpath::glm::detail {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {
// X_w'X_w for the AR(1) filter w_t = y_t + c y_{t-1} (first row unscaled).
MatrixXd whitened_xtx_ar1(const std::vector<MatrixXd>& mlag, const MatrixXd& x, double c) {
  const Index n = x.rows();
  const MatrixXd last = x.row(n - 1).transpose() * x.row(n - 1);
  return mlag[0] + c * (mlag[1] + mlag[1].transpose()) + c * c * (mlag[0] - last);
}
} // namespace

TimeEngine::TimeEngine(const Design& d, const FitParams& prm) : prm_(prm) {
  x_ = d.matrix;
  n_ = x_.rows();
  k_ = x_.cols();
  p_ = prm.noise_model == NoiseModel::ar1 ? 1 : 0;
  l_ = p_ + (prm.diagnostics ? 3 : 0);
  // Only the sums C_l + C_-l enter the formulas (l >= 1): column block l of Z holds
  // x_{t-l} + x_{t+l} (zero rows outside the run), block 0 holds x_t.
  z_ = Eigen::MatrixXf::Zero(n_, (l_ + 1) * k_);
  for (int l = 0; l <= l_; ++l)
    for (Index t = 0; t < n_; ++t) {
      Eigen::RowVectorXd row = Eigen::RowVectorXd::Zero(k_);
      if (t - l >= 0) row += x_.row(t - l);
      if (l > 0 && t + l < n_) row += x_.row(t + l);
      z_.block(t, l * k_, 1, k_) = row.cast<float>();
    }
  for (int l = 0; l <= l_; ++l) mlag_.push_back(x_.bottomRows(n_ - l).transpose() * x_.topRows(n_ - l));
  for (const auto& ml : mlag_) msym_.push_back(0.5 * (ml + ml.transpose()));
  xtx_llt_.compute(mlag_[0]);
  xtx_inv_ = xtx_llt_.solve(MatrixXd::Identity(k_, k_));
  if (p_ > 0) {
    const MatrixXd bias =
        prm.ar_bias_correction ? autocovariance_bias_matrix(x_, 1) : MatrixXd::Identity(2, 2);
    bias_lu_ = bias.partialPivLu();
  }
  // Shift each series by its first sample when the design spans the constant.
  const VectorXd ones = VectorXd::Ones(n_);
  ones_coef_ = xtx_llt_.solve(x_.transpose() * ones);
  centre_ = (x_ * ones_coef_ - ones).norm() < 1e-8 * std::sqrt(static_cast<double>(n_));
  scale_ = std::pow(10.0, prm.ar1_decimals);
  if (p_ == 1 && prm.ar1_decimals >= 2 && prm.ar1_decimals <= 3) {
    bin_count_ = std::lround(0.99 * scale_);
    for (long key = -bin_count_; key <= bin_count_; ++key) {
      const double a = static_cast<float>(static_cast<double>(key) / scale_);
      bins_.push_back(
          Eigen::LLT<MatrixXd>(whitened_xtx_ar1(mlag_, x_, -a)).solve(MatrixXd::Identity(k_, k_)));
    }
  }
}

void TimeEngine::init(State& st, std::int64_t m) const {
  st.c = MatrixXd::Zero((l_ + 1) * k_, m);
  st.s = MatrixXd::Zero(m, l_ + 1);
  st.hist = Eigen::MatrixXf::Zero(l_ + 1, m);
  st.off = Eigen::VectorXf::Zero(m);
  st.next_t = 0;
}

template <class T>
void TimeEngine::add(State& st, std::int64_t t0, std::int64_t nb, const T* base, std::int64_t stride,
                     const std::int64_t* idx, Scratch& sc, const SampleScaling& scaling) const {
  if (t0 != st.next_t || nb <= 0) throw Error("internal: time blocks out of order");
  const Index m = st.c.cols();
  const Index h = l_ + 1;
  sc.ext.resize(static_cast<std::size_t>((h + nb) * m));
  float* ext = sc.ext.data();
  // History rows (the previous samples, zeros before t = 0), then this block's samples.
  for (Index r = 0; r < h; ++r)
    for (Index j = 0; j < m; ++j) ext[r * m + j] = st.hist(r, j);
  // Mask voxels come in runs of consecutive indices (rows of the grid): copied run by run, the
  // conversion vectorises (was one indexed load per sample).
  sc.runs.clear();
  for (Index j = 0; j < m;) {
    Index e = j + 1;
    while (e < m && idx[e] == idx[e - 1] + 1) ++e;
    sc.runs.push_back({j, e - j});
    j = e;
  }
  with_conversion<T>(scaling, [&](auto value) {
    if (t0 == 0 && centre_)
      for (Index j = 0; j < m; ++j) st.off(j) = value(base[idx[j]]);
    const float* off = st.off.data();
    // The rows of a chunk are far apart (one volume each), too far for the hardware prefetcher to
    // follow: ask for the row 4 ahead, a cache line at a time, while this one is copied (2 to 8
    // ahead measured the same).
    constexpr Index kAhead = 4, kLine = 64 / static_cast<Index>(sizeof(T));
    for (Index t = 0; t < nb; ++t) {
      const T* row = base + t * stride;
      float* dst = ext + (h + t) * m;
      if (t + kAhead < nb) {
        const T* next = row + kAhead * stride;
        for (const auto& [j, len] : sc.runs)
          for (Index q = 0; q < len; q += kLine) __builtin_prefetch(next + idx[j] + q);
      }
      for (const auto& [j, len] : sc.runs) {
        const T* src = row + idx[j];
        float* d = dst + j;
        const float* o = off + j;
        for (Index q = 0; q < len; ++q) d[q] = value(src[q]) - o[q];
      }
    }
  });
  using RowF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const RowF> yb(ext + h * m, nb, m);
  sc.g.resize(z_.cols(), m);
  sc.g.noalias() = z_.middleRows(t0, nb).transpose() * yb;
  st.c += sc.g.cast<double>();
  // S_l in double; rows before t = 0 are zero, so no range checks are needed.
  for (Index l = 0; l <= l_; ++l) {
    double* s = st.s.col(l).data(); // m x (L+1): contiguous per lag
    for (Index t = 0; t < nb; ++t) {
      const float* a = ext + (h + t) * m;
      const float* b = ext + (h + t - l) * m;
      for (Index j = 0; j < m; ++j) s[j] += static_cast<double>(a[j]) * static_cast<double>(b[j]);
    }
  }
  for (Index r = 0; r < h; ++r)
    for (Index j = 0; j < m; ++j) st.hist(r, j) = ext[(nb + r) * m + j];
  st.next_t = t0 + nb;
}

void TimeEngine::finish(const State& st, FirstLevelFit& out, std::int64_t first) const {
  if (st.next_t != n_) throw Error("internal: not all volumes were added");
  const Index m = st.c.cols();
  if (m == 0) return;
  const double dof = static_cast<double>(n_ - k_), nd = static_cast<double>(n_);
  // cs(0) = C_0 = X'y; cs(l) = C_l + C_-l for l >= 1.
  auto cs = [&](int l) { return st.c.middleRows(l * k_, k_); };
  // Residual autocovariances A_l of e = y - X b for every series (b = columns of bm).
  auto acov = [&](const MatrixXd& bm, int l) -> Eigen::RowVectorXd {
    const auto ul = static_cast<std::size_t>(l);
    const MatrixXd mb = msym_[ul] * bm;
    if (l == 0)
      return st.s.col(0).transpose() - 2.0 * bm.cwiseProduct(cs(0)).colwise().sum() +
             bm.cwiseProduct(mb).colwise().sum();
    return st.s.col(l).transpose() - bm.cwiseProduct(cs(l)).colwise().sum() +
           bm.cwiseProduct(mb).colwise().sum();
  };
  MatrixXd b = xtx_inv_ * cs(0);
  Eigen::RowVectorXd c = Eigen::RowVectorXd::Zero(m);
  if (p_ == 1) {
    const Eigen::RowVectorXd a0 = acov(b, 0), a1 = acov(b, 1);
    const Eigen::Matrix2d binv = bias_lu_.inverse();
    for (Index j = 0; j < m; ++j) {
      const double g0 = binv(0, 0) * a0(j) + binv(0, 1) * a1(j), g1 = binv(1, 0) * a0(j) + binv(1, 1) * a1(j);
      double rho = g0 > 0 ? g1 / g0 : 0.0;
      if (prm_.ar_bias_correction) {
        rho = std::round(rho * scale_) / scale_;
      } else {
        // nilearn 0.10 (_yule_walker, run_glm): lag sums over n - l terms each, binned toward zero.
        rho *= nd / (nd - 1.0);
        rho = std::trunc(rho * scale_) / scale_;
      }
      rho = std::clamp(rho, -0.99, 0.99);
      const float rf = static_cast<float>(rho);
      out.ar(0, first + j) = rf;
      c(j) = -static_cast<double>(rf);
    }
    // X_w'y_w = C_0 + c (C_1 + C_-1) + c^2 (C_0 - x_{n-1} y_{n-1}), then one k x k solve per series.
    const Eigen::RowVectorXd ylast = st.hist.row(l_).cast<double>();
    const MatrixXd rhs = cs(0) + cs(1) * c.asDiagonal() +
                         (cs(0) - x_.row(n_ - 1).transpose() * ylast) * c.cwiseAbs2().asDiagonal();
    for (Index j = 0; j < m; ++j) {
      if (!bins_.empty()) {
        const long key = std::clamp(std::lround(-c(j) * scale_), -bin_count_, bin_count_);
        b.col(j).noalias() = bins_[static_cast<std::size_t>(key + bin_count_)] * rhs.col(j);
      } else {
        b.col(j) = Eigen::LLT<MatrixXd>(whitened_xtx_ar1(mlag_, x_, c(j))).solve(rhs.col(j));
      }
    }
  }
  // Whitened residual autocovariances R_l from A_l and the last residuals (docs/glm.md).
  std::vector<Eigen::RowVectorXd> acv;
  for (int l = 0; l <= l_; ++l) acv.push_back(acov(b, l));
  // e_{n-1-i} = row l_ - i of et (hist row l_ is time n - 1).
  const MatrixXd et = st.hist.cast<double>() - x_.bottomRows(l_ + 1) * b;
  const Eigen::RowVectorXd e_last = et.row(l_);
  const Eigen::RowVectorXd c2 = c.cwiseAbs2();
  const Eigen::RowVectorXd acv1 = l_ >= 1 ? acv[1] : Eigen::RowVectorXd::Zero(m);
  const Eigen::RowVectorXd r0 =
      acv[0] + 2.0 * c.cwiseProduct(acv1) + c2.cwiseProduct(acv[0] - e_last.cwiseAbs2());
  out.sigma2.segment(first, m) = (r0.array().max(0.0) / dof).matrix().transpose();
  if (out.residual_acf.size() > 0) {
    for (int l = 1; l <= 3; ++l) {
      const auto ul = static_cast<std::size_t>(l);
      Eigen::RowVectorXd r = acv[ul];
      if (p_ == 1)
        r = (1.0 + c2.array()) * acv[ul].array() + c.array() * (acv[ul + 1] + acv[ul - 1]).array() -
            c.array() * e_last.array() * et.row(l_ - l + 1).array() -
            c2.array() * e_last.array() * et.row(l_ - l).array();
      for (Index j = 0; j < m; ++j)
        out.residual_acf(l - 1, first + j) = r0(j) > 0 ? static_cast<float>(r(j) / r0(j)) : 0.0f;
    }
  }
  if (centre_) b += ones_coef_ * st.off.cast<double>().transpose();
  out.beta.middleCols(first, m) = b;
}

template void TimeEngine::add<float>(State&, std::int64_t, std::int64_t, const float*, std::int64_t,
                                     const std::int64_t*, Scratch&, const SampleScaling&) const;
template void TimeEngine::add<std::int16_t>(State&, std::int64_t, std::int64_t, const std::int16_t*,
                                            std::int64_t, const std::int64_t*, Scratch&,
                                            const SampleScaling&) const;

} // namespace rewardpath::glm::detail
