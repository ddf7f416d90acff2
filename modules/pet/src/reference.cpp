#include "rewardpath/pet/reference.hpp"

#include <algorithm>
#include <cmath>

#include "common.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::pet {

namespace detail {

namespace {
std::string num(double v) { return io::format_number(v); }
} // namespace

Eigen::VectorXd checked_weights(const std::vector<double>& weights, std::size_t frames,
                                const std::string& what) {
  if (weights.empty()) return Eigen::VectorXd::Ones(static_cast<Eigen::Index>(frames));
  if (weights.size() != frames) {
    throw Error(what + ": " + std::to_string(weights.size()) + " weights for " + std::to_string(frames) +
                " frames; expected one weight per frame (or none)");
  }
  double sum = 0.0;
  for (std::size_t i = 0; i < frames; ++i) {
    if (!std::isfinite(weights[i]) || weights[i] < 0.0) {
      throw Error(what + ": weight of frame " + std::to_string(i) + " is " + num(weights[i]) +
                  "; expected finite >= 0");
    }
    sum += weights[i];
  }
  if (!(sum > 0.0)) throw Error(what + ": all frame weights are 0");
  return to_eigen(weights);
}

void check_reference_inputs(const FrameTiming& timing, const std::vector<double>& target,
                            const std::vector<double>& reference, const std::string& model) {
  validate(timing, model + ": frame timing");
  validate_tac(timing, target, model + ": target TAC");
  validate_tac(timing, reference, model + ": reference TAC");
  const double rmax = *std::max_element(reference.begin(), reference.end());
  if (!(rmax > 0.0)) {
    throw Error(model + ": reference TAC is zero or negative in every frame (max " + num(rmax) +
                "); expected a positive reference-region activity");
  }
  const std::vector<double> mid = timing.mid_s();
  const double half = 0.5 * timing.end_s().back();
  for (std::size_t i = 0; i < reference.size(); ++i) {
    if (mid[i] >= half && !(reference[i] > 0.0)) {
      throw Error(model + ": reference TAC is " + num(reference[i]) + " in frame " + std::to_string(i) +
                  " (mid " + num(mid[i]) + " s, second half of the scan); expected > 0 there");
    }
  }
}

TstarFit fit_after_tstar(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& w,
                         const std::vector<double>& mid_s, const TstarParams& tp,
                         const std::vector<bool>& valid, const std::string& model) {
  const std::size_t n = mid_s.size();
  const std::size_t need = std::max<std::size_t>(tp.min_frames, static_cast<std::size_t>(x.cols()) + 1);
  std::size_t first_ok = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!valid[i]) first_ok = i + 1;
  }
  const auto fit_from = [&](std::size_t k) {
    TstarFit f;
    for (std::size_t i = k; i < n; ++i) {
      if (w[static_cast<Eigen::Index>(i)] > 0.0) f.used.push_back(i);
    }
    const auto m = static_cast<Eigen::Index>(f.used.size());
    Eigen::MatrixXd xs(m, x.cols());
    Eigen::VectorXd ys(m), ws(m);
    for (Eigen::Index r = 0; r < m; ++r) {
      xs.row(r) = x.row(static_cast<Eigen::Index>(f.used[static_cast<std::size_t>(r)]));
      ys[r] = y[static_cast<Eigen::Index>(f.used[static_cast<std::size_t>(r)])];
      ws[r] = w[static_cast<Eigen::Index>(f.used[static_cast<std::size_t>(r)])];
    }
    f.lr = fit_wls(xs, ys, ws);
    f.tstar_s = mid_s[k];
    f.max_rel = 0.0;
    for (Eigen::Index r = 0; r < m; ++r) {
      const double fit = f.lr.fitted[r];
      f.max_rel = std::max(f.max_rel, std::abs(ys[r] - fit) / std::max(std::abs(fit), 1e-300));
    }
    if (!f.lr.ok) f.max_rel = kNaN;
    return f;
  };
  if (tp.tstar_s) {
    std::size_t k = 0;
    while (k < n && mid_s[k] < *tp.tstar_s) ++k;
    if (k < first_ok) {
      throw Error(model + ": frame " + std::to_string(first_ok - 1) + " after t* = " + num(*tp.tstar_s) +
                  " s cannot be used (non-positive tissue activity); choose a later t*");
    }
    if (n - k < need) {
      throw Error(model + ": t* = " + num(*tp.tstar_s) + " s leaves " + std::to_string(n - k) +
                  " frames; expected at least " + std::to_string(need));
    }
    return fit_from(k);
  }
  if (first_ok + need > n) {
    throw Error(model + ": only " + std::to_string(n - std::min(n, first_ok)) +
                " usable frames at the end of the scan; expected at least " + std::to_string(need));
  }
  TstarFit best;
  bool have = false;
  for (std::size_t k = first_ok; k + need <= n; ++k) {
    TstarFit f = fit_from(k);
    if (!f.lr.ok) continue;
    if (f.max_rel <= tp.max_rel_error) return f;
    if (!have || f.max_rel < best.max_rel) {
      best = std::move(f);
      have = true;
    }
  }
  if (!have) throw Error(model + ": the linear fit is singular for every t*");
  best.message = "no t* met the max relative error " + num(tp.max_rel_error) +
                 "; used the t* with the least (" + num(best.max_rel) + ")";
  return best;
}

