#include "rewardpath/pipeline/registration_stage.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <optional>

#include "rewardpath/atlas/user_atlas.hpp"
#include "rewardpath/bids/derivatives.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/registration/registration.hpp"

namespace rewardpath::pipeline {
namespace fs = std::filesystem;
namespace reg = registration;

namespace {

std::string space_label(const std::string& space) {
  std::string s;
  for (unsigned char c : space)
    if (std::isalnum(c)) s += static_cast<char>(c);
  return s.empty() ? "template" : s;
}

double min_spacing(const Grid& g) { return std::min({g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2]}); }

// Anatomy (or a BOLD/PET mean without anatomy) -> template. The pyramid's finest level is at least
// 2 mm (shrink factors scaled up for finer images): the measured accuracy at 2 mm is ~0.03 mm TRE
// (docs/registration.md), and a 1 mm finest level costs ~3x the time.
reg::Params template_params(reg::Model model, const Grid& fixed) {
  reg::Params p;
  p.model = model;
  p.threads = 1; // inside the TBB subject loop
  const double f = std::max(1.0, std::round(2.0 / min_spacing(fixed)));
  p.shrink_factors = {4 * f, 2 * f, f};
  return p;
}

// BOLD/PET mean -> the subject's T1w: rigid, two levels (a 3-4 mm image has too few voxels for a
// third, 4x coarser level). Cross-modal brain masks (EPI/PET vs a T1w with scalp) overlap less
// than two T1w images, so the mask-Dice threshold is lower (docs/registration.md).
reg::Params coregistration_params() {
  reg::Params p;
  p.model = reg::Model::rigid;
  p.threads = 1;
  p.shrink_factors = {2, 1};
  p.smoothing_sigmas_mm = {2, 1}; // less smoothing was better: TRE 0.26/0.60 mm vs 0.35/0.98 at {4, 2}
  p.histogram_bins = 32;
  p.iterations = {200, 100};
  p.rigid_levels = 0;
  p.sampling_fraction = 1.0; // small images: every voxel of the mask
  p.qc_min_mask_dice = 0.6;
  p.qc_max_metric = -0.05;
  return p;
}

fs::path field_path(const fs::path& xfm) {
  fs::path p = xfm;
  p.replace_extension();
  return p.parent_path() / (p.filename().string() + "_field.nii.gz");
}

// The ROI table of a label image in subject space (BIDS dseg.tsv: index and name first).
io::Table label_table(const atlas::Atlas& atlas, const Volume& labels) {
  std::vector<std::int64_t> counts(1, 0);
  for (const auto& roi : atlas.rois)
    counts.resize(std::max<std::size_t>(counts.size(), static_cast<std::size_t>(roi.index) + 1), 0);
  const auto n = static_cast<std::size_t>(labels.voxels_per_volume());
  for (std::size_t i = 0; i < n; ++i) {
    const auto v = static_cast<std::int64_t>(std::lround(labels.data()[i]));
    if (v > 0 && static_cast<std::size_t>(v) < counts.size()) ++counts[static_cast<std::size_t>(v)];
  }
  const auto& s = labels.grid().spacing_mm;
  io::Table t({"index", "name", "hemisphere", "voxels", "volume_mm3"});
  for (const auto& roi : atlas.rois) {
    const auto c = counts[static_cast<std::size_t>(roi.index)];
    t.add_row({std::to_string(roi.index), roi.name, roi.hemisphere.empty() ? "n/a" : roi.hemisphere,
               std::to_string(c),
               io::format_number(std::round(static_cast<double>(c) * s[0] * s[1] * s[2]))});
  }
  return t;
}

struct SubjectRegistration {
  const SubjectPlan& plan;
  const RegistrationResources& res;
  const RegistrationConfig& config;
  const fs::path& out_dir;
  std::vector<fs::path> outputs{};
  io::Json qc = io::Json::array();
  std::vector<std::string> flags{};

  void write_xfm(const fs::path& path, const reg::Transform& t) {
    reg::write_transform(path, t);
    outputs.push_back(path);
    if (!t.is_linear()) outputs.push_back(field_path(path));
  }

