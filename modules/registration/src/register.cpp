// register_images: input checks, masks, initialisation, the image pyramid and the metric samples
// (all ITK-free), then the ITK stages (engine_*.cpp), then the divergence and QC checks.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "bspline_mi.hpp"
#include "engine.hpp"
#include "image_ops.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/log.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/registration/registration.hpp"

namespace rewardpath::registration {

using namespace detail;

namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

void validate_params(const Params& p) {
  const std::size_t n = p.shrink_factors.size();
  if (n == 0)
    throw Error("registration params: at least one pyramid level is needed (shrink_factors is empty)");
  if (p.smoothing_sigmas_mm.size() != n || p.iterations.size() != n)
    throw Error("registration params: shrink_factors (" + std::to_string(n) + "), smoothing_sigmas_mm (" +
                std::to_string(p.smoothing_sigmas_mm.size()) + ") and iterations (" +
                std::to_string(p.iterations.size()) + ") need one entry per level");
  for (std::size_t l = 0; l < n; ++l) {
    if (!(p.shrink_factors[l] >= 1 && p.shrink_factors[l] <= 64))
      throw Error("registration params: shrink factor " + num(p.shrink_factors[l]) + " must be in 1..64");
    if (!(p.smoothing_sigmas_mm[l] >= 0 && p.smoothing_sigmas_mm[l] <= 50))
      throw Error("registration params: smoothing sigma " + num(p.smoothing_sigmas_mm[l]) +
                  " mm must be in 0..50");
    if (p.iterations[l] < 0) throw Error("registration params: negative iteration count");
  }
  if (!(p.sampling_fraction > 0 && p.sampling_fraction <= 1))
    throw Error("registration params: sampling_fraction must be in (0, 1], got " + num(p.sampling_fraction));
  if (p.min_samples < 100) throw Error("registration params: min_samples must be >= 100");
  if (p.histogram_bins < 8 || p.histogram_bins > 256)
    throw Error("registration params: histogram_bins must be 8..256, got " +
                std::to_string(p.histogram_bins));
  if (p.threads < 1) throw Error("registration params: threads must be >= 1");
  if (!(p.step_mm > 0) || !(p.min_step_mm > 0) || p.min_step_mm >= p.step_mm)
    throw Error("registration params: need 0 < min_step_mm < step_mm");
  if (p.rigid_levels < 0) throw Error("registration params: rigid_levels must be >= 0");
  if (p.model == Model::nonlinear) {
    if (!(p.bspline_spacing_mm >= 2 && p.bspline_spacing_mm <= 200))
      throw Error("registration params: bspline_spacing_mm must be in 2..200 mm");
    if (p.bspline_levels < 1 || static_cast<std::size_t>(p.bspline_levels) > n)
      throw Error("registration params: bspline_levels must be 1.." + std::to_string(n));
    if (!(p.bspline_samples_per_parameter >= 0))
      throw Error("registration params: bspline_samples_per_parameter must be >= 0");
    if (p.bspline_iterations.size() != static_cast<std::size_t>(p.bspline_levels))
      throw Error("registration params: bspline_iterations needs " + std::to_string(p.bspline_levels) +
                  " entries (one per nonlinear level)");
  }
}

std::int64_t count_inside(const Volume& mask) {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(mask.voxels_per_volume()); ++i)
    n += mask.data()[i] > 0.5f;
  return n;
}

Affine translation(const Point& t) {
  Affine a = identity_affine();
  for (int r = 0; r < 3; ++r) a[r][3] = t[static_cast<std::size_t>(r)];
  return a;
}

// Smoothed, shrunk copy of `image` on `grid` (a coarser version of the image's own grid).
Volume level_image(const Volume& image, const Grid& grid, double sigma_mm) {
  Volume s = smooth(image, sigma_mm);
  if (grid.same_sampling(image.grid(), 1e-9)) return s;
  return resample(s, grid, identity_affine(), Interpolation::linear, 0.0f);
}

