// simulate_dataset(): participants, anatomy, fMRI (MID) and PET per subject, written as a BIDS
// dataset (OUT_DIR/bids) with its ground truth beside it (OUT_DIR/truth). docs/simulate.md
// describes the model, the numbers and the files.
#include "rewardpath/simulate/simulate.hpp"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <numbers>

#include "rewardpath/core/atomic_file.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/provenance.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/simulate/anatomy.hpp"
#include "rewardpath/simulate/fmri.hpp"
#include "rewardpath/simulate/mid.hpp"
#include "rewardpath/simulate/pet.hpp"
#include "rewardpath/simulate/pet_image.hpp"
#include "rewardpath/simulate/random.hpp"

namespace rewardpath::simulate {
namespace fs = std::filesystem;
using io::Json;

namespace {

// Random streams: derive_seed(seed, subject number (0 = dataset), key).
enum Key : std::uint64_t {
  k_groups = 1,
  k_participant,
  k_pose_mri,
  k_pose_pet,
  k_fov,
  k_events,
  k_effects,
  k_noise_params,
  k_bold,
  k_motion,
  k_t1w,
  k_pet_truth,
  k_pet_image,
  k_pet_motion,
  k_session_offset,
};

struct SizeSpec {
  std::string name;
  std::array<std::int64_t, 3> bold_dims;
  std::array<double, 3> bold_mm;
  std::int64_t volumes;
  double tr_s;
  std::array<std::int64_t, 3> t1_dims;
  std::array<double, 3> t1_mm;
  std::array<std::int64_t, 3> pet_dims;
  std::array<double, 3> pet_mm;
  double pet_psf_fwhm_mm;
  double pet_minutes;
};

SizeSpec size_spec(Size s) {
  if (s == Size::small)
    return {"small",         {64, 64, 42}, {3.0, 3.0, 3.0}, 100, 2.0, {96, 120, 100},
            {2.0, 2.0, 2.0}, {48, 48, 40}, {4.0, 4.0, 4.0}, 6.0, 60.0};
  return {"standard",      {64, 64, 36}, {3.0, 3.0, 3.5}, 300, 2.0, {176, 240, 208},
          {1.0, 1.0, 1.0}, {96, 96, 64}, {2.5, 2.5, 2.5}, 5.0, 60.0};
}

// Task effects per structure (both hemispheres), percent signal change per unit regressor
// (mid::regressor_names() order: gain/loss/neutral anticipation, probe, gain/loss/neutral hit/miss).
struct StructureEffects {
  const char* structure;
  std::array<double, 10> beta;
};
constexpr std::array<StructureEffects, 9> kBaseEffects{{
    {"NAcc", {0.80, 0.45, 0.15, 0.0, 0.35, -0.15, 0.15, 0.0, 0.0, 0.0}},
    {"VTA", {0.65, 0.30, 0.10, 0.0, 0.20, -0.10, 0.0, 0.0, 0.0, 0.0}},
    {"vmPFC", {0.0, 0.0, 0.0, 0.0, 0.50, -0.20, 0.20, -0.10, 0.0, 0.0}},
    {"OFC", {0.15, 0.10, 0.0, 0.0, 0.35, -0.10, 0.15, 0.0, 0.0, 0.0}},
    {"Amygdala", {0.15, 0.45, 0.0, 0.0, 0.0, 0.0, 0.0, 0.20, 0.0, 0.0}},
    {"Caudate", {0.35, 0.30, 0.10, 0.20, 0.10, 0.0, 0.0, 0.0, 0.0, 0.0}},
    {"Putamen", {0.25, 0.20, 0.05, 0.30, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}},
    {"Hippocampus", {}},
    {"CerebellumRef", {}},
}};
// SHAPS: the gain-anticipation effect of these structures is intercept - slope * SHAPS + N(0, sd).
constexpr std::array<const char*, 2> kShapsStructures{"NAcc", "VTA"};
constexpr double kShapsSlope = 0.035;     // percent signal change per SHAPS point
constexpr double kShapsResidualSd = 0.08; // between-subject sd around the line (percent)
constexpr double kEffectCv = 0.10;        // between-subject variation of the other effects

std::string structure_of(const std::string& roi) {
  if (roi.size() > 2 && (roi.ends_with("_L") || roi.ends_with("_R"))) return roi.substr(0, roi.size() - 2);
  return roi;
}

struct Participant {
  std::string label; // "01"
  int age = 0;
  std::string sex;
  std::string group;
  int shaps = 0;
};

Json affine_json(const Affine& a) {
  Json j = Json::array();
  for (const auto& row : a) j.push_back(Json(std::vector<double>(row.begin(), row.end())));
  return j;
}

Json pose_json(const Pose& p) {
  return {{"rotation_deg", p.rotation_deg},
          {"translation_mm", p.translation_mm},
          {"scale", p.scale},
          {"shear_xy_xz_yz", p.shear},
          {"matrix", affine_json(p.matrix())},
          {"composition", "x_subject = T(translation) Rz Ry Rx Shear Scale x_template (template world -> "
                          "subject world, mm)"}};
}

io::Table motion_table(const std::vector<RigidParams>& m) {
  io::Table t({"trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"});
  for (const auto& q : m) {
    std::vector<std::string> row;
    for (double v : q) row.push_back(io::format_number(v));
    t.add_row(std::move(row));
  }
  return t;
}

Json motion_json(const std::vector<RigidParams>& m, const std::array<double, 3>& centre,
                 const std::string& file, const std::string& unit) {
  if (m.empty()) return {{"applied", false}};
  const auto fd = fmri::framewise_displacement(m);
  double max_t = 0.0, max_r = 0.0, mean_fd = 0.0, max_fd = 0.0;
  for (std::size_t n = 0; n < m.size(); ++n) {
    for (std::size_t p = 0; p < 3; ++p) max_t = std::max(max_t, std::abs(m[n][p]));
    for (std::size_t p = 3; p < 6; ++p) max_r = std::max(max_r, std::abs(m[n][p]) * 180.0 / std::numbers::pi);
    mean_fd += fd[n] / static_cast<double>(std::max<std::size_t>(1, m.size() - 1));
    max_fd = std::max(max_fd, fd[n]);
  }
  Json params = Json::array();
  for (const auto& q : m) params.push_back(Json(std::vector<double>(q.begin(), q.end())));
  return {{"applied", true},
          {"convention",
           "per " + unit +
               ": trans_x, trans_y, trans_z (mm), rot_x, rot_y, rot_z (rad); the head point at x in "
               "the reference " +
               unit + " (the first) is at R (x - centre) + centre + t, R = Rz Ry Rx, scanner world mm"},
          {"centre_mm", centre},
          {"parameters_file", file},
          {"parameters", params},
          {"max_abs_translation_mm", max_t},
          {"max_abs_rotation_deg", max_r},
          {"mean_framewise_displacement_mm", mean_fd},
          {"max_framewise_displacement_mm", max_fd}};
}

Volume labels_volume(const Grid& grid, const std::vector<int>& labels) {
  Volume v(grid, 1);
  for (std::size_t n = 0; n < labels.size(); ++n) v.data()[n] = static_cast<float>(labels[n]);
  return v;
}

io::NiftiWriteOptions stored(io::StoredType type, const std::string& description) {
  io::NiftiWriteOptions o;
  o.type = type;
  o.description = description;
  return o;
}

std::string rel(const fs::path& p, const fs::path& root) {
  return p.lexically_relative(root).generic_string();
}

// Everything about one subject, for one dataset.
class SubjectSimulation {
public:
  SubjectSimulation(const TemplateAnatomy& anatomy, const Options& o, const SizeSpec& size,
                    const fs::path& out, const Participant& p, int number)
      : a_(anatomy), o_(o), size_(size), out_(out), bids_(out / "bids"), p_(p),
        n_(static_cast<std::uint64_t>(number)), sub_("sub-" + p.label), truth_dir_(out / "truth" / sub_) {}

