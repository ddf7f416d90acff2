#include "rewardpath/pipeline/pet_stage.hpp"

#include <spdlog/spdlog.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <initializer_list>
#include <optional>
#include <string_view>

#include "output_writer.hpp"
#include "rewardpath/bids/derivatives.hpp"
#include "rewardpath/bids/metadata.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/pet/fit_models.hpp"
#include "rewardpath/pet/frames.hpp"
#include "rewardpath/pet/parametric.hpp"
#include "rewardpath/pet/plasma.hpp"
#include "rewardpath/preprocess/confounds.hpp"
#include "rewardpath/preprocess/realign.hpp"
#include "rewardpath/registration/registration.hpp"
#include "rewardpath/timeseries/roi_signal.hpp"

namespace rewardpath::pipeline {
namespace fs = std::filesystem;
namespace reg = registration;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kFdRadiusMm = 50.0; // Power et al. 2012: rotations as arc length on this sphere

std::string num(double v) { return io::format_number(v); }

// Duration-weighted mean of the frames in `use` (all when empty).
Volume weighted_mean(const Volume& frames, const std::vector<double>& duration,
                     const std::vector<std::uint8_t>& use) {
  const auto n = static_cast<std::size_t>(frames.voxels_per_volume());
  std::vector<double> acc(n, 0.0);
  double wsum = 0;
  for (std::int64_t f = 0; f < frames.volumes(); ++f) {
    const auto fi = static_cast<std::size_t>(f);
    if (!use.empty() && !use[fi]) continue;
    const float* d = frames.volume(f).data();
    for (std::size_t i = 0; i < n; ++i) acc[i] += duration[fi] * d[i];
    wsum += duration[fi];
  }
  Volume mean(frames.grid(), 1, 0.0f);
  for (std::size_t i = 0; i < n; ++i) mean.data()[i] = static_cast<float>(acc[i] / wsum);
  return mean;
}

Volume frame_copy(const Volume& frames, std::size_t f) {
  Volume v(frames.grid(), 1, 0.0f);
  std::copy_n(frames.volume(static_cast<std::int64_t>(f)).data(), v.size(), v.data());
  return v;
}

// ---- realignment ----

// Frame realignment: every frame starting at or after the first-frame time is registered (rigid,
// Mattes MI) to the duration-weighted mean of the reference frames (start >= reference start; the
// last third of the frames when none starts that late). Earlier frames (tracer arrival: little or
// no signal, a different distribution) take the transform of the earliest registered frame.
struct Realignment {
  std::vector<reg::Transform> transforms;
  std::vector<std::uint8_t> registered; // not vector<bool>: frames are written in parallel
  std::vector<std::uint8_t> reference;
  std::vector<double> metric;
  std::vector<std::uint8_t> flagged;
};

std::vector<std::uint8_t> reference_frames(const pet::FrameTiming& timing, const PetConfig& config) {
  const std::size_t nf = timing.size();
  std::vector<std::uint8_t> ref(nf, 0);
  const double ref_start = 60.0 * config.realign_reference_start_min;
  std::size_t nref = 0;
  for (std::size_t f = 0; f < nf; ++f) nref += (ref[f] = timing.start_s[f] >= ref_start - 1e-3 ? 1 : 0);
  if (nref == 0)
    for (std::size_t f = nf - std::max<std::size_t>(1, nf / 3); f < nf; ++f) ref[f] = 1;
  return ref;
}

reg::Params frame_registration_params() {
  reg::Params p;
  p.model = reg::Model::rigid;
  p.threads = 1; // inside the TBB subject loop
  p.shrink_factors = {2, 1};
  p.smoothing_sigmas_mm = {2, 1};
  p.iterations = {100, 50};
  p.histogram_bins = 32;
  p.rigid_levels = 0;
  p.sampling_fraction = 0.25;      // simulator: 0.16 mm error, as with every voxel (0.15 mm)
  p.initialize_by_moments = false; // small motion; early frames' centre of mass moves with the tracer
  p.qc_min_mask_dice = 0.6;
  p.qc_max_metric = -0.05;
  return p;
}

// Registers the frames in `todo` to `fixed`; frames are independent registrations (1 ITK thread
// each), so they run in parallel.
void register_frames(const Volume& frames, const Volume& fixed, const std::vector<std::size_t>& todo,
                     const pet::FrameTiming& timing, const std::string& label, Realignment& r) {
  const reg::Params p = frame_registration_params();
  std::vector<std::optional<Error>> errors(timing.size());
  tbb::parallel_for(std::size_t{0}, todo.size(), [&](std::size_t i) {
    const std::size_t f = todo[i];
    try {
      Volume moving = frame_copy(frames, f);
      moving.grid().space = "pet";
      const reg::Result res =
          with_context(fmt::format("realigning frame {} (FrameTimesStart {} s)", f, num(timing.start_s[f])),
                       [&] { return reg::register_images(fixed, moving, p); });
      r.transforms[f] = res.transform;
      r.metric[f] = res.qc.final_metric;
      r.flagged[f] = res.qc.flagged;
      if (res.qc.flagged)
        spdlog::warn("sub-{}: PET frame {} realignment QC flagged: {}", label, f, res.qc.flag_reason);
    } catch (const Error& e) {
      errors[f] = e;
    }
  });
  for (const auto& e : errors)
    if (e) throw *e;
}

Realignment realign(Volume& frames, const pet::FrameTiming& timing, const PetConfig& config,
                    const std::string& label) {
  const std::size_t nf = timing.size();
  Realignment r;
  r.transforms.resize(nf);
  r.registered.assign(nf, 0);
  r.reference = reference_frames(timing, config);
  r.metric.assign(nf, kNaN);
  r.flagged.assign(nf, 0);
  Volume fixed = weighted_mean(frames, timing.duration_s, r.reference);
  fixed.grid().space = "petref";
  const double first = 60.0 * config.realign_first_frame_min;
  std::vector<std::size_t> todo;
  for (std::size_t f = 0; f < nf; ++f)
    if (timing.start_s[f] >= first - 1e-3) todo.push_back(f);
  if (todo.empty())
    throw Error(fmt::format("no frame starts after realign_first_frame_min ({} min)", num(first / 60)));
  register_frames(frames, fixed, todo, timing, label, r);
  for (std::size_t f : todo) r.registered[f] = 1;
  for (std::size_t f = 0; f < todo.front(); ++f) r.transforms[f] = r.transforms[todo.front()];
  // Resample every frame onto the reference through its transform (the early ones too, so all
  // frames share one position).
  for (std::size_t f = 0; f < nf; ++f) {
    const Volume out = reg::apply_transform(frame_copy(frames, f), frames.grid(), r.transforms[f]);
    std::copy_n(out.data(), out.size(), frames.volume(static_cast<std::int64_t>(f)).data());
  }
  return r;
}

void check_finite(const Volume& frames, const pet::FrameTiming& timing) {
  for (std::int64_t f = 0; f < frames.volumes(); ++f) {
    const auto v = frames.volume(f);
    const auto bad = std::count_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); });
    if (bad > 0)
      throw Error(fmt::format("frame {} (FrameTimesStart {} s) has {} non-finite (NaN/Inf) voxels; expected "
                              "finite activity in every frame",
                              f, num(timing.start_s[static_cast<std::size_t>(f)]), bad));
  }
}

