#include "rewardpath/glm/design.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/hrf.hpp"

namespace rewardpath::glm {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

struct FineGrid {
  std::vector<double> times;
};

// nilearn _sample_condition: the fine time grid.
FineGrid fine_grid(const std::vector<double>& ft, int oversampling, double min_onset) {
  const auto n = static_cast<double>(ft.size());
  const double tmin = ft.front(), tmax = ft.back();
  const double end = tmax * (1.0 + 1.0 / (n - 1.0));
  const double n_hr = ((n - 1.0) / (tmax - tmin) * (end - tmin - min_onset) * oversampling) + 1.0;
  const auto count = static_cast<std::int64_t>(std::nearbyint(n_hr));
  FineGrid g;
  g.times.resize(static_cast<std::size_t>(count));
  // As np.linspace builds it (start + i * step, the last point exactly `end`), so an event that
  // ends on a grid point closes its boxcar where nilearn's does: start + (end - start) i / (n - 1)
  // lands one ulp below some points (40.8 s at 2 s x 200 volumes) and moved the boxcar's end.
  const double start = tmin + min_onset;
  const double step = (end - start) / static_cast<double>(count - 1);
  for (std::int64_t i = 0; i < count; ++i)
    g.times[static_cast<std::size_t>(i)] = static_cast<double>(i) * step + start;
  if (count > 1) g.times.back() = end;
  return g;
}

std::size_t search_left(const std::vector<double>& v, double x) {
  return static_cast<std::size_t>(std::lower_bound(v.begin(), v.end(), x) - v.begin());
}

// Boxcars of (onset, duration, amplitude) on the fine grid, as nilearn builds them.
std::vector<double> sample_condition(const FineGrid& g, const std::vector<double>& onsets,
                                     const std::vector<double>& durations, const std::vector<double>& amps) {
  const std::size_t tmax = g.times.size();
  std::vector<double> reg(tmax, 0.0);
  for (std::size_t e = 0; e < onsets.size(); ++e) {
    const std::size_t on = std::min(search_left(g.times, onsets[e]), tmax - 1);
    std::size_t off = std::min(search_left(g.times, onsets[e] + durations[e]), tmax - 1);
    if (off < tmax - 1 && off == on) ++off;
    reg[on] += amps[e];
    reg[off] -= amps[e];
  }
  double acc = 0.0;
  for (double& v : reg) v = (acc += v);
  return reg;
}

std::vector<double> convolve_truncated(const std::vector<double>& x, const std::vector<double>& h) {
  std::vector<double> y(x.size(), 0.0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] == 0.0) continue;
    const std::size_t m = std::min(h.size(), x.size() - i);
    for (std::size_t j = 0; j < m; ++j) y[i + j] += x[i] * h[j];
  }
  return y;
}

std::vector<double> interpolate(const FineGrid& g, const std::vector<double>& y,
                                const std::vector<double>& at) {
  std::vector<double> out(at.size());
  for (std::size_t i = 0; i < at.size(); ++i) {
    std::size_t j = search_left(g.times, at[i]);
    if (j == 0) {
      out[i] = y[0];
      continue;
    }
    if (j >= g.times.size()) {
      out[i] = y.back();
      continue;
    }
    const double t0 = g.times[j - 1], t1 = g.times[j];
    const double w = (at[i] - t0) / (t1 - t0);
    out[i] = y[j - 1] * (1.0 - w) + y[j] * w;
  }
  return out;
}

// nilearn _orthogonalize: each column minus its projection on the previous ones.
void orthogonalize(Eigen::MatrixXd& x) {
  for (Eigen::Index i = 1; i < x.cols(); ++i) {
    const Eigen::MatrixXd prev = x.leftCols(i);
    const Eigen::VectorXd coef = prev.completeOrthogonalDecomposition().solve(x.col(i));
    x.col(i) -= prev * coef;
  }
}

} // namespace

int Design::column(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return static_cast<int>(i);
  throw Error("no design column '" + name + "'; columns are: " + join(columns));
}

bool Design::has_column(const std::string& name) const {
  return std::find(columns.begin(), columns.end(), name) != columns.end();
}