  void run() {
    fs::create_directories(truth_dir_);
    truth_ = {
        {"participant_id", sub_}, {"age", p_.age}, {"sex", p_.sex}, {"group", p_.group}, {"shaps", p_.shaps}};
    anat();
    if (o_.func) func();
    if (o_.pet) pet();
    io::write_json(truth_dir_ / (sub_ + "_truth.json"), truth_);
  }

private:
  std::uint64_t seed(Key k) const { return derive_seed(o_.seed, n_, k); }

  std::array<double, 3> fov_centre(const Affine& pose, std::array<double, 3> template_point, Rng& rng) const {
    auto c = transform_point(pose, template_point);
    for (auto& x : c) x += rng.normal(0.0, 2.0); // the radiographer's placement
    return c;
  }

  void anat() {
    Rng rng(seed(k_pose_mri));
    pose_mri_ = random_pose(rng);
    const Affine m = pose_mri_.matrix();
    Rng fov(seed(k_fov));
    const Grid g = scanner_grid(size_.t1_dims, size_.t1_mm, fov_centre(m, {0.0, -18.0, 18.0}, fov));
    const Volume t1 = simulate_t1w(a_, g, m, {}, seed(k_t1w));
    const fs::path img = bids_ / sub_ / "anat" / (sub_ + "_T1w.nii.gz");
    io::write_nifti(img, t1, stored(io::StoredType::int16, "rewardpath simulate T1w"));
    io::write_json(bids_ / sub_ / "anat" / (sub_ + "_T1w.json"),
                   {{"Modality", "MR"},
                    {"MagneticFieldStrength", 3},
                    {"Manufacturer", "rewardpath"},
                    {"ManufacturersModelName", "simulated"},
                    {"PulseSequenceType", "MPRAGE (simulated from Colin27)"},
                    {"RepetitionTime", 2.3},
                    {"EchoTime", 0.00298},
                    {"InversionTime", 0.9},
                    {"FlipAngle", 9}});
    const fs::path mask = truth_dir_ / (sub_ + "_T1w_brainmask.nii.gz");
    io::write_nifti(mask, brain_mask(a_, g, m), stored(io::StoredType::uint8, "true brain mask"));
    truth_["anat"] = {{"image", rel(img, out_)},
                      {"template_space", a_.brain.grid().space},
                      {"template_to_subject", affine_json(m)},
                      {"pose", pose_json(pose_mri_)},
                      {"template_brain_centroid_mm", a_.brain_centroid_mm},
                      {"brain_mask", rel(mask, out_)}};
  }

