#include "rewardpath/pipeline/fmri_stage.hpp"

#include <spdlog/spdlog.h>
#include <tbb/parallel_for_each.h>

#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>
#include <optional>
#include <set>

#include "fmri_preprocess.hpp"
#include "output_writer.hpp"
#include "rewardpath/bids/derivatives.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/glm/design.hpp"
#include "rewardpath/glm/first_level.hpp"
#include "rewardpath/glm/fit.hpp"
#include "rewardpath/glm/scaling.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/registration/registration.hpp"
#include "rewardpath/timeseries/roi_signal.hpp"

namespace rewardpath::pipeline {
namespace fs = std::filesystem;

namespace {

io::Table design_table(const glm::Design& d) {
  io::Table t(d.columns);
  for (std::int64_t r = 0; r < d.rows(); ++r) {
    std::vector<std::string> row;
    for (std::int64_t c = 0; c < d.cols(); ++c) row.push_back(io::format_number(d.matrix(r, c)));
    t.add_row(std::move(row));
  }
  return t;
}

io::Table signals_table(const std::vector<std::string>& names,
                        const std::vector<std::vector<double>>& series) {
  io::Table t(names);
  const std::size_t nt = series.empty() ? 0 : series.front().size();
  for (std::size_t i = 0; i < nt; ++i) {
    std::vector<std::string> row;
    for (const auto& s : series) row.push_back(io::format_number(s[i]));
    t.add_row(std::move(row));
  }
  return t;
}

// ROI contrast table: one row per ROI. p is given one-sided (P(T > t), as the maps) and two-sided.
// `dof` per ROI (fixed effects sum it over the runs that have the ROI). An ROI with voxels 0 has
// no data: every statistic is n/a (what the group level reads as missing), never a number.
io::Table roi_contrast_table(const std::vector<std::string>& names, const std::vector<std::int64_t>& voxels,
                             const glm::ContrastResult& c, const std::vector<double>& dof) {
  const bool t = c.kind == glm::StatKind::t;
  io::Table table(t ? std::vector<std::string>{"roi", "voxels", "effect", "se", "t", "dof", "z",
                                               "p_one_sided", "p_two_sided"}
                    : std::vector<std::string>{"roi", "voxels", "F", "dof_num", "dof", "z", "p"});
  for (std::size_t r = 0; r < names.size(); ++r) {
    const auto i = static_cast<Eigen::Index>(r);
    std::vector<std::string> row{names[r], std::to_string(voxels[r])};
    if (voxels[r] == 0) {
      row.resize(table.columns().size(), "n/a");
    } else if (t) {
      const double p1 = c.p(i);
      const double p2 = std::min(1.0, 2.0 * std::min(p1, 1.0 - p1));
      for (double v : {c.effect(0, i), std::sqrt(c.variance(0, i)), c.stat(i), dof[r], c.z(i), p1, p2})
        row.push_back(io::format_number(v));
    } else {
      for (double v : {c.stat(i), c.dof_num, dof[r], c.z(i), c.p(i)}) row.push_back(io::format_number(v));
    }
    table.add_row(std::move(row));
  }
  return table;
}

// A grid covering the template's field of view at `res_mm` (voxel centres aligned with the
// template's corner voxel's outer edge, as a block average would place them).
Grid template_grid(const Grid& g, double res_mm) {
  Grid out = g;
  for (int a = 0; a < 3; ++a) {
    const double f = res_mm / g.spacing_mm[a];
    out.dims[a] = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(g.dims[a] / f)));
    out.spacing_mm[a] = res_mm;
    for (int r = 0; r < 3; ++r) out.affine[r][a] = g.affine[r][a] * f;
  }
  for (int r = 0; r < 3; ++r) {
    double shift = 0;
    for (int a = 0; a < 3; ++a) shift += g.affine[r][a] * (res_mm / g.spacing_mm[a] - 1.0) / 2.0;
    out.affine[r][3] = g.affine[r][3] + shift;
  }
  return out;
}

