#include "rewardpath/pet/plasma.hpp"

#include <algorithm>
#include <cmath>

#include "common.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::pet {

using detail::to_eigen;

namespace {
std::string num(double v) { return io::format_number(v); }
} // namespace

void validate(const ArterialInput& input, const std::string& what) {
  if (input.time_s.size() < 2)
    throw Error(what + ": " + std::to_string(input.time_s.size()) + " samples; expected at least 2");
  if (input.plasma.size() != input.time_s.size()) {
    throw Error(what + ": " + std::to_string(input.plasma.size()) + " plasma values for " +
                std::to_string(input.time_s.size()) + " sample times; expected equal counts");
  }
  if (!input.whole_blood.empty() && input.whole_blood.size() != input.time_s.size()) {
    throw Error(what + ": " + std::to_string(input.whole_blood.size()) + " whole-blood values for " +
                std::to_string(input.time_s.size()) + " sample times; expected equal counts (or none)");
  }
  for (std::size_t i = 0; i < input.time_s.size(); ++i) {
    if (!std::isfinite(input.time_s[i]) || (i > 0 && !(input.time_s[i] > input.time_s[i - 1]))) {
      throw Error(what + ": sample time " + std::to_string(i) + " is " + num(input.time_s[i]) +
                  " s; expected finite and strictly increasing times");
    }
    if (!std::isfinite(input.plasma[i])) {
      throw Error(what + ": plasma sample " + std::to_string(i) + " is " + num(input.plasma[i]) +
                  "; expected finite");
    }
    if (!input.whole_blood.empty() && !std::isfinite(input.whole_blood[i])) {
      throw Error(what + ": whole-blood sample " + std::to_string(i) + " is " + num(input.whole_blood[i]) +
                  "; expected finite");
    }
  }
}

ArterialInput arterial_input(const bids::BloodData& blood) {
  const std::string where = blood.source.empty() ? "blood data" : blood.source.string();
  if (blood.plasma_radioactivity.size() != blood.time_s.size()) {
    throw Error(where + ": plasma_radioactivity missing or of the wrong length (" +
                std::to_string(blood.plasma_radioactivity.size()) + " for " +
                std::to_string(blood.time_s.size()) + " times)");
  }
  if (blood.metabolite_parent_fraction.size() != blood.time_s.size()) {
    throw Error(where + ": metabolite_parent_fraction missing; the plasma-input models need the parent "
                        "(metabolite-corrected) plasma curve");
  }
  std::vector<double> ft, fv;
  for (std::size_t i = 0; i < blood.time_s.size(); ++i) {
    if (std::isfinite(blood.metabolite_parent_fraction[i])) {
      ft.push_back(blood.time_s[i]);
      fv.push_back(blood.metabolite_parent_fraction[i]);
    }
  }
  if (ft.empty()) throw Error(where + ": metabolite_parent_fraction has no values");
  ArterialInput in;
  const bool wb = blood.whole_blood_radioactivity.size() == blood.time_s.size();
  for (std::size_t i = 0; i < blood.time_s.size(); ++i) {
    if (!std::isfinite(blood.plasma_radioactivity[i])) continue;
    const double t = blood.time_s[i];
    // Parent fraction: linear between samples, constant outside them.
    double f = fv.front();
    if (t >= ft.back()) {
      f = fv.back();
    } else if (t > ft.front()) {
      const auto it = std::upper_bound(ft.begin(), ft.end(), t);
      const auto j = static_cast<std::size_t>(it - ft.begin()) - 1;
      f = fv[j] + (fv[j + 1] - fv[j]) * (t - ft[j]) / (ft[j + 1] - ft[j]);
    }
    in.time_s.push_back(t);
    in.plasma.push_back(blood.plasma_radioactivity[i] * f);
    if (wb) in.whole_blood.push_back(blood.whole_blood_radioactivity[i]);
  }
  if (wb &&
      std::any_of(in.whole_blood.begin(), in.whole_blood.end(), [](double v) { return !std::isfinite(v); })) {
    in.whole_blood.clear(); // incomplete whole blood: the plasma curve stands in for the vascular term
  }
  validate(in, where);
  return in;
}