// Frame timing from the plan's (already validated) sidecar, re-checked here with the file named.
pet::FrameTiming timing_of(const PetInput& in) {
  pet::FrameTiming t = pet::frame_timing(in.metadata);
  pet::validate(t, "FrameTimesStart/FrameDuration");
  if (static_cast<std::int64_t>(t.size()) != in.header.volumes())
    throw Error(fmt::format("FrameTimesStart has {} frames but the image has {} (4th dimension)", t.size(),
                            in.header.volumes()));
  if (in.metadata.units.empty()) throw Error("field \"Units\" is missing; expected e.g. \"Bq/mL\"");
  return t;
}

io::Json motion_sidecar(const PetConfig& config, const std::array<double, 3>& centre) {
  return {{"Description",
           "Rigid frame realignment to the frame-duration-weighted mean of the reference frames "
           "(docs/pet.md, Pipeline stage). Parameters map the reference position to the frame's: "
           "x_frame = R (x - c) + c + t, R = Rz Ry Rx, c = the FOV centre."},
          {"FovCentreMm", centre},
          {"ReferenceStartMinutes", config.realign_reference_start_min},
          {"FirstRealignedFrameMinutes", config.realign_first_frame_min},
          {"frame_start", {{"Units", "s"}}},
          {"frame_end", {{"Units", "s"}}},
          {"realigned",
           {{"Description", "1: registered; 0: before the first realigned frame, given the earliest "
                            "registered frame's transform"}}},
          {"reference", {{"Description", "1: part of the reference mean"}}},
          {"trans_x", {{"Units", "mm"}}},
          {"trans_y", {{"Units", "mm"}}},
          {"trans_z", {{"Units", "mm"}}},
          {"rot_x", {{"Units", "rad"}}},
          {"rot_y", {{"Units", "rad"}}},
          {"rot_z", {{"Units", "rad"}}},
          {"framewise_displacement",
           {{"Units", "mm"},
            {"Description", "Power et al. 2012: sum of |differences|, rotations on a 50 mm sphere"}}},
          {"mattes_mi", {{"Description", "final Mattes mutual information (negative: better)"}}},
          {"qc_flagged", {{"Description", "1: registration QC flagged (see the log)"}}}};
}

