#include "rewardpath/pipeline/subject_plan.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "rewardpath/core/error.hpp"

namespace rewardpath::pipeline {

namespace {

bool task_selected(const Config& config, const bids::Entities& e) {
  return config.tasks.empty() ||
         std::find(config.tasks.begin(), config.tasks.end(), e.get("task")) != config.tasks.end();
}

BoldInput plan_bold(const bids::BoldRun& run) {
  BoldInput in{run, io::read_nifti_header(run.image, io::Expect::series4d), {}, std::nullopt};
  const std::string where = run.image.string() + " (sidecar metadata)";
  in.metadata = bids::bold_metadata(run.metadata, where, in.header.dim[2]);
  const double tr = in.metadata.repetition_time_s;
  if (in.header.time_step_s > 0 && std::abs(in.header.time_step_s - tr) > 1e-3)
    spdlog::warn("{}: NIfTI pixdim[4] says TR {} s but the sidecar RepetitionTime is {} s; using the sidecar "
                 "(BIDS gives sidecars precedence)",
                 run.image.string(), in.header.time_step_s, tr);
  if (!run.events.empty()) {
    in.events = bids::read_events(run.events);
    bids::check_events_fit_run(*in.events, static_cast<double>(in.header.volumes()) * tr);
  }
  return in;
}

PetInput plan_pet(const bids::PetRun& run) {
  PetInput in{run, io::read_nifti_header(run.image, io::Expect::any), {}};
  const std::string where = run.image.string() + " (sidecar metadata)";
  in.metadata = bids::pet_metadata(run.metadata, where, in.header.volumes());
  return in;
}

} // namespace

SubjectPlan plan_subject(const bids::Subject& subject, const Config& config) {
  SubjectPlan plan;
  plan.label = subject.label;
  std::int64_t largest_run = 0;
  if (config.process_bold) {
    for (const auto& run : subject.bold) {
      if (!task_selected(config, run.entities)) continue;
      plan.bold.push_back(plan_bold(run));
      const auto& h = plan.bold.back().header;
      largest_run = std::max(largest_run, h.voxels_per_volume() * h.volumes() * 4);
      plan.inputs.push_back(run.image);
      if (!run.events.empty()) plan.inputs.push_back(run.events);
      plan.inputs.insert(plan.inputs.end(), run.sidecars.begin(), run.sidecars.end());
    }
  }
  if (config.process_pet) {
    for (const auto& run : subject.pet) {
      plan.pet.push_back(plan_pet(run));
      const auto& h = plan.pet.back().header;
      largest_run = std::max(largest_run, h.voxels_per_volume() * h.volumes() * 4);
      plan.inputs.push_back(run.image);
      plan.inputs.insert(plan.inputs.end(), run.sidecars.begin(), run.sidecars.end());
      plan.inputs.insert(plan.inputs.end(), run.blood.begin(), run.blood.end());
    }
  }
  for (const auto& t1 : subject.t1w) {
    plan.t1w.push_back(io::read_nifti_header(t1.image, io::Expect::volume3d));
    plan.t1w_images.push_back(t1);
    plan.inputs.push_back(t1.image);
  }
  if (plan.bold.empty() && plan.pet.empty()) {
    std::string what =
        config.tasks.empty() ? "" : fmt::format(" for task(s) {}", fmt::join(config.tasks, ", "));
    throw Error(fmt::format("no BOLD or PET runs to process{} (looked for func/*_bold.nii[.gz] and "
                            "pet/*_pet.nii[.gz])",
                            what));
  }
  // One run is decoded at a time; working buffers add about a quarter on top.
  plan.memory_bytes = largest_run + largest_run / 4 + (64LL << 20);
  // Registration: a 1 mm template (~28 MB), its pyramid and resampled copies, the atlas warps.
  if (config.registration.enabled) plan.memory_bytes += 256LL << 20;
  return plan;
}

} // namespace rewardpath::pipeline