Eigen::MatrixXd cosine_drift(const std::vector<double>& ft, double high_pass_s) {
  const auto n = static_cast<std::int64_t>(ft.size());
  if (n < 2) return Eigen::MatrixXd(n, 0);
  if (!(high_pass_s > 0.0)) throw Error("cosine drift needs a high-pass cut-off > 0 s");
  const double dt = (ft.back() - ft.front()) / static_cast<double>(n - 1);
  const auto order = std::min<std::int64_t>(
      n - 1, static_cast<std::int64_t>(std::floor(2.0 * static_cast<double>(n) * dt / high_pass_s)));
  Eigen::MatrixXd d(n, order);
  const double norm = std::sqrt(2.0 / static_cast<double>(n));
  for (std::int64_t k = 1; k <= order; ++k)
    for (std::int64_t i = 0; i < n; ++i)
      d(i, k - 1) = norm * std::cos(M_PI / static_cast<double>(n) * (static_cast<double>(i) + 0.5) *
                                    static_cast<double>(k));
  return d;
}

Eigen::MatrixXd polynomial_drift(const std::vector<double>& ft, int order) {
  const auto n = static_cast<Eigen::Index>(ft.size());
  if (order < 0) throw Error("polynomial drift order must be >= 0, got " + std::to_string(order));
  Eigen::MatrixXd p(n, order + 1);
  const double tmax = *std::max_element(ft.begin(), ft.end());
  for (int k = 0; k <= order; ++k)
    for (Eigen::Index i = 0; i < n; ++i) p(i, k) = std::pow(ft[static_cast<std::size_t>(i)] / tmax, k);
  orthogonalize(p);
  return p.rightCols(order);
}

void check_full_rank(const Eigen::MatrixXd& x, const std::vector<std::string>& columns) {
  Eigen::MatrixXd xs = x;
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    const double nrm = x.col(j).norm();
    if (!(nrm > 0.0) || !std::isfinite(nrm))
      throw Error("design column '" + columns[static_cast<std::size_t>(j)] +
                  "' is all zero (or not finite): a condition without events in the run? Drop it from the "
                  "model");
    xs.col(j) /= nrm;
  }
  if (x.rows() < x.cols())
    throw Error("design has " + std::to_string(x.cols()) + " columns but only " + std::to_string(x.rows()) +
                " volumes; use fewer regressors");
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(xs, Eigen::ComputeThinV);
  const auto& s = svd.singularValues();
  if (s.size() == 0) return;
  if (s(s.size() - 1) < 1e-10 * s(0)) {
    const Eigen::VectorXd v = svd.matrixV().col(s.size() - 1);
    std::vector<std::string> involved;
    for (Eigen::Index j = 0; j < v.size(); ++j)
      if (std::fabs(v(j)) > 0.05 * v.cwiseAbs().maxCoeff())
        involved.push_back(columns[static_cast<std::size_t>(j)]);
    throw Error("design matrix is rank deficient: columns " + join(involved) +
                " are linearly dependent; drop one of them (e.g. a confound already spanned by the drift "
                "terms or the constant)");
  }
}

