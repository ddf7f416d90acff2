#include "rewardpath/glm/first_level.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>

#include "rewardpath/core/error.hpp"

namespace rewardpath::glm {
namespace {

using Eigen::Index;

std::vector<Confound> confound_columns(const io::Table& table, const std::vector<std::string>& names) {
  std::vector<Confound> out;
  for (const auto& name : names) {
    const auto col = table.find_column(name);
    if (!col)
      throw Error(
          fmt::format("confound \"{}\" (config glm.confounds) is not in the confounds table; it has: {}",
                      name, fmt::join(table.columns(), ", ")));
    Confound c{name, {}};
    for (std::size_t r = 0; r < table.row_count(); ++r)
      c.values.push_back(table.is_na(r, *col) ? 0.0 : table.number(r, *col));
    out.push_back(std::move(c));
  }
  return out;
}

// A contrast of the series with data (columns `present` of `all` series) widened back to every
// series, NaN in the columns of series without data.
ContrastResult widen(ContrastResult c, const std::vector<Index>& present, Index all) {
  auto widen_matrix = [&](Eigen::MatrixXd& m) {
    Eigen::MatrixXd w = Eigen::MatrixXd::Constant(m.rows(), all, std::nan(""));
    for (std::size_t j = 0; j < present.size(); ++j) w.col(present[j]) = m.col(static_cast<Index>(j));
    m = std::move(w);
  };
  auto widen_vector = [&](Eigen::VectorXd& v) {
    Eigen::VectorXd w = Eigen::VectorXd::Constant(all, std::nan(""));
    for (std::size_t j = 0; j < present.size(); ++j) w(present[j]) = v(static_cast<Index>(j));
    v = std::move(w);
  };
  widen_matrix(c.effect);
  widen_matrix(c.variance);
  widen_matrix(c.covariance); // F only (0 rows for t)
  widen_vector(c.stat);
  widen_vector(c.z);
  widen_vector(c.p);
  return c;
}

// Series i of a contrast (t or F), as a one-series result for fixed_effects.
ContrastResult series_column(const ContrastResult& c, Index i) {
  ContrastResult r;
  r.kind = c.kind;
  r.expressions = c.expressions;
  r.weights = c.weights;
  r.effect = c.effect.col(i);
  r.variance = c.variance.col(i);
  if (c.covariance.cols() > i) r.covariance = c.covariance.col(i);
  r.stat = c.stat.segment(i, 1);
  r.z = c.z.segment(i, 1);
  r.p = c.p.segment(i, 1);
  r.dof = c.dof;
  r.dof_num = c.dof_num;
  return r;
}

} // namespace

RunDesign design_run(const bids::Events& events, const io::Table& confounds,
                     const FirstLevelSettings& settings, double tr_s, std::int64_t volumes,
                     double slice_time_ref) {
  RunDesign run;
  DesignParams dp;
  dp.tr_s = tr_s;
  dp.volumes = volumes;
  dp.slice_time_ref = run.slice_time_ref = slice_time_ref;
  dp.hrf = settings.hrf;
  dp.fir_delays = settings.fir_delays;
  const auto present = events.trial_types();
  std::set<std::string> dropped;
  for (const auto& c : settings.conditions) {
    if (std::find(present.begin(), present.end(), c) != present.end())
      dp.conditions.push_back(c);
    else
      dropped.insert(c);
  }
  if (!settings.conditions.empty() && dp.conditions.empty())
    throw Error(fmt::format("none of the configured conditions ({}) occurs in {} (trial types there: {})",
                            fmt::join(settings.conditions, ", "), events.source.filename().string(),
                            fmt::join(present, ", ")));
  for (const auto& m : settings.modulators)
    if (!dropped.count(m.condition)) dp.modulators.push_back(m);
  dp.confounds = confound_columns(confounds, settings.confounds);
  dp.drift = settings.drift;
  dp.high_pass_s = settings.high_pass_s;
  dp.drift_order = settings.drift_order;
  run.design = with_context("design matrix from " + events.source.filename().string(),
                            [&] { return make_design(events, dp); });
  run.dropped_conditions.assign(dropped.begin(), dropped.end());
  for (const auto& c : settings.contrasts) {
    bool needs_dropped = false;
    for (const auto& row : c.rows)
      for (const auto& name : contrast_column_names(row))
        needs_dropped = needs_dropped || dropped.count(name);
    if (needs_dropped)
      run.skipped_contrasts.push_back(c.name);
    else
      run.contrasts.push_back(c);
  }
  return run;
}

ContrastResult compute_contrast(const FirstLevelFit& fit, const NamedContrast& contrast) {
  if (contrast.rows.empty()) throw Error("contrast \"" + contrast.name + "\" has no expression");
  return contrast.rows.size() == 1 ? glm::contrast(fit, contrast.rows.front())
                                   : glm::contrast(fit, contrast.rows);
}

GappedFit fit_with_gaps(const Eigen::MatrixXd& y, const std::vector<bool>& has_data, const Design& design,
                        const FitParams& params, const std::vector<NamedContrast>& contrasts) {
  if (static_cast<Index>(has_data.size()) != y.cols())
    throw Error(fmt::format("fit_with_gaps: {} has_data flags for {} series", has_data.size(), y.cols()));
  std::vector<Index> present;
  for (Index s = 0; s < y.cols(); ++s)
    if (has_data[static_cast<std::size_t>(s)]) present.push_back(s);
  GappedFit out;
  if (!present.empty()) {
    Eigen::MatrixXd data(y.rows(), static_cast<Index>(present.size()));
    for (std::size_t j = 0; j < present.size(); ++j) data.col(static_cast<Index>(j)) = y.col(present[j]);
    out.fit = fit(data, design, params);
  }
  for (const auto& c : contrasts) {
    ContrastResult cr;
    if (out.fit) {
      cr = compute_contrast(*out.fit, c);
    } else {
      cr.kind = c.rows.size() == 1 ? StatKind::t : StatKind::F;
      cr.expressions = c.rows;
    }
    out.contrasts.push_back(widen(std::move(cr), present, y.cols()));
  }
  return out;
}

CombinedContrast combine_runs(const std::vector<const ContrastResult*>& runs) {
  if (runs.empty()) throw Error("combine_runs: no runs");
  const ContrastResult& first = *runs.front();
  const Index series = first.stat.size();
  CombinedContrast out;
  out.dof.assign(static_cast<std::size_t>(series), std::nan(""));
  std::vector<Index> present;
  std::vector<ContrastResult> per_series;
  for (Index s = 0; s < series; ++s) {
    std::vector<ContrastResult> with_data;
    for (const ContrastResult* r : runs) {
      if (r->stat.size() != series)
        throw Error(fmt::format("combine_runs: runs with {} and {} series", series, r->stat.size()));
      if (!std::isnan(r->stat(s))) with_data.push_back(series_column(*r, s));
    }
    if (with_data.empty()) continue;
    per_series.push_back(fixed_effects(with_data));
    out.dof[static_cast<std::size_t>(s)] = per_series.back().dof;
    present.push_back(s);
  }
  const auto np = static_cast<Index>(present.size());
  const Index q = per_series.empty() ? 1 : per_series.front().effect.rows();
  ContrastResult& fx = out.result;
  fx.kind = first.kind;
  fx.expressions = first.expressions;
  fx.dof_num = per_series.empty() ? first.dof_num : per_series.front().dof_num;
  fx.effect.resize(q, np);
  fx.variance.resize(q, np);
  if (fx.kind == StatKind::F) fx.covariance.resize(q * (q + 1) / 2, np);
  fx.stat.resize(np);
  fx.z.resize(np);
  fx.p.resize(np);
  for (Index j = 0; j < np; ++j) {
    const ContrastResult& c = per_series[static_cast<std::size_t>(j)];
    fx.effect.col(j) = c.effect.col(0);
    fx.variance.col(j) = c.variance.col(0);
    if (fx.kind == StatKind::F) fx.covariance.col(j) = c.covariance.col(0);
    fx.stat(j) = c.stat(0);
    fx.z(j) = c.z(0);
    fx.p(j) = c.p(0);
  }
  out.result = widen(std::move(fx), present, series);
  return out;
}

} // namespace rewardpath::glm
