#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "demo_dataset.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/pipeline/runner.hpp"
#include "run_params.hpp"

namespace fs = std::filesystem;
using namespace rewardpath;
using pipeline::RunParams;
using pipeline::SubjectStatus;

namespace {

fs::path fresh_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("rp_pipeline_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every file of a tree with its full contents: any write to the inputs shows up.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> m;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) m[fs::relative(e.path(), root).string()] = slurp(e.path());
  return m;
}

RunParams params_for(const fs::path& bids, const fs::path& out) {
  return test_support::run_params(bids, out, {}, {}, 1.0);
}
using test_support::outcome;

} // namespace

TEST(Runner, DemoDatasetCompletesWithCorrectMeanImage) {
  const auto d = fresh_dir("demo");
  testdata::DemoOptions opt;
  opt.subjects = 2;
  testdata::write_demo_dataset(d / "bids", opt);
  const auto inputs_before = snapshot(d / "bids");

  const auto summary = pipeline::run_participant_level(params_for(d / "bids", d / "out"));
  ASSERT_EQ(summary.subjects.size(), 2u);
  for (const auto& s : summary.subjects) EXPECT_EQ(s.status, SubjectStatus::completed) << s.error;
  EXPECT_EQ(summary.exit_code(), 0);
  EXPECT_EQ(snapshot(d / "bids"), inputs_before);

  // The mean image equals the temporal mean computed here directly from the input.
  const Volume bold = io::read_nifti(d / "bids/sub-02/func/sub-02_task-mid_run-01_bold.nii.gz");
  const Volume mean = io::read_nifti(d / "out/sub-02/func/sub-02_task-mid_run-01_desc-mean_bold.nii.gz");
  ASSERT_EQ(mean.volumes(), 1);
  ASSERT_EQ(mean.voxels_per_volume(), bold.voxels_per_volume());
  EXPECT_TRUE(mean.grid().same_sampling(bold.grid()));
  double max_err = 0.0;
  for (std::int64_t v = 0; v < bold.voxels_per_volume(); v += 7) {
    double s = 0.0;
    for (std::int64_t t = 0; t < bold.volumes(); ++t) s += bold.volume(t)[static_cast<std::size_t>(v)];
    max_err = std::max(max_err, std::abs(s / static_cast<double>(bold.volumes()) - mean.data()[v]));
  }
  EXPECT_LT(max_err, 1e-3);

  const auto summary_json =
      io::read_json(d / "out/sub-02/func/sub-02_task-mid_run-01_desc-summary_bold.json");
  EXPECT_EQ(summary_json.at("Volumes").get<int>(), 80);
  EXPECT_DOUBLE_EQ(summary_json.at("RepetitionTime").get<double>(), 2.0); // inherited from the root sidecar
  EXPECT_GT(summary_json.at("MedianTSNRInMask").get<double>(), 20.0);     // noise sd 10 on ~1000

  const auto desc = io::read_json(d / "out/dataset_description.json");
  EXPECT_EQ(desc.at("DatasetType"), "derivative");
  EXPECT_EQ(desc.at("GeneratedBy").at(0).at("Name"), "rewardpath");
  const auto prov = io::read_json(d / "out/sub-01/sub-01_desc-provenance.json");
  EXPECT_EQ(prov.at("Status"), "completed");
  EXPECT_FALSE(prov.at("Inputs").empty());
  EXPECT_TRUE(fs::exists(d / "out/logs/summary.json"));
  fs::remove_all(d);
}

TEST(Runner, RerunSkipsCurrentSubjectsAndRecomputesWhenInputsChange) {
  const auto d = fresh_dir("rerun");
  testdata::DemoOptions opt;
  opt.subjects = 2;
  opt.with_pet = false;
  testdata::write_demo_dataset(d / "bids", opt);
  auto p = params_for(d / "bids", d / "out");
  pipeline::run_participant_level(p);

  auto second = pipeline::run_participant_level(p);
  for (const auto& s : second.subjects) EXPECT_EQ(s.status, SubjectStatus::up_to_date);

  // Only the group section differs: participant-level outputs stay current (no recomputation).
  io::write_json(d / "group_only.json", {{"group", {{"permutations", 100}}}});
  auto with_group = p;
  with_group.config_file = d / "group_only.json";
  auto group_edit = pipeline::run_participant_level(with_group);
  for (const auto& s : group_edit.subjects) EXPECT_EQ(s.status, SubjectStatus::up_to_date);

  // A killed run leaves a temporary and no provenance record: the rerun recomputes and cleans up.
  fs::remove(d / "out/sub-01/sub-01_desc-provenance.json");
  testdata::write_text(d / "out/sub-01/func/.sub-01_task-mid_run-01_desc-mean_bold.nii.gz.tmp-rp999-0",
                       "half");
  // Changed input for sub-02 (new events file content and size).
  testdata::write_text(d / "bids/sub-02/func/sub-02_task-mid_run-01_events.tsv",
                       "onset\tduration\ttrial_type\n10\t2\tgain_anticipation\n");
  auto third = pipeline::run_participant_level(p);
  EXPECT_EQ(outcome(third, "01").status, SubjectStatus::completed);
  EXPECT_EQ(outcome(third, "02").status, SubjectStatus::completed);
  EXPECT_FALSE(fs::exists(d / "out/sub-01/func/.sub-01_task-mid_run-01_desc-mean_bold.nii.gz.tmp-rp999-0"));

  p.force = true;
  auto forced = pipeline::run_participant_level(p);
  for (const auto& s : forced.subjects) EXPECT_EQ(s.status, SubjectStatus::completed);
  fs::remove_all(d);
}