// The motion table: rigid parameters (preprocess's convention, about the FOV centre) and FD per
// frame (0 for the first frame). Returns the largest FD.
double write_motion_table(OutputWriter& out, const pet::FrameTiming& timing, const Realignment& r,
                          const Grid& grid, const PetConfig& config) {
  const auto c = preprocess::fov_centre(grid);
  std::vector<preprocess::RigidParams> q;
  for (const auto& t : r.transforms) q.push_back(preprocess::rigid_params(t.matrix, c));
  std::vector<double> fd = preprocess::framewise_displacement(q, kFdRadiusMm);
  if (!fd.empty()) fd[0] = 0.0;
  io::Table t({"frame_start", "frame_end", "realigned", "reference", "trans_x", "trans_y", "trans_z", "rot_x",
               "rot_y", "rot_z", "framewise_displacement", "mattes_mi", "qc_flagged"});
  for (std::size_t f = 0; f < timing.size(); ++f) {
    std::vector<std::string> row{num(timing.start_s[f]), num(timing.start_s[f] + timing.duration_s[f]),
                                 r.registered[f] ? "1" : "0", r.reference[f] ? "1" : "0"};
    for (double x : q[f]) row.push_back(num(x));
    row.push_back(num(fd[f]));
    row.push_back(num(r.metric[f]));
    row.push_back(r.flagged[f] ? "1" : "0");
    t.add_row(row);
  }
  out.tsv(bids::Output::pet_motion, {}, t, motion_sidecar(config, c));
  return fd.empty() ? 0.0 : *std::max_element(fd.begin(), fd.end());
}

// One PET run: read, check, realign (when asked), write the realigned mean and the motion table.
void realign_run(const SubjectPlan& plan, const PetInput& in, const PetConfig& config, OutputWriter& out,
                 PetRealignResult& result) {
  const pet::FrameTiming timing = timing_of(in);
  Volume run = io::read_nifti_voxels(in.header);
  check_finite(run, timing);
  if (!config.realign) {
    std::error_code ec; // a realigned mean of an earlier run must not be registered instead of this one's
    const fs::path mean_path = out.path(bids::Output::mean_pet_realigned);
    fs::remove(mean_path, ec);
    fs::remove(sidecar_path(mean_path), ec);
    result.frames.push_back(std::move(run));
    result.realigned_means.emplace_back();
    return;
  }
  const Realignment r = realign(run, timing, config, plan.label);
  Volume mean = weighted_mean(run, timing.duration_s, {});
  out.nifti(bids::Output::mean_pet_realigned, {}, mean, {},
            {{"Description", "Frame-duration-weighted mean of the realigned PET frames (the image the "
                             "registration stage registers when present)"},
             {"Units", in.metadata.units}});
  const double max_fd = write_motion_table(out, timing, r, run.grid(), config);
  spdlog::info("sub-{}: PET realigned {} of {} frames, max FD {:.2f} mm", plan.label,
               std::count(r.registered.begin(), r.registered.end(), 1), timing.size(), max_fd);
  result.frames.push_back(std::move(run));
  result.realigned_means.push_back(std::move(mean));
}

// ---- regions ----

std::string base_name(const std::string& n) {
  if (n.size() > 2 && (n.ends_with("_L") || n.ends_with("_R"))) return n.substr(0, n.size() - 2);
  return n;
}

// An atlas ROI by name, or the ROIs of an _L/_R pair by its base name.
std::vector<int> resolve(const std::vector<atlas::Roi>& rois, const std::string& name,
                         const std::string& field) {
  std::vector<int> out;
  for (const auto& r : rois)
    if (r.name == name) return {r.index};
  for (const auto& r : rois)
    if (base_name(r.name) == name) out.push_back(r.index);
  if (out.empty()) {
    std::vector<std::string> names;
    for (const auto& r : rois) names.push_back(r.name);
    throw Error(
        fmt::format("field \"pet.{}\": region \"{}\" is not in the atlas; its ROIs: {} (or the base name "
                    "of an _L/_R pair, which combines both)",
                    field, name, fmt::join(names, ", ")));
  }
  return out;
}

