#include "rewardpath/pipeline/runner.hpp"

#include <spdlog/spdlog.h>
#include <tbb/parallel_for_each.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <fmt/format.h>
#include <mutex>
#include <numeric>
#include <optional>

#include "rewardpath/pipeline/fmri_stage.hpp"
#include "rewardpath/pipeline/load_stage.hpp"
#include "rewardpath/pipeline/pet_stage.hpp"
#include "rewardpath/pipeline/registration_stage.hpp"
#include "rewardpath/bids/dataset.hpp"
#include "rewardpath/bids/derivatives.hpp"
#include "rewardpath/core/atomic_file.hpp"
#include "rewardpath/core/budget.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/log.hpp"
#include "rewardpath/core/provenance.hpp"
#include "output_writer.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/subject_plan.hpp"

namespace rewardpath::pipeline {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

const char* status_name(SubjectStatus s) {
  switch (s) {
  case SubjectStatus::completed:
    return "completed";
  case SubjectStatus::up_to_date:
    return "up to date";
  case SubjectStatus::failed:
    return "FAILED";
  }
  return "?";
}

bool is_inside(const fs::path& child, const fs::path& parent) {
  const auto c = fs::weakly_canonical(child);
  const auto p = fs::weakly_canonical(parent);
  auto ci = c.begin();
  for (auto pi = p.begin(); pi != p.end(); ++pi, ++ci) {
    if (pi->empty()) continue; // trailing separator
    if (ci == c.end() || *ci != *pi) return false;
  }
  return true;
}

void check_directories(const RunParams& p) {
  std::error_code ec;
  if (!fs::is_directory(p.bids_dir, ec))
    throw Error("BIDS_DIR does not exist or is not a directory: " + p.bids_dir.string());
  if (is_inside(p.out_dir, p.bids_dir))
    throw Error(
        fmt::format("OUT_DIR ({}) is the BIDS dataset or inside it ({}); inputs are never written to, "
                    "choose an output directory outside the dataset, e.g. {}_derivatives/rewardpath",
                    p.out_dir.string(), p.bids_dir.string(), fs::weakly_canonical(p.bids_dir).string()));
}

fs::path provenance_path(const fs::path& out_dir, const std::string& label) {
  bids::Entities e;
  e.values["sub"] = label;
  return bids::derivative_path(out_dir, e, bids::Output::provenance);
}

// Outputs are current when the recorded digest (version + config + inputs) matches and every
// recorded output still exists.
bool outputs_current(const fs::path& prov_file, const std::string& digest) {
  std::error_code ec;
  if (!fs::exists(prov_file, ec)) return false;
  try {
    const io::Json j = io::read_json(prov_file);
    if (j.value("Digest", "") != digest || j.value("Status", "") != "completed") return false;
    for (const auto& o : j.at("Outputs"))
      if (!fs::exists(prov_file.parent_path().parent_path() / o.get<std::string>(), ec)) return false;
    return true;
  } catch (const std::exception&) {
    return false; // unreadable record: recompute
  }
}

} // namespace

std::size_t RunSummary::failed_count() const {
  return static_cast<std::size_t>(std::count_if(
      subjects.begin(), subjects.end(), [](const auto& s) { return s.status == SubjectStatus::failed; }));
}

std::string RunSummary::to_text() const {
  std::string out = fmt::format("rewardpath {}: {} subject(s), {} failed, {:.1f} s on {} thread(s)\n",
                                version(), subjects.size(), failed_count(), seconds, threads);
  for (const auto& s : subjects) {
    out += fmt::format("  sub-{:<12} {:<10} {:6.1f} s", s.label, status_name(s.status), s.seconds);
    if (s.status == SubjectStatus::failed) out += "  " + s.error;
    out += "\n";
  }
  return out;
}