namespace {

struct InputOnGrid {
  detail::FineGrid grid;
  std::vector<double> cp, cb;
};

InputOnGrid input_on_grid(const FrameTiming& timing, const ArterialInput& input, double delay_s,
                          double step) {
  InputOnGrid r;
  // The grid starts at the first input sample when the delay moves it before the scan start:
  // dropping that part of the input (the bolus, for a delay of tens of seconds) biases K1, V_T and
  // v_B and made the delay search run to its bound on kinfitr's PBR28 data.
  r.grid = detail::make_grid(timing, step, input.time_s.front() + delay_s);
  std::vector<double> x(input.time_s.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = (input.time_s[i] + delay_s) / 60.0;
  r.cp = detail::interp_linear(x, input.plasma, r.grid.t);
  r.cb = input.whole_blood.empty() ? r.cp : detail::interp_linear(x, input.whole_blood, r.grid.t);
  return r;
}

void check_plasma_inputs(const FrameTiming& timing, const std::vector<double>& tac,
                         const ArterialInput& input, const std::string& model) {
  validate(timing, model + ": frame timing");
  validate_tac(timing, tac, model + ": tissue TAC");
  validate(input, model + ": arterial input");
  const double last = timing.end_s().back();
  if (input.time_s.back() < 0.5 * last) {
    throw Error(model + ": arterial input ends at " + num(input.time_s.back()) +
                " s, before half of the scan (" + num(last) + " s); expected samples covering the scan");
  }
}

// Compartment model frame means: n_tissue 1 or 2.
struct CompartmentModel {
  CompartmentModel(const InputOnGrid* input, int n_tissues, bool fit_blood, double vb)
      : in(input), tissues(n_tissues), fit_vb(fit_blood), vb_fixed(vb) {}
  const InputOnGrid* in = nullptr;
  int tissues = 1;
  bool fit_vb = true;
  double vb_fixed = 0.0;
  mutable std::vector<double> c1, c2, pet;

  void operator()(const Eigen::VectorXd& p, Eigen::VectorXd& f) const {
    const std::vector<double>& t = in->grid.t;
    const double K1 = p[0], k2 = p[1];
    const double vb = fit_vb ? p[tissues == 1 ? 2 : 4] : vb_fixed;
    pet.assign(t.size(), 0.0);
    if (tissues == 1) {
      detail::conv_exp(t, in->cp, k2, c1);
      for (std::size_t j = 0; j < t.size(); ++j) pet[j] = (1.0 - vb) * K1 * c1[j] + vb * in->cb[j];
    } else {
      const double k3 = p[2], k4 = p[3];
      const double s = k2 + k3 + k4;
      const double disc = std::sqrt(std::max(s * s - 4.0 * k2 * k4, 0.0));
      double a1 = 0.5 * (s - disc), a2 = 0.5 * (s + disc);
      if (a2 - a1 < 1e-9) a2 = a1 + 1e-9;
      detail::conv_exp(t, in->cp, a1, c1);
      detail::conv_exp(t, in->cp, a2, c2);
      const double b1 = K1 * (k3 + k4 - a1) / (a2 - a1), b2 = K1 * (a2 - k3 - k4) / (a2 - a1);
      for (std::size_t j = 0; j < t.size(); ++j)
        pet[j] = (1.0 - vb) * (b1 * c1[j] + b2 * c2[j]) + vb * in->cb[j];
    }
    f = to_eigen(in->grid.frame_means(pet));
  }
};

std::vector<std::size_t> all_frames(std::size_t n) {
  std::vector<std::size_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

PlasmaFit fit_one_tcm_at(const FrameTiming& timing, const std::vector<double>& tac,
                         const ArterialInput& input, const CompartmentParams& params, double delay_s,
                         const Eigen::VectorXd& w) {
  const InputOnGrid in = input_on_grid(timing, input, delay_s, params.max_grid_step_s);
  CompartmentModel m{&in, 1, params.fit_vb, params.vb};
  const Eigen::VectorXd y = to_eigen(tac);
  // Start: k2 on a log grid with K1 by 1-D least squares (vb at its fixed value or 0.05).
  const double vb0 = params.fit_vb ? std::min(0.05, params.vb_max) : params.vb;
  Eigen::VectorXd p0(params.fit_vb ? 3 : 2);
  double best = std::numeric_limits<double>::infinity();
  for (int j = 0; j < 25; ++j) {
    const double k2 = 0.005 * std::pow(400.0, j / 24.0);
    Eigen::VectorXd p(p0.size()), f;
    p[0] = 1.0;
    p[1] = k2;
    if (params.fit_vb) p[2] = vb0;
    CompartmentModel m0{&in, 1, false, vb0};
    Eigen::VectorXd fb, fk;
    m0(p, fk); // (1 - vb) conv + vb cb at K1 = 1
    Eigen::VectorXd p_blood = p;
    p_blood[0] = 0.0;
    m0(p_blood, fb); // vb cb only
    const Eigen::VectorXd xk = fk - fb, yr = y - fb;
    const double den = (w.array() * xk.array().square()).sum();
    if (!(den > 0.0)) continue;
    const double K1 = std::clamp((w.array() * xk.array() * yr.array()).sum() / den, 1e-4, params.rate_max);
    const double c = (w.array() * (yr - K1 * xk).array().square()).sum();
    if (c < best) {
      best = c;
      p0 = p;
      p0[0] = K1;
    }
  }
  Eigen::VectorXd lo = Eigen::VectorXd::Zero(p0.size()),
                  hi = Eigen::VectorXd::Constant(p0.size(), params.rate_max);
  lo[1] = 1e-5;
  if (params.fit_vb) hi[2] = params.vb_max;
  const detail::NlsResult r = detail::fit_lm(m, y, w, p0, lo, hi);
  PlasmaFit out;
  out.model = "1TCM";
  out.K1 = r.p[0];
  out.k2 = r.p[1];
  out.vb = params.fit_vb ? r.p[2] : params.vb;
  out.vt = out.K1 / out.k2;
  out.delay_s = delay_s;
  if (r.cov.allFinite()) {
    const Eigen::Vector2d g(1.0 / out.k2, -out.K1 / (out.k2 * out.k2));
    out.vt_se = std::sqrt(std::max(g.dot(r.cov.topLeftCorner(2, 2) * g), 0.0));
  }
  std::vector<std::string> names{"K1", "k2"};
  if (params.fit_vb) names.push_back("vB");
  detail::fill_diagnostics(out.fit, names, r.p, r.se, all_frames(timing.size()), y, r.fitted, w,
                           timing.size());
  out.fit.iterations = r.iterations;
  out.fit.at_bound = r.at_bound;
  if (r.at_bound) out.fit.message = "a parameter is at its bound";
  return out;
}

} // namespace

PlasmaFit one_tcm(const FrameTiming& timing, const std::vector<double>& tac, const ArterialInput& input,
                  const CompartmentParams& params) {
  check_plasma_inputs(timing, tac, input, "1TCM");
  const Eigen::VectorXd w = detail::checked_weights(params.weights, timing.size(), "1TCM");
  if (!params.fit_delay) return fit_one_tcm_at(timing, tac, input, params, params.delay_s, w);
  if (!(params.delay_step_s > 0.0) || !(params.delay_max_s >= params.delay_min_s)) {
    throw Error("1TCM: delay grid [" + num(params.delay_min_s) + ", " + num(params.delay_max_s) + "] step " +
                num(params.delay_step_s) + " s; expected min <= max and step > 0");
  }
  PlasmaFit best;
  bool have = false;
  for (double d = params.delay_min_s; d <= params.delay_max_s + 1e-9; d += params.delay_step_s) {
    PlasmaFit f = fit_one_tcm_at(timing, tac, input, params, d, w);
    if (!have || f.fit.weighted_rss < best.fit.weighted_rss) {
      best = std::move(f);
      have = true;
    }
  }
  if (std::abs(best.delay_s - params.delay_min_s) < 1e-9 ||
      std::abs(best.delay_s - params.delay_max_s) < 1e-6) {
    best.fit.at_bound = true;
    best.fit.message +=
        std::string(best.fit.message.empty() ? "" : "; ") + "delay at the end of its search range";
  }
  return best;
}

PlasmaFit two_tcm(const FrameTiming& timing, const std::vector<double>& tac, const ArterialInput& input,
                  const CompartmentParams& params) {
  check_plasma_inputs(timing, tac, input, "2TCM");
  const Eigen::VectorXd w = detail::checked_weights(params.weights, timing.size(), "2TCM");
  const PlasmaFit one = one_tcm(timing, tac, input, params);
  const double delay = one.delay_s;
  const InputOnGrid in = input_on_grid(timing, input, delay, params.max_grid_step_s);
  CompartmentModel m{&in, 2, params.fit_vb, params.vb};
  const Eigen::VectorXd y = to_eigen(tac);
  const Eigen::Index np = params.fit_vb ? 5 : 4;
  Eigen::VectorXd lo = Eigen::VectorXd::Zero(np), hi = Eigen::VectorXd::Constant(np, params.rate_max);
  lo[1] = 1e-5;
  lo[3] = 1e-5;
  if (params.fit_vb) hi[4] = params.vb_max;
  detail::NlsResult best;
  bool have = false;
  const double K1 = std::max(one.K1, 1e-3), k2 = std::max(one.k2, 1e-3);
  const double starts[][4] = {{K1, 2.0 * k2, 0.05, 0.05},      {K1, 1.5 * k2, 0.1, 0.1},
                              {K1, 3.0 * k2, 0.2, 0.1},        {K1, 1.2 * k2, 0.02, 0.1},
                              {1.2 * K1, 4.0 * k2, 0.4, 0.15}, {K1, k2, 0.01, 0.01}};
  for (const auto& s : starts) {
    Eigen::VectorXd p0(np);
    p0 << s[0], s[1], s[2], s[3], (params.fit_vb ? std::min(std::max(one.vb, 0.01), params.vb_max) : 0.0);
    if (!params.fit_vb) p0.conservativeResize(4);
    detail::NlsResult r = detail::fit_lm(m, y, w, p0, lo, hi);
    if (!have || r.wrss < best.wrss) {
      best = std::move(r);
      have = true;
    }
  }
  PlasmaFit out;
  out.model = "2TCM";
  out.K1 = best.p[0];
  out.k2 = best.p[1];
  out.k3 = best.p[2];
  out.k4 = best.p[3];
  out.vb = params.fit_vb ? best.p[4] : params.vb;
  out.vt = out.K1 / out.k2 * (1.0 + out.k3 / out.k4);
  out.bp_nd = out.k3 / out.k4;
  out.delay_s = delay;
  if (best.cov.allFinite()) {
    Eigen::Vector4d g(out.vt / out.K1, -out.vt / out.k2, out.K1 / (out.k2 * out.k4),
                      -out.K1 * out.k3 / (out.k2 * out.k4 * out.k4));
    out.vt_se = std::sqrt(std::max(g.dot(best.cov.topLeftCorner(4, 4) * g), 0.0));
  }
  std::vector<std::string> names{"K1", "k2", "k3", "k4"};
  if (params.fit_vb) names.push_back("vB");
  detail::fill_diagnostics(out.fit, names, best.p, best.se, all_frames(timing.size()), y, best.fitted, w,
                           timing.size());
  out.fit.iterations = best.iterations;
  out.fit.at_bound = best.at_bound;
  if (best.at_bound) out.fit.message = "a parameter is at its bound";
  if (best.singular) {
    out.fit.message +=
        std::string(out.fit.message.empty() ? "" : "; ") + "singular Jacobian (SEs unavailable)";
  }
  if (!std::isfinite(out.vt)) {
    out.fit.failed = true;
    out.fit.message += std::string(out.fit.message.empty() ? "" : "; ") + "V_T not finite";
  }
  return out;
}

namespace {

PlasmaFit graphical(const FrameTiming& timing, const std::vector<double>& tac, const ArterialInput& input,
                    const GraphicalParams& params, bool logan) {
  const std::string model = logan ? "Logan plasma" : "Patlak";
  check_plasma_inputs(timing, tac, input, model);
  const Eigen::VectorXd w = detail::checked_weights(params.weights, timing.size(), model);
  const InputOnGrid in = input_on_grid(timing, input, params.delay_s, params.max_grid_step_s);
  // Frame means of the input and of its running integral, to pair with frame-mean tissue data.
  const std::vector<double> icp = in.grid.frame_means(detail::cumulative_integral(in.grid.t, in.cp));
  const std::vector<double> cp = in.grid.frame_means(in.cp);
  // Logan: int C_T / C_T against int C_p / C_T; Patlak: C_T / C_p against int C_p / C_p.
  const detail::GraphicalDesign g = logan ? detail::graphical_design(icp, integrate_tac(timing, tac), tac)
                                          : detail::graphical_design(icp, tac, cp);
  const Eigen::VectorXd& y = g.y;
  const detail::TstarFit f = detail::fit_after_tstar(g.x, y, w, timing.mid_s(), params.tstar, g.valid, model);
  PlasmaFit out;
  out.model = logan ? "LoganPlasma" : "Patlak";
  out.delay_s = params.delay_s;
  (logan ? out.vt : out.ki) = f.lr.beta[0];
  out.intercept = f.lr.beta[1];
  if (logan && f.lr.ok) out.vt_se = std::sqrt(std::max(f.lr.cov(0, 0), 0.0));
  out.tstar_s = f.tstar_s;
  out.max_rel_residual = f.max_rel;
  const auto m = static_cast<Eigen::Index>(f.used.size());
  Eigen::VectorXd ys(m), ws(m), se(2);
  for (Eigen::Index r = 0; r < m; ++r) {
    ys[r] = y[static_cast<Eigen::Index>(f.used[static_cast<std::size_t>(r)])];
    ws[r] = w[static_cast<Eigen::Index>(f.used[static_cast<std::size_t>(r)])];
  }
  for (Eigen::Index k = 0; k < 2; ++k) se[k] = std::sqrt(std::max(f.lr.cov(k, k), 0.0));
  detail::fill_diagnostics(out.fit, {logan ? "VT" : "Ki", "intercept"}, f.lr.beta, se, f.used, ys,
                           f.lr.fitted, ws, timing.size());
  if (!f.message.empty()) out.fit.message = f.message;
  if (!f.lr.ok) out.fit.failed = true;
  return out;
}

} // namespace

PlasmaFit logan_plasma(const FrameTiming& timing, const std::vector<double>& tac, const ArterialInput& input,
                       const GraphicalParams& params) {
  return graphical(timing, tac, input, params, true);
}

PlasmaFit patlak(const FrameTiming& timing, const std::vector<double>& tac, const ArterialInput& input,
                 const GraphicalParams& params) {
  return graphical(timing, tac, input, params, false);
}

} // namespace rewardpath::pet