  void func() {
    const std::string stem = sub_ + "_task-mid_run-01";
    const fs::path fdir = bids_ / sub_ / "func";
    // The head moved a little between the T1w and the BOLD run.
    Rng off(seed(k_session_offset));
    RigidParams offset{};
    for (std::size_t p = 0; p < 3; ++p) offset[p] = off.uniform(-1.5, 1.5);
    for (std::size_t p = 3; p < 6; ++p) offset[p] = off.uniform(-1.0, 1.0) * std::numbers::pi / 180.0;
    const Affine offset_m = rigid_matrix(offset, {0.0, 0.0, 0.0});
    const Affine m = multiply(offset_m, pose_mri_.matrix());
    Rng fov(seed(k_fov) + 1);
    const Grid grid = scanner_grid(size_.bold_dims, size_.bold_mm, fov_centre(m, {0.0, -18.0, 8.0}, fov));
    const PartialVolume pv = partial_volume(a_, grid, m);

    fmri::BoldSpec spec;
    spec.volumes = size_.volumes;
    spec.tr_s = size_.tr_s;
    spec.slice_timing_s = mid::interleaved_slice_timing(static_cast<int>(grid.dims[2]), spec.tr_s);
    Rng ev_rng(seed(k_events));
    const auto trials = mid::schedule(static_cast<double>(spec.volumes) * spec.tr_s, ev_rng);
    spec.events = mid::events(trials);

    // Effects of this subject, per structure.
    Rng eff(seed(k_effects));
    std::map<std::string, std::vector<double>> effects;
    Json shaps = {{"slope_percent_per_point", kShapsSlope},
                  {"regressor", "gain_anticipation"},
                  {"structures", kShapsStructures},
                  {"model", "effect = intercept - slope * shaps + deviation"},
                  {"shaps", p_.shaps}};
    for (const auto& se : kBaseEffects) {
      std::vector<double> b(se.beta.begin(), se.beta.end());
      const bool shaps_driven = std::find_if(kShapsStructures.begin(), kShapsStructures.end(),
                                             [&](const char* s) { return std::string(s) == se.structure; }) !=
                                kShapsStructures.end();
      for (std::size_t r = 0; r < b.size(); ++r) {
        if (shaps_driven && r == 0) {
          const double dev = eff.normal(0.0, kShapsResidualSd);
          b[r] = se.beta[r] - kShapsSlope * p_.shaps + dev;
          shaps["intercept"][se.structure] = se.beta[r];
          shaps["deviation"][se.structure] = dev;
        } else if (b[r] != 0.0) {
          b[r] *= 1.0 + kEffectCv * eff.normal();
        }
      }
      effects[se.structure] = b;
    }
    Json effects_json = Json::object(), contrasts_json = Json::object();
    const auto& names = mid::regressor_names();
    for (const auto& roi : a_.atlas.rois) {
      const auto it = effects.find(structure_of(roi.name));
      const std::vector<double> b = it != effects.end() ? it->second : std::vector<double>(names.size(), 0.0);
      spec.effects.push_back({roi.index, b});
      Json e = Json::object();
      for (std::size_t r = 0; r < names.size(); ++r) e[names[r]] = b[r];
      effects_json[roi.name] = e;
      contrasts_json[roi.name] = {{"gain_vs_neutral_anticipation", b[0] - b[2]},
                                  {"loss_vs_neutral_anticipation", b[1] - b[2]},
                                  {"gain_vs_loss_anticipation", b[0] - b[1]},
                                  {"gain_hit_vs_miss", b[4] - b[5]},
                                  {"loss_hit_vs_miss", b[6] - b[7]}};
    }

    // Noise, drift and baseline of this session.
    Rng np(seed(k_noise_params));
    auto& nz = spec.noise;
    nz.ar = {np.uniform(0.15, 0.25), np.uniform(0.3, 0.5), np.uniform(0.1, 0.2), 0.05};
    nz.sd = {np.uniform(0.02, 0.03), np.uniform(0.013, 0.018), np.uniform(0.009, 0.012), 0.03};
    spec.drift.linear = np.uniform(-0.015, 0.015);
    for (std::size_t k = 0; k < 3; ++k)
      spec.drift.cosine[k] = np.normal(0.0, 0.004 / static_cast<double>(k + 1));
    spec.baseline.gain = np.uniform(0.85, 1.15);
    spec.motion_centre_mm = grid.to_world(0.5 * static_cast<double>(grid.dims[0] - 1),
                                          0.5 * static_cast<double>(grid.dims[1] - 1),
                                          0.5 * static_cast<double>(grid.dims[2] - 1));
    if (o_.motion) {
      Rng mr(seed(k_motion));
      spec.motion = fmri::motion_trajectory(spec.volumes, spec.tr_s, mr);
    }

    fmri::BoldTruth bt;
    Volume bold = fmri::simulate_bold(pv, spec, seed(k_bold), &bt);
    const fs::path img = fdir / (stem + "_bold.nii.gz");
    io::write_nifti(img, bold, stored(io::StoredType::int16, "rewardpath simulate BOLD"));
    bold = Volume();
    io::write_json(
        fdir / (stem + "_bold.json"),
        {{"TaskName", "mid"},
         {"TaskDescription", "Monetary incentive delay: gain, loss and neutral cues, a speeded target, "
                             "feedback (simulated)"},
         {"RepetitionTime", spec.tr_s},
         {"SliceTiming", spec.slice_timing_s},
         {"SliceEncodingDirection", "k"},
         {"PhaseEncodingDirection", "j-"},
         {"EchoTime", 0.03},
         {"FlipAngle", 77},
         {"MagneticFieldStrength", 3},
         {"Manufacturer", "rewardpath"},
         {"ManufacturersModelName", "simulated"}});
    const fs::path events = fdir / (stem + "_events.tsv");
    io::write_tsv(events, mid::events_table(trials));

    // Truth maps.
    const auto file = [&](const std::string& what) { return truth_dir_ / (stem + "_" + what + ".nii.gz"); };
    const auto f32 = stored(io::StoredType::float32, "truth");
    io::write_nifti(file("baseline"), bt.baseline, f32);
    io::write_nifti(file("ar1"), bt.ar, f32);
    io::write_nifti(file("noisesd"), bt.noise_sd, f32);
    io::write_nifti(file("effects"), bt.effects, f32);
    Volume tissue(grid, 4);
    const std::array<Tissue, 4> order{Tissue::csf, Tissue::gm, Tissue::wm, Tissue::scalp};
    for (std::size_t c = 0; c < 4; ++c)
      std::copy(pv.tissue[static_cast<std::size_t>(order[c])].begin(),
                pv.tissue[static_cast<std::size_t>(order[c])].end(),
                tissue.volume(static_cast<std::int64_t>(c)).data());
    io::write_nifti(file("tissue"), tissue, f32);
    const auto labels = pv.majority_labels();
    io::write_nifti(file("roilabels"), labels_volume(grid, labels),
                    stored(io::StoredType::int16, "true ROI labels"));
    std::vector<int> active(labels.size(), 0);
    for (std::size_t v = 0; v < labels.size(); ++v) {
      if (labels[v] == 0) continue;
      for (std::size_t r = 0; r < names.size(); ++r)
        if (bt.effects.data()[r * labels.size() + v] != 0.0f) active[v] = labels[v];
    }
    io::write_nifti(file("activemask"), labels_volume(grid, active),
                    stored(io::StoredType::int16, "active voxels"));
    const fs::path motion_tsv = truth_dir_ / (stem + "_motion.tsv");
    if (!spec.motion.empty()) io::write_tsv(motion_tsv, motion_table(spec.motion));

    Json roi_voxels = Json::object();
    for (const auto& roi : a_.atlas.rois)
      roi_voxels[roi.name] = std::count(labels.begin(), labels.end(), roi.index);
    truth_["func"] = {
        {"image", rel(img, out_)},
        {"events", rel(events, out_)},
        {"template_to_subject", affine_json(m)},
        {"session_offset",
         {{"parameters", offset},
          {"description",
           "rigid head movement between the T1w and the BOLD run (about the scanner origin, same "
           "convention as the motion parameters); template_to_subject includes it"}}},
        {"repetition_time_s", spec.tr_s},
        {"volumes", spec.volumes},
        {"slice_timing_s", spec.slice_timing_s},
        {"slice_timing_applied", true},
        {"trials", trials.size()},
        {"hit_rate",
         [&] {
           double h = 0.0;
           for (const auto& t : trials) h += t.hit ? 1.0 : 0.0;
           return trials.empty() ? 0.0 : h / static_cast<double>(trials.size());
         }()},
        {"regressors", names},
        {"regressor_convention",
         "boxcar of each event's duration convolved with the SPM canonical HRF (double "
         "gamma 6 s / 16 s, ratio 1/6) scaled to unit area: sustained activity plateaus "
         "at 1; sampled at each slice's acquisition time"},
        {"signal_model",
         "S0 (1 + drift) (1 + 0.01 sum_r effect_r x_r(t)); effects in percent signal change per "
         "unit regressor; a voxel's effect is the fraction-weighted sum over the ROIs in it"},
        {"effects_percent", effects_json},
        {"contrasts_percent", contrasts_json},
        {"shaps_effect", shaps},
        {"roi_voxels_majority", roi_voxels},
        {"noise",
         {{"model", "AR(1) per voxel, coefficient and sd mixed from the voxel's tissue fractions"},
          {"ar1", {{"csf", nz.ar.csf}, {"gm", nz.ar.gm}, {"wm", nz.ar.wm}, {"scalp", nz.ar.scalp}}},
          {"sd_fraction_of_baseline",
           {{"csf", nz.sd.csf}, {"gm", nz.sd.gm}, {"wm", nz.sd.wm}, {"scalp", nz.sd.scalp}}},
          {"ar1_spatial_sd", nz.ar_spatial_sd},
          {"smooth_fraction", nz.smooth_fraction},
          {"smooth_fwhm_mm", nz.smooth_fwhm_mm},
          {"background_rayleigh_scale", nz.background_sd}}},
        {"drift",
         {{"linear_fraction", spec.drift.linear},
          {"cosine_fraction", spec.drift.cosine},
          {"cosine_basis", "cos(pi k (t + 0.5) / T), k = 1, 2, 3, t = volume index, T = volumes"},
          {"spatial_variation", spec.drift.spatial_variation}}},
        {"baseline",
         {{"signal",
           {{"csf", spec.baseline.signal.csf},
            {"gm", spec.baseline.signal.gm},
            {"wm", spec.baseline.signal.wm},
            {"scalp", spec.baseline.signal.scalp}}},
          {"gain", spec.baseline.gain},
          {"coil_amplitude", spec.baseline.coil_amplitude},
          {"dropout",
           {{"depth", spec.baseline.dropout_depth},
            {"centre_template_mm", spec.baseline.dropout_centre_mm},
            {"sigma_mm", spec.baseline.dropout_sigma_mm}}}}},
        {"motion", motion_json(spec.motion, spec.motion_centre_mm,
                               spec.motion.empty() ? "" : rel(motion_tsv, out_), "volume")},
        {"files",
         {{"baseline", rel(file("baseline"), out_)},
          {"ar1", rel(file("ar1"), out_)},
          {"noise_sd", rel(file("noisesd"), out_)},
          {"effects", rel(file("effects"), out_)},
          {"tissue_fractions", rel(file("tissue"), out_)},
          {"tissue_order", {"csf", "gm", "wm", "scalp"}},
          {"roi_labels", rel(file("roilabels"), out_)},
          {"active_mask", rel(file("activemask"), out_)}}}};
  }