// The regions of one run: every atlas ROI, then the combined pairs the configuration names, and
// the region roles. TACs are ROI means (timeseries), voxel-weighted over a pair's labels.
struct Regions {
  std::vector<timeseries::RoiGroup> groups;
  std::vector<pet::RegionTac> tacs; // parallel to groups
  pet::RegionTac all;               // every atlas voxel (for the frame weights)
  std::vector<std::string> targets, k2prime_regions;

  const pet::RegionTac& tac(const std::string& name) const {
    for (std::size_t i = 0; i < groups.size(); ++i)
      if (groups[i].name == name) return tacs[i];
    throw Error(fmt::format("PET region \"{}\" has no TAC", name)); // resolve() named it: not reached
  }
  std::vector<pet::RegionTac> tacs_of(const std::vector<std::string>& names) const {
    std::vector<pet::RegionTac> out;
    for (const auto& n : names) out.push_back(tac(n));
    return out;
  }
};

std::vector<timeseries::RoiGroup> region_groups(const std::vector<atlas::Roi>& rois, const PetConfig& config,
                                                Regions& roles) {
  std::vector<timeseries::RoiGroup> groups;
  for (const auto& r : rois) groups.push_back({r.name, {r.index}});
  const auto ensure = [&](const std::string& name, const std::string& field) {
    auto idx = resolve(rois, name, field);
    if (std::none_of(groups.begin(), groups.end(), [&](const auto& g) { return g.name == name; }))
      groups.push_back({name, idx});
    return idx;
  };
  const auto ref_idx = ensure(config.reference, "reference");
  roles.targets = config.targets;
  if (roles.targets.empty())
    for (const auto& r : rois)
      if (std::find(ref_idx.begin(), ref_idx.end(), r.index) == ref_idx.end())
        roles.targets.push_back(r.name);
  for (const auto& t : roles.targets) ensure(t, "targets");
  roles.k2prime_regions = config.k2prime_regions.empty() ? roles.targets : config.k2prime_regions;
  for (const auto& t : roles.k2prime_regions) ensure(t, "k2prime_regions");
  return groups;
}

std::vector<pet::RegionTac> region_tacs(const timeseries::RoiSignals& s) {
  std::vector<pet::RegionTac> out;
  for (std::size_t i = 0; i < s.names.size(); ++i)
    out.push_back({s.names[i], static_cast<std::size_t>(s.voxels[i]), s.mean[i]});
  return out;
}

Regions regions_of(const std::vector<atlas::Roi>& rois, const Volume& labels, const Volume& frames,
                   const PetConfig& config) {
  Regions r;
  r.groups = region_groups(rois, config, r);
  r.tacs = region_tacs(timeseries::extract_pooled(frames, labels, r.groups));
  timeseries::RoiGroup all{"all", {}};
  for (const auto& roi : rois) all.indices.push_back(roi.index);
  r.all = region_tacs(timeseries::extract_pooled(frames, labels, {all})).front();
  return r;
}

// What every model-stage step of one run reads, and where it writes.
struct ModelRun {
  const SubjectPlan& plan;
  const PetInput& in;
  const PetConfig& config;
  const pet::FrameTiming& timing;
  const std::string& atlas;
  fs::path dseg_path; // the atlas in PET space, as the registration stage wrote it (named, not read)
  OutputWriter& out;

  // Output entities: PET space and the atlas, plus `extra`.
  ExtraEntities entities(ExtraEntities extra) const {
    extra.emplace("space", "pet");
    extra.emplace("atlas", atlas);
    return extra;
  }
};