std::string res_label(double res_mm) {
  return std::abs(res_mm - std::round(res_mm)) < 1e-9
             ? fmt::format("{}", static_cast<int>(std::round(res_mm)))
             : fmt::format("{}p{}", static_cast<int>(res_mm),
                           static_cast<int>(std::round((res_mm - std::floor(res_mm)) * 10)));
}

glm::FirstLevelSettings first_level_settings(const GlmConfig& g) {
  glm::FirstLevelSettings s;
  s.hrf = g.hrf;
  s.fir_delays = g.fir_delays;
  s.drift = g.drift;
  s.high_pass_s = g.high_pass_s;
  s.drift_order = g.drift_order;
  s.conditions = g.conditions;
  s.modulators = g.modulators;
  s.confounds = g.confounds;
  s.contrasts = g.contrasts;
  return s;
}

glm::FitParams fit_params(const GlmConfig& g) {
  glm::FitParams fp;
  fp.noise_model = g.noise_model;
  fp.ar_order = g.ar_order;
  fp.ar_bias_correction = g.ar_bias_correction;
  fp.ar1_decimals = g.ar1_decimals;
  fp.ar_smoothing_fwhm_mm = g.ar_smoothing_fwhm_mm;
  return fp;
}

// ROI name -> why it has no data in this run (ROIs with data are not listed).
io::Json rois_without_data(const timeseries::RoiSignals& signals) {
  io::Json lost = io::Json::object();
  for (std::size_t r = 0; r < signals.names.size(); ++r)
    if (!signals.has_data(r)) lost[signals.names[r]] = signals.missing[r];
  return lost;
}

io::Json autocorrelation_json(const glm::AutocorrelationSummary& ac, bool voxelwise) {
  if (!voxelwise) return {{"MeanLag1to3", ac.mean}, {"ExpectedSD", ac.expected_sd}};
  return {{"MeanLag1to3", ac.mean},
          {"MedianLag1to3", ac.median},
          {"FractionOutside95", ac.fraction_outside},
          {"ExpectedSD", ac.expected_sd}};
}

// A run's contrast on the template grid (NaN outside the run's mask): t, one effect and its
// variance; F, its q effects and their q x q covariance, packed as ContrastResult::covariance.
// Trilinear weights are convex, so each warped covariance stays positive semi-definite.
struct TemplateMaps {
  glm::StatKind kind = glm::StatKind::t;
  std::vector<std::string> expressions;
  std::vector<Volume> effects;     // q maps
  std::vector<Volume> covariances; // t: the variance; F: q(q+1)/2 maps
  double dof = 0;
};

// What one run contributes to the subject level.
struct RunResult {
  bids::Entities entities;
  std::map<std::string, glm::ContrastResult> roi; // contrast -> per-ROI result (NaN: ROI without data)
  std::vector<std::int64_t> roi_voxels;           // ROI sizes in this run's space (0: no data)
  std::map<std::string, TemplateMaps> maps;       // contrast -> template-space maps (t and F)
};

// A run kept in a scratch file is fitted volume block by volume block in file order (the same
// numbers as the voxel-chunk fit, which would read every volume once per chunk of voxels and so
// page the file in many times over); arp needs two passes per voxel chunk and takes the latter.
glm::FirstLevelFit fit_voxels(const Volume& bold, const glm::Design& design, const glm::FitParams& fp,
                              std::span<const std::uint8_t> mask) {
  if (!bold.file_backed() || fp.noise_model == glm::NoiseModel::arp) return glm::fit(bold, design, fp, mask);
  const auto nv = bold.voxels_per_volume();
  return glm::fit_volumes(
      bold.volumes(), nv,
      [&](std::int64_t first, std::int64_t count, std::span<float> out) {
        std::copy_n(bold.data() + first * nv, count * nv, out.begin());
      },
      design, fp, bold.grid(), mask);
}