  void pet() {
    const std::string stem = sub_ + "_trc-raclopride";
    const fs::path pdir = bids_ / sub_ / "pet";
    // A new session: the head is repositioned (rotation, translation of its own), but it is the same
    // head, so scale and shear (the subject's anatomy relative to the template) are the MRI session's.
    // Its own scale/shear made the PET head a different shape from the T1w (a best rigid fit was still
    // ~2 mm off on average, 4-5 mm at most).
    Rng rng(seed(k_pose_pet));
    Pose pose = random_pose(rng);
    pose.scale = pose_mri_.scale;
    pose.shear = pose_mri_.shear;
    const Affine m = pose.matrix();
    Rng fov(seed(k_fov) + 2);
    const Grid grid = scanner_grid(size_.pet_dims, size_.pet_mm, fov_centre(m, {0.0, -20.0, 6.0}, fov));
    const PartialVolume pv = partial_volume(a_, grid, m);

    Rng tr(seed(k_pet_truth));
    pet::PetImageSpec spec;
    spec.frames = pet::raclopride_schedule(size_.pet_minutes);
    const double injected = std::round(tr.uniform(200.0, 300.0) * 10.0) / 10.0; // as the sidecar states it
    spec.input = pet::raclopride_input(injected, &tr);
    spec.regions = pet::raclopride_truth(&tr);
    spec.psf_fwhm_mm = size_.pet_psf_fwhm_mm;
    spec.noise_level = pet::noise_level_for_voxel(size_.pet_mm[0] * size_.pet_mm[1] * size_.pet_mm[2]);
    spec.motion_centre_mm = grid.to_world(0.5 * static_cast<double>(grid.dims[0] - 1),
                                          0.5 * static_cast<double>(grid.dims[1] - 1),
                                          0.5 * static_cast<double>(grid.dims[2] - 1));
    if (o_.motion) {
      Rng mr(seed(k_pet_motion));
      spec.motion = pet::pet_motion(spec.frames, mr);
    }
    pet::PetImageTruth pt;
    const Volume img = pet::simulate_pet(pv, spec, seed(k_pet_image), &pt);
    const fs::path img_path = pdir / (stem + "_pet.nii.gz");
    io::write_nifti(img_path, img, stored(io::StoredType::float32, "rewardpath simulate PET"));
    const double total_s = spec.frames.start_s.back() + spec.frames.duration_s.back();
    io::write_json(pdir / (stem + "_pet.json"),
                   {{"Manufacturer", "rewardpath"},
                    {"ManufacturersModelName", "simulated"},
                    {"BodyPart", "Brain"},
                    {"Units", "Bq/mL"},
                    {"TracerName", "raclopride"},
                    {"TracerRadionuclide", "C11"},
                    {"TracerMolecularWeight", 347.2},
                    {"TracerMolecularWeightUnits", "g/mol"},
                    {"InjectedRadioactivity", injected},
                    {"InjectedRadioactivityUnits", "MBq"},
                    {"InjectedMass", 1.5},
                    {"InjectedMassUnits", "ug"},
                    {"SpecificRadioactivity", std::round(injected / 1.5 * 1000.0) / 1000.0},
                    {"SpecificRadioactivityUnits", "MBq/ug"},
                    {"ModeOfAdministration", "bolus"},
                    {"TimeZero", "00:00:00"},
                    {"ScanStart", 0},
                    {"InjectionStart", 0},
                    {"FrameTimesStart", spec.frames.start_s},
                    {"FrameDuration", spec.frames.duration_s},
                    {"AcquisitionMode", "list mode"},
                    {"ImageDecayCorrected", true},
                    {"ImageDecayCorrectionTime", 0},
                    {"ReconMethodName", "OSEM"},
                    {"ReconMethodParameterLabels", {"subsets", "iterations"}},
                    {"ReconMethodParameterUnits", {"none", "none"}},
                    {"ReconMethodParameterValues", {16, 4}},
                    {"ReconFilterType", "none"},
                    {"AttenuationCorrection", "CT-based"},
                    {"ScatterCorrectionMethod", "single scatter simulation"}});
    Json files = Json::object();
    if (o_.blood) {
      const auto samples = pet::blood_samples(spec.input, total_s);
      const fs::path blood = pdir / (stem + "_recording-arterial_blood.tsv");
      io::write_tsv(blood, pet::blood_table(samples));
      io::write_json(
          pdir / (stem + "_recording-arterial_blood.json"),
          {{"PlasmaAvail", true},
           {"WholeBloodAvail", true},
           {"MetaboliteAvail", true},
           {"MetaboliteMethod", "HPLC (simulated)"},
           {"Description", "Arterial samples: automated every 5 s for 2 min, then manual"},
           {"MetaboliteRecoveryCorrectionApplied", false},
           {"DispersionCorrected", false},
           {"time", {{"Description", "Time of the sample from injection (TimeZero)"}, {"Units", "s"}}},
           {"plasma_radioactivity",
            {{"Description", "Total radioactivity in plasma (parent and metabolites), decay-corrected to "
                             "injection"},
             {"Units", "Bq/mL"}}},
           {"whole_blood_radioactivity",
            {{"Description", "Radioactivity in whole blood, decay-corrected to injection"},
             {"Units", "Bq/mL"}}},
           {"metabolite_parent_fraction",
            {{"Description", "Fraction of plasma radioactivity that is unmetabolised raclopride"},
             {"Units", "unitless"}}}});
      files["blood"] = rel(blood, out_);
    }

    const auto file = [&](const std::string& what, const std::string& ext = ".nii.gz") {
      return truth_dir_ / (stem + "_" + what + ext);
    };
    io::write_nifti(file("bpnd"), pt.bp_nd, stored(io::StoredType::float32, "true BP_ND"));
    io::write_nifti(file("roilabels"), labels_volume(grid, pv.majority_labels()),
                    stored(io::StoredType::int16, "true ROI labels"));
    io::Table tacs([&] {
      std::vector<std::string> c{"frame_start", "frame_duration"};
      for (const auto& n : pt.region_names) c.push_back(n);
      return c;
    }());
    for (std::size_t f = 0; f < spec.frames.size(); ++f) {
      std::vector<std::string> row{io::format_number(spec.frames.start_s[f]),
                                   io::format_number(spec.frames.duration_s[f])};
      for (const auto& tac : pt.tacs) row.push_back(io::format_number(tac[f]));
      tacs.add_row(std::move(row));
    }
    io::write_tsv(file("tacs", ".tsv"), tacs);
    const fs::path motion_tsv = file("motion", ".tsv");
    if (!spec.motion.empty()) io::write_tsv(motion_tsv, motion_table(spec.motion));
    files["bp_nd"] = rel(file("bpnd"), out_);
    files["roi_labels"] = rel(file("roilabels"), out_);
    files["tacs"] = rel(file("tacs", ".tsv"), out_);

    Json bp = Json::object(), kin = Json::object();
    for (const auto& r : spec.regions) {
      bp[r.roi] = r.bp_nd;
      kin[r.roi] = {{"K1", r.kinetics.K1},
                    {"k2", r.kinetics.k2},
                    {"k3", r.kinetics.k3},
                    {"k4", r.kinetics.k4},
                    {"vb", r.kinetics.vb}};
    }
    const auto& in = spec.input;
    truth_["pet"] = {
        {"image", rel(img_path, out_)},
        {"template_to_subject", affine_json(m)},
        {"pose", pose_json(pose)},
        {"injected_mbq", injected},
        {"bp_nd", bp},
        {"kinetics", kin},
        {"kinetics_units", "K1 mL/cm3/min, k2-k4 1/min, vb fraction"},
        {"reference_region", "CerebellumRef_L/R (one-tissue)"},
        {"input",
         {{"delay_s", in.delay_s},
          {"a1", in.a1},
          {"a2", in.a2},
          {"a3", in.a3},
          {"l1", in.l1},
          {"l2", in.l2},
          {"l3", in.l3},
          {"metabolite_max", in.metabolite_max},
          {"metabolite_t50_min", in.metabolite_t50_min},
          {"metabolite_hill", in.metabolite_hill},
          {"blood_plasma_ratio", in.blood_plasma_ratio}}},
        {"image_model",
         "fraction-weighted region TACs (non-ROI grey/white matter: background_gm/_wm; CSF 0.1 and "
         "scalp 0.3 x background_wm), moved per frame, Gaussian PSF, counting noise"},
        {"psf_fwhm_mm", spec.psf_fwhm_mm},
        {"noise_level", spec.noise_level},
        {"noise_fwhm_mm", spec.noise_fwhm_mm},
        {"noise_floor_fraction", spec.noise_floor_fraction},
        {"motion", motion_json(spec.motion, spec.motion_centre_mm,
                               spec.motion.empty() ? "" : rel(motion_tsv, out_), "frame")},
        {"files", files}};
  }

