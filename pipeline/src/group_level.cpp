#include "rewardpath/pipeline/group.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "rewardpath/bids/dataset.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/provenance.hpp"
#include "rewardpath/glm/group.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/pipeline/config.hpp"

namespace rewardpath::pipeline {
namespace fs = std::filesystem;

namespace {

// Subject-level results of one subject for one task: contrast -> file.
struct SubjectFiles {
  std::map<std::string, fs::path> roi_tables; // contrast -> _desc-fixedeffects_roistats.tsv
  std::map<std::string, fs::path> maps;       // contrast -> template-space effect map
  std::string space_res;                      // "space-X_res-Y" of the maps (from their names)
};

// task -> subject -> files, found by name in OUT_DIR/sub-X[/ses-Y]/func.
using Inventory = std::map<std::string, std::map<std::string, SubjectFiles>>;

Inventory find_results(const fs::path& out_dir, const std::vector<std::string>& labels,
                       const std::string& atlas) {
  Inventory inv;
  for (const auto& label : labels) {
    std::vector<fs::path> dirs{out_dir / ("sub-" + label) / "func"};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(out_dir / ("sub-" + label), ec))
      if (e.is_directory() && e.path().filename().string().rfind("ses-", 0) == 0)
        dirs.push_back(e.path() / "func");
    const std::regex roi_re("sub-" + label + "(?:_ses-[A-Za-z0-9]+)?_task-([A-Za-z0-9]+)_atlas-" + atlas +
                            "_contrast-([A-Za-z0-9]+)_desc-fixedeffects_roistats\\.tsv");
    const std::regex map_re(
        "sub-" + label +
        "(?:_ses-[A-Za-z0-9]+)?_task-([A-Za-z0-9]+)_(space-[A-Za-z0-9]+_res-[A-Za-z0-9]+)_contrast-"
        "([A-Za-z0-9]+)_stat-effect_desc-fixedeffects_statmap\\.nii\\.gz");
    for (const auto& dir : dirs) {
      if (!fs::is_directory(dir, ec)) continue;
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(dir, ec)) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        const std::string name = f.filename().string();
        std::smatch m;
        if (std::regex_match(name, m, roi_re))
          inv[m[1]][label].roi_tables.emplace(m[2], f); // first session wins (documented)
        else if (std::regex_match(name, m, map_re)) {
          inv[m[1]][label].maps.emplace(m[3], f);
          inv[m[1]][label].space_res = m[2];
        }
      }
    }
  }
  return inv;
}

glm::GroupSpec spec_of(const GroupAnalysisConfig& a) {
  glm::GroupSpec s;
  s.kind = a.kind;
  s.group_column = a.group_column;
  if (a.levels.size() == 2) {
    s.level_a = a.levels[0];
    s.level_b = a.levels[1];
  }
  s.covariates = a.covariates;
  s.contrast = a.contrast;
  return s;
}

// The effect column of a subject-level ROI table, by ROI name.
std::map<std::string, double> read_roi_effects(const fs::path& tsv) {
  const io::Table t = io::read_tsv(tsv);
  const auto roi = t.require_column("roi"), eff = t.require_column("effect");
  std::map<std::string, double> out;
  for (std::size_t r = 0; r < t.row_count(); ++r) out[t.cell(r, roi)] = t.number(r, eff);
  return out;
}

class GroupLevel {
public:
  GroupLevel(const RunParams& params, Config config) : params_(params), config_(std::move(config)) {}