// The template grid of the group level's maps, the template brain on it, and how a run's maps get there.
class TemplateSpace {
public:
  TemplateSpace(const RegistrationResources& res, double resolution_mm)
      : grid_(template_grid(res.template_brain.grid(), resolution_mm)) {
    grid_.space = res.template_space;
    const Volume brain =
        registration::apply_transform(res.template_brain, grid_, registration::Transform{}, true);
    brain_.resize(static_cast<std::size_t>(brain.size()));
    for (std::size_t i = 0; i < brain.size(); ++i) brain_[i] = brain.data()[i] > 0.5f;
  }
  const Grid& grid() const { return grid_; }

  // Template voxels a run's maps can fill: inside the template brain and fully inside the run's
  // fitted voxels (every interpolation neighbour fitted), so edges never mix in zeros. Warped once
  // per run; every map of the run shares it.
  std::vector<std::uint8_t> support(const glm::FirstLevelFit& fit,
                                    const registration::Transform& to_run) const {
    const Volume fitted_native = glm::to_volume(fit, Eigen::VectorXd::Ones(fit.series()), 0.0f);
    const Volume valid = registration::apply_transform(fitted_native, grid_, to_run);
    std::vector<std::uint8_t> keep(valid.size());
    for (std::size_t i = 0; i < valid.size(); ++i) keep[i] = brain_[i] && valid.data()[i] > 0.999f;
    return keep;
  }

  // A run's contrast pulled onto the template grid (trilinear; NaN outside `support`).
  TemplateMaps warp(const glm::FirstLevelFit& fit, const glm::ContrastResult& cr,
                    const registration::Transform& to_run, const std::vector<std::uint8_t>& support) const {
    auto warp_values = [&](const Eigen::VectorXd& values) {
      Volume v = registration::apply_transform(glm::to_volume(fit, values, 0.0f), grid_, to_run);
      for (std::size_t i = 0; i < v.size(); ++i)
        if (!support[i]) v.data()[i] = std::nanf("");
      v.grid().space = grid_.space;
      return v;
    };
    TemplateMaps tm;
    tm.kind = cr.kind;
    tm.expressions = cr.expressions;
    tm.dof = cr.dof;
    for (Eigen::Index r = 0; r < cr.effect.rows(); ++r)
      tm.effects.push_back(warp_values(cr.effect_row(static_cast<int>(r))));
    const Eigen::MatrixXd& cov = cr.kind == glm::StatKind::t ? cr.variance : cr.covariance;
    for (Eigen::Index k = 0; k < cov.rows(); ++k)
      tm.covariances.push_back(warp_values(cov.row(k).transpose()));
    return tm;
  }

private:
  Grid grid_;
  std::vector<std::uint8_t> brain_;
};

// Fixed effects of one contrast's template maps over runs, at the voxels every run covers (finite
// effects and positive variances in each), as a ContrastResult over those voxels.
struct CombinedMaps {
  std::vector<std::int64_t> inside;
  glm::ContrastResult result;
};
CombinedMaps combine_template_maps(const std::vector<const TemplateMaps*>& maps, std::int64_t voxels) {
  const bool is_t = maps.front()->kind == glm::StatKind::t;
  const auto q = static_cast<Eigen::Index>(maps.front()->effects.size());
  auto variance_of = [&](const TemplateMaps& m, Eigen::Index row) -> const Volume& {
    return m.covariances[static_cast<std::size_t>(is_t ? 0 : glm::packed_row(row, row, q))];
  };
  CombinedMaps out;
  for (std::int64_t i = 0; i < voxels; ++i) {
    bool ok = true;
    for (const auto* m : maps)
      for (Eigen::Index r = 0; r < q && ok; ++r)
        ok = std::isfinite(m->effects[static_cast<std::size_t>(r)].data()[i]) &&
             variance_of(*m, r).data()[i] > 0;
    if (ok) out.inside.push_back(i);
  }
  const auto n = static_cast<Eigen::Index>(out.inside.size());
  auto gather = [&](const Volume& v) {
    Eigen::RowVectorXd row(n);
    for (Eigen::Index j = 0; j < n; ++j) row(j) = v.data()[out.inside[static_cast<std::size_t>(j)]];
    return row;
  };
  std::vector<glm::ContrastResult> runs;
  for (const auto* m : maps) {
    glm::ContrastResult r;
    r.kind = m->kind;
    r.expressions = m->expressions;
    r.dof = m->dof;
    r.dof_num = static_cast<double>(q);
    r.effect.resize(q, n);
    r.variance.resize(q, n);
    for (Eigen::Index k = 0; k < q; ++k) {
      r.effect.row(k) = gather(m->effects[static_cast<std::size_t>(k)]);
      r.variance.row(k) = gather(variance_of(*m, k));
    }
    if (!is_t) {
      r.covariance.resize(static_cast<Eigen::Index>(m->covariances.size()), n);
      for (std::size_t k = 0; k < m->covariances.size(); ++k)
        r.covariance.row(static_cast<Eigen::Index>(k)) = gather(m->covariances[k]);
    }
    runs.push_back(std::move(r));
  }
  out.result = glm::fixed_effects(runs);
  return out;
}