// TAC table (BIDS-PET derivatives style): frame_start, frame_end, one column per region.
void write_tac_table(const ModelRun& m, const Regions& regions, const Grid& label_grid) {
  std::vector<std::string> cols{"frame_start", "frame_end"};
  for (const auto& g : regions.groups) cols.push_back(g.name);
  io::Table tacs(cols);
  for (std::size_t f = 0; f < m.timing.size(); ++f) {
    std::vector<std::string> row{num(m.timing.start_s[f]), num(m.timing.start_s[f] + m.timing.duration_s[f])};
    for (const auto& r : regions.tacs) row.push_back(num(r.tac[f]));
    tacs.add_row(row);
  }
  const auto& s = label_grid.spacing_mm;
  io::Json roi_meta = io::Json::object();
  for (std::size_t i = 0; i < regions.groups.size(); ++i) {
    const std::size_t voxels = regions.tacs[i].voxels;
    roi_meta[regions.groups[i].name] = {{"AtlasIndices", regions.groups[i].indices},
                                        {"Voxels", voxels},
                                        {"VolumeMm3", static_cast<double>(voxels) * s[0] * s[1] * s[2]}};
  }
  m.out.tsv(bids::Output::tacs, m.entities({}), tacs,
            {{"Description", "Mean activity per atlas ROI in PET space (regions named as _L/_R pairs are "
                             "voxel-weighted means of both)"},
             {"Units", m.in.metadata.units},
             {"frame_start", {{"Units", "s"}}},
             {"frame_end", {{"Units", "s"}}},
             {"Realigned", m.config.realign},
             {"Atlas", fs::relative(m.dseg_path, m.out.out_dir()).generic_string()},
             {"ReferenceRegion", m.config.reference},
             {"Regions", roi_meta}});
}

// Reference TAC: positive where the models divide by or integrate it.
void check_reference(const ModelRun& m, const pet::RegionTac& ref) {
  if (ref.voxels == 0)
    throw Error(fmt::format("reference region \"{}\" has no voxels in PET space", m.config.reference))
        .context(m.dseg_path.string());
  const auto mids = m.timing.mid_s();
  const double half = 0.5 * (m.timing.start_s.front() + m.timing.end_s().back());
  for (std::size_t f = 0; f < m.timing.size(); ++f)
    if (!(ref.tac[f] > 0) && mids[f] >= half)
      throw Error(
          fmt::format("reference region \"{}\" TAC is {} in frame {} (FrameTimesStart {} s); expected "
                      "> 0 after the first half of the scan (is the reference region in the field of "
                      "view, are the frames in activity units?)",
                      m.config.reference, num(ref.tac[f]), f, num(m.timing.start_s[f])));
}

// Frame weights from the mean TAC of all atlas voxels (a high-count curve).
std::vector<double> frame_weights(const ModelRun& m, const Regions& regions) {
  pet::WeightParams wp;
  wp.scheme = m.config.weighting;
  wp.half_life_s = std::isfinite(m.timing.half_life_s) ? m.timing.half_life_s : pet::kC11HalfLifeS;
  return pet::frame_weights(m.timing, regions.all.tac, wp);
}

pet::ReferenceFitSettings reference_settings(const PetConfig& config, const std::vector<double>& weights) {
  pet::ReferenceFitSettings s;
  s.models = config.models;
  s.weights = weights;
  s.logan_tstar_s = 60.0 * config.logan_tstar_min;
  s.srtm_sampling = config.srtm_sampling;
  return s;
}

const std::vector<std::string> kFitColumns = {"wrss",     "r_squared", "frames_used",
                                              "at_bound", "failed",    "message"};

// A model table row: region, voxels, the values (n/a for NaN), then the fit columns (kFitColumns).
std::vector<std::string> result_row(const std::string& region, std::size_t voxels,
                                    std::initializer_list<double> values, const pet::FitDiagnostics& fit) {
  std::vector<std::string> row{region, std::to_string(voxels)};
  for (double v : values) row.push_back(num(v));
  row.push_back(num(fit.weighted_rss));
  row.push_back(num(fit.r_squared));
  row.push_back(std::to_string(fit.frames_used));
  row.push_back(fit.at_bound ? "1" : "0");
  row.push_back(fit.failed ? "1" : "0");
  row.push_back(fit.message.empty() ? "n/a" : fit.message);
  return row;
}

io::Table with_fit_columns(std::vector<std::string> columns) {
  columns.insert(columns.end(), kFitColumns.begin(), kFitColumns.end());
  return io::Table(columns);
}

