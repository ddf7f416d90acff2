#include "rewardpath/pipeline/pet_stage.hpp"

#include <spdlog/spdlog.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>
#include <optional>
#include <set>

#include "rewardpath/bids/derivatives.hpp"
#include "rewardpath/bids/metadata.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/pet/frames.hpp"
#include "rewardpath/pet/parametric.hpp"
#include "rewardpath/pet/plasma.hpp"
#include "rewardpath/pet/reference.hpp"
#include "rewardpath/registration/registration.hpp"

namespace rewardpath::pipeline {
namespace fs = std::filesystem;
namespace reg = registration;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) { return io::format_number(v); }

fs::path sidecar_of(const fs::path& file) {
  fs::path p = file;
  if (p.extension() == ".gz") p.replace_extension();
  p.replace_extension(".json");
  return p;
}

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

// Rigid parameters of a reference -> frame map: rotation R = Rz Ry Rx (rad) and the translation of
// the reference's FOV centre c (mm): x_frame = R (x - c) + c + t.
std::array<double, 6> rigid_parameters(const Affine& a, const std::array<double, 3>& c) {
  std::array<double, 6> q{};
  for (std::size_t r = 0; r < 3; ++r)
    q[r] = a[r][0] * c[0] + a[r][1] * c[1] + a[r][2] * c[2] + a[r][3] - c[r];
  q[3] = std::atan2(a[2][1], a[2][2]);
  q[4] = -std::asin(std::clamp(a[2][0], -1.0, 1.0));
  q[5] = std::atan2(a[1][0], a[0][0]);
  return q;
}

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