io::Json RunSummary::to_json() const {
  io::Json subs = io::Json::array();
  for (const auto& s : subjects) {
    io::Json outs = io::Json::array();
    for (const auto& o : s.outputs) outs.push_back(o.string());
    subs.push_back({{"participant_id", "sub-" + s.label},
                    {"status", status_name(s.status)},
                    {"error", s.error},
                    {"seconds", s.seconds},
                    {"outputs", outs}});
  }
  return {{"rewardpath_version", version()},
          {"subjects", subs},
          {"failed", failed_count()},
          {"seconds", seconds},
          {"threads", threads},
          {"memory_budget_gb", mem_budget_gb},
          {"finished", utc_now_iso8601()}};
}

namespace {

// Everything a subject's stages share: loaded once per run, read-only while subjects run.
struct RunContext {
  const RunParams& params;
  const Config& config;
  const std::optional<RegistrationResources>& registration;
  RunStorage storage;
};

// One subject's stages in order, each handing the next its values (means, frames, transforms,
// labels); returns the files written.
std::vector<fs::path> run_stages(const SubjectPlan& plan, const RunContext& ctx) {
  const Config& config = ctx.config;
  const fs::path& out_dir = ctx.params.out_dir;
  LoadResult load = run_load_stage(plan, ctx.params.bids_dir, out_dir);
  std::vector<fs::path> outputs = std::move(load.outputs);
  PetRealignResult pet; // PET: realigned before registration, which then registers the realigned means
  if (config.pet.enabled) {
    pet = run_pet_realign_stage(plan, config.pet, out_dir);
    append(outputs, std::move(pet.outputs));
    if (config.pet.realign) load.pet_means = std::move(pet.realigned_means);
  }
  if (!ctx.registration) {
    append(outputs, run_fmri_stage(plan, config, nullptr, out_dir, ctx.storage));
    return outputs;
  }
  RegistrationResult reg = run_registration_stage(plan, {load.bold_means, load.pet_means}, *ctx.registration,
                                                  config.registration, out_dir);
  append(outputs, std::move(reg.outputs));
  if (config.pet.enabled) {
    std::vector<Volume> labels;
    for (auto& r : reg.pet) labels.push_back(std::move(r.labels));
    append(outputs, run_pet_model_stage(plan, config.pet, pet, labels, ctx.registration->atlas.rois,
                                        ctx.registration->atlas_name, out_dir));
  }
  const RegisteredRuns bold{*ctx.registration, reg.bold};
  append(outputs, run_fmri_stage(plan, config, &bold, out_dir, ctx.storage));
  return outputs;
}

Provenance subject_provenance(const SubjectPlan& plan, const RunContext& ctx, int threads) {
  Provenance prov;
  prov.command_line = ctx.params.command_line;
  prov.config = ctx.config.source;
  prov.config.erase("group"); // group analyses do not change participant-level outputs
  for (const auto& f : plan.inputs) prov.inputs.push_back(describe_input(f));
  if (ctx.registration)
    for (const auto& f : ctx.registration->inputs) prov.inputs.push_back(describe_input(f));
  prov.threads = threads;
  return prov;
}

// Runs one subject unless its outputs are current; its provenance record, written last, marks it
// complete. A failure is recorded in `outcome` (and the record removed), never thrown.
void run_subject(const SubjectPlan& plan, const RunContext& ctx, MemoryGate& gate, int threads,
                 SubjectOutcome& outcome) {
  const auto ts = Clock::now();
  Provenance prov = subject_provenance(plan, ctx, threads);
  const fs::path prov_file = provenance_path(ctx.params.out_dir, plan.label);
  try {
    if (!ctx.params.force && outputs_current(prov_file, prov.digest())) {
      outcome.status = SubjectStatus::up_to_date;
      spdlog::info("sub-{}: outputs are current, skipped (use --force to recompute)", plan.label);
    } else {
      MemoryReservation reservation(gate, plan.memory_bytes);
      spdlog::info("sub-{}: started", plan.label);
      prov.started = utc_now_iso8601();
      remove_stale_temporaries(ctx.params.out_dir / ("sub-" + plan.label));
      outcome.outputs = with_context("sub-" + plan.label, [&] { return run_stages(plan, ctx); });
      prov.finished = utc_now_iso8601();
      io::Json record = prov.to_json();
      record["Status"] = "completed";
      record["Outputs"] = io::Json::array();
      for (const auto& o : outcome.outputs)
        record["Outputs"].push_back(fs::relative(o, ctx.params.out_dir).string());
      io::write_json(prov_file, record); // written last: its presence marks the subject complete
      outcome.status = SubjectStatus::completed;
      spdlog::info("sub-{}: completed in {:.1f} s", plan.label, seconds_since(ts));
    }
  } catch (const std::exception& e) {
    outcome.status = SubjectStatus::failed;
    outcome.error = e.what();
    std::error_code ec;
    fs::remove(prov_file, ec); // outputs of an earlier run no longer count as complete
    spdlog::error("{}", e.what());
  }
  outcome.seconds = seconds_since(ts);
}

// Validates every subject single-threaded before any heavy work (header first, no voxel reads); a
// subject that fails gets its error in the summary and no plan.
std::vector<std::optional<SubjectPlan>> plan_subjects(const bids::Dataset& dataset, const Config& config,
                                                      RunSummary& summary) {
  std::vector<std::optional<SubjectPlan>> plans(summary.subjects.size());
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const std::string& label = summary.subjects[i].label;
    try {
      plans[i] =
          with_context("sub-" + label, [&] { return plan_subject(*dataset.find_subject(label), config); });
    } catch (const Error& e) {
      summary.subjects[i].error = e.what();
      spdlog::error("{}", e.what());
    }
  }
  return plans;
}

} // namespace