SrtmBasis srtm_basis(const FrameTiming& timing, const std::vector<double>& reference, double k2a_min,
                     double k2a_max, int count, double max_step_s) {
  if (!(k2a_min > 0.0) || !(k2a_max > k2a_min) || count < 2) {
    throw Error("BF-SRTM: basis range [" + num(k2a_min) + ", " + num(k2a_max) + "] /min with " +
                std::to_string(count) + " functions; expected 0 < min < max and at least 2");
  }
  const FineGrid g = make_grid(timing, max_step_s);
  const std::vector<double> cr = frame_consistent_curve(g, timing, reference);
  SrtmBasis b;
  const auto n = static_cast<Eigen::Index>(timing.size());
  b.theta.resize(count);
  b.basis.resize(n, count);
  b.cr_mid = to_eigen(reference); // the frame means themselves (the model is linear in C_R)
  std::vector<double> conv;
  for (int j = 0; j < count; ++j) {
    b.theta[j] = k2a_min * std::pow(k2a_max / k2a_min, static_cast<double>(j) / (count - 1));
    conv_exp(g.t, cr, b.theta[j], conv);
    b.basis.col(j) = to_eigen(g.frame_means(conv));
  }
  return b;
}

GraphicalDesign graphical_design(const std::vector<double>& xnum, const std::vector<double>& ynum,
                                 const std::vector<double>& den) {
  const auto n = static_cast<Eigen::Index>(den.size());
  GraphicalDesign g{Eigen::MatrixXd(n, 2), Eigen::VectorXd(n), std::vector<bool>(den.size())};
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto u = static_cast<std::size_t>(i);
    g.valid[u] = den[u] > 0.0;
    const double d = g.valid[u] ? den[u] : 1.0;
    g.x(i, 0) = xnum[u] / d;
    g.x(i, 1) = 1.0;
    g.y[i] = ynum[u] / d;
  }
  return g;
}

} // namespace detail

using detail::to_eigen;