TEST(Runner, BadSubjectsFailClearlyAndOthersComplete) {
  const auto d = fresh_dir("bad");
  const fs::path bids = d / "bids";
  testdata::DemoOptions opt;
  opt.subjects = 7;
  opt.with_pet = false;
  testdata::write_demo_dataset(bids, opt);
  // TR comes from per-subject sidecars here, so one subject can lack it.
  fs::remove(bids / "task-mid_bold.json");
  for (int s = 1; s <= 7; ++s) {
    const std::string sub = "sub-0" + std::to_string(s);
    if (s != 3)
      io::write_json(bids / sub / "func" / (sub + "_task-mid_run-01_bold.json"), {{"RepetitionTime", 2.0}});
  }
  // sub-02: truncated image data
  const fs::path img2 = bids / "sub-02/func/sub-02_task-mid_run-01_bold.nii.gz";
  const std::string bytes = slurp(img2);
  testdata::write_text(img2, bytes.substr(0, bytes.size() / 2));
  // sub-03: no RepetitionTime anywhere (written above for the others only)
  // sub-04: event beyond the end of the 160 s run
  testdata::write_text(bids / "sub-04/func/sub-04_task-mid_run-01_events.tsv",
                       "onset\tduration\ttrial_type\n10\t2\tgain_anticipation\n400\t2\tgain_anticipation\n");
  // sub-05: negative duration
  testdata::write_text(bids / "sub-05/func/sub-05_task-mid_run-01_events.tsv",
                       "onset\tduration\ttrial_type\n10\t-2\tgain_anticipation\n");
  // sub-06: a 3D image where a BOLD series is expected
  io::write_nifti(bids / "sub-06/func/sub-06_task-mid_run-01_bold.nii.gz",
                  testdata::make_bold_run({8, 8, 6}, 1, 2.0, 6));
  const auto inputs_before = snapshot(bids);

  const auto summary = pipeline::run_participant_level(params_for(bids, d / "out"));
  EXPECT_EQ(summary.failed_count(), 5u);
  EXPECT_EQ(summary.exit_code(), 1);
  EXPECT_EQ(outcome(summary, "01").status, SubjectStatus::completed);
  EXPECT_EQ(outcome(summary, "07").status, SubjectStatus::completed);

  auto expect_failure = [&](const std::string& label, std::initializer_list<std::string> needles) {
    const auto& o = outcome(summary, label);
    EXPECT_EQ(o.status, SubjectStatus::failed) << label;
    for (const auto& n : needles) EXPECT_NE(o.error.find(n), std::string::npos) << label << ": " << o.error;
  };
  expect_failure("02", {"sub-02_task-mid_run-01_bold.nii.gz", "truncated"});
  expect_failure("03", {"sub-03_task-mid_run-01_bold.nii.gz", "RepetitionTime"});
  expect_failure("04", {"sub-04_task-mid_run-01_events.tsv", "400"});
  expect_failure("05", {"sub-05_task-mid_run-01_events.tsv", "duration"});
  expect_failure("06", {"sub-06_task-mid_run-01_bold.nii.gz", "expected a 4D time series"});

  const std::string text = summary.to_text();
  for (const char* l : {"sub-02", "sub-03", "sub-04", "sub-05", "sub-06"})
    EXPECT_NE(text.find(l), std::string::npos);
  const auto json = io::read_json(d / "out/logs/summary.json");
  EXPECT_EQ(json.at("failed").get<int>(), 5);
  EXPECT_FALSE(fs::exists(d / "out/sub-02/sub-02_desc-provenance.json"));
  EXPECT_EQ(snapshot(bids), inputs_before);
  fs::remove_all(d);
}

TEST(Runner, RunLevelErrorsAreThrownWithClearMessages) {
  const auto d = fresh_dir("errors");
  testdata::DemoOptions opt;
  opt.subjects = 2;
  opt.with_pet = false;
  testdata::write_demo_dataset(d / "bids", opt);

  auto expect_error = [](const RunParams& p, const std::string& needle) {
    try {
      pipeline::run_participant_level(p);
      ADD_FAILURE() << "expected an error containing " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(params_for(d / "bids", d / "bids"), "inside");
  expect_error(params_for(d / "bids", d / "bids/derivatives/rp"), "inside");
  auto p = params_for(d / "bids", d / "out");
  p.participant_labels = {"sub-09"};
  expect_error(p, "09");
  expect_error(params_for(d / "nope", d / "out"), "nope");
  EXPECT_FALSE(fs::exists(d / "bids/derivatives"));
  fs::remove_all(d);
}