Realignment realign(Volume& frames, const pet::FrameTiming& timing, const PetConfig& config,
                    const std::string& label) {
  const std::size_t nf = timing.size();
  Realignment r;
  r.transforms.resize(nf);
  r.registered.assign(nf, false);
  r.reference.assign(nf, false);
  r.metric.assign(nf, kNaN);
  r.flagged.assign(nf, false);
  const double ref_start = 60.0 * config.realign_reference_start_min;
  const double first = 60.0 * config.realign_first_frame_min;
  std::size_t nref = 0;
  for (std::size_t f = 0; f < nf; ++f)
    nref += (r.reference[f] = timing.start_s[f] >= ref_start - 1e-3 ? 1 : 0);
  if (nref == 0)
    for (std::size_t f = nf - std::max<std::size_t>(1, nf / 3); f < nf; ++f) r.reference[f] = 1;
  Volume fixed = weighted_mean(frames, timing.duration_s, r.reference);
  fixed.grid().space = "petref";
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
  std::vector<std::size_t> todo;
  for (std::size_t f = 0; f < nf; ++f)
    if (timing.start_s[f] >= first - 1e-3) todo.push_back(f);
  if (todo.empty())
    throw Error(fmt::format("no frame starts after realign_first_frame_min ({} min)", num(first / 60)));
  // Frames are independent registrations (1 ITK thread each): in parallel.
  std::vector<std::optional<Error>> errors(nf);
  tbb::parallel_for(std::size_t{0}, todo.size(), [&](std::size_t i) {
    const std::size_t f = todo[i];
    try {
      Volume moving(frames.grid(), 1, 0.0f);
      std::copy_n(frames.volume(static_cast<std::int64_t>(f)).data(), moving.size(), moving.data());
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
  for (std::size_t f : todo) r.registered[f] = 1;
  const std::optional<std::size_t> earliest = todo.front();
  for (std::size_t f = 0; f < *earliest; ++f) r.transforms[f] = r.transforms[*earliest];
  // Resample every frame onto the reference through its transform (the early ones too, so all
  // frames share one position).
  for (std::size_t f = 0; f < nf; ++f) {
    Volume moving(frames.grid(), 1, 0.0f);
    std::copy_n(frames.volume(static_cast<std::int64_t>(f)).data(), moving.size(), moving.data());
    const Volume out = reg::apply_transform(moving, frames.grid(), r.transforms[f]);
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

// ---- regions ----

struct Region {
  std::string name;
  std::vector<int> indices; // atlas labels
  std::size_t voxels = 0;
  double volume_mm3 = 0;
  std::vector<double> tac; // NaN when empty
};

std::string base_name(const std::string& n) {
  if (n.size() > 2 && (n.ends_with("_L") || n.ends_with("_R"))) return n.substr(0, n.size() - 2);
  return n;
}

struct AtlasRoi {
  int index;
  std::string name;
};

// An atlas ROI by name, or the ROIs of an _L/_R pair by its base name.
std::vector<int> resolve(const std::vector<AtlasRoi>& rois, const std::string& name,
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

Region region_tac(const std::string& name, const std::vector<int>& indices, const Volume& labels,
                  const Volume& frames) {
  Region r;
  r.name = name;
  r.indices = indices;
  const auto n = static_cast<std::size_t>(labels.voxels_per_volume());
  std::vector<std::size_t> vox;
  for (std::size_t i = 0; i < n; ++i) {
    const int l = static_cast<int>(std::lround(labels.data()[i]));
    if (l > 0 && std::find(indices.begin(), indices.end(), l) != indices.end()) vox.push_back(i);
  }
  r.voxels = vox.size();
  const auto& s = labels.grid().spacing_mm;
  r.volume_mm3 = static_cast<double>(r.voxels) * s[0] * s[1] * s[2];
  r.tac.assign(static_cast<std::size_t>(frames.volumes()), kNaN);
  if (vox.empty()) return r;
  for (std::int64_t f = 0; f < frames.volumes(); ++f) {
    const float* d = frames.volume(f).data();
    double sum = 0;
    for (std::size_t i : vox) sum += d[i];
    r.tac[static_cast<std::size_t>(f)] = sum / static_cast<double>(vox.size());
  }
  return r;
}

double median(std::vector<double> v) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

void add_fit_columns(std::vector<std::string>& row, const pet::FitDiagnostics& fit) {
  row.push_back(num(fit.weighted_rss));
  row.push_back(num(fit.r_squared));
  row.push_back(std::to_string(fit.frames_used));
  row.push_back(fit.at_bound ? "1" : "0");
  row.push_back(fit.failed ? "1" : "0");
  row.push_back(fit.message.empty() ? "n/a" : fit.message);
}

const std::vector<std::string> kFitColumns = {"wrss",     "r_squared", "frames_used",
                                              "at_bound", "failed",    "message"};

struct Writer {
  const fs::path& out_dir;
  const bids::Entities& source;
  const std::string& atlas;
  std::vector<fs::path> outputs{};

  fs::path path(bids::Output kind, std::map<std::string, std::string> extra) {
    extra.emplace("atlas", atlas);
    return bids::derivative_path(out_dir, source, kind, extra);
  }
  void tsv(const fs::path& p, const io::Table& t, const io::Json& sidecar) {
    io::write_tsv(p, t);
    io::write_json(sidecar_of(p), sidecar);
    outputs.push_back(p);
    outputs.push_back(sidecar_of(p));
  }
};

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

} // namespace

std::vector<fs::path> run_pet_realign_stage(const SubjectPlan& plan, const PetConfig& config,
                                            const fs::path& out_dir, PetFrames& frames) {
  std::vector<fs::path> outputs;
  frames.runs.clear();
  for (const auto& in : plan.pet) {
    with_context(in.run.image.string(), [&] {
      const pet::FrameTiming timing = timing_of(in);
      Volume run = io::read_nifti_voxels(in.header);
      check_finite(run, timing);
      const fs::path mean_path =
          bids::derivative_path(out_dir, in.run.entities, bids::Output::mean_pet_realigned);
      const fs::path motion_path = bids::derivative_path(out_dir, in.run.entities, bids::Output::pet_motion);
      if (!config.realign) {
        std::error_code ec; // a realigned mean of an earlier run must not be registered instead of this one's
        fs::remove(mean_path, ec);
        fs::remove(sidecar_of(mean_path), ec);
        frames.runs.push_back(std::move(run));
        return;
      }
      const Realignment r = realign(run, timing, config, plan.label);
      const Volume mean = weighted_mean(run, timing.duration_s, {});
      io::write_nifti(mean_path, mean);
      io::write_json(
          sidecar_of(mean_path),
          {{"Description", "Frame-duration-weighted mean of the realigned PET frames (the image the "
                           "registration stage registers when present)"},
           {"Units", in.metadata.units}});
      outputs.push_back(mean_path);
      outputs.push_back(sidecar_of(mean_path));

      const auto& d = run.grid().dims;
      const auto c =
          run.grid().to_world(0.5 * static_cast<double>(d[0] - 1), 0.5 * static_cast<double>(d[1] - 1),
                              0.5 * static_cast<double>(d[2] - 1));
      io::Table t({"frame_start", "frame_end", "realigned", "reference", "trans_x", "trans_y", "trans_z",
                   "rot_x", "rot_y", "rot_z", "framewise_displacement", "mattes_mi", "qc_flagged"});
      std::array<double, 6> prev{};
      double max_fd = 0;
      for (std::size_t f = 0; f < timing.size(); ++f) {
        const auto q = rigid_parameters(r.transforms[f].matrix, c);
        double fd = 0;
        if (f > 0)
          for (std::size_t k = 0; k < 6; ++k) fd += std::abs(q[k] - prev[k]) * (k < 3 ? 1.0 : 50.0);
        max_fd = std::max(max_fd, fd);
        prev = q;
        std::vector<std::string> row{num(timing.start_s[f]), num(timing.start_s[f] + timing.duration_s[f]),
                                     r.registered[f] ? "1" : "0", r.reference[f] ? "1" : "0"};
        for (double x : q) row.push_back(num(x));
        row.push_back(num(fd));
        row.push_back(num(r.metric[f]));
        row.push_back(r.flagged[f] ? "1" : "0");
        t.add_row(row);
      }
      io::write_tsv(motion_path, t);
      io::write_json(
          sidecar_of(motion_path),
          {{"Description",
            "Rigid frame realignment to the frame-duration-weighted mean of the reference frames "
            "(docs/pet.md, Pipeline stage). Parameters map the reference position to the frame's: "
            "x_frame = R (x - c) + c + t, R = Rz Ry Rx, c = the FOV centre."},
           {"FovCentreMm", c},
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
           {"qc_flagged", {{"Description", "1: registration QC flagged (see the log)"}}}});
      outputs.push_back(motion_path);
      outputs.push_back(sidecar_of(motion_path));
      spdlog::info("sub-{}: PET realigned {} of {} frames, max FD {:.2f} mm", plan.label,
                   std::count(r.registered.begin(), r.registered.end(), 1), timing.size(), max_fd);
      frames.runs.push_back(std::move(run));
    });
  }
  return outputs;
}

std::vector<fs::path> run_pet_model_stage(const SubjectPlan& plan, const PetConfig& config,
                                          const PetFrames& frames, const std::string& atlas_name,
                                          const fs::path& out_dir) {
  std::vector<fs::path> outputs;
  for (std::size_t run_i = 0; run_i < plan.pet.size(); ++run_i) {
    const PetInput& in = plan.pet[run_i];
    with_context(in.run.image.string(), [&] {
      const pet::FrameTiming timing = timing_of(in);
      const Volume& run = frames.runs.at(run_i);
      Writer w{out_dir, in.run.entities, atlas_name};
      const std::map<std::string, std::string> space{{"space", "pet"}, {"atlas", atlas_name}};
      const fs::path dseg_path = bids::derivative_path(out_dir, in.run.entities, bids::Output::dseg, space);
      const fs::path dseg_tsv =
          bids::derivative_path(out_dir, in.run.entities, bids::Output::dseg_table, space);
      const Volume labels = with_context(dseg_path.string(), [&] { return io::read_nifti(dseg_path); });
      if (!labels.grid().same_sampling(run.grid(), 1e-3))
        throw Error("the atlas in PET space is not on the PET grid").context(dseg_path.string());
      std::vector<AtlasRoi> rois;
      {
        const io::Table t = io::read_tsv(dseg_tsv);
        const auto ci = t.require_column("index"), cn = t.require_column("name");
        for (std::size_t r = 0; r < t.row_count(); ++r)
          rois.push_back({static_cast<int>(std::lround(t.number(r, ci))), t.cell(r, cn)});
      }

      // Regions: every atlas ROI, then combined pairs the configuration names.
      std::vector<Region> regions;
      const auto find = [&](const std::string& name) -> const Region* {
        for (const auto& r : regions)
          if (r.name == name) return &r;
        return nullptr;
      };
      for (const auto& r : rois) regions.push_back(region_tac(r.name, {r.index}, labels, run));
      const auto ensure = [&](const std::string& name, const std::string& field) {
        const auto idx = resolve(rois, name, field);
        if (!find(name)) regions.push_back(region_tac(name, idx, labels, run));
        return idx;
      };
      const auto ref_idx = ensure(config.reference, "reference");
      std::vector<std::string> targets = config.targets;
      if (targets.empty())
        for (const auto& r : rois)
          if (std::find(ref_idx.begin(), ref_idx.end(), r.index) == ref_idx.end()) targets.push_back(r.name);
      for (const auto& t : targets) ensure(t, "targets");
      const std::vector<std::string> k2p_regions =
          config.k2prime_regions.empty() ? targets : config.k2prime_regions;
      for (const auto& t : k2p_regions) ensure(t, "k2prime_regions");

      // TAC table (BIDS-PET derivatives style): frame_start, frame_end, one column per region.
      std::vector<std::string> cols{"frame_start", "frame_end"};
      for (const auto& r : regions) cols.push_back(r.name);
      io::Table tacs(cols);
      for (std::size_t f = 0; f < timing.size(); ++f) {
        std::vector<std::string> row{num(timing.start_s[f]), num(timing.start_s[f] + timing.duration_s[f])};
        for (const auto& r : regions) row.push_back(num(r.tac[f]));
        tacs.add_row(row);
      }
      io::Json roi_meta = io::Json::object();
      for (const auto& r : regions)
        roi_meta[r.name] = {{"AtlasIndices", r.indices}, {"Voxels", r.voxels}, {"VolumeMm3", r.volume_mm3}};
      w.tsv(w.path(bids::Output::tacs, {{"space", "pet"}}), tacs,
            {{"Description", "Mean activity per atlas ROI in PET space (regions named as _L/_R pairs are "
                             "voxel-weighted means of both)"},
             {"Units", in.metadata.units},
             {"frame_start", {{"Units", "s"}}},
             {"frame_end", {{"Units", "s"}}},
             {"Realigned", config.realign},
             {"Atlas", fs::relative(dseg_path, out_dir).generic_string()},
             {"ReferenceRegion", config.reference},
             {"Regions", roi_meta}});

      // Reference TAC: positive where the models divide by or integrate it.
      const Region& ref = *find(config.reference);
      if (ref.voxels == 0)
        throw Error(fmt::format("reference region \"{}\" has no voxels in PET space", config.reference))
            .context(dseg_path.string());
      const auto mids = timing.mid_s();
      const double half = 0.5 * (timing.start_s.front() + timing.end_s().back());
      for (std::size_t f = 0; f < timing.size(); ++f)
        if (!(ref.tac[f] > 0) && mids[f] >= half)
          throw Error(
              fmt::format("reference region \"{}\" TAC is {} in frame {} (FrameTimesStart {} s); expected "
                          "> 0 after the first half of the scan (is the reference region in the field of "
                          "view, are the frames in activity units?)",
                          config.reference, num(ref.tac[f]), f, num(timing.start_s[f])));

      // Frame weights from the mean TAC of all atlas voxels (a high-count curve).
      std::vector<int> all_idx;
      for (const auto& r : rois) all_idx.push_back(r.index);
      const Region all = region_tac("all", all_idx, labels, run);
      pet::WeightParams wp;
      wp.scheme = config.weighting;
      wp.half_life_s = std::isfinite(timing.half_life_s) ? timing.half_life_s : pet::kC11HalfLifeS;
      const std::vector<double> weights = pet::frame_weights(timing, all.tac, wp);

      const auto usable = [&](const Region& r) { return r.voxels > 0; };
      // k2' for MRTM2/SRTM2/Logan: median MRTM k2' over the k2' regions.
      std::vector<double> k2ps;
      for (const auto& name : k2p_regions) {
        const Region& r = *find(name);
        if (!usable(r)) continue;
        try {
          pet::MrtmParams mp;
          mp.weights = weights;
          const auto b = pet::mrtm(timing, r.tac, ref.tac, mp);
          if (!b.fit.failed && std::isfinite(b.k2_prime) && b.k2_prime > 0) k2ps.push_back(b.k2_prime);
        } catch (const Error&) {
        }
      }
      const double k2p = median(k2ps);
      spdlog::info("sub-{}: PET k2' {} /min (median MRTM over {} region(s))", plan.label, num(k2p),
                   k2ps.size());

      const auto fit_model = [&](const std::string& model, const Region& r) {
        pet::BindingPotential b;
        b.model = model;
        if (!usable(r)) {
          b.fit.failed = true;
          b.fit.message = "no voxels in PET space";
          return b;
        }
        try {
          if (model == "SRTM") {
            pet::SrtmParams p;
            p.weights = weights;
            p.sampling = config.srtm_sampling;
            return pet::srtm(timing, r.tac, ref.tac, p);
          }
          if (model == "BFSRTM") {
            pet::BfSrtmParams p;
            p.weights = weights;
            return pet::bf_srtm(timing, r.tac, ref.tac, p);
          }
          if (model == "MRTM") {
            pet::MrtmParams p;
            p.weights = weights;
            return pet::mrtm(timing, r.tac, ref.tac, p);
          }
          if (model == "LoganRef") {
            pet::LoganRefParams p;
            p.weights = weights;
            p.k2_prime = k2p;
            p.tstar.tstar_s = 60.0 * config.logan_tstar_min;
            return pet::logan_reference(timing, r.tac, ref.tac, p);
          }
          if (!std::isfinite(k2p)) throw Error("no k2' (MRTM failed in every k2' region)");
          if (model == "MRTM2") {
            pet::Mrtm2Params p;
            p.weights = weights;
            p.k2_prime = k2p;
            return pet::mrtm2(timing, r.tac, ref.tac, p);
          }
          pet::Srtm2Params p;
          p.weights = weights;
          p.k2_prime = k2p;
          return pet::srtm2(timing, r.tac, ref.tac, p);
        } catch (const Error& e) {
          b.fit.failed = true;
          b.fit.message = e.what();
          return b;
        }
      };

      io::Table fits({"region", "model", "frame_start", "frame_end", "measured", "fitted", "weight"});
      for (const auto& model : option_names_of(config.models)) {
        io::Table t({"region", "voxels", "bp_nd", "bp_nd_se", "r1", "k2", "k2a", "k2prime", "dvr",
                     "intercept", "tstar_min", "max_rel_residual"});
        std::vector<std::string> c = t.columns();
        c.insert(c.end(), kFitColumns.begin(), kFitColumns.end());
        t = io::Table(c);
        for (const auto& name : targets) {
          const Region& r = *find(name);
          const pet::BindingPotential b = fit_model(model, r);
          std::vector<std::string> row{name,
                                       std::to_string(r.voxels),
                                       num(b.bp_nd),
                                       num(b.bp_nd_se),
                                       num(b.r1),
                                       num(b.k2),
                                       num(b.k2a),
                                       num(b.k2_prime),
                                       num(b.dvr),
                                       num(b.intercept),
                                       num(b.tstar_s / 60.0),
                                       num(b.max_rel_residual)};
          add_fit_columns(row, b.fit);
          t.add_row(row);
          if (b.fit.fitted.size() == timing.size())
            for (std::size_t f = 0; f < timing.size(); ++f) {
              const double measured =
                  b.fit.residuals.size() == timing.size() && std::isfinite(b.fit.residuals[f])
                      ? b.fit.fitted[f] + b.fit.residuals[f]
                      : r.tac[f];
              fits.add_row({name, model, num(timing.start_s[f]),
                            num(timing.start_s[f] + timing.duration_s[f]), num(measured),
                            num(b.fit.fitted[f]), num(weights[f])});
            }
        }
        const bool uses_k2p = model == "MRTM2" || model == "SRTM2" || model == "LoganRef";
        w.tsv(w.path(bids::Output::bp_table, {{"space", "pet"}, {"model", model}}), t,
              {{"Model", model},
               {"ReferenceRegion", config.reference},
               {"Weighting", option_name(config.weighting)},
               {"K2Prime", uses_k2p ? io::Json(k2p) : io::Json(nullptr)},
               {"K2PrimeSource",
                uses_k2p ? "median MRTM k2' over: " + fmt::format("{}", fmt::join(k2p_regions, ", "))
                         : std::string("n/a")},
               {"LoganTstarMinutes", config.logan_tstar_min},
               {"SrtmSampling", option_name(config.srtm_sampling)},
               {"bp_nd", {{"Description", "binding potential (non-displaceable)"}}},
               {"r1", {{"Description", "K1/K1'"}}},
               {"k2", {{"Units", "1/min"}}},
               {"k2a", {{"Units", "1/min"}, {"Description", "k2/(1+BP_ND)"}}},
               {"k2prime", {{"Units", "1/min"}}},
               {"tstar_min", {{"Units", "min"}}},
               {"at_bound", {{"Description", "1: a parameter (or the BF-SRTM basis) is at a bound"}}},
               {"failed", {{"Description", "1: no usable fit; see message"}}}});
      }
      w.tsv(w.path(bids::Output::tacs, {{"space", "pet"}, {"desc", "fits"}}), fits,
            {{"Description",
              "Measured and fitted curves per region and model: TACs for SRTM/SRTM2/MRTM/MRTM2/BFSRTM "
              "(activity units), the Logan plot's ordinate int C_T / C_T (min) for LoganRef; "
              "frames a linear method did not use are n/a"},
             {"Units", in.metadata.units}});

      // Plasma-input models, when asked for and a blood recording exists.
      if (!config.plasma_models.empty()) {
        if (in.run.blood.empty()) {
          spdlog::warn("sub-{}: plasma models {} asked for but there is no _blood.tsv beside {}; skipped",
                       plan.label, fmt::join(option_names_of(config.plasma_models), ", "),
                       in.run.image.filename().string());
        } else {
          const pet::ArterialInput input = with_context(in.run.blood[0].string(), [&] {
            pet::ArterialInput a = pet::arterial_input(bids::read_blood(in.run.blood[0]));
            pet::validate(a, "arterial input");
            return a;
          });
          for (const auto& model : option_names_of(config.plasma_models)) {
            io::Table t({"region", "voxels", "vt", "vt_se", "K1", "k2", "k3", "k4", "vb", "bp_nd", "delay_s",
                         "tstar_min", "max_rel_residual", "wrss", "r_squared", "frames_used", "at_bound",
                         "failed", "message"});
            std::vector<std::string> names = targets;
            names.insert(names.begin(), config.reference);
            for (const auto& name : names) {
              const Region& r = *find(name);
              pet::PlasmaFit pf;
              pf.model = model;
              try {
                pet::CompartmentParams cp;
                cp.weights = weights;
                cp.fit_delay = config.fit_delay;
                cp.delay_min_s = config.delay_min_s;
                cp.delay_max_s = config.delay_max_s;
                if (model == "1TCM") {
                  pf = pet::one_tcm(timing, r.tac, input, cp);
                } else if (model == "2TCM") {
                  // The delay from this region's 1TCM (2TCM fits it no better).
                  const auto d = pet::one_tcm(timing, r.tac, input, cp);
                  cp.fit_delay = false;
                  cp.delay_s = d.delay_s;
                  pf = pet::two_tcm(timing, r.tac, input, cp);
                } else {
                  const auto d = pet::one_tcm(timing, r.tac, input, cp);
                  pet::GraphicalParams gp;
                  gp.weights = weights;
                  gp.delay_s = d.delay_s;
                  gp.tstar.tstar_s = 60.0 * config.logan_tstar_min;
                  pf = pet::logan_plasma(timing, r.tac, input, gp);
                }
              } catch (const Error& e) {
                pf.fit.failed = true;
                pf.fit.message = e.what();
              }
              std::vector<std::string> row{name,
                                           std::to_string(r.voxels),
                                           num(pf.vt),
                                           num(pf.vt_se),
                                           num(pf.K1),
                                           num(pf.k2),
                                           num(pf.k3),
                                           num(pf.k4),
                                           num(pf.vb),
                                           num(pf.bp_nd),
                                           num(pf.delay_s),
                                           num(pf.tstar_s / 60.0),
                                           num(pf.max_rel_residual)};
              add_fit_columns(row, pf.fit);
              t.add_row(row);
            }
            w.tsv(w.path(bids::Output::bp_table, {{"space", "pet"}, {"model", model}}), t,
                  {{"Model", model},
                   {"Input",
                    fs::relative(in.run.blood[0], in.run.image.parent_path().parent_path().parent_path())
                        .generic_string()},
                   {"FitDelay", config.fit_delay},
                   {"DelayRangeSeconds", {config.delay_min_s, config.delay_max_s}},
                   {"vt", {{"Units", "mL/cm3"}}},
                   {"K1", {{"Units", "mL/cm3/min"}}},
                   {"delay_s", {{"Units", "s"}}}});
          }
        }
      }

      // Voxelwise BF-SRTM and MRTM2 maps over the brain (mask of the mean image) and the atlas.
      if (config.voxel_maps) {
        const Volume mean = weighted_mean(run, timing.duration_s, {});
        const Volume brain = reg::brain_mask(mean);
        const auto nvox = static_cast<std::size_t>(run.voxels_per_volume());
        std::vector<std::size_t> vox;
        for (std::size_t i = 0; i < nvox; ++i)
          if (brain.data()[i] > 0.5f || labels.data()[i] > 0.5f) vox.push_back(i);
        std::vector<float> data(vox.size() * timing.size());
        for (std::size_t f = 0; f < timing.size(); ++f) {
          const float* d = run.volume(static_cast<std::int64_t>(f)).data();
          for (std::size_t v = 0; v < vox.size(); ++v) data[f * vox.size() + v] = d[vox[v]];
        }
        pet::VoxelTacs vt;
        vt.frames = timing.size();
        vt.voxels = vox.size();
        vt.data = data.data();
        const auto write_maps = [&](const std::string& model, const pet::ParametricMaps& m) {
          for (const auto& [meas, values] : std::vector<std::pair<std::string, const std::vector<float>*>>{
                   {"BPnd", &m.bp_nd}, {"R1", &m.r1}}) {
            Volume img(run.grid(), 1, 0.0f);
            for (std::size_t v = 0; v < vox.size(); ++v) img.data()[vox[v]] = (*values)[v];
            const fs::path p = bids::derivative_path(out_dir, in.run.entities, bids::Output::bp_map,
                                                     {{"space", "pet"}, {"model", model}, {"meas", meas}});
            io::write_nifti(p, img, {io::StoredType::float32, 6, model + " " + meas, ""});
            io::write_json(sidecar_of(p),
                           {{"Model", model},
                            {"Measure", meas},
                            {"ReferenceRegion", config.reference},
                            {"Weighting", option_name(config.weighting)},
                            {"K2Prime", model == "MRTM2" ? io::Json(k2p) : io::Json(nullptr)},
                            {"Mask", "brain mask of the mean PET image, or any atlas ROI; 0 outside, "
                                     "NaN where the fit failed"}});
            w.outputs.push_back(p);
            w.outputs.push_back(sidecar_of(p));
          }
        };
        pet::BfSrtmParams bp;
        bp.weights = weights;
        write_maps("BFSRTM", pet::bf_srtm_map(timing, ref.tac, vt, bp));
        if (std::isfinite(k2p)) {
          pet::Mrtm2Params mp;
          mp.weights = weights;
          mp.k2_prime = k2p;
          write_maps("MRTM2", pet::mrtm2_map(timing, ref.tac, vt, mp));
        } else {
          spdlog::warn("sub-{}: no k2' (MRTM failed in every k2' region): no MRTM2 map", plan.label);
        }
      }
      outputs.insert(outputs.end(), w.outputs.begin(), w.outputs.end());
    });
  }
  return outputs;
}

} // namespace rewardpath::pipeline