// The maps of a contrast: t (effect, variance, t) or F, then z and p, named by `entities`.
std::vector<std::pair<std::string, Eigen::VectorXd>> stat_maps(const glm::ContrastResult& cr) {
  std::vector<std::pair<std::string, Eigen::VectorXd>> maps;
  if (cr.kind == glm::StatKind::t) {
    maps.emplace_back("effect", cr.effect_row(0));
    maps.emplace_back("variance", cr.variance.row(0).transpose());
  }
  maps.emplace_back(cr.kind == glm::StatKind::t ? "t" : "F", cr.stat);
  maps.emplace_back("z", cr.z);
  maps.emplace_back("p", cr.p);
  return maps;
}

class FmriStage {
public:
  FmriStage(const SubjectPlan& plan, const Config& config, const RegisteredRuns* reg, fs::path out_dir,
            RunStorage storage)
      : plan_(plan), config_(config), reg_(reg), out_dir_(std::move(out_dir)), storage_(std::move(storage)),
        settings_(first_level_settings(config.glm)), fit_params_(fit_params(config.glm)) {
    if (reg_) {
      for (const auto& roi : reg_->resources.atlas.rois) rois_.push_back({roi.index, roi.name});
      template_.emplace(reg_->resources, config_.glm.template_resolution_mm);
    }
  }

  std::vector<fs::path> run() {
    std::map<std::string, std::vector<RunResult>> by_task;
    for (std::size_t i = 0; i < plan_.bold.size(); ++i) {
      const BoldInput& in = plan_.bold[i];
      with_context(in.run.image.string(), [&] {
        auto r = process_run(in, reg_ ? &reg_->runs.at(i) : nullptr);
        if (r) by_task[in.run.entities.get("task")].push_back(std::move(*r));
      });
    }
    for (auto& [task, runs] : by_task) combine_runs(runs);
    return std::move(outputs_);
  }

private:
  std::optional<RunResult> process_run(const BoldInput& in, const RunRegistration* registration) {
    Volume bold = io::read_nifti_voxels(in.header, storage_.for_run(in.header));
    const PreparedRun prep = prepare_run(bold, in, config_.preprocess);
    OutputWriter out(out_dir_, in.run.entities);
    if (prep.confounds.columns().size() > 0) out.tsv(bids::Output::confounds, {}, prep.confounds);
    // ROI signals from the data as they are (before smoothing and scaling).
    std::optional<timeseries::RoiSignals> signals;
    if (registration) signals = roi_signals(in, bold, registration->labels, prep.mask, out);
    const bool glm = config_.glm.enabled && in.events;
    if (config_.glm.enabled && !in.events)
      spdlog::warn("{}: no events.tsv, so no GLM for this run", in.run.image.filename().string());
    if (!glm) {
      keep_outputs(out);
      return std::nullopt;
    }
    const GlmConfig& g = config_.glm;
    const double slice_time_ref = g.slice_time_ref.value_or(prep.slice_time_ref);
    const glm::RunDesign rd = glm::design_run(*in.events, prep.confounds, settings_,
                                              in.metadata.repetition_time_s, bold.volumes(), slice_time_ref);
    out.tsv(bids::Output::design_matrix, {}, design_table(rd.design));
    if (!rd.skipped_contrasts.empty())
      spdlog::warn("{}: conditions {} have no events in this run; contrasts {} are skipped for it",
                   in.run.image.filename().string(), fmt::join(rd.dropped_conditions, ", "),
                   fmt::join(rd.skipped_contrasts, ", "));
    RunResult result;
    result.entities = in.run.entities;
    io::Json summary = glm_summary(in, bold, rd, prep);
    if (signals) fit_rois(*signals, rd, out, result, summary);
    if (g.voxelwise) fit_maps(bold, prep, rd, registration, out, result, summary);
    out.json(bids::Output::glm_summary, {}, summary);
    keep_outputs(out);
    return result;
  }

