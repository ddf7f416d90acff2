// rewardpath command line. Parsing fills a parameter struct; the library does the work; errors
// are caught here, in one place.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/log.hpp"
#include "rewardpath/core/provenance.hpp"
#include "rewardpath/pipeline/runner.hpp"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

std::string joined_command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    if (i) s += ' ';
    s += argv[i];
  }
  return s;
}

} // namespace

int main(int argc, char** argv) {
  using namespace rewardpath;
  CLI::App app{
      "rewardpath: reward-pathway analysis of BIDS fMRI and PET data (VTA, nucleus accumbens, vmPFC/OFC,\n"
      "amygdala, hippocampus). Reads a BIDS dataset, never writes into it, and writes BIDS Derivatives.",
      "rewardpath"};
  app.set_version_flag("--version", version_detail());
  app.require_subcommand(1);
  int verbose = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbose, "More log output (-vv for debug)");
  app.add_flag("-q,--quiet", quiet, "Only warnings and errors");

  pipeline::RunParams run;
  std::string level;
  auto* run_cmd = app.add_subcommand("run", "Run the analysis (BIDS-Apps convention)");
  run_cmd->add_option("bids_dir", run.bids_dir, "The BIDS dataset (read only)")
      ->required()
      ->check(CLI::ExistingDirectory);
  run_cmd->add_option("output_dir", run.out_dir, "Where derivatives go; must not be inside bids_dir")
      ->required();
  run_cmd
      ->add_option("analysis_level", level,
                   "participant: per-subject stages (group level: coming with the GLM)")
      ->required()
      ->check(CLI::IsMember({"participant", "group"}));
  run_cmd
      ->add_option("--participant-label,--participant_label", run.participant_labels,
                   "Subjects to process, with or without 'sub-' (default: all)")
      ->expected(1, -1);
  run_cmd->add_option("--config", run.config_file, "Analysis configuration, JSON (see docs/config.md)")
      ->check(CLI::ExistingFile);
  run_cmd->add_option("--nthreads,--n-cpus", run.threads, "Threads in total (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_option("--mem-gb,--mem_gb", run.mem_gb, "Memory budget in GB (default: 80% of available)")
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_flag("--force", run.force, "Recompute subjects whose outputs are already current");
  run_cmd->footer("\nExamples:\n"
                  "  rewardpath run /data/mid /data/mid-derivatives participant --participant-label 01 02\n"
                  "  sbatch --array=1-40 --wrap 'rewardpath run /data/mid /out participant \\\n"
                  "      --participant-label $(sed -n ${SLURM_ARRAY_TASK_ID}p subjects.txt) --nthreads 4'\n\n"
                  "Exit status: 0 when every subject completed or was up to date; 1 when any subject failed\n"
                  "(OUT_DIR/logs/summary.txt names each and why); 2 for usage errors.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }

  log::init(quiet          ? log::Verbosity::quiet
            : verbose >= 2 ? log::Verbosity::debug
            : verbose == 1 ? log::Verbosity::verbose
                           : log::Verbosity::normal);
  try {
    if (run_cmd->parsed()) {
      if (level == "group") {
        spdlog::error(
            "the group level is not available yet: it arrives with the GLM stage; run 'participant' first");
        return kExitUsage;
      }
      run.command_line = joined_command_line(argc, argv);
      const auto summary = pipeline::run_participant_level(run);
      std::cout << summary.to_text();
      return summary.exit_code();
    }
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return kExitFailure;
  } catch (const std::exception& e) {
    spdlog::error("unexpected error: {}", e.what());
    return kExitFailure;
  }
  return 0;
}