io::Json model_sidecar(const ModelRun& m, pet::ReferenceModel model, double k2p,
                       const std::vector<std::string>& k2p_regions) {
  const bool uses_k2p = pet::uses_fixed_k2prime(model);
  return {{"Model", std::string(pet::name(model))},
          {"ReferenceRegion", m.config.reference},
          {"Weighting", option_name(m.config.weighting)},
          {"K2Prime", uses_k2p ? io::Json(k2p) : io::Json(nullptr)},
          {"K2PrimeSource", uses_k2p
                                ? "median MRTM k2' over: " + fmt::format("{}", fmt::join(k2p_regions, ", "))
                                : std::string("n/a")},
          {"LoganTstarMinutes", m.config.logan_tstar_min},
          {"SrtmSampling", option_name(m.config.srtm_sampling)},
          {"bp_nd", {{"Description", "binding potential (non-displaceable)"}}},
          {"r1", {{"Description", "K1/K1'"}}},
          {"k2", {{"Units", "1/min"}}},
          {"k2a", {{"Units", "1/min"}, {"Description", "k2/(1+BP_ND)"}}},
          {"k2prime", {{"Units", "1/min"}}},
          {"tstar_min", {{"Units", "min"}}},
          {"at_bound", {{"Description", "1: a parameter (or the BF-SRTM basis) is at a bound"}}},
          {"failed", {{"Description", "1: no usable fit; see message"}}}};
}

// One _bp.tsv per reference model: a row per target.
void write_model_tables(const ModelRun& m, const Regions& regions, const pet::ReferenceFits& fits) {
  for (const auto& model : fits.models) {
    io::Table t = with_fit_columns({"region", "voxels", "bp_nd", "bp_nd_se", "r1", "k2", "k2a", "k2prime",
                                    "dvr", "intercept", "tstar_min", "max_rel_residual"});
    for (std::size_t i = 0; i < regions.targets.size(); ++i) {
      const pet::BindingPotential& b = model.regions[i];
      t.add_row(result_row(regions.targets[i], regions.tac(regions.targets[i]).voxels,
                           {b.bp_nd, b.bp_nd_se, b.r1, b.k2, b.k2a, b.k2_prime, b.dvr, b.intercept,
                            b.tstar_s / 60.0, b.max_rel_residual},
                           b.fit));
    }
    m.out.tsv(bids::Output::bp_table, m.entities({{"model", std::string(pet::name(model.model))}}), t,
              model_sidecar(m, model.model, fits.k2prime.value, regions.k2prime_regions));
  }
}

// Measured and fitted curves, long format: per model, per target, per frame (fits with a curve).
void write_fitted_curves(const ModelRun& m, const Regions& regions, const pet::ReferenceFits& fits,
                         const std::vector<double>& weights) {
  const pet::FrameTiming& timing = m.timing;
  io::Table t({"region", "model", "frame_start", "frame_end", "measured", "fitted", "weight"});
  for (const auto& model : fits.models)
    for (std::size_t i = 0; i < regions.targets.size(); ++i) {
      const pet::BindingPotential& b = model.regions[i];
      if (b.fit.fitted.size() != timing.size()) continue;
      const auto& tac = regions.tac(regions.targets[i]).tac;
      for (std::size_t f = 0; f < timing.size(); ++f) {
        const double measured = b.fit.residuals.size() == timing.size() && std::isfinite(b.fit.residuals[f])
                                    ? b.fit.fitted[f] + b.fit.residuals[f]
                                    : tac[f];
        t.add_row({regions.targets[i], std::string(pet::name(model.model)), num(timing.start_s[f]),
                   num(timing.start_s[f] + timing.duration_s[f]), num(measured), num(b.fit.fitted[f]),
                   num(weights[f])});
      }
    }
  m.out.tsv(bids::Output::tacs, m.entities({{"desc", "fits"}}), t,
            {{"Description",
              "Measured and fitted curves per region and model: TACs for SRTM/SRTM2/MRTM/MRTM2/BFSRTM "
              "(activity units), the Logan plot's ordinate int C_T / C_T (min) for LoganRef; "
              "frames a linear method did not use are n/a"},
             {"Units", m.in.metadata.units}});
}

pet::ArterialInput read_arterial_input(const fs::path& blood) {
  return with_context(blood.string(), [&] {
    pet::ArterialInput a = pet::arterial_input(bids::read_blood(blood));
    pet::validate(a, "arterial input");
    return a;
  });
}

pet::PlasmaFitSettings plasma_settings(const PetConfig& config, const std::vector<double>& weights) {
  pet::PlasmaFitSettings s;
  s.models = config.plasma_models;
  s.weights = weights;
  s.fit_delay = config.fit_delay;
  s.delay_min_s = config.delay_min_s;
  s.delay_max_s = config.delay_max_s;
  s.logan_tstar_s = 60.0 * config.logan_tstar_min;
  return s;
}