  const TemplateAnatomy& a_;
  const Options& o_;
  const SizeSpec& size_;
  fs::path out_, bids_;
  Participant p_;
  std::uint64_t n_;
  std::string sub_;
  fs::path truth_dir_;
  Pose pose_mri_;
  Json truth_;
};

std::vector<Participant> make_participants(const Options& o) {
  // Balanced groups in a random order, then each subject's own draws.
  std::vector<std::string> groups;
  for (int s = 0; s < o.subjects; ++s) groups.push_back(s % 2 == 0 ? "control" : "patient");
  Rng g(derive_seed(o.seed, 0, k_groups));
  for (std::size_t i = groups.size(); i > 1; --i)
    std::swap(groups[i - 1], groups[static_cast<std::size_t>(g.integer(0, static_cast<int>(i - 1)))]);
  std::vector<Participant> ps;
  const int width = o.subjects >= 100 ? 3 : 2;
  for (int s = 1; s <= o.subjects; ++s) {
    Rng r(derive_seed(o.seed, static_cast<std::uint64_t>(s), k_participant));
    Participant p;
    p.label = fmt::format("{:0{}d}", s, width);
    p.group = groups[static_cast<std::size_t>(s - 1)];
    p.age = r.integer(18, 55);
    p.sex = r.uniform() < 0.5 ? "F" : "M";
    const double shaps = p.group == "patient" ? r.normal(8.0, 2.5) : r.normal(2.0, 1.5);
    p.shaps = static_cast<int>(std::clamp(std::lround(shaps), 0L, 14L));
    ps.push_back(p);
  }
  return ps;
}

void write_dataset_files(const fs::path& bids, const std::vector<Participant>& ps, const Options& o) {
  io::write_json(bids / "dataset_description.json",
                 {{"Name", "rewardpath simulated reward-pathway dataset (MID fMRI, [11C]raclopride PET)"},
                  {"BIDSVersion", "1.9.0"},
                  {"DatasetType", "raw"},
                  {"License", "CC0"},
                  {"Authors", {"rewardpath simulate"}},
                  {"GeneratedBy", {{{"Name", "rewardpath simulate"}, {"Version", version()}}}}});
  io::Table t({"participant_id", "age", "sex", "group", "shaps"});
  for (const auto& p : ps)
    t.add_row({"sub-" + p.label, std::to_string(p.age), p.sex, p.group, std::to_string(p.shaps)});
  io::write_tsv(bids / "participants.tsv", t);
  io::write_json(bids / "participants.json",
                 {{"participant_id", {{"Description", "Participant identifier"}}},
                  {"age", {{"Description", "Age at scanning"}, {"Units", "year"}}},
                  {"sex", {{"Description", "Sex"}, {"Levels", {{"F", "female"}, {"M", "male"}}}}},
                  {"group",
                   {{"Description", "Study group"},
                    {"Levels", {{"control", "healthy control"}, {"patient", "patient with depression"}}}}},
                  {"shaps",
                   {{"Description", "Snaith-Hamilton Pleasure Scale total (0-14; higher = more anhedonia)"},
                    {"Units", "score"}}}});
  io::write_json(
      bids / "task-mid_events.json",
      {{"onset", {{"Description", "Event onset from the start of the first volume"}, {"Units", "s"}}},
       {"duration", {{"Description", "Event duration"}, {"Units", "s"}}},
       {"trial_type",
        {{"Description", "Trial phase and condition"},
         {"Levels",
          {{"gain_anticipation", "gain cue and anticipation delay"},
           {"loss_anticipation", "loss cue and anticipation delay"},
           {"neutral_anticipation", "neutral cue and anticipation delay"},
           {"probe", "target (respond as fast as possible)"},
           {"gain_hit", "feedback: money won"},
           {"gain_miss", "feedback: no win"},
           {"loss_hit", "feedback: loss avoided"},
           {"loss_miss", "feedback: money lost"},
           {"neutral_hit", "feedback: neutral, in time"},
           {"neutral_miss", "feedback: neutral, too slow"}}}}},
       {"response_time", {{"Description", "Response time from target onset"}, {"Units", "s"}}},
       {"cue",
        {{"Description", "Cue of the trial"},
         {"Levels", {{"gain", "win $"}, {"loss", "lose $"}, {"neutral", "no money"}}}}},
       {"outcome",
        {{"Description", "Whether the response came while the target was shown"},
         {"Levels", {{"hit", "in time"}, {"miss", "too slow"}}}}}});
  std::string modalities = o.func && o.pet ? "fMRI (monetary incentive delay task) and [11C]raclopride PET"
                           : o.func        ? "fMRI (monetary incentive delay task)"
                                           : "[11C]raclopride PET";
  std::string readme = fmt::format(
      "# rewardpath simulated dataset\n\n"
      "Synthetic {} for {} participants, made by `rewardpath simulate` (version {}), seed {}.\n"
      "Anatomy is the Colin27 brain (Holmes et al. 1998) in a random pose per subject; task effects,\n"
      "binding potentials, noise and motion are known: see ../truth/ beside this directory.\n"
      "Not real data. License CC0.\n",
      modalities, ps.size(), version(), o.seed);
  write_file_atomic(bids / "README", readme);
}

} // namespace

Result simulate_dataset(const fs::path& out_dir, const Options& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.subjects < 1 || options.subjects > 1000)
    throw Error(fmt::format("--subjects must be 1 to 1000, got {}", options.subjects));
  if (!options.func && !options.pet)
    throw Error("nothing to simulate: choose at least one of func, pet (--modalities)");
  const fs::path out = fs::absolute(out_dir).lexically_normal();
  const fs::path bids = out / "bids", truth = out / "truth";
  // Only ever replace our own earlier output.
  if (fs::exists(bids) || fs::exists(truth)) {
    if (!fs::exists(truth / "dataset.json"))
      throw Error(
          fmt::format("{} already holds data not made by `rewardpath simulate`; choose a new or empty "
                      "output directory",
                      out.string()));
    fs::remove_all(bids);
    fs::remove_all(truth);
  }
  fs::create_directories(bids);
  fs::create_directories(truth);