  // BIDS name from-A_to-B_mode-image: the file resamples an image in space A onto space B, i.e. it
  // holds the point map B world -> A world (ITK/ANTs/fMRIPrep). Our Transform(fixed = B, moving = A)
  // is exactly that map.
  fs::path xfm_path(const bids::Entities& source, const std::string& image_space, const std::string& onto) {
    return bids::derivative_path(out_dir, source, bids::Output::xfm, {{"from", image_space}, {"to", onto}});
  }

  void record(const std::string& what, const reg::Result& r, const reg::Params& p, const fs::path& xfm,
              const fs::path& figure) {
    const auto rel = [&](const fs::path& f) { return fs::relative(f, out_dir).generic_string(); };
    qc.push_back({{"Registration", what},
                  {"Fixed", r.transform.from},
                  {"Moving", r.transform.to},
                  {"Model", reg::to_string(p.model)},
                  {"FinalMetric", r.qc.final_metric},
                  {"InitialMetric", r.qc.initial_metric},
                  {"MaskDice", r.qc.mask_dice},
                  {"MaskDiceInitial", r.qc.mask_dice_initial},
                  {"Iterations", r.qc.iterations},
                  {"Seconds", r.seconds},
                  {"Thresholds", {{"MinMaskDice", p.qc_min_mask_dice}, {"MaxMetric", p.qc_max_metric}}},
                  {"Flagged", r.qc.flagged},
                  {"FlagReason", r.qc.flag_reason},
                  {"Transform", rel(xfm)},
                  {"Figure", rel(figure)}});
    spdlog::info("sub-{}: registration {}: Mattes MI {:.3f} (initial {:.3f}), mask Dice {:.3f}, {:.1f} s{}",
                 plan.label, what, r.qc.final_metric, r.qc.initial_metric, r.qc.mask_dice, r.seconds,
                 r.qc.flagged ? " FLAGGED: " + r.qc.flag_reason : "");
    if (r.qc.flagged) flags.push_back(what + ": " + r.qc.flag_reason);
  }

  fs::path figure(const bids::Entities& source, const std::string& space, const Volume& image,
                  const reg::Transform& image_to_template) {
    const fs::path path =
        bids::derivative_path(out_dir, source, bids::Output::registration_figure, {{"space", space}});
    const Volume tpl = reg::apply_transform(res.overlay_template, image.grid(), image_to_template);
    reg::write_overlay_png(path, tpl, image);
    outputs.push_back(path);
    return path;
  }

  // Writes the atlas in the run's space (labels, their table, fractions) and returns the labels.
  Volume atlas_outputs(const bids::Entities& source, const std::string& space, const Grid& grid,
                       const reg::Transform& to_template) {
    const std::map<std::string, std::string> ents{{"space", space}, {"atlas", res.atlas_name}};
    Volume labels = reg::warp_labels_nearest(res.atlas.labels, grid, to_template);
    int max_index = 0;
    for (const auto& roi : res.atlas.rois) max_index = std::max(max_index, roi.index);
    const fs::path dseg = bids::derivative_path(out_dir, source, bids::Output::dseg, ents);
    io::write_nifti(dseg, labels,
                    {max_index > 255 ? io::StoredType::int16 : io::StoredType::uint8, 6,
                     "atlas-" + res.atlas_name + " labels, nearest neighbour", ""});
    outputs.push_back(dseg);
    const fs::path tsv = bids::derivative_path(out_dir, source, bids::Output::dseg_table, ents);
    io::write_tsv(tsv, label_table(res.atlas, labels));
    outputs.push_back(tsv);
    if (!config.fractional_weights) return labels;
    std::vector<int> indices;
    for (const auto& roi : res.atlas.rois) indices.push_back(roi.index);
    const auto weights = reg::warp_labels_fractional(res.atlas.labels, indices, grid, to_template);
    Volume stack(grid, static_cast<std::int64_t>(weights.size()), 0.0f);
    const auto nvox = static_cast<std::size_t>(grid.voxel_count());
    for (std::size_t r = 0; r < weights.size(); ++r)
      std::copy_n(weights[r].data(), nvox, stack.data() + r * nvox);
    const fs::path prob = bids::derivative_path(out_dir, source, bids::Output::probseg, ents);
    io::write_nifti(prob, stack,
                    {io::StoredType::float32, 6, "atlas-" + res.atlas_name + " ROI fractions", ""});
    outputs.push_back(prob);
    return labels;
  }