// Plasma-input models on the reference and the targets, when asked for and a blood recording
// exists: one _bp.tsv per model.
void write_plasma_tables(const ModelRun& m, const Regions& regions, const std::vector<double>& weights) {
  if (m.config.plasma_models.empty()) return;
  if (m.in.run.blood.empty()) {
    spdlog::warn("sub-{}: plasma models {} asked for but there is no _blood.tsv beside {}; skipped",
                 m.plan.label, fmt::join(option_names_of(m.config.plasma_models), ", "),
                 m.in.run.image.filename().string());
    return;
  }
  const fs::path& blood = m.in.run.blood[0];
  std::vector<std::string> names = regions.targets;
  names.insert(names.begin(), m.config.reference);
  const auto fits = pet::fit_plasma_models(m.timing, regions.tacs_of(names), read_arterial_input(blood),
                                           plasma_settings(m.config, weights));
  for (const auto& model : fits) {
    io::Table t = with_fit_columns({"region", "voxels", "vt", "vt_se", "K1", "k2", "k3", "k4", "vb", "bp_nd",
                                    "delay_s", "tstar_min", "max_rel_residual"});
    for (std::size_t i = 0; i < names.size(); ++i) {
      const pet::PlasmaFit& pf = model.regions[i];
      t.add_row(result_row(names[i], regions.tac(names[i]).voxels,
                           {pf.vt, pf.vt_se, pf.K1, pf.k2, pf.k3, pf.k4, pf.vb, pf.bp_nd, pf.delay_s,
                            pf.tstar_s / 60.0, pf.max_rel_residual},
                           pf.fit));
    }
    m.out.tsv(
        bids::Output::bp_table, m.entities({{"model", std::string(pet::name(model.model))}}), t,
        {{"Model", std::string(pet::name(model.model))},
         {"Input",
          fs::relative(blood, m.in.run.image.parent_path().parent_path().parent_path()).generic_string()},
         {"FitDelay", m.config.fit_delay},
         {"DelayRangeSeconds", {m.config.delay_min_s, m.config.delay_max_s}},
         {"vt", {{"Units", "mL/cm3"}}},
         {"K1", {{"Units", "mL/cm3/min"}}},
         {"delay_s", {{"Units", "s"}}}});
  }
}

// The voxels the maps cover: the brain mask of the mean image, or any atlas label.
struct MapVoxels {
  std::size_t frames = 0;
  std::vector<std::size_t> index;
  std::vector<float> data; // frame-major: data[f * voxels + v]
  pet::VoxelTacs tacs() const { return {frames, index.size(), data.data()}; }
};

MapVoxels map_voxels(const Volume& frames, const Volume& labels, const pet::FrameTiming& timing) {
  MapVoxels mv;
  mv.frames = timing.size();
  const Volume brain = reg::brain_mask(weighted_mean(frames, timing.duration_s, {}));
  const auto nvox = static_cast<std::size_t>(frames.voxels_per_volume());
  for (std::size_t i = 0; i < nvox; ++i)
    if (brain.data()[i] > 0.5f || labels.data()[i] > 0.5f) mv.index.push_back(i);
  mv.data.resize(mv.index.size() * timing.size());
  for (std::size_t f = 0; f < timing.size(); ++f) {
    const float* d = frames.volume(static_cast<std::int64_t>(f)).data();
    for (std::size_t v = 0; v < mv.index.size(); ++v) mv.data[f * mv.index.size() + v] = d[mv.index[v]];
  }
  return mv;
}

void write_maps(const ModelRun& m, const Grid& grid, const MapVoxels& mv, pet::ReferenceModel map_model,
                const pet::ParametricMaps& maps, double k2p) {
  const std::string model(pet::name(map_model));
  for (const auto& [meas, values] : std::vector<std::pair<std::string, const std::vector<float>*>>{
           {"BPnd", &maps.bp_nd}, {"R1", &maps.r1}}) {
    Volume img(grid, 1, 0.0f);
    for (std::size_t v = 0; v < mv.index.size(); ++v) img.data()[mv.index[v]] = (*values)[v];
    m.out.nifti(bids::Output::bp_map, {{"space", "pet"}, {"model", model}, {"meas", meas}}, img,
                {io::StoredType::float32, 6, model + " " + meas, ""},
                {{"Model", model},
                 {"Measure", meas},
                 {"ReferenceRegion", m.config.reference},
                 {"Weighting", option_name(m.config.weighting)},
                 {"K2Prime", pet::uses_fixed_k2prime(map_model) ? io::Json(k2p) : io::Json(nullptr)},
                 {"Mask", "brain mask of the mean PET image, or any atlas ROI; 0 outside, "
                          "NaN where the fit failed"}});
  }
}