std::array<int, 3> factors(const Grid& g, double target_mm) {
  const auto vs = voxel_size(g);
  std::array<int, 3> f{};
  for (std::size_t a = 0; a < 3; ++a) f[a] = std::max(1, static_cast<int>(std::lround(target_mm / vs[a])));
  return f;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

Result register_images(const Volume& fixed, const Volume& moving, const Params& params) {
  const auto t0 = std::chrono::steady_clock::now();
  validate_params(params);
  validate_input(fixed, "fixed image");
  validate_input(moving, "moving image");

  const Volume fixed_mask = brain_mask(fixed);
  const Volume moving_mask = brain_mask(moving);
  for (const auto& [mask, what] : {std::pair{&fixed_mask, "fixed"}, std::pair{&moving_mask, "moving"}}) {
    const std::int64_t n = count_inside(*mask);
    if (n < 100)
      throw Error(std::string(what) + " image's brain mask is (nearly) empty: " + std::to_string(n) +
                  " voxels above 10% of its robust range (need >= 100); is it a brain image?");
  }

  // Initialisation: centres of mass (as ITK's CenteredTransformInitializer with MomentsOn).
  const Point fixed_com = centre_of_mass(fixed, fixed_mask);
  Affine initial = identity_affine();
  if (params.initialize_by_moments) {
    const Point moving_com = centre_of_mass(moving, moving_mask);
    initial = translation(
        {moving_com[0] - fixed_com[0], moving_com[1] - fixed_com[1], moving_com[2] - fixed_com[2]});
  }
  const double overlap = mapped_overlap(sample_points(fixed_mask, 20000, params.seed), initial, moving_mask);
  if (overlap < 0.05)
    throw Error("no overlap after initialisation: " + num(100 * overlap) +
                "% of the fixed brain mask maps into the moving brain mask (need >= 5%)" +
                (params.initialize_by_moments
                     ? std::string("")
                     : "; enable initialize_by_moments or check the images' affines"));

  // Pyramid, coarse to fine. Shrink factors are relative to the fixed voxel size; the moving image
  // gets about the same voxel size (never finer than its own).
  const auto fixed_vs = voxel_size(fixed.grid());
  const double fixed_mm = std::min({fixed_vs[0], fixed_vs[1], fixed_vs[2]});
  const std::size_t nlev = params.shrink_factors.size();
  std::vector<EngineLevel> levels(nlev);
  std::vector<Volume> regions; // sampling region per level
  for (std::size_t l = 0; l < nlev; ++l) {
    const double f = params.shrink_factors[l];
    const double sigma = params.smoothing_sigmas_mm[l];
    std::array<int, 3> ff{};
    for (std::size_t a = 0; a < 3; ++a) ff[a] = std::max(1, static_cast<int>(std::lround(f)));
    const Grid fgrid = shrink_grid(fixed.grid(), ff);
    const Grid mgrid = shrink_grid(moving.grid(), factors(moving.grid(), f * fixed_mm));
    EngineLevel& lev = levels[l];
    lev.fixed = level_image(fixed, fgrid, sigma);
    lev.moving = level_image(moving, mgrid, sigma);
    Volume region = dilate(resample(fixed_mask, fgrid, identity_affine(), Interpolation::nearest, 0.0f));
    const std::int64_t in_region = count_inside(region);
    const auto count =
        std::max<std::int64_t>(params.min_samples, static_cast<std::int64_t>(params.sampling_fraction *
                                                                             static_cast<double>(in_region)));
    lev.samples = sample_points(region, count, params.seed + 7919 * l);
    regions.push_back(std::move(region));
  }
  const double t_pyramid = seconds_since(t0);

  // Linear stages.
  std::vector<LinearRun> runs;
  const std::size_t rigid_levels =
      params.model == Model::rigid || params.rigid_levels == 0
          ? nlev
          : std::min<std::size_t>(nlev, static_cast<std::size_t>(params.rigid_levels));
  auto step_at = [&](std::size_t l) {
    return params.step_mm * params.shrink_factors[l] / params.shrink_factors[0];
  };
  for (std::size_t l = 0; l < rigid_levels; ++l)
    runs.push_back({Stage::rigid, l, params.iterations[l], step_at(l)});
  if (params.model != Model::rigid)
    for (std::size_t l = 0; l < nlev; ++l)
      runs.push_back({Stage::affine, l, params.iterations[l], step_at(l)});

  Result result;
  Qc& qc = result.qc;
  Trace trace;
  const Affine linear = run_linear(levels, runs, initial, fixed_com, params, trace);
  qc.initial_metric = evaluate_metric(levels.back(), initial, params);
  qc.final_metric = evaluate_metric(levels.back(), linear, params);
  const double t_linear = seconds_since(t0);
  auto check_divergence = [&](double start, double end, const std::string& stage) {
    if (!std::isfinite(end) || end > start + 0.02 * std::abs(start) + 1e-6)
      throw Error(stage + " registration diverged: Mattes MI went from " + num(start) + " at the start to " +
                  num(end) +
                  " (lower is better); try a smaller step_mm, more smoothing, or check the images");
  };
  check_divergence(qc.initial_metric, qc.final_metric,
                   to_string(params.model == Model::rigid ? Model::rigid : Model::affine));

  Transform& t = result.transform;
  t.from = fixed.grid().space;
  t.to = moving.grid().space;
  t.matrix = linear;

  if (params.model == Model::nonlinear) {
    std::vector<BsplineRun> bruns;
    const auto nb = static_cast<std::size_t>(params.bspline_levels);
    for (std::size_t b = 0; b < nb; ++b) {
      const double spacing = params.bspline_spacing_mm * std::pow(2.0, static_cast<double>(nb - 1 - b));
      const std::size_t l = nlev - nb + b;
      const std::int64_t in_region = count_inside(regions[l]);
      const auto wanted = std::max<std::int64_t>(
          static_cast<std::int64_t>(params.sampling_fraction * static_cast<double>(in_region)),
          static_cast<std::int64_t>(
              params.bspline_samples_per_parameter *
              static_cast<double>(ControlGrid::over(fixed.grid(), spacing).parameters())));
      bruns.push_back({l, params.bspline_iterations[b], spacing,
                       sample_points(regions[l], std::max<std::int64_t>(wanted, params.min_samples),
                                     params.seed + 104729 * (b + 1))});
    }
    // Field grid: the fixed grid, coarsened while its spacing stays <= 1/8 of the control spacing
    // (trilinear interpolation of the smooth B-spline field then errs by < ~0.1 mm).
    std::array<int, 3> ff{};
    for (std::size_t a = 0; a < 3; ++a)
      ff[a] = std::max(1, static_cast<int>(std::floor(params.bspline_spacing_mm / 8.0 / fixed_vs[a])));
    const Grid field_grid = shrink_grid(fixed.grid(), ff);
    BsplineOutput nl = run_bspline(levels, bruns, linear, fixed.grid(), field_grid, params, trace);
    check_divergence(nl.affine_metric, nl.final_metric, "nonlinear");
    qc.final_metric = nl.final_metric;
    t.displacement = std::move(nl.displacement);
  }
  qc.metric_trace = std::move(trace.values);
  qc.level_starts = std::move(trace.starts);
  qc.iterations = trace.iterations;

  // QC: brain-mask overlap after registration, in fixed space.
  Transform init_t;
  init_t.matrix = initial;
  const Volume warped_initial = apply_transform(moving_mask, fixed.grid(), init_t, false);
  const Volume warped = apply_transform(moving_mask, fixed.grid(), t, false);
  qc.mask_dice_initial = dice(fixed_mask, warped_initial);
  qc.mask_dice = dice(fixed_mask, warped);
  std::vector<std::string> reasons;
  if (qc.mask_dice < params.qc_min_mask_dice)
    reasons.push_back("brain-mask Dice " + num(qc.mask_dice) + " < " + num(params.qc_min_mask_dice));
  if (qc.final_metric > params.qc_max_metric)
    reasons.push_back("final Mattes MI " + num(qc.final_metric) + " > " + num(params.qc_max_metric) +
                      " (little shared information)");
  qc.flagged = !reasons.empty();
  for (std::size_t i = 0; i < reasons.size(); ++i) qc.flag_reason += (i ? "; " : "") + reasons[i];
  result.seconds = seconds_since(t0);
  spdlog::debug("registration {}: pyramid {:.2f} s, linear {:.2f} s, total {:.2f} s, MI {:.4f} -> {:.4f}, "
                "Dice {:.3f} -> {:.3f}, {} iterations",
                to_string(params.model), t_pyramid, t_linear - t_pyramid, result.seconds, qc.initial_metric,
                qc.final_metric, qc.mask_dice_initial, qc.mask_dice, qc.iterations);
  if (qc.flagged) spdlog::warn("registration flagged: {}", qc.flag_reason);
  return result;
}

} // namespace rewardpath::registration