namespace {

std::vector<std::size_t> all_frames(std::size_t n) {
  std::vector<std::size_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

// Fine-grid reference curve for the nonlinear models.
struct RefCurve {
  detail::FineGrid grid;
  std::vector<double> cr;
};
RefCurve ref_curve(const FrameTiming& timing, const std::vector<double>& reference, double step) {
  RefCurve r;
  r.grid = detail::make_grid(timing, step);
  r.cr = detail::frame_consistent_curve(r.grid, timing, reference);
  return r;
}

void finish_nls(BindingPotential& bp, const detail::NlsResult& r, const std::vector<std::string>& names,
                const Eigen::VectorXd& y, const Eigen::VectorXd& w) {
  detail::fill_diagnostics(bp.fit, names, r.p, r.se, all_frames(static_cast<std::size_t>(y.size())), y,
                           r.fitted, w, static_cast<std::size_t>(y.size()));
  bp.fit.iterations = r.iterations;
  bp.fit.at_bound = r.at_bound;
  if (r.at_bound) bp.fit.message = "a parameter is at its bound";
  if (r.singular) {
    bp.fit.message += std::string(bp.fit.message.empty() ? "" : "; ") + "singular Jacobian (SEs unavailable)";
  }
  if (!std::isfinite(bp.bp_nd)) {
    bp.fit.failed = true;
    bp.fit.message += std::string(bp.fit.message.empty() ? "" : "; ") + "BP_ND not finite";
  }
}

} // namespace

BindingPotential bf_srtm(const FrameTiming& timing, const std::vector<double>& target,
                         const std::vector<double>& reference, const BfSrtmParams& params) {
  detail::check_reference_inputs(timing, target, reference, "BF-SRTM");
  const Eigen::VectorXd w = detail::checked_weights(params.weights, timing.size(), "BF-SRTM");
  const detail::SrtmBasis b = detail::srtm_basis(timing, reference, params.k2a_min, params.k2a_max,
                                                 params.basis_count, params.max_grid_step_s);
  const Eigen::VectorXd y = to_eigen(target);
  const auto n = y.size();
  double best = std::numeric_limits<double>::infinity();
  int jbest = -1;
  detail::LinearResult lbest;
  for (int j = 0; j < params.basis_count; ++j) {
    Eigen::MatrixXd x(n, 2);
    x.col(0) = b.cr_mid;
    x.col(1) = b.basis.col(j);
    detail::LinearResult lr = detail::fit_wls(x, y, w);
    if (lr.ok && lr.wrss < best) {
      best = lr.wrss;
      jbest = j;
      lbest = std::move(lr);
    }
  }
  BindingPotential bp;
  bp.model = "BF-SRTM";
  if (jbest < 0) {
    bp.fit.failed = true;
    bp.fit.message = "every basis function gave a singular fit";
    return bp;
  }
  const double th1 = lbest.beta[0], th2 = lbest.beta[1], th3 = b.theta[jbest];
  bp.r1 = th1;
  bp.k2a = th3;
  bp.k2 = th2 + th1 * th3;
  bp.bp_nd = th2 / th3 + th1 - 1.0;
  bp.k2_prime = bp.k2 / bp.r1;
  // SE of BP_ND at fixed theta3 (conditional on the chosen basis).
  Eigen::Vector2d grad(1.0, 1.0 / th3);
  bp.bp_nd_se = std::sqrt(std::max(grad.dot(lbest.cov * grad), 0.0));
  detail::fill_diagnostics(bp.fit, {"theta1", "theta2", "theta3"}, Eigen::Vector3d(th1, th2, th3),
                           Eigen::Vector3d(std::sqrt(lbest.cov(0, 0)), std::sqrt(lbest.cov(1, 1)), kNaN),
                           all_frames(timing.size()), y, lbest.fitted, w, timing.size());
  if (jbest == 0 || jbest == params.basis_count - 1) {
    bp.fit.at_bound = true;
    bp.fit.message = "the winning basis function is at the end of the theta3 range";
  }
  return bp;
}

BindingPotential srtm(const FrameTiming& timing, const std::vector<double>& target,
                      const std::vector<double>& reference, const SrtmParams& params) {
  detail::check_reference_inputs(timing, target, reference, "SRTM");
  const Eigen::VectorXd w = detail::checked_weights(params.weights, timing.size(), "SRTM");
  BfSrtmParams bfp;
  bfp.weights = params.weights;
  bfp.max_grid_step_s = params.max_grid_step_s;
  const BindingPotential start = bf_srtm(timing, target, reference, bfp);
  RefCurve rc = ref_curve(timing, reference, params.max_grid_step_s);
  const bool at_mids = params.sampling == ModelSampling::mid_time;
  if (at_mids) { // kinfitr's convention: C_R linear through the mids, the model sampled there
    std::vector<double> x, y;
    detail::tac_curve(timing, reference, x, y);
    rc.cr = detail::interp_linear(x, y, rc.grid.t);
  }
  const Eigen::VectorXd cr_mid = to_eigen(reference);
  std::vector<double> conv;
  const detail::Model model = [&](const Eigen::VectorXd& p, Eigen::VectorXd& f) {
    const double r1 = p[0], k2 = p[1], k2a = k2 / (1.0 + p[2]);
    detail::conv_exp(rc.grid.t, rc.cr, k2a, conv);
    f = r1 * cr_mid + (k2 - r1 * k2a) * to_eigen(at_mids ? rc.grid.at_mids(conv) : rc.grid.frame_means(conv));
  };
  const Eigen::Vector3d lo(params.r1_min, params.k2_min, params.bp_min),
      hi(params.r1_max, params.k2_max, params.bp_max);
  Eigen::Vector3d p0(1.0, 0.2, 1.0);
  if (!start.fit.failed && std::isfinite(start.bp_nd)) p0 = Eigen::Vector3d(start.r1, start.k2, start.bp_nd);
  const Eigen::VectorXd y = to_eigen(target);
  const detail::NlsResult r = detail::fit_lm(model, y, w, p0, lo, hi);
  BindingPotential bp;
  bp.model = "SRTM";
  bp.r1 = r.p[0];
  bp.k2 = r.p[1];
  bp.bp_nd = r.p[2];
  bp.k2a = bp.k2 / (1.0 + bp.bp_nd);
  bp.k2_prime = bp.k2 / bp.r1;
  bp.bp_nd_se = r.se[2];
  finish_nls(bp, r, {"R1", "k2", "BP_ND"}, y, w);
  return bp;
}

BindingPotential srtm2(const FrameTiming& timing, const std::vector<double>& target,
                       const std::vector<double>& reference, const Srtm2Params& params) {
  detail::check_reference_inputs(timing, target, reference, "SRTM2");
  if (!(params.k2_prime > 0.0) || !std::isfinite(params.k2_prime)) {
    throw Error("SRTM2: k2' = " + io::format_number(params.k2_prime) +
                " /min; expected a finite value > 0 (e.g. "
                "from SRTM or MRTM on a high-binding region)");
  }
  const Eigen::VectorXd w = detail::checked_weights(params.weights, timing.size(), "SRTM2");
  const RefCurve rc = ref_curve(timing, reference, params.max_grid_step_s);
  const Eigen::VectorXd cr_mid = to_eigen(reference);
  const Eigen::VectorXd y = to_eigen(target);
  const double k2p = params.k2_prime;
  std::vector<double> conv;
  const auto regressor = [&](double k2a, Eigen::VectorXd& x) {
    detail::conv_exp(rc.grid.t, rc.cr, k2a, conv);
    x = cr_mid + (k2p - k2a) * to_eigen(rc.grid.frame_means(conv));
  };
  // Start: a log grid over k2a, R1 by 1-D weighted LS.
  Eigen::Vector2d p0(1.0, 0.1);
  double best = std::numeric_limits<double>::infinity();
  Eigen::VectorXd x;
  for (int j = 0; j < 60; ++j) {
    const double k2a =
        std::max(params.k2a_min, 0.005) * std::pow(std::min(params.k2a_max, 2.0) / 0.005, j / 59.0);
    regressor(k2a, x);
    const double den = (w.array() * x.array().square()).sum();
    if (!(den > 0.0)) continue;
    const double r1 = (w.array() * x.array() * y.array()).sum() / den;
    const double c = (w.array() * (y - r1 * x).array().square()).sum();
    if (c < best) {
      best = c;
      p0 = Eigen::Vector2d(r1, k2a);
    }
  }
  const detail::Model model = [&](const Eigen::VectorXd& p, Eigen::VectorXd& f) {
    regressor(p[1], f);
    f *= p[0];
  };
  const Eigen::Vector2d lo(params.r1_min, params.k2a_min), hi(params.r1_max, params.k2a_max);
  const detail::NlsResult r = detail::fit_lm(model, y, w, p0, lo, hi);
  BindingPotential bp;
  bp.model = "SRTM2";
  bp.r1 = r.p[0];
  bp.k2a = r.p[1];
  bp.k2_prime = k2p;
  bp.k2 = bp.r1 * k2p;
  bp.bp_nd = bp.r1 * k2p / bp.k2a - 1.0;
  if (r.cov.allFinite()) {
    const Eigen::Vector2d grad(k2p / bp.k2a, -bp.r1 * k2p / (bp.k2a * bp.k2a));
    bp.bp_nd_se = std::sqrt(std::max(grad.dot(r.cov * grad), 0.0));
  }
  finish_nls(bp, r, {"R1", "k2a"}, y, w);
  return bp;
}

namespace {

void finish_linear(BindingPotential& bp, const detail::TstarFit& f, const std::vector<std::string>& names,
                   const Eigen::VectorXd& y_all, const Eigen::VectorXd& w_all, std::size_t frames) {
  const auto m = static_cast<Eigen::Index>(f.used.size());
  Eigen::VectorXd y(m), w(m);
  for (Eigen::Index r = 0; r < m; ++r) {
    y[r] = y_all[static_cast<Eigen::Index>(f.used[static_cast<std::size_t>(r)])];
    w[r] = w_all[static_cast<Eigen::Index>(f.used[static_cast<std::size_t>(r)])];
  }
  Eigen::VectorXd se(f.lr.beta.size());
  for (Eigen::Index k = 0; k < se.size(); ++k) se[k] = std::sqrt(std::max(f.lr.cov(k, k), 0.0));
  detail::fill_diagnostics(bp.fit, names, f.lr.beta, se, f.used, y, f.lr.fitted, w, frames);
  bp.tstar_s = f.tstar_s;
  bp.max_rel_residual = f.max_rel;
  if (!f.message.empty()) bp.fit.message = f.message;
  if (!f.lr.ok || !std::isfinite(bp.bp_nd)) {
    bp.fit.failed = true;
    bp.fit.message += std::string(bp.fit.message.empty() ? "" : "; ") + "singular or non-finite linear fit";
  }
}

// BP = -g1/g2 - 1 and its delta-method SE.
double ratio_se(double g1, double g2, const Eigen::MatrixXd& cov, Eigen::Index i1, Eigen::Index i2) {
  const double d1 = -1.0 / g2, d2 = g1 / (g2 * g2);
  const double v = d1 * d1 * cov(i1, i1) + d2 * d2 * cov(i2, i2) + 2 * d1 * d2 * cov(i1, i2);
  return std::sqrt(std::max(v, 0.0));
}

} // namespace

BindingPotential mrtm(const FrameTiming& timing, const std::vector<double>& target,
                      const std::vector<double>& reference, const MrtmParams& params) {
  detail::check_reference_inputs(timing, target, reference, "MRTM");
  const Eigen::VectorXd w = detail::checked_weights(params.weights, timing.size(), "MRTM");
  const auto n = static_cast<Eigen::Index>(timing.size());
  Eigen::MatrixXd x(n, 3);
  x.col(0) = to_eigen(integrate_tac(timing, reference, params.integration));
  x.col(1) = to_eigen(integrate_tac(timing, target, params.integration));
  x.col(2) = to_eigen(reference);
  const Eigen::VectorXd y = to_eigen(target);
  const detail::TstarFit f = detail::fit_after_tstar(x, y, w, timing.mid_s(), params.tstar,
                                                     std::vector<bool>(timing.size(), true), "MRTM");
  BindingPotential bp;
  bp.model = "MRTM";
  const double g1 = f.lr.beta[0], g2 = f.lr.beta[1], g3 = f.lr.beta[2];
  bp.bp_nd = -g1 / g2 - 1.0;
  bp.k2_prime = g1 / g3;
  bp.r1 = g3;
  bp.k2 = g1;
  bp.k2a = -g2;
  if (f.lr.ok) bp.bp_nd_se = ratio_se(g1, g2, f.lr.cov, 0, 1);
  finish_linear(bp, f, {"gamma1", "gamma2", "gamma3"}, y, w, timing.size());
  return bp;
}

BindingPotential mrtm2(const FrameTiming& timing, const std::vector<double>& target,
                       const std::vector<double>& reference, const Mrtm2Params& params) {
  detail::check_reference_inputs(timing, target, reference, "MRTM2");
  if (!(params.k2_prime > 0.0) || !std::isfinite(params.k2_prime)) {
    throw Error("MRTM2: k2' = " + io::format_number(params.k2_prime) +
                " /min; expected a finite value > 0 (e.g. from MRTM on a high-binding region)");
  }
  const Eigen::VectorXd w = detail::checked_weights(params.weights, timing.size(), "MRTM2");
  const auto n = static_cast<Eigen::Index>(timing.size());
  Eigen::MatrixXd x(n, 2);
  x.col(0) =
      to_eigen(integrate_tac(timing, reference, params.integration)) + to_eigen(reference) / params.k2_prime;
  x.col(1) = to_eigen(integrate_tac(timing, target, params.integration));
  const Eigen::VectorXd y = to_eigen(target);
  const detail::TstarFit f = detail::fit_after_tstar(x, y, w, timing.mid_s(), params.tstar,
                                                     std::vector<bool>(timing.size(), true), "MRTM2");
  BindingPotential bp;
  bp.model = "MRTM2";
  const double g1 = f.lr.beta[0], g2 = f.lr.beta[1];
  bp.bp_nd = -g1 / g2 - 1.0;
  bp.k2_prime = params.k2_prime;
  bp.r1 = g1 / params.k2_prime;
  bp.k2 = g1;
  bp.k2a = -g2;
  if (f.lr.ok) bp.bp_nd_se = ratio_se(g1, g2, f.lr.cov, 0, 1);
  finish_linear(bp, f, {"gamma1", "gamma2"}, y, w, timing.size());
  return bp;
}

BindingPotential logan_reference(const FrameTiming& timing, const std::vector<double>& target,
                                 const std::vector<double>& reference, const LoganRefParams& params) {
  detail::check_reference_inputs(timing, target, reference, "Logan reference");
  const Eigen::VectorXd w = detail::checked_weights(params.weights, timing.size(), "Logan reference");
  const bool use_k2p = std::isfinite(params.k2_prime);
  if (use_k2p && !(params.k2_prime > 0.0)) {
    throw Error("Logan reference: k2' = " + io::format_number(params.k2_prime) +
                " /min; expected > 0 (or NaN)");
  }
  std::vector<double> xnum = integrate_tac(timing, reference, params.integration);
  if (use_k2p)
    for (std::size_t u = 0; u < xnum.size(); ++u) xnum[u] += reference[u] / params.k2_prime;
  const detail::GraphicalDesign g =
      detail::graphical_design(xnum, integrate_tac(timing, target, params.integration), target);
  const Eigen::VectorXd& y = g.y;
  const detail::TstarFit f =
      detail::fit_after_tstar(g.x, y, w, timing.mid_s(), params.tstar, g.valid, "Logan reference");
  BindingPotential bp;
  bp.model = "LoganRef";
  bp.dvr = f.lr.beta[0];
  bp.intercept = f.lr.beta[1];
  bp.bp_nd = bp.dvr - 1.0;
  if (use_k2p) bp.k2_prime = params.k2_prime;
  if (f.lr.ok) bp.bp_nd_se = std::sqrt(std::max(f.lr.cov(0, 0), 0.0));
  finish_linear(bp, f, {"DVR", "intercept"}, y, w, timing.size());
  return bp;
}

} // namespace rewardpath::pet