RunSummary run_participant_level(const RunParams& params) {
  const auto t0 = Clock::now();
  check_directories(params);
  const Config config = load_config(params.config_file);
  const bids::Dataset dataset = bids::discover(params.bids_dir);
  const std::vector<std::string> labels = bids::select_participants(dataset, params.participant_labels);
  const ResourceBudget budget = ResourceBudget::detect(params.threads, params.mem_gb);

  fs::create_directories(params.out_dir);
  io::write_json(params.out_dir / "dataset_description.json", bids::derivatives_description(params.bids_dir));

  RunSummary summary;
  summary.threads = budget.threads;
  summary.mem_budget_gb = static_cast<double>(budget.memory_bytes) / (1024.0 * 1024.0 * 1024.0);
  summary.subjects.resize(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) summary.subjects[i].label = labels[i];
  const auto plans = plan_subjects(dataset, config, summary);
  spdlog::info(
      "{} of {} subject(s) passed input validation; running on {} thread(s), memory budget {:.1f} GB",
      std::count_if(plans.begin(), plans.end(), [](const auto& p) { return p.has_value(); }), labels.size(),
      budget.threads, summary.mem_budget_gb);

  // Atlas and template: loaded once, before subjects start (a bad user atlas stops the run here).
  std::optional<RegistrationResources> registration;
  if (config.registration.enabled) registration.emplace(load_registration_resources(config.registration));
  const RunContext ctx{
      params, config, registration,
      RunStorage{budget.memory_bytes, params.scratch_dir.empty() ? params.out_dir : params.scratch_dir}};

  MemoryGate gate(budget.memory_bytes);
  log::Progress progress("subjects", static_cast<std::int64_t>(labels.size()));
  std::vector<std::size_t> order(labels.size());
  std::iota(order.begin(), order.end(), 0);
  tbb::task_arena arena(budget.threads);
  arena.execute([&] {
    tbb::parallel_for_each(order.begin(), order.end(), [&](std::size_t i) {
      if (plans[i]) run_subject(*plans[i], ctx, gate, budget.threads, summary.subjects[i]);
      progress.advance();
    });
  });
  progress.done();
  summary.seconds = seconds_since(t0);

  io::write_json(params.out_dir / "logs" / "summary.json", summary.to_json());
  write_file_atomic(params.out_dir / "logs" / "summary.txt", summary.to_text());
  return summary;
}

} // namespace rewardpath::pipeline