  io::Json glm_summary(const BoldInput& in, const Volume& bold, const glm::RunDesign& rd,
                       const PreparedRun& prep) const {
    const GlmConfig& g = config_.glm;
    return {{"Sources", {in.run.image.string()}},
            {"NoiseModel", option_name(g.noise_model)},
            {"HRF", option_name(g.hrf)},
            {"Columns", rd.design.columns},
            {"Volumes", rd.design.rows()},
            {"SignalScaling", g.signal_scaling ? "percent of the voxel (ROI) mean" : "none"},
            {"SliceTimeRef", rd.slice_time_ref},
            {"DroppedConditions", rd.dropped_conditions},
            {"SkippedContrasts", rd.skipped_contrasts},
            {"RunKeptIn", bold.file_backed() ? "scratch file (above the memory budget)" : "memory"},
            {"Preprocessing", prep.summary}};
  }

  // ROI mean and eigenvariate series, written with their sidecars. ROIs lost to dropout or the
  // field of view are n/a in every ROI output of this run, not a failure.
  timeseries::RoiSignals roi_signals(const BoldInput& in, const Volume& bold, const Volume& run_labels,
                                     const std::vector<std::uint8_t>& mask, OutputWriter& out) {
    if (!run_labels.grid().same_sampling(bold.grid()))
      throw Error("the atlas in BOLD space is not on the run's grid (registration stage)");
    timeseries::RoiSignals signals = timeseries::extract(bold, run_labels, rois_, mask);
    io::Json voxels = io::Json::object();
    std::vector<std::string> lost_text;
    for (std::size_t r = 0; r < signals.names.size(); ++r) {
      voxels[signals.names[r]] = signals.voxels[r];
      if (!signals.has_data(r))
        lost_text.push_back(fmt::format("{} ({})", signals.names[r], signals.missing[r]));
    }
    if (!lost_text.empty())
      spdlog::warn(
          "{}: ROI(s) without data in this run, written as n/a in its time series and ROI tables: {}",
          in.run.image.filename().string(), fmt::join(lost_text, "; "));
    const std::string& atlas = reg_->resources.atlas_name;
    auto write = [&](const std::string& desc, const std::vector<std::vector<double>>& series,
                     const std::string& what) {
      ExtraEntities e{{"atlas", atlas}};
      if (!desc.empty()) e["desc"] = desc;
      out.tsv(bids::Output::roi_timeseries, e, signals_table(signals.names, series),
              {{"Description",
                what + " of each atlas-" + atlas + " ROI's voxels inside the run's brain mask, per volume"},
               {"Voxels", voxels},
               {"RoisWithoutData", rois_without_data(signals)}});
    };
    write("", signals.mean, "Mean");
    write("eigenvariate", signals.eigenvariate, "First eigenvariate (spm_regions scaling)");
    return signals;
  }