  // A BOLD/PET mean: rigid to the T1w and composed onto T1w -> template, or to the template.
  RunRegistration run(const bids::Entities& source, const Volume& run_mean, const std::string& space,
                      const Volume* t1w, const reg::Transform* t1w_to_template) {
    Volume mean(run_mean.grid(), 1); // a copy in the run's space (the transform's from/to names)
    std::copy_n(run_mean.data(), mean.size(), mean.data());
    mean.grid().space = space;
    reg::Transform to_template;
    fs::path xfm;
    reg::Params p;
    reg::Result r;
    std::string what;
    if (t1w) {
      p = coregistration_params();
      what = space + " -> T1w";
      r = with_context("registering the run's " + space + " mean to the T1w",
                       [&] { return reg::register_images(mean, *t1w, p); });
      xfm = xfm_path(source, "T1w", space);
      write_xfm(xfm, r.transform);
      to_template = reg::compose(r.transform, *t1w_to_template);
    } else {
      p = template_params(config.model, mean.grid());
      what = space + " -> " + res.template_space;
      r = with_context("registering the run's " + space + " mean to the template (no T1w)",
                       [&] { return reg::register_images(mean, res.registration_template, p); });
      to_template = r.transform;
    }
    const fs::path composed = xfm_path(source, res.template_space, space);
    write_xfm(composed, to_template);
    if (!t1w) xfm = composed;
    record(what, r, p, xfm, figure(source, space, mean, to_template));
    Volume labels = atlas_outputs(source, space, mean.grid(), to_template);
    return {std::move(to_template), std::move(labels)};
  }
};

} // namespace

RegistrationResources load_registration_resources(const RegistrationConfig& config) {
  return with_context("loading the registration atlas and template", [&] {
    RegistrationResources r;
    r.atlas_name = config.atlas_name;
    if (config.atlas_image.empty()) {
      r.atlas = atlas::build_reward_atlas();
      r.overlay_template = atlas::load_template();
      // The simulated (and most raw) T1w images have scalp and skull: register to Colin27 WITH its
      // head (ch2), on the same grid as ch2bet and the atlas, rather than skull-strip the subject.
      const fs::path ch2 = atlas::mricron_template_file("ch2.nii.gz");
      r.registration_template = io::read_nifti(ch2, io::Expect::volume3d);
      r.inputs = {ch2, atlas::mricron_template_file("ch2bet.nii.gz"),
                  atlas::mricron_template_file("aal.nii.gz"), atlas::default_atlas_dir() / "reward_rois.tsv"};
    } else {
      atlas::UserAtlasSpec spec;
      spec.image = config.atlas_image;
      spec.labels_tsv = config.atlas_labels;
      spec.probability_image = config.atlas_probability;
      spec.template_image = config.atlas_template;
      spec.threshold = config.atlas_threshold;
      spec.space = config.atlas_space;
      atlas::UserAtlas ua = atlas::load_user_atlas(spec);
      r.registration_template = atlas::load_template(ua);
      r.overlay_template = atlas::load_template(ua);
      r.inputs = {ua.image, ua.labels_tsv, ua.template_image};
      if (!ua.probability_image.empty()) r.inputs.push_back(ua.probability_image);
      r.atlas = std::move(ua.atlas);
    }
    // The brain mask (1 inside): ch2bet > 0 for the built-in atlas, else the template's foreground.
    r.template_brain = config.atlas_image.empty() ? Volume(r.overlay_template.grid(), 1, 0.0f)
                                                  : reg::brain_mask(r.overlay_template);
    if (config.atlas_image.empty())
      for (std::int64_t i = 0; i < r.template_brain.voxels_per_volume(); ++i)
        r.template_brain.data()[i] = r.overlay_template.data()[i] > 0 ? 1.0f : 0.0f;
    r.template_space = space_label(r.atlas.labels.grid().space);
    r.atlas.labels.grid().space = r.template_space;
    r.registration_template.grid().space = r.template_space;
    r.overlay_template.grid().space = r.template_space;
    r.template_brain.grid().space = r.template_space;
    return r;
  });
}

