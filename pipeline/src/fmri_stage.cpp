#include "rewardpath/pipeline/fmri_stage.hpp"

#include <spdlog/spdlog.h>
#include <tbb/parallel_for_each.h>

#include <cmath>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <set>

#include "fmri_preprocess.hpp"
#include "rewardpath/bids/derivatives.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/glm/design.hpp"
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

std::vector<double> percent_of_mean(const std::vector<double>& y) {
  double m = 0;
  for (double v : y) m += v;
  m /= static_cast<double>(y.size());
  std::vector<double> out(y.size(), 0.0);
  if (m > 0)
    for (std::size_t t = 0; t < y.size(); ++t) out[t] = 100.0 * (y[t] / m - 1.0);
  return out;
}

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

// A contrast of the ROIs with data (columns `present` of `all` ROIs) widened back to every ROI,
// NaN in the columns of ROIs without data.
glm::ContrastResult widen(glm::ContrastResult c, const std::vector<std::size_t>& present, std::size_t all) {
  auto widen_matrix = [&](Eigen::MatrixXd& m) {
    Eigen::MatrixXd w = Eigen::MatrixXd::Constant(m.rows(), static_cast<Eigen::Index>(all), std::nan(""));
    for (std::size_t j = 0; j < present.size(); ++j)
      w.col(static_cast<Eigen::Index>(present[j])) = m.col(static_cast<Eigen::Index>(j));
    m = std::move(w);
  };
  auto widen_vector = [&](Eigen::VectorXd& v) {
    Eigen::VectorXd w = Eigen::VectorXd::Constant(static_cast<Eigen::Index>(all), std::nan(""));
    for (std::size_t j = 0; j < present.size(); ++j)
      w(static_cast<Eigen::Index>(present[j])) = v(static_cast<Eigen::Index>(j));
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

// One ROI's column of a run's contrast (t or F), as a one-series result for glm::fixed_effects.
glm::ContrastResult roi_column(const glm::ContrastResult& c, std::size_t roi) {
  const auto i = static_cast<Eigen::Index>(roi);
  glm::ContrastResult r;
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

// Does an expression mention one of `names` as a whole column name?
bool mentions(const std::string& expr, const std::set<std::string>& names) {
  std::string token;
  auto is_name_char = [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.';
  };
  for (std::size_t i = 0; i <= expr.size(); ++i) {
    if (i < expr.size() && is_name_char(expr[i])) {
      token += expr[i];
      continue;
    }
    if (!token.empty() && names.count(token)) return true;
    token.clear();
  }
  return false;
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
  std::map<std::string, glm::ContrastResult> roi; // contrast -> per-ROI result
  std::vector<std::int64_t> roi_voxels;           // ROI sizes in this run's space (0: no data, NaN in `roi`)
  std::map<std::string, TemplateMaps> maps;       // contrast -> template-space maps (t and F)
  io::Json roi_missing = io::Json::object();      // ROI name -> why it has no data in this run
};

class FmriStage {
public:
  FmriStage(const SubjectPlan& plan, const Config& config, const RegistrationResources* reg,
            fs::path bids_dir, fs::path out_dir, RunStorage storage)
      : plan_(plan), config_(config), reg_(reg), bids_dir_(std::move(bids_dir)), out_dir_(std::move(out_dir)),
        storage_(std::move(storage)) {
    if (reg_) {
      for (const auto& roi : reg_->atlas.rois) rois_.push_back({roi.index, roi.name});
      template_grid_ = template_grid(reg_->template_brain.grid(), config_.glm.template_resolution_mm);
      template_grid_.space = reg_->template_space;
      const Volume brain = registration::apply_transform(reg_->template_brain, template_grid_,
                                                         registration::Transform{}, true);
      template_brain_.resize(static_cast<std::size_t>(brain.size()));
      for (std::size_t i = 0; i < brain.size(); ++i) template_brain_[i] = brain.data()[i] > 0.5f;
    }
  }

  std::vector<fs::path> run() {
    std::map<std::string, std::vector<RunResult>> by_task;
    for (const auto& in : plan_.bold) {
      with_context(in.run.image.string(), [&] {
        auto r = process_run(in);
        if (r) by_task[in.run.entities.get("task")].push_back(std::move(*r));
      });
    }
    for (auto& [task, runs] : by_task) combine_runs(runs);
    return std::move(outputs_);
  }

private:
  fs::path out(const bids::Entities& e, bids::Output kind,
               const std::map<std::string, std::string>& extra = {}) {
    fs::path p = bids::derivative_path(out_dir_, e, kind, extra);
    outputs_.push_back(p);
    return p;
  }

  std::optional<RunResult> process_run(const BoldInput& in) {
    Volume bold = io::read_nifti_voxels(in.header, storage_.for_run(in.header));
    const double tr = in.metadata.repetition_time_s;
    const PreparedRun prep = prepare_run(bold, in, config_.preprocess);
    const bids::Entities& ents = in.run.entities;
    RunResult result;
    if (prep.confounds.columns().size() > 0)
      io::write_tsv(out(ents, bids::Output::confounds), prep.confounds);

    // The atlas in this run's space (registration stage), then ROI signals from the data as they are.
    std::optional<Volume> labels;
    std::optional<timeseries::RoiSignals> signals;
    if (reg_) {
      const fs::path dseg = bids::derivative_path(out_dir_, ents, bids::Output::dseg,
                                                  {{"space", "bold"}, {"atlas", reg_->atlas_name}});
      labels = io::read_nifti(dseg, io::Expect::volume3d);
      labels->grid().space = bold.grid().space;
      if (!labels->grid().same_sampling(bold.grid()))
        throw Error("the atlas in BOLD space (" + dseg.filename().string() +
                    ") is not on the run's grid: rerun the registration stage (--force)");
      signals = timeseries::extract(bold, *labels, rois_, prep.mask);
      result.roi_voxels = signals->voxels;
      // ROIs lost to dropout or the field of view: n/a in every ROI output of this run, not a failure.
      io::Json voxels = io::Json::object(), lost = io::Json::object();
      std::vector<std::string> lost_text;
      for (std::size_t r = 0; r < signals->names.size(); ++r) {
        voxels[signals->names[r]] = signals->voxels[r];
        if (signals->has_data(r)) continue;
        lost[signals->names[r]] = signals->missing[r];
        lost_text.push_back(fmt::format("{} ({})", signals->names[r], signals->missing[r]));
      }
      if (!lost_text.empty())
        spdlog::warn(
            "{}: ROI(s) without data in this run, written as n/a in its time series and ROI tables: {}",
            in.run.image.filename().string(), fmt::join(lost_text, "; "));
      result.roi_missing = lost;
      const std::map<std::string, std::string> a{{"atlas", reg_->atlas_name}};
      auto write_signals = [&](const std::map<std::string, std::string>& e,
                               const std::vector<std::vector<double>>& series, const std::string& what) {
        const fs::path tsv = out(ents, bids::Output::roi_timeseries, e);
        io::write_tsv(tsv, signals_table(signals->names, series));
        fs::path json = tsv;
        json.replace_extension(".json");
        io::write_json(json, {{"Description", what + " of each atlas-" + reg_->atlas_name +
                                                  " ROI's voxels inside the run's brain mask, per volume"},
                              {"Voxels", voxels},
                              {"RoisWithoutData", lost}});
        outputs_.push_back(json);
      };
      write_signals(a, signals->mean, "Mean");
      auto ae = a;
      ae["desc"] = "eigenvariate";
      write_signals(ae, signals->eigenvariate, "First eigenvariate (spm_regions scaling)");
    }
    if (!config_.glm.enabled) return std::nullopt;
    if (!in.events) {
      spdlog::warn("{}: no events.tsv, so no GLM for this run", in.run.image.filename().string());
      return std::nullopt;
    }

    // Design: configured conditions absent from this run's events are dropped (with their contrasts).
    const GlmConfig& g = config_.glm;
    glm::DesignParams dp;
    dp.tr_s = tr;
    dp.volumes = bold.volumes();
    dp.slice_time_ref = g.slice_time_ref.value_or(prep.slice_time_ref);
    dp.hrf = g.hrf;
    dp.fir_delays = g.fir_delays;
    const auto present = in.events->trial_types();
    std::set<std::string> dropped;
    for (const auto& c : g.conditions) {
      if (std::find(present.begin(), present.end(), c) != present.end())
        dp.conditions.push_back(c);
      else
        dropped.insert(c);
    }
    if (!g.conditions.empty() && dp.conditions.empty())
      throw Error(fmt::format("none of the configured conditions ({}) occurs in {} (trial types there: {})",
                              fmt::join(g.conditions, ", "), in.events->source.filename().string(),
                              fmt::join(present, ", ")));
    for (const auto& m : g.modulators)
      if (!dropped.count(m.condition)) dp.modulators.push_back({m.condition, m.column});
    for (const auto& name : g.confounds) {
      const auto col = prep.confounds.find_column(name);
      if (!col)
        throw Error(
            fmt::format("confound \"{}\" (config glm.confounds) is not in the confounds table; it has: {}",
                        name, fmt::join(prep.confounds.columns(), ", ")));
      glm::Confound c{name, {}};
      for (std::size_t r = 0; r < prep.confounds.row_count(); ++r)
        c.values.push_back(prep.confounds.is_na(r, *col) ? 0.0 : prep.confounds.number(r, *col));
      dp.confounds.push_back(std::move(c));
    }
    dp.drift = g.drift;
    dp.high_pass_s = g.high_pass_s;
    dp.drift_order = g.drift_order;
    const glm::Design design = with_context("design matrix from " + in.events->source.filename().string(),
                                            [&] { return glm::make_design(*in.events, dp); });
    io::write_tsv(out(ents, bids::Output::design_matrix), design_table(design));

    glm::FitParams fp;
    fp.noise_model = g.noise_model;
    fp.ar_order = g.ar_order;

    std::vector<ContrastConfig> contrasts;
    std::vector<std::string> skipped;
    for (const auto& c : g.contrasts) {
      bool uses_dropped = false;
      for (const auto& e : c.expressions) uses_dropped = uses_dropped || mentions(e, dropped);
      if (uses_dropped)
        skipped.push_back(c.name);
      else
        contrasts.push_back(c);
    }
    if (!skipped.empty())
      spdlog::warn("{}: conditions {} have no events in this run; contrasts {} are skipped for it",
                   in.run.image.filename().string(), fmt::join(dropped, ", "), fmt::join(skipped, ", "));

    result.entities = ents;
    io::Json summary = {
        {"Sources", {in.run.image.string()}},
        {"NoiseModel", option_name(g.noise_model)},
        {"HRF", option_name(g.hrf)},
        {"Columns", design.columns},
        {"Volumes", design.rows()},
        {"SignalScaling", g.signal_scaling ? "percent of the voxel (ROI) mean" : "none"},
        {"SliceTimeRef", dp.slice_time_ref},
        {"DroppedConditions", dropped},
        {"SkippedContrasts", skipped},
        {"RunKeptIn", bold.file_backed() ? "scratch file (above the memory budget)" : "memory"},
        {"Preprocessing", prep.summary}};

    // ROI model on the ROI mean series.
    if (signals) {
      // Only the ROIs with data are fitted; the others stay NaN (n/a rows) in the widened results.
      const std::size_t nroi = signals->names.size();
      std::vector<std::size_t> present;
      for (std::size_t r = 0; r < nroi; ++r)
        if (signals->has_data(r)) present.push_back(r);
      summary["RoisWithoutData"] = result.roi_missing;
      std::optional<glm::FirstLevelFit> fit;
      if (!present.empty()) {
        Eigen::MatrixXd y(bold.volumes(), static_cast<Eigen::Index>(present.size()));
        for (std::size_t j = 0; j < present.size(); ++j) {
          const auto& m = signals->mean[present[j]];
          const auto s = g.signal_scaling ? percent_of_mean(m) : m;
          for (std::int64_t t = 0; t < bold.volumes(); ++t) y(t, static_cast<Eigen::Index>(j)) = s[t];
        }
        glm::FitParams rp = fp;
        rp.ar_smoothing_fwhm_mm = 0; // ROI series are not voxels of a grid
        fit = glm::fit(y, design, rp);
        const auto ac = glm::residual_autocorrelation_summary(*fit);
        summary["RoiResidualAutocorrelation"] = {{"MeanLag1to3", ac.mean}, {"ExpectedSD", ac.expected_sd}};
      }
      for (const auto& c : contrasts) {
        glm::ContrastResult cr;
        if (fit) {
          cr = c.expressions.size() == 1 ? glm::contrast(*fit, c.expressions.front())
                                         : glm::contrast(*fit, c.expressions);
        } else {
          cr.kind = c.expressions.size() == 1 ? glm::StatKind::t : glm::StatKind::F;
          cr.expressions = c.expressions;
        }
        cr = widen(std::move(cr), present, nroi);
        io::write_tsv(
            out(ents, bids::Output::roi_table, {{"atlas", reg_->atlas_name}, {"contrast", c.name}}),
            roi_contrast_table(signals->names, signals->voxels, cr, std::vector<double>(nroi, cr.dof)));
        result.roi.emplace(c.name, std::move(cr));
      }
    }

    if (g.voxelwise) {
      smooth_for_glm(bold, config_.preprocess);
      if (g.signal_scaling) glm::scale_to_percent_of_mean(bold, prep.mask);
      const glm::FirstLevelFit fit = fit_run(bold, design, fp, prep.mask);
      const auto ac = glm::residual_autocorrelation_summary(fit);
      summary["ResidualAutocorrelation"] = {{"MeanLag1to3", ac.mean},
                                            {"MedianLag1to3", ac.median},
                                            {"FractionOutside95", ac.fraction_outside},
                                            {"ExpectedSD", ac.expected_sd}};
      summary["Dof"] = fit.dof;
      std::optional<registration::Transform> to_bold; // template world -> this run's world
      if (reg_) to_bold = template_to_run(ents);
      std::vector<std::uint8_t> support;
      if (to_bold) support = template_support(fit, *to_bold);
      for (const auto& c : contrasts) {
        const glm::ContrastResult cr = c.expressions.size() == 1 ? glm::contrast(fit, c.expressions.front())
                                                                 : glm::contrast(fit, c.expressions);
        write_maps(ents, c.name, fit, cr, {});
        if (to_bold) {
          auto warp = [&](const Eigen::VectorXd& values) {
            return to_template(glm::to_volume(fit, values, 0.0f), *to_bold, support);
          };
          TemplateMaps tm;
          tm.kind = cr.kind;
          tm.expressions = cr.expressions;
          tm.dof = cr.dof;
          for (Eigen::Index r = 0; r < cr.effect.rows(); ++r)
            tm.effects.push_back(warp(cr.effect_row(static_cast<int>(r))));
          const Eigen::MatrixXd& cov = cr.kind == glm::StatKind::t ? cr.variance : cr.covariance;
          for (Eigen::Index k = 0; k < cov.rows(); ++k)
            tm.covariances.push_back(warp(cov.row(k).transpose()));
          result.maps.emplace(c.name, std::move(tm));
        }
      }
    }
    io::write_json(out(ents, bids::Output::glm_summary), summary);
    return result;
  }

  // A run kept in a scratch file is fitted volume block by volume block in file order (the same
  // numbers as the voxel-chunk fit, which would read every volume once per chunk of voxels and so
  // page the file in many times over); arp needs two passes per voxel chunk and takes the latter.
  static glm::FirstLevelFit fit_run(const Volume& bold, const glm::Design& design, const glm::FitParams& fp,
                                    std::span<const std::uint8_t> mask) {
    if (!bold.file_backed() || fp.noise_model == glm::NoiseModel::arp)
      return glm::fit(bold, design, fp, mask);
    const auto nv = bold.voxels_per_volume();
    return glm::fit_volumes(
        bold.volumes(), nv,
        [&](std::int64_t first, std::int64_t count, std::span<float> out) {
          std::copy_n(bold.data() + first * nv, count * nv, out.begin());
        },
        design, fp, bold.grid(), mask);
  }

  // The registration stage's run -> template transform, inverted (maps are pulled onto the template grid).
  std::optional<registration::Transform> template_to_run(const bids::Entities& ents) {
    const fs::path xfm = bids::derivative_path(out_dir_, ents, bids::Output::xfm,
                                               {{"from", reg_->template_space}, {"to", "bold"}});
    registration::Transform t = registration::read_transform(xfm);
    if (!t.is_linear()) {
      spdlog::warn("{}: nonlinear registration; template-space maps are not written yet (native space only)",
                   xfm.filename().string());
      return std::nullopt;
    }
    return registration::invert_linear(t);
  }

  // Template voxels a run's maps can fill: inside the template brain and fully inside the run's
  // fitted voxels (every interpolation neighbour fitted), so edges never mix in zeros. Warped once
  // per run; every map of the run shares it.
  std::vector<std::uint8_t> template_support(const glm::FirstLevelFit& fit,
                                             const registration::Transform& template_to_bold) const {
    const Volume fitted_native = glm::to_volume(fit, Eigen::VectorXd::Ones(fit.series()), 0.0f);
    const Volume valid = registration::apply_transform(fitted_native, template_grid_, template_to_bold);
    std::vector<std::uint8_t> keep(valid.size());
    for (std::size_t i = 0; i < valid.size(); ++i) keep[i] = template_brain_[i] && valid.data()[i] > 0.999f;
    return keep;
  }

  // Trilinear onto the template grid; NaN outside `support`.
  Volume to_template(const Volume& native, const registration::Transform& template_to_bold,
                     const std::vector<std::uint8_t>& support) const {
    Volume v = registration::apply_transform(native, template_grid_, template_to_bold);
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!support[i]) v.data()[i] = std::nanf("");
    v.grid().space = template_grid_.space;
    return v;
  }

  void write_maps(const bids::Entities& ents, const std::string& contrast, const glm::FirstLevelFit& fit,
                  const glm::ContrastResult& cr, const std::map<std::string, std::string>& extra) {
    // Paths first (out() records each output), then the maps written concurrently: each is small,
    // and compressing and syncing them one after another left a core idle.
    std::vector<std::pair<fs::path, Eigen::VectorXd>> maps;
    auto add = [&](const std::string& stat, Eigen::VectorXd values) {
      auto e = extra;
      e["contrast"] = contrast;
      e["stat"] = stat;
      maps.emplace_back(out(ents, bids::Output::statmap, e), std::move(values));
    };
    if (cr.kind == glm::StatKind::t) {
      add("effect", cr.effect_row(0));
      add("variance", cr.variance.row(0).transpose());
      add("t", cr.stat);
    } else {
      add("F", cr.stat);
    }
    add("z", cr.z);
    add("p", cr.p);
    tbb::parallel_for_each(
        maps, [&](const auto& m) { io::write_nifti(m.first, glm::to_volume(fit, m.second, 0.0f)); });
  }

  // Fixed effects over the runs of one task: ROI tables (run space; t and F contrasts) and
  // template-space maps (t contrasts only: F maps are not combined, docs/fmri.md).
  void combine_runs(std::vector<RunResult>& runs) {
    bids::Entities ents = runs.front().entities;
    ents.values.erase("run");
    std::set<std::string> sessions;
    for (const auto& r : runs) sessions.insert(r.entities.get("ses"));
    if (sessions.size() > 1) ents.values.erase("ses");
    const std::string desc = "fixedeffects";
    for (const auto& c : config_.glm.contrasts) {
      std::vector<const RunResult*> with;
      for (const auto& r : runs)
        if (r.roi.count(c.name)) with.push_back(&r);
      if (!with.empty()) {
        // Per ROI over the runs where it has data (dof summed over those runs); n/a when none has.
        const std::size_t nroi = rois_.size();
        std::vector<std::string> names;
        for (const auto& r : rois_) names.push_back(r.name);
        std::vector<std::int64_t> voxels(nroi, 0);
        std::vector<double> dof(nroi, std::nan(""));
        std::vector<std::size_t> present;
        std::vector<glm::ContrastResult> per_roi;
        for (std::size_t k = 0; k < nroi; ++k) {
          std::vector<glm::ContrastResult> roi;
          for (const RunResult* r : with) {
            if (r->roi_voxels[k] == 0) continue;
            // ROI sizes differ per run (own grids): the table reports the first run with data.
            if (voxels[k] == 0) voxels[k] = r->roi_voxels[k];
            roi.push_back(roi_column(r->roi.at(c.name), k));
          }
          if (roi.empty()) continue;
          per_roi.push_back(glm::fixed_effects(roi));
          dof[k] = per_roi.back().dof;
          present.push_back(k);
        }
        // t and F alike (F: glm::fixed_effects combines the runs' q x q effect covariances).
        const glm::ContrastResult& run1 = with.front()->roi.at(c.name);
        const auto np = static_cast<Eigen::Index>(present.size());
        const Eigen::Index q = per_roi.empty() ? 1 : per_roi.front().effect.rows();
        glm::ContrastResult fx;
        fx.kind = run1.kind;
        fx.expressions = run1.expressions;
        fx.dof_num = per_roi.empty() ? run1.dof_num : per_roi.front().dof_num;
        fx.effect.resize(q, np);
        fx.variance.resize(q, np);
        if (fx.kind == glm::StatKind::F) fx.covariance.resize(q * (q + 1) / 2, np);
        fx.stat.resize(np);
        fx.z.resize(np);
        fx.p.resize(np);
        for (std::size_t j = 0; j < present.size(); ++j) {
          const auto i = static_cast<Eigen::Index>(j);
          fx.effect.col(i) = per_roi[j].effect.col(0);
          fx.variance.col(i) = per_roi[j].variance.col(0);
          if (fx.kind == glm::StatKind::F) fx.covariance.col(i) = per_roi[j].covariance.col(0);
          fx.stat(i) = per_roi[j].stat(0);
          fx.z(i) = per_roi[j].z(0);
          fx.p(i) = per_roi[j].p(0);
        }
        fx = widen(std::move(fx), present, nroi);
        io::Table table = roi_contrast_table(names, voxels, fx, dof);
        io::write_tsv(out(ents, bids::Output::roi_table,
                          {{"atlas", reg_->atlas_name}, {"contrast", c.name}, {"desc", desc}}),
                      table);
      }
      std::vector<const TemplateMaps*> maps;
      for (const auto& r : runs)
        if (auto it = r.maps.find(c.name); it != r.maps.end()) maps.push_back(&it->second);
      if (!maps.empty()) write_template_fixed_effects(ents, c.name, maps);
    }
  }

  void write_template_fixed_effects(const bids::Entities& ents, const std::string& contrast,
                                    const std::vector<const TemplateMaps*>& maps) {
    const Grid& grid = template_grid_;
    const std::int64_t nv = grid.voxel_count();
    const bool is_t = maps.front()->kind == glm::StatKind::t;
    const auto q = static_cast<Eigen::Index>(maps.front()->effects.size());
    auto diagonal = [&](Eigen::Index i) { return is_t ? 0 : glm::packed_row(i, i, q); }; // variance of row i
    // Voxels every run covers: finite effects and positive variances in each.
    std::vector<std::int64_t> inside;
    for (std::int64_t i = 0; i < nv; ++i) {
      bool ok = true;
      for (const auto* m : maps)
        for (Eigen::Index r = 0; r < q && ok; ++r)
          ok = std::isfinite(m->effects[static_cast<std::size_t>(r)].data()[i]) &&
               m->covariances[static_cast<std::size_t>(diagonal(r))].data()[i] > 0;
      if (ok) inside.push_back(i);
    }
    const auto n = static_cast<Eigen::Index>(inside.size());
    auto gather = [&](const Volume& v) {
      Eigen::RowVectorXd row(n);
      for (Eigen::Index j = 0; j < n; ++j) row(j) = v.data()[inside[static_cast<std::size_t>(j)]];
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
        r.variance.row(k) = gather(m->covariances[static_cast<std::size_t>(diagonal(k))]);
      }
      if (!is_t) {
        r.covariance.resize(static_cast<Eigen::Index>(m->covariances.size()), n);
        for (std::size_t k = 0; k < m->covariances.size(); ++k)
          r.covariance.row(static_cast<Eigen::Index>(k)) = gather(m->covariances[k]);
      }
      runs.push_back(std::move(r));
    }
    const glm::ContrastResult fx = glm::fixed_effects(runs);
    const std::map<std::string, std::string> base{{"space", grid.space},
                                                  {"res", res_label(config_.glm.template_resolution_mm)},
                                                  {"contrast", contrast},
                                                  {"desc", "fixedeffects"}};
    auto write = [&](const std::string& stat, const Eigen::VectorXd& values) {
      Volume v(grid, 1, std::nanf(""));
      for (std::size_t j = 0; j < inside.size(); ++j)
        v.data()[inside[j]] = static_cast<float>(values(static_cast<Eigen::Index>(j)));
      auto e = base;
      e["stat"] = stat;
      io::write_nifti(out(ents, bids::Output::statmap, e), v);
    };
    if (is_t) {
      write("effect", fx.effect_row(0));
      write("variance", fx.variance.row(0).transpose());
      write("t", fx.stat);
    } else {
      write("F", fx.stat);
    }
    write("z", fx.z);
    write("p", fx.p);
  }

  const SubjectPlan& plan_;
  const Config& config_;
  const RegistrationResources* reg_;
  fs::path bids_dir_, out_dir_;
  RunStorage storage_;
  std::vector<timeseries::RoiLabel> rois_;
  Grid template_grid_;
  std::vector<std::uint8_t> template_brain_;
  std::vector<fs::path> outputs_;
};

} // namespace

std::vector<fs::path> run_fmri_stage(const SubjectPlan& plan, const Config& config,
                                     const RegistrationResources* registration, const fs::path& bids_dir,
                                     const fs::path& out_dir, const RunStorage& storage) {
  if (plan.bold.empty() || (!config.preprocess.enabled && !config.glm.enabled)) return {};
  if (config.glm.enabled && !registration && !config.glm.voxelwise)
    throw Error("glm.voxelwise is false and the registration stage is off: no ROI and no map would be made; "
                "add \"registration\" to the configuration (ROIs need the atlas in the run's space)");
  FmriStage stage(plan, config, registration, bids_dir, out_dir, storage);
  return stage.run();
}

} // namespace rewardpath::pipeline