  // The ROI model on the ROI mean series: only the ROIs with data are fitted, the others are n/a rows.
  void fit_rois(const timeseries::RoiSignals& signals, const glm::RunDesign& rd, OutputWriter& out,
                RunResult& result, io::Json& summary) {
    const std::size_t nroi = signals.names.size();
    Eigen::MatrixXd y(signals.times(), static_cast<Eigen::Index>(nroi));
    std::vector<bool> has_data(nroi);
    for (std::size_t r = 0; r < nroi; ++r) {
      has_data[r] = signals.has_data(r);
      const auto s = config_.glm.signal_scaling ? glm::percent_of_mean(signals.mean[r]) : signals.mean[r];
      y.col(static_cast<Eigen::Index>(r)) = Eigen::Map<const Eigen::VectorXd>(s.data(), signals.times());
    }
    glm::FitParams fp = fit_params_;
    fp.ar_smoothing_fwhm_mm = 0; // ROI series are not voxels of a grid
    const glm::GappedFit fit = glm::fit_with_gaps(y, has_data, rd.design, fp, rd.contrasts);
    summary["RoisWithoutData"] = rois_without_data(signals);
    if (fit.fit)
      summary["RoiResidualAutocorrelation"] =
          autocorrelation_json(glm::residual_autocorrelation_summary(*fit.fit), false);
    result.roi_voxels = signals.voxels;
    for (std::size_t c = 0; c < rd.contrasts.size(); ++c) {
      const glm::ContrastResult& cr = fit.contrasts[c];
      out.tsv(bids::Output::roi_table,
              {{"atlas", reg_->resources.atlas_name}, {"contrast", rd.contrasts[c].name}},
              roi_contrast_table(signals.names, signals.voxels, cr, std::vector<double>(nroi, cr.dof)));
      result.roi.emplace(rd.contrasts[c].name, cr);
    }
  }

  // The voxelwise model: maps in the run's space and, with a linear registration, on the template grid.
  void fit_maps(Volume& bold, const PreparedRun& prep, const glm::RunDesign& rd,
                const RunRegistration* registration, OutputWriter& out, RunResult& result,
                io::Json& summary) {
    smooth_for_glm(bold, config_.preprocess);
    if (config_.glm.signal_scaling) glm::scale_to_percent_of_mean(bold, prep.mask);
    const glm::FirstLevelFit fit = fit_voxels(bold, rd.design, fit_params_, prep.mask);
    summary["ResidualAutocorrelation"] =
        autocorrelation_json(glm::residual_autocorrelation_summary(fit), true);
    summary["Dof"] = fit.dof;
    std::optional<registration::Transform> to_run; // template world -> this run's world
    if (registration) to_run = template_to_run(registration->to_template, out);
    std::vector<std::uint8_t> support;
    if (to_run) support = template_->support(fit, *to_run);
    for (const auto& c : rd.contrasts) {
      const glm::ContrastResult cr = glm::compute_contrast(fit, c);
      write_maps(out, c.name, fit, cr);
      if (to_run) result.maps.emplace(c.name, template_->warp(fit, cr, *to_run, support));
    }
  }

  // The registration's run -> template transform, inverted (maps are pulled onto the template grid).
  std::optional<registration::Transform> template_to_run(const registration::Transform& to_template,
                                                         const OutputWriter& out) const {
    if (!to_template.is_linear()) {
      spdlog::warn("{}: nonlinear registration; template-space maps are not written yet (native space only)",
                   out.path(bids::Output::xfm, {{"from", reg_->resources.template_space}, {"to", "bold"}})
                       .filename()
                       .string());
      return std::nullopt;
    }
    return registration::invert_linear(to_template);
  }

  // Paths first (recorded in order), then the maps written concurrently: each is small, and
  // compressing and syncing them one after another left a core idle.
  void write_maps(OutputWriter& out, const std::string& contrast, const glm::FirstLevelFit& fit,
                  const glm::ContrastResult& cr) {
    std::vector<std::pair<fs::path, Eigen::VectorXd>> maps;
    for (auto& [stat, values] : stat_maps(cr))
      maps.emplace_back(out.claim(bids::Output::statmap, {{"contrast", contrast}, {"stat", stat}}),
                        std::move(values));
    tbb::parallel_for_each(
        maps, [&](const auto& m) { io::write_nifti(m.first, glm::to_volume(fit, m.second, 0.0f)); });
  }