  GroupRunSummary run() {
    const auto t0 = std::chrono::steady_clock::now();
    if (!config_.glm.enabled)
      throw Error(
          "the group level needs the first-level model: the configuration has no \"glm\" section (use the "
          "same --config as the participant level, e.g. configs/mid.json)");
    const bids::Dataset dataset = bids::discover(params_.bids_dir);
    const auto labels = bids::select_participants(dataset, params_.participant_labels);
    const std::string atlas = config_.registration.atlas_name;
    const Inventory inv = find_results(params_.out_dir, labels, atlas);
    if (inv.empty())
      throw Error(fmt::format("no subject-level results (sub-*/func/*_atlas-{}_contrast-*_desc-fixedeffects_"
                              "roistats.tsv) in {}: run the participant level with a \"glm\" and a "
                              "\"registration\" section first",
                              atlas, params_.out_dir.string()));
    std::vector<std::string> contrasts = config_.group.contrasts;
    if (contrasts.empty())
      for (const auto& c : config_.glm.contrasts)
        if (c.rows.size() == 1) contrasts.push_back(c.name);
    std::vector<GroupAnalysisConfig> analyses = config_.group.analyses;
    if (analyses.empty()) {
      GroupAnalysisConfig a;
      a.name = "mean";
      analyses.push_back(a);
    }
    group_dir_ = params_.out_dir / "group";
    fs::create_directories(group_dir_);
    for (const auto& [task, subjects] : inv)
      for (const auto& a : analyses) {
        if (a.kind == glm::GroupKind::paired) {
          run_analysis(task, subjects, a, a.pair[0], a.pair[1]);
        } else {
          for (const auto& c : contrasts) run_analysis(task, subjects, a, c, "");
        }
      }
    summary_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    write_provenance();
    return std::move(summary_);
  }

private:
  // One analysis of one first-level contrast (or, paired, of first - second).
  void run_analysis(const std::string& task, const std::map<std::string, SubjectFiles>& subjects,
                    const GroupAnalysisConfig& a, const std::string& c1, const std::string& c2) {
    const bool paired = !c2.empty();
    const std::string contrast_label = paired ? c1 + "Minus" + c2 : c1;
    const std::string where =
        fmt::format("group analysis \"{}\", task {}, contrast {}", a.name, task, contrast_label);
    with_context(where, [&] {
      // Subjects with the needed subject-level results.
      std::vector<std::string> have;
      std::vector<std::string> missing;
      for (const auto& [label, files] : subjects) {
        const bool ok = files.roi_tables.count(c1) && (!paired || files.roi_tables.count(c2));
        (ok ? have : missing).push_back("sub-" + label);
      }
      if (have.empty())
        throw Error(fmt::format("no subject has a subject-level result for contrast {}{}", c1,
                                paired ? " and " + c2 : ""));
      const glm::GroupDesign design = glm::make_group_design(params_.bids_dir, spec_of(a), have);
      for (const auto& p : design.sources) inputs_.insert(p);
      inputs_.insert((params_.bids_dir / "participants.tsv").string());

      // ROI values: subjects (as `have`) x ROIs.
      std::vector<std::string> roi_names;
      Eigen::MatrixXd first, second;
      auto load = [&](const std::string& c, Eigen::MatrixXd& m) {
        std::size_t i = 0;
        for (const auto& s : have) {
          const fs::path& f = subjects.at(s.substr(4)).roi_tables.at(c);
          inputs_.insert(f.string());
          const auto effects = read_roi_effects(f);
          if (roi_names.empty())
            for (const auto& [name, v] : effects) roi_names.push_back(name);
          if (m.size() == 0)
            m.resize(static_cast<Eigen::Index>(have.size()), static_cast<Eigen::Index>(roi_names.size()));
          for (std::size_t r = 0; r < roi_names.size(); ++r) {
            const auto it = effects.find(roi_names[r]);
            if (it == effects.end())
              throw Error(
                  fmt::format("{} has no row for ROI {} (other subjects have it): all subjects must use the "
                              "same atlas",
                              f.string(), roi_names[r]));
            m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(r)) = it->second;
          }
          ++i;
        }
      };
      load(c1, first);
      if (paired) load(c2, second);
      const Eigen::MatrixXd values = paired ? glm::paired_differences(first, second) : first;
      glm::GroupTestParams tp;
      tp.permutations = config_.group.permutations;
      tp.seed = config_.group.seed;
      tp.tail = config_.group.tail;
      const glm::GroupRoiTable table =
          glm::group_roi_table(design, glm::select_rows(design, values), roi_names, {}, tp);
      const std::string stem = fmt::format("task-{}_atlas-{}_contrast-{}_desc-{}", task,
                                           config_.registration.atlas_name, contrast_label, a.name);
      const fs::path tsv = group_dir_ / (stem + "_roistats.tsv");
      glm::write_group_roi_table(table, tsv);
      summary_.outputs.push_back(tsv);
      summary_.outputs.push_back(fs::path(tsv).replace_extension(".json"));
      std::string note = fmt::format("{}: {} subject(s) in the design", where, design.participants.size());
      for (const auto& e : design.excluded)
        note += fmt::format("; {} excluded: {}", e.participant_id, e.reason);
      if (!missing.empty())
        note += fmt::format("; without subject-level results: {}", fmt::join(missing, ", "));
      summary_.notes.push_back(note);
      spdlog::info("{}", note);

      if (config_.group.voxelwise && config_.glm.voxelwise)
        voxelwise(task, subjects, design, have, c1, c2, a.name, contrast_label, tp);
    });
  }

  void voxelwise(const std::string& task, const std::map<std::string, SubjectFiles>& subjects,
                 const glm::GroupDesign& design, const std::vector<std::string>& have, const std::string& c1,
                 const std::string& c2, const std::string& analysis, const std::string& contrast_label,
                 const glm::GroupTestParams& tp) {
    const bool paired = !c2.empty();
    // Only the design's subjects are read, one map at a time into a subjects x voxels float matrix.
    std::optional<Grid> grid;
    std::string space_res;
    Eigen::MatrixXf y;
    std::vector<std::string> lacking;
    for (std::size_t r = 0; r < design.rows.size(); ++r) {
      const std::string label = have[static_cast<std::size_t>(design.rows[r])].substr(4);
      const SubjectFiles& f = subjects.at(label);
      if (!f.maps.count(c1) || (paired && !f.maps.count(c2))) {
        lacking.push_back("sub-" + label);
        continue;
      }
      Volume m = io::read_nifti(f.maps.at(c1), io::Expect::volume3d);
      inputs_.insert(f.maps.at(c1).string());
      if (paired) {
        const Volume m2 = io::read_nifti(f.maps.at(c2), io::Expect::volume3d);
        inputs_.insert(f.maps.at(c2).string());
        for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] -= m2.data()[i];
      }
      if (!grid) {
        grid = m.grid();
        space_res = f.space_res;
        y.resize(static_cast<Eigen::Index>(design.rows.size()), grid->voxel_count());
      } else if (!grid->same_sampling(m.grid())) {
        throw Error(f.maps.at(c1).string() + " is on a different template grid than the other subjects' maps "
                                             "(same template_resolution_mm for all subjects?)");
      }
      y.row(static_cast<Eigen::Index>(r)) =
          Eigen::Map<const Eigen::RowVectorXf>(m.data(), grid->voxel_count());
    }
    if (!lacking.empty()) {
      spdlog::warn("group {}: no template-space maps for {}; voxelwise maps skipped (ROI tables written)",
                   analysis, fmt::join(lacking, ", "));
      return;
    }
    if (!grid) return;
    // Voxels where every subject has a value (the intersection of the subjects' masks).
    std::vector<Eigen::Index> inside;
    for (Eigen::Index v = 0; v < y.cols(); ++v)
      if (y.col(v).allFinite()) inside.push_back(v);
    if (inside.empty()) throw Error("the subjects' template-space maps have no voxel in common");
    Eigen::MatrixXf yin(y.rows(), static_cast<Eigen::Index>(inside.size()));
    for (std::size_t j = 0; j < inside.size(); ++j) yin.col(static_cast<Eigen::Index>(j)) = y.col(inside[j]);
    y.resize(0, 0);
    const glm::GroupResult g = glm::group_test(design, yin, {}, tp);
    auto write = [&](const std::string& stat, const Eigen::VectorXd& values) {
      Volume v(*grid, 1, std::nanf(""));
      for (std::size_t j = 0; j < inside.size(); ++j)
        v.data()[inside[j]] = static_cast<float>(values(static_cast<Eigen::Index>(j)));
      const fs::path p = group_dir_ / fmt::format("task-{}_{}_contrast-{}_stat-{}_desc-{}_statmap.nii.gz",
                                                  task, space_res, contrast_label, stat, analysis);
      io::write_nifti(p, v);
      summary_.outputs.push_back(p);
    };
    write("effect", g.effect.row(0).transpose());
    write("t", g.stat);
    write("z", g.z);
    write("p", g.p);
    write("pfdr", g.p_fdr);
    if (g.permutation.count > 0) write("pfwe", g.p_fwe);
    summary_.notes.push_back(
        fmt::format("group {} {} voxelwise: {} voxels, {} subjects{}", analysis, contrast_label,
                    inside.size(), yin.rows(),
                    g.permutation.count == 0 ? ""
                    : std::isfinite(g.permutation.fwe_threshold)
                        ? fmt::format(", {} permutations, FWE threshold |t| {:.2f}", g.permutation.count,
                                      g.permutation.fwe_threshold)
                        : fmt::format(", {} permutations: too few for an FWE threshold at "
                                      "alpha 0.05 (add subjects)",
                                      g.permutation.count)));
  }

  void write_provenance() {
    Provenance prov;
    prov.command_line = params_.command_line;
    prov.config = config_.source;
    for (const auto& f : inputs_) prov.inputs.push_back(describe_input(f));
    io::Json record = prov.to_json();
    record["Status"] = "completed";
    record["Notes"] = summary_.notes;
    record["Outputs"] = io::Json::array();
    for (const auto& o : summary_.outputs)
      record["Outputs"].push_back(fs::relative(o, params_.out_dir).string());
    const fs::path p = group_dir_ / "group_desc-provenance.json";
    io::write_json(p, record);
    summary_.outputs.push_back(p);
  }

  const RunParams& params_;
  Config config_;
  fs::path group_dir_;
  std::set<std::string> inputs_;
  GroupRunSummary summary_;
};

} // namespace

std::string GroupRunSummary::to_text() const {
  std::string out = fmt::format("rewardpath {} group level: {} file(s) written in {:.1f} s\n", version(),
                                outputs.size(), seconds);
  for (const auto& n : notes) out += "  " + n + "\n";
  return out;
}

GroupRunSummary run_group_level(const RunParams& params) {
  std::error_code ec;
  if (!fs::is_directory(params.bids_dir, ec))
    throw Error("BIDS_DIR does not exist or is not a directory: " + params.bids_dir.string());
  if (!fs::is_directory(params.out_dir, ec))
    throw Error("OUT_DIR does not exist: " + params.out_dir.string() + " (run the participant level first)");
  GroupLevel level(params, load_config(params.config_file));
  return level.run();
}

} // namespace rewardpath::pipeline
