// rewardpath command line. Parsing fills a parameter struct; the library does the work; errors
// are caught here, in one place.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "rewardpath/atlas/atlas.hpp"
#include "rewardpath/atlas/user_atlas.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/log.hpp"
#include "rewardpath/core/provenance.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/group.hpp"
#include "rewardpath/pipeline/runner.hpp"
#include "rewardpath/simulate/simulate.hpp"

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

// Each subcommand declares its arguments next to the code that runs it (MRtrix3's usage/run pair).
struct RunCommand {
  CLI::App* cmd = nullptr;
  rewardpath::pipeline::RunParams run;
  std::string level;

  void declare(CLI::App& app) {
    cmd = app.add_subcommand("run", "Run the analysis (BIDS-Apps convention)");
    cmd->add_option("bids_dir", run.bids_dir, "The BIDS dataset (read only)")
        ->required()
        ->check(CLI::ExistingDirectory);
    cmd->add_option("output_dir", run.out_dir, "Where derivatives go; must not be inside bids_dir")
        ->required();
    cmd->add_option("analysis_level", level,
                    "participant: per-subject stages; group: second-level tests over the subjects' results "
                    "(docs/group.md)")
        ->required()
        ->check(CLI::IsMember({"participant", "group"}));
    cmd->add_option("--participant-label,--participant_label", run.participant_labels,
                    "Subjects to process, with or without 'sub-' (default: all)")
        ->expected(1, -1);
    cmd->add_option("--config", run.config_file, "Analysis configuration, JSON (see docs/config.md)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--nthreads,--n-cpus", run.threads, "Threads in total (default: all cores)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--mem-gb,--mem_gb", run.mem_gb, "Memory budget in GB (default: 80% of available)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--scratch-dir,--scratch_dir", run.scratch_dir,
                    "Where a run too large for the memory budget is paged (an unlinked scratch file; "
                    "default: OUT_DIR; on a cluster, node-local disk such as $TMPDIR)");
    cmd->add_flag("--force", run.force, "Recompute subjects whose outputs are already current");
    cmd->footer(
        "\nExamples:\n"
        "  rewardpath run /data/mid /data/mid-derivatives participant --participant-label 01 02\n"
        "  sbatch --array=1-40 --wrap 'rewardpath run /data/mid /out participant \\\n"
        "      --participant-label $(sed -n ${SLURM_ARRAY_TASK_ID}p subjects.txt) --nthreads 4'\n\n"
        "Exit status: 0 when every subject completed or was up to date; 1 when any subject failed\n"
        "(OUT_DIR/logs/summary.txt names each and why); 2 for usage errors (including a bad --config).");
  }

  int execute(const std::string& command_line) {
    run.command_line = command_line;
    if (level == "group") {
      std::cout << rewardpath::pipeline::run_group_level(run).to_text();
      return 0;
    }
    const auto summary = rewardpath::pipeline::run_participant_level(run);
    std::cout << summary.to_text();
    return summary.exit_code();
  }
};

struct ConfigCommand {
  CLI::App* cmd = nullptr;
  bool markdown = false;
  std::vector<std::string> sections;

  void declare(CLI::App& app) {
    cmd = app.add_subcommand("config", "Print the configuration reference (docs/config.md)");
    cmd->add_flag("--markdown", markdown, "Markdown tables, as in docs/config.md")->required();
    cmd->add_option("section", sections, "Sections to print (default: all), e.g. glm, glm.contrasts[]")
        ->check(CLI::IsMember(rewardpath::pipeline::config_sections()));
  }

  int execute() const {
    for (const auto& s : sections.empty() ? rewardpath::pipeline::config_sections() : sections)
      std::cout << "### " << (s.empty() ? "top level" : "`" + s + "`") << "\n\n"
                << rewardpath::pipeline::config_markdown(s) << "\n";
    return 0;
  }
};

struct AtlasCommand {
  CLI::App* cmd = nullptr;
  bool json = false;
  rewardpath::atlas::UserAtlasSpec user_atlas;
  double threshold = -1.0;