Design make_design(const bids::Events& events, const DesignParams& p) {
  if (!(p.tr_s > 0.0)) throw Error("design needs tr_s > 0, got " + std::to_string(p.tr_s));
  if (p.volumes < 2) throw Error("design needs at least 2 volumes, got " + std::to_string(p.volumes));
  if (!(p.slice_time_ref >= 0.0 && p.slice_time_ref <= 1.0))
    throw Error("slice_time_ref is a fraction of the TR in [0, 1], got " + std::to_string(p.slice_time_ref));
  if (p.oversampling < 1) throw Error("oversampling must be >= 1");
  const auto n = static_cast<std::size_t>(p.volumes);

  Design d;
  d.tr_s = p.tr_s;
  d.frame_times.resize(n);
  for (std::size_t i = 0; i < n; ++i) d.frame_times[i] = (static_cast<double>(i) + p.slice_time_ref) * p.tr_s;

  // Conditions.
  std::vector<std::string> all_types = events.trial_types();
  const bool no_types =
      events.trial_type.empty() || std::all_of(events.trial_type.begin(), events.trial_type.end(),
                                               [](const std::string& s) { return s.empty(); });
  if (no_types && events.size() > 0) all_types = {"task"};
  auto type_of = [&](std::size_t e) -> std::string {
    if (no_types) return "task";
    return events.trial_type[e];
  };
  std::vector<std::string> conditions = p.conditions.empty() ? all_types : p.conditions;
  for (const auto& c : conditions)
    if (std::find(all_types.begin(), all_types.end(), c) == all_types.end())
      throw Error("condition '" + c + "' has no events; trial types in the events are: " + join(all_types));

  const FineGrid grid = fine_grid(d.frame_times, p.oversampling, p.min_onset_s);
  const HrfKernels hk = hrf_kernels(p.hrf, p.tr_s, p.oversampling, p.fir_delays);

  std::vector<std::string> names;
  std::vector<std::vector<double>> cols;
  auto add_condition_columns = [&](const std::string& name, const std::vector<double>& on,
                                   const std::vector<double>& du, const std::vector<double>& amp) {
    const auto hr = sample_condition(grid, on, du, amp);
    Eigen::MatrixXd block(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(hk.kernels.size()));
    for (std::size_t k = 0; k < hk.kernels.size(); ++k) {
      const auto y = interpolate(grid, convolve_truncated(hr, hk.kernels[k]), d.frame_times);
      for (std::size_t i = 0; i < n; ++i)
        block(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)) = y[i];
    }
    if (p.hrf != HrfModel::fir) orthogonalize(block);
    for (std::size_t k = 0; k < hk.kernels.size(); ++k) {
      names.push_back(name + hk.suffixes[k]);
      cols.emplace_back(block.col(static_cast<Eigen::Index>(k)).data(),
                        block.col(static_cast<Eigen::Index>(k)).data() + n);
    }
  };

  auto events_of = [&](const std::string& c) {
    std::vector<std::size_t> idx;
    for (std::size_t e = 0; e < events.size(); ++e)
      if (type_of(e) == c) idx.push_back(e);
    return idx;
  };

  for (const auto& c : conditions) {
    std::vector<double> on, du, amp;
    for (auto e : events_of(c))
      on.push_back(events.onset[e]), du.push_back(events.duration[e]), amp.push_back(1.0);
    add_condition_columns(c, on, du, amp);
  }
  for (const auto& m : p.modulators) {
    if (std::find(conditions.begin(), conditions.end(), m.condition) == conditions.end())
      throw Error("parametric modulator '" + m.column + "' is for condition '" + m.condition +
                  "', which is not modelled; conditions are: " + join(conditions));
    const auto it = std::find(events.modulator_names.begin(), events.modulator_names.end(), m.column);
    if (it == events.modulator_names.end())
      throw Error("parametric modulator column '" + m.column +
                  "' is not a numeric events column; numeric columns are: " + join(events.modulator_names));
    const auto& values = events.modulators[static_cast<std::size_t>(it - events.modulator_names.begin())];
    std::vector<double> on, du, amp;
    double sum = 0.0;
    int count = 0;
    for (auto e : events_of(m.condition))
      if (std::isfinite(values[e])) sum += values[e], ++count;
    if (count == 0)
      throw Error("parametric modulator '" + m.column + "' has no values for condition '" + m.condition +
                  "'");
    const double mean = sum / count;
    for (auto e : events_of(m.condition)) {
      on.push_back(events.onset[e]);
      du.push_back(events.duration[e]);
      amp.push_back(std::isfinite(values[e]) ? values[e] - mean : 0.0);
    }
    add_condition_columns(m.condition + "_x_" + m.column, on, du, amp);
  }
  for (const auto& c : p.confounds) {
    if (c.values.size() != n)
      throw Error("confound '" + c.name + "' has " + std::to_string(c.values.size()) +
                  " values, expected one per volume (" + std::to_string(n) + ")");
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(c.values[i]))
        throw Error("confound '" + c.name + "' is n/a or not finite at volume " + std::to_string(i) +
                    "; fill it (e.g. 0 for the first framewise_displacement) before building the design");
    names.push_back(c.name);
    cols.push_back(c.values);
  }
  Eigen::MatrixXd drift;
  if (p.drift == DriftModel::cosine)
    drift = cosine_drift(d.frame_times, p.high_pass_s);
  else if (p.drift == DriftModel::polynomial)
    drift = polynomial_drift(d.frame_times, p.drift_order);
  for (Eigen::Index k = 0; k < drift.cols(); ++k) {
    names.push_back("drift_" + std::to_string(k + 1));
    cols.emplace_back(drift.col(k).data(), drift.col(k).data() + n);
  }
  if (p.constant) {
    names.push_back("constant");
    cols.emplace_back(n, 1.0);
  }
  // Unique names.
  std::map<std::string, int> seen;
  for (const auto& nm : names)
    if (++seen[nm] > 1)
      throw Error("two design columns are named '" + nm + "'; rename a confound or condition");

  d.columns = names;
  d.matrix.resize(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(cols.size()));
  for (std::size_t j = 0; j < cols.size(); ++j)
    for (std::size_t i = 0; i < n; ++i)
      d.matrix(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = cols[j][i];
  check_full_rank(d.matrix, d.columns);
  return d;
}

} // namespace rewardpath::glm