// Voxelwise BF-SRTM and MRTM2 (k2' as for the ROIs) maps.
void write_voxel_maps(const ModelRun& m, const Volume& frames, const Volume& labels, const Regions& regions,
                      const std::vector<double>& weights, double k2p) {
  const MapVoxels mv = map_voxels(frames, labels, m.timing);
  const auto& ref = regions.tac(m.config.reference).tac;
  pet::BfSrtmParams bp;
  bp.weights = weights;
  write_maps(m, frames.grid(), mv, pet::ReferenceModel::bf_srtm,
             pet::bf_srtm_map(m.timing, ref, mv.tacs(), bp), k2p);
  if (!std::isfinite(k2p)) {
    spdlog::warn("sub-{}: no k2' (MRTM failed in every k2' region): no MRTM2 map", m.plan.label);
    return;
  }
  pet::Mrtm2Params mp;
  mp.weights = weights;
  mp.k2_prime = k2p;
  write_maps(m, frames.grid(), mv, pet::ReferenceModel::mrtm2, pet::mrtm2_map(m.timing, ref, mv.tacs(), mp),
             k2p);
}

// One PET run: regions and TACs, reference models, plasma models, maps.
void model_run(const ModelRun& m, const Volume& frames, const Volume& labels,
               const std::vector<atlas::Roi>& rois) {
  if (!labels.grid().same_sampling(frames.grid(), 1e-3))
    throw Error("the atlas in PET space is not on the PET grid").context(m.dseg_path.string());
  const Regions regions = regions_of(rois, labels, frames, m.config);
  write_tac_table(m, regions, labels.grid());
  const pet::RegionTac& ref = regions.tac(m.config.reference);
  check_reference(m, ref);
  const std::vector<double> weights = frame_weights(m, regions);
  const pet::ReferenceFits fits =
      pet::fit_models(m.timing, regions.tacs_of(regions.targets), regions.tacs_of(regions.k2prime_regions),
                      ref.tac, reference_settings(m.config, weights));
  spdlog::info("sub-{}: PET k2' {} /min (median MRTM over {} region(s))", m.plan.label,
               num(fits.k2prime.value), fits.k2prime.regions_used);
  write_model_tables(m, regions, fits);
  write_fitted_curves(m, regions, fits, weights);
  write_plasma_tables(m, regions, weights);
  if (m.config.voxel_maps) write_voxel_maps(m, frames, labels, regions, weights, fits.k2prime.value);
}

} // namespace

PetRealignResult run_pet_realign_stage(const SubjectPlan& plan, const PetConfig& config,
                                       const fs::path& out_dir) {
  PetRealignResult result;
  for (const auto& in : plan.pet) {
    OutputWriter out(out_dir, in.run.entities);
    with_context(in.run.image.string(), [&] { realign_run(plan, in, config, out, result); });
    const auto written = out.take_outputs();
    result.outputs.insert(result.outputs.end(), written.begin(), written.end());
  }
  return result;
}

std::vector<fs::path> run_pet_model_stage(const SubjectPlan& plan, const PetConfig& config,
                                          const PetRealignResult& realigned,
                                          const std::vector<Volume>& labels,
                                          const std::vector<atlas::Roi>& rois, const std::string& atlas_name,
                                          const fs::path& out_dir) {
  if (realigned.frames.size() != plan.pet.size() || labels.size() != plan.pet.size())
    throw Error(fmt::format("PET model stage: {} PET run(s), but {} realigned and {} atlas label image(s)",
                            plan.pet.size(), realigned.frames.size(), labels.size()));
  std::vector<fs::path> outputs;
  for (std::size_t i = 0; i < plan.pet.size(); ++i) {
    const PetInput& in = plan.pet[i];
    OutputWriter out(out_dir, in.run.entities);
    with_context(in.run.image.string(), [&] {
      const pet::FrameTiming timing = timing_of(in);
      const ModelRun m{plan,       in,
                       config,     timing,
                       atlas_name, out.path(bids::Output::dseg, {{"space", "pet"}, {"atlas", atlas_name}}),
                       out};
      model_run(m, realigned.frames[i], labels[i], rois);
    });
    const auto written = out.take_outputs();
    outputs.insert(outputs.end(), written.begin(), written.end());
  }
  return outputs;
}

} // namespace rewardpath::pipeline