  const SizeSpec size = size_spec(options.size);
  const TemplateAnatomy anatomy =
      with_context("loading the template anatomy", [] { return load_template_anatomy(); });
  const auto participants = make_participants(options);
  write_dataset_files(bids, participants, options);

  tbb::parallel_for(0, options.subjects, [&](int s) {
    const auto& p = participants[static_cast<std::size_t>(s)];
    // Isolated: a thread waiting inside this subject's voxel loops never starts another subject,
    // so memory stays at (threads x one subject).
    tbb::this_task_arena::isolate([&] {
      with_context("simulating sub-" + p.label,
                   [&] { SubjectSimulation(anatomy, options, size, out, p, s + 1).run(); });
    });
  });

  Json base = Json::object();
  for (const auto& se : kBaseEffects) {
    Json e = Json::object();
    for (std::size_t r = 0; r < mid::regressor_names().size(); ++r) e[mid::regressor_names()[r]] = se.beta[r];
    base[se.structure] = e;
  }
  io::write_json(truth / "dataset.json",
                 {{"software", "rewardpath simulate"},
                  {"version", version()},
                  {"seed", options.seed},
                  {"options",
                   {{"subjects", options.subjects},
                    {"func", options.func},
                    {"pet", options.pet},
                    {"size", size.name},
                    {"motion", options.motion},
                    {"blood", options.blood}}},
                  {"sizes",
                   {{"bold_dims", size.bold_dims},
                    {"bold_voxel_mm", size.bold_mm},
                    {"volumes", size.volumes},
                    {"repetition_time_s", size.tr_s},
                    {"t1w_dims", size.t1_dims},
                    {"t1w_voxel_mm", size.t1_mm},
                    {"pet_dims", size.pet_dims},
                    {"pet_voxel_mm", size.pet_mm},
                    {"pet_minutes", size.pet_minutes}}},
                  {"template",
                   {{"space", anatomy.brain.grid().space},
                    {"tissue_class_means", anatomy.class_means},
                    {"csf_gm_threshold", anatomy.csf_gm_threshold},
                    {"gm_wm_threshold", anatomy.gm_wm_threshold},
                    {"brain_centroid_mm", anatomy.brain_centroid_mm}}},
                  {"shaps_effect",
                   {{"slope_percent_per_point", kShapsSlope},
                    {"structures", kShapsStructures},
                    {"regressor", "gain_anticipation"},
                    {"residual_sd_percent", kShapsResidualSd},
                    {"model", "subject effect = base - slope * shaps + N(0, residual_sd)"}}},
                  {"base_effects_percent", base},
                  {"effect_variation_cv", kEffectCv},
                  {"regressors", mid::regressor_names()},
                  {"participants", [&] {
                     Json a = Json::array();
                     for (const auto& p : participants) a.push_back("sub-" + p.label);
                     return a;
                   }()}});

  Result r;
  r.bids_dir = bids;
  r.truth_dir = truth;
  for (const auto& p : participants) r.subjects.push_back(p.label);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

} // namespace rewardpath::simulate