  // Fixed effects over the runs of one task: ROI tables (run space) and template-space maps, t and F.
  void combine_runs(const std::vector<RunResult>& runs) {
    bids::Entities ents = runs.front().entities;
    ents.values.erase("run");
    std::set<std::string> sessions;
    for (const auto& r : runs) sessions.insert(r.entities.get("ses"));
    if (sessions.size() > 1) ents.values.erase("ses");
    OutputWriter out(out_dir_, ents);
    for (const auto& c : config_.glm.contrasts) {
      std::vector<const RunResult*> with;
      for (const auto& r : runs)
        if (r.roi.count(c.name)) with.push_back(&r);
      if (!with.empty()) combine_roi_tables(with, c.name, out);
      std::vector<const TemplateMaps*> maps;
      for (const auto& r : runs)
        if (auto it = r.maps.find(c.name); it != r.maps.end()) maps.push_back(&it->second);
      if (!maps.empty()) write_template_fixed_effects(maps, c.name, out);
    }
    keep_outputs(out);
  }

  // Per ROI over the runs where it has data (dof summed over those runs); n/a when none has.
  void combine_roi_tables(const std::vector<const RunResult*>& runs, const std::string& contrast,
                          OutputWriter& out) {
    std::vector<const glm::ContrastResult*> results;
    for (const RunResult* r : runs) results.push_back(&r->roi.at(contrast));
    const glm::CombinedContrast fx = glm::combine_runs(results);
    std::vector<std::string> names;
    for (const auto& r : rois_) names.push_back(r.name);
    // ROI sizes differ per run (own grids): the table reports the first run with data.
    std::vector<std::int64_t> voxels(rois_.size(), 0);
    for (std::size_t k = 0; k < rois_.size(); ++k)
      for (const RunResult* r : runs)
        if (voxels[k] == 0) voxels[k] = r->roi_voxels[k];
    out.tsv(bids::Output::roi_table,
            {{"atlas", reg_->resources.atlas_name}, {"contrast", contrast}, {"desc", "fixedeffects"}},
            roi_contrast_table(names, voxels, fx.result, fx.dof));
  }

  void write_template_fixed_effects(const std::vector<const TemplateMaps*>& maps, const std::string& contrast,
                                    OutputWriter& out) {
    const Grid& grid = template_->grid();
    const CombinedMaps fx = combine_template_maps(maps, grid.voxel_count());
    for (const auto& [stat, values] : stat_maps(fx.result)) {
      Volume v(grid, 1, std::nanf(""));
      for (std::size_t j = 0; j < fx.inside.size(); ++j)
        v.data()[fx.inside[j]] = static_cast<float>(values(static_cast<Eigen::Index>(j)));
      out.nifti(bids::Output::statmap,
                {{"space", grid.space},
                 {"res", res_label(config_.glm.template_resolution_mm)},
                 {"contrast", contrast},
                 {"desc", "fixedeffects"},
                 {"stat", stat}},
                v);
    }
  }

  void keep_outputs(OutputWriter& out) { append(outputs_, out.take_outputs()); }

  const SubjectPlan& plan_;
  const Config& config_;
  const RegisteredRuns* reg_;
  fs::path out_dir_;
  RunStorage storage_;
  glm::FirstLevelSettings settings_;
  glm::FitParams fit_params_;
  std::vector<timeseries::RoiLabel> rois_;
  std::optional<TemplateSpace> template_;
  std::vector<fs::path> outputs_;
};

} // namespace

std::vector<fs::path> run_fmri_stage(const SubjectPlan& plan, const Config& config,
                                     const RegisteredRuns* registration, const fs::path& out_dir,
                                     const RunStorage& storage) {
  if (plan.bold.empty() || (!config.preprocess.enabled && !config.glm.enabled)) return {};
  if (config.glm.enabled && !registration && !config.glm.voxelwise)
    throw Error("glm.voxelwise is false and the registration stage is off: no ROI and no map would be made; "
                "add \"registration\" to the configuration (ROIs need the atlas in the run's space)");
  FmriStage stage(plan, config, registration, out_dir, storage);
  return stage.run();
}

} // namespace rewardpath::pipeline
