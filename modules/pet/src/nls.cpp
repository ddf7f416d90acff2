#include "nls.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rewardpath::pet::detail {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double cost(const Eigen::VectorXd& y, const Eigen::VectorXd& f, const Eigen::VectorXd& w) {
  return (w.array() * (y - f).array().square()).sum();
}

Eigen::MatrixXd jacobian(const Model& model, const Eigen::VectorXd& p, const Eigen::VectorXd& lo,
                         const Eigen::VectorXd& hi, Eigen::Index n) {
  Eigen::MatrixXd j(n, p.size());
  Eigen::VectorXd fp(n), fm(n);
  for (Eigen::Index k = 0; k < p.size(); ++k) {
    const double h = 1e-6 * std::max(std::abs(p[k]), 1e-3);
    Eigen::VectorXd pp = p, pm = p;
    pp[k] = std::min(p[k] + h, hi[k]);
    pm[k] = std::max(p[k] - h, lo[k]);
    model(pp, fp);
    model(pm, fm);
    j.col(k) = (fp - fm) / (pp[k] - pm[k]);
  }
  return j;
}
} // namespace

NlsResult fit_lm(const Model& model, const Eigen::VectorXd& y, const Eigen::VectorXd& w, Eigen::VectorXd p0,
                 const Eigen::VectorXd& lo, const Eigen::VectorXd& hi, int max_iter) {
  const Eigen::Index n = y.size(), np = p0.size();
  NlsResult r;
  Eigen::VectorXd p = p0.cwiseMax(lo).cwiseMin(hi);
  Eigen::VectorXd f(n), fnew(n);
  model(p, f);
  double c = cost(y, f, w);
  double lambda = 1e-3;
  int it = 0;
  for (; it < max_iter; ++it) {
    const Eigen::MatrixXd j = jacobian(model, p, lo, hi, n);
    const Eigen::MatrixXd jw = j.transpose() * w.asDiagonal();
    const Eigen::MatrixXd a = jw * j;
    const Eigen::VectorXd g = jw * (y - f);
    bool improved = false;
    for (int tries = 0; tries < 30; ++tries) {
      Eigen::MatrixXd m = a;
      for (Eigen::Index k = 0; k < np; ++k) m(k, k) += lambda * std::max(a(k, k), 1e-12);
      const Eigen::VectorXd step = m.ldlt().solve(g);
      const Eigen::VectorXd pn = (p + step).cwiseMax(lo).cwiseMin(hi);
      model(pn, fnew);
      const double cn = cost(y, fnew, w);
      if (std::isfinite(cn) && cn <= c) {
        const double rel = (c - cn) / std::max(c, 1e-300);
        const double dp = ((pn - p).array().abs() / (p.array().abs() + 1e-10)).maxCoeff();
        p = pn;
        f = fnew;
        c = cn;
        lambda = std::max(lambda / 3.0, 1e-12);
        improved = true;
        if (rel < 1e-14 || dp < 1e-10) r.converged = true;
        break;
      }
      lambda *= 4.0;
    }
    if (!improved) {
      r.converged = true; // no descent possible: at a (possibly constrained) minimum
      break;
    }
    if (r.converged) break;
  }
  r.p = p;
  r.fitted = f;
  r.wrss = c;
  r.iterations = it;
  const Eigen::MatrixXd j = jacobian(model, p, lo, hi, n);
  const Eigen::MatrixXd a = j.transpose() * w.asDiagonal() * j;
  Eigen::FullPivLU<Eigen::MatrixXd> lu(a);
  const double dof = static_cast<double>(std::max<Eigen::Index>(n - np, 1));
  r.se = Eigen::VectorXd::Constant(np, kNaN);
  if (lu.isInvertible()) {
    r.cov = lu.inverse() * (c / dof);
    for (Eigen::Index k = 0; k < np; ++k) r.se[k] = std::sqrt(std::max(r.cov(k, k), 0.0));
  } else {
    r.singular = true;
    r.cov = Eigen::MatrixXd::Constant(np, np, kNaN);
  }
  for (Eigen::Index k = 0; k < np; ++k) {
    const double tol = 1e-6 * std::max(hi[k] - lo[k], 1e-12);
    if (lo[k] < hi[k] && (p[k] - lo[k] <= tol || hi[k] - p[k] <= tol)) r.at_bound = true;
  }
  return r;
}

LinearResult fit_wls(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& w) {
  LinearResult r;
  const Eigen::VectorXd sw = w.cwiseSqrt();
  const Eigen::MatrixXd xw = sw.asDiagonal() * x;
  const Eigen::VectorXd yw = sw.cwiseProduct(y);
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(xw);
  if (qr.rank() < x.cols() || x.rows() <= x.cols()) {
    r.beta = Eigen::VectorXd::Constant(x.cols(), kNaN);
    r.cov = Eigen::MatrixXd::Constant(x.cols(), x.cols(), kNaN);
    r.fitted = Eigen::VectorXd::Constant(x.rows(), kNaN);
    r.wrss = kNaN;
    return r;
  }
  r.beta = qr.solve(yw);
  r.fitted = x * r.beta;
  r.wrss = (w.array() * (y - r.fitted).array().square()).sum();
  const double dof = static_cast<double>(x.rows() - x.cols());
  r.cov = (xw.transpose() * xw).inverse() * (r.wrss / dof);
  r.ok = r.beta.allFinite();
  return r;
}

void fill_diagnostics(FitDiagnostics& d, const std::vector<std::string>& names, const Eigen::VectorXd& p,
                      const Eigen::VectorXd& se, const std::vector<std::size_t>& used,
                      const Eigen::VectorXd& y, const Eigen::VectorXd& fitted, const Eigen::VectorXd& w,
                      std::size_t frames) {
  d.parameter_names = names;
  d.parameters.assign(p.data(), p.data() + p.size());
  d.standard_errors.assign(se.data(), se.data() + se.size());
  d.fitted.assign(frames, kNaN);
  d.residuals.assign(frames, kNaN);
  for (std::size_t i = 0; i < used.size(); ++i) {
    d.fitted[used[i]] = fitted[static_cast<Eigen::Index>(i)];
    d.residuals[used[i]] = y[static_cast<Eigen::Index>(i)] - fitted[static_cast<Eigen::Index>(i)];
  }
  d.frames_used = used.size();
  d.weighted_rss = (w.array() * (y - fitted).array().square()).sum();
  const double wsum = w.sum();
  const double ybar = wsum > 0 ? (w.array() * y.array()).sum() / wsum : 0.0;
  const double tss = (w.array() * (y.array() - ybar).square()).sum();
  d.r_squared = tss > 0 ? 1.0 - d.weighted_rss / tss : kNaN;
  if (!p.allFinite() || !fitted.allFinite()) {
    d.failed = true;
    if (d.message.empty()) d.message = "non-finite parameters or fitted values";
  }
}

Eigen::VectorXd to_eigen(const std::vector<double>& v) {
  return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

} // namespace rewardpath::pet::detail