RegistrationResult run_registration_stage(const SubjectPlan& plan, const RunMeans& means,
                                          const RegistrationResources& res, const RegistrationConfig& config,
                                          const fs::path& out_dir) {
  SubjectRegistration s{plan, res, config, out_dir};
  std::optional<Volume> t1w;
  std::optional<reg::Transform> t1w_to_template;
  if (!plan.t1w.empty()) {
    if (plan.t1w.size() > 1)
      spdlog::warn("sub-{}: {} T1w images; registering with the first, {}", plan.label, plan.t1w.size(),
                   plan.t1w_images[0].image.filename().string());
    const auto& img = plan.t1w_images[0];
    t1w = io::read_nifti_voxels(plan.t1w[0]);
    t1w->grid().space = "T1w";
    const reg::Params p = template_params(config.model, t1w->grid());
    const reg::Result r =
        with_context("registering the T1w " + img.image.filename().string() + " to the " +
                         res.template_space + " template",
                     [&] { return reg::register_images(*t1w, res.registration_template, p); });
    t1w_to_template = r.transform;
    const fs::path xfm = s.xfm_path(img.entities, res.template_space, "T1w");
    s.write_xfm(xfm, r.transform);
    if (r.transform.is_linear())
      s.write_xfm(s.xfm_path(img.entities, "T1w", res.template_space), reg::invert_linear(r.transform));
    s.record("T1w -> " + res.template_space, r, p, xfm, s.figure(img.entities, "T1w", *t1w, r.transform));
  }
  // Coregistration target: the T1w brain, i.e. the T1w times the template's brain mask brought to
  // it through T1w -> template (a template-based skull strip; EPI and PET have little scalp signal).
  if (t1w) {
    const Volume mask = reg::apply_transform(res.template_brain, t1w->grid(), *t1w_to_template);
    const auto n = static_cast<std::size_t>(t1w->voxels_per_volume());
    for (std::size_t i = 0; i < n; ++i)
      if (mask.data()[i] < 0.1f) t1w->data()[i] = 0.0f;
  }
  const Volume* t1 = t1w ? &*t1w : nullptr;
  const reg::Transform* t1_xfm = t1w_to_template ? &*t1w_to_template : nullptr;
  RegistrationResult result;
  for (std::size_t i = 0; i < plan.bold.size(); ++i)
    with_context(plan.bold[i].run.image.string(), [&] {
      result.bold.push_back(s.run(plan.bold[i].run.entities, means.bold.at(i), "bold", t1, t1_xfm));
    });
  for (std::size_t i = 0; i < plan.pet.size(); ++i)
    with_context(plan.pet[i].run.image.string(), [&] {
      result.pet.push_back(s.run(plan.pet[i].run.entities, means.pet.at(i), "pet", t1, t1_xfm));
    });

  bids::Entities subject;
  subject.values["sub"] = plan.label;
  const fs::path qc_path = bids::derivative_path(out_dir, subject, bids::Output::registration_qc);
  io::write_json(qc_path, {{"Atlas", res.atlas_name},
                           {"Template", res.template_space},
                           {"Flagged", !s.flags.empty()},
                           {"Flags", s.flags},
                           {"OnQcFlag", option_name(config.on_qc_flag)},
                           {"Registrations", s.qc}});
  s.outputs.push_back(qc_path);
  if (!s.flags.empty()) {
    const std::string msg = fmt::format("registration QC flagged {}: {} (see {} and the figures beside it)",
                                        s.flags.size(), fmt::join(s.flags, "; "), qc_path.string());
    if (config.on_qc_flag == OnQcFlag::fail)
      throw Error(msg + "; set \"registration\": {\"on_qc_flag\": \"continue\"} to keep such subjects");
    spdlog::warn("sub-{}: {}", plan.label, msg);
  }
  result.outputs = std::move(s.outputs);
  return result;
}

} // namespace rewardpath::pipeline