  void declare(CLI::App& app) {
    cmd =
        app.add_subcommand("atlas", "Print the reward atlas ROI table (index, name, volume in mm3, source)");
    cmd->add_flag("--json", json, "Print JSON instead of a TSV table");
    cmd->add_option(
           "--atlas", user_atlas.image,
           "A user atlas instead of the built-in one: a label NIfTI (BIDS dseg) or a 4D probabilistic "
           "atlas")
        ->check(CLI::ExistingFile);
    cmd->add_option("--atlas-labels", user_atlas.labels_tsv,
                    "Its TSV (index, name); default: beside the image")
        ->check(CLI::ExistingFile);
    cmd->add_option("--atlas-prob", user_atlas.probability_image,
                    "Probability of the top label per voxel (max-probability atlases such as CIT168's)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--atlas-template", user_atlas.template_image, "The atlas's template image")
        ->check(CLI::ExistingFile);
    cmd->add_option("--atlas-threshold", threshold, "Probability threshold (default 0.5)")
        ->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--atlas-space", user_atlas.space, "Template space name, e.g. MNI152NLin2009cAsym");
  }

  int execute() {
    using namespace rewardpath;
    if (threshold >= 0.0) user_atlas.threshold = threshold;
    const auto table = user_atlas.image.empty() ? atlas::describe(atlas::build_reward_atlas())
                                                : atlas::describe(atlas::load_user_atlas(user_atlas));
    if (!json) {
      std::cout << io::to_tsv_text(table);
      return 0;
    }
    io::Json rows = io::Json::array();
    for (std::size_t r = 0; r < table.row_count(); ++r) {
      io::Json row;
      for (std::size_t c = 0; c < table.columns().size(); ++c) row[table.columns()[c]] = table.cell(r, c);
      rows.push_back(row);
    }
    std::cout << rows.dump(2) << "\n";
    return 0;
  }
};

struct SimulateCommand {
  CLI::App* cmd = nullptr;
  rewardpath::simulate::Options sim;
  std::filesystem::path out;
  std::string size = "small";
  std::vector<std::string> modalities = {"func", "pet"};

  void declare(CLI::App& app) {
    cmd = app.add_subcommand(
        "simulate", "Write a synthetic BIDS dataset with known ground truth (MID fMRI, [11C]raclopride PET)");
    cmd->add_option("output_dir", out, "Writes output_dir/bids (the dataset) and output_dir/truth")
        ->required();
    cmd->add_option("--subjects", sim.subjects, "Number of subjects")->check(CLI::Range(1, 1000));
    cmd->add_option("--seed", sim.seed, "Random seed (same seed, same dataset on any machine)");
    cmd->add_option("--modalities", modalities, "func, pet or both")
        ->delimiter(',')
        ->check(CLI::IsMember({"func", "pet"}));
    cmd->add_option("--size", size, "small (tests, seconds) or standard (64x64x36x300, benchmarks)")
        ->check(CLI::IsMember({"small", "standard"}));
    cmd->add_flag("!--no-motion", sim.motion, "No head motion");
    cmd->add_flag("!--no-blood", sim.blood, "No _blood.tsv for PET");
  }

  int execute() {
    using namespace rewardpath;
    const auto has = [&](const char* m) {
      return std::find(modalities.begin(), modalities.end(), m) != modalities.end();
    };
    sim.size = size == "standard" ? simulate::Size::standard : simulate::Size::small;
    sim.func = has("func");
    sim.pet = has("pet");
    const auto result = simulate::simulate_dataset(out, sim);
    std::cout << "simulated " << result.subjects.size() << " subject(s) in " << result.seconds << " s\n"
              << "  dataset:      " << result.bids_dir.string() << "\n"
              << "  ground truth: " << result.truth_dir.string() << "\n";
    return 0;
  }
};

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
  RunCommand run;
  ConfigCommand config;
  AtlasCommand atlas;
  SimulateCommand simulate;
  run.declare(app);
  config.declare(app);
  atlas.declare(app);
  simulate.declare(app);
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
    if (run.cmd->parsed()) return run.execute(joined_command_line(argc, argv));
    if (atlas.cmd->parsed()) return atlas.execute();
    if (config.cmd->parsed()) return config.execute();
    if (simulate.cmd->parsed()) return simulate.execute();
  } catch (const pipeline::ConfigError& e) {
    spdlog::error("{}", e.what());
    return kExitUsage;
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return kExitFailure;
  } catch (const std::exception& e) {
    spdlog::error("unexpected error: {}", e.what());
    return kExitFailure;
  }
  return 0;
}
