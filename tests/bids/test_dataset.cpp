#include <gtest/gtest.h>

#include <algorithm>

#include "bids_test_util.hpp"
#include "rewardpath/bids/dataset.hpp"

namespace bids = rewardpath::bids;
namespace fs = std::filesystem;
using rp_test::error_of;
using rp_test::TempDir;

namespace {

const char* kDescription = R"({"Name": "test", "BIDSVersion": "1.9.0"})";
const char* kEvents = "onset\tduration\ttrial_type\n0\t2\tgain\n10\t2\tloss\n";

// A dataset without sessions: two subjects (created out of order), inheritance at root, subject and
// datatype level, plus folders and files discovery must ignore.
void write_flat_dataset(const TempDir& d) {
  d.write("dataset_description.json", kDescription);
  d.write("participants.tsv", "participant_id\nsub-01\nsub-02\n");
  d.write("README", "test");
  d.write("task-mid_bold.json", R"({"RepetitionTime": 2.0, "TaskName": "mid", "EchoTime": 0.03})");
  d.write("task-other_bold.json", R"({"RepetitionTime": 9.0})"); // another task: never applies
  d.write("sub-02/func/sub-02_task-mid_run-01_bold.nii.gz", "x");
  d.write("sub-02/func/sub-02_task-mid_run-01_events.tsv", kEvents);
  // sub-01: a subject-level sidecar overrides the root; a run-level one overrides both for run-02 only.
  d.write("sub-01/sub-01_task-mid_bold.json", R"({"RepetitionTime": 1.5})");
  d.write("sub-01/func/sub-01_task-mid_run-01_bold.nii.gz", "x");
  d.write("sub-01/func/sub-01_task-mid_run-01_events.tsv", kEvents);
  d.write("sub-01/func/sub-01_task-mid_run-02_bold.nii", "x");
  d.write("sub-01/func/sub-01_task-mid_run-02_bold.json", R"({"EchoTime": 0.025})");
  d.write("sub-01/anat/sub-01_T1w.nii.gz", "x");
  // Ignored: derivatives/sourcedata/code, hidden entries, non-BIDS names, other suffixes.
  d.write("derivatives/fmriprep/sub-01/func/sub-01_task-mid_run-01_bold.json", R"({"RepetitionTime": 7.0})");
  d.write("derivatives/fmriprep/sub-03/func/sub-03_task-mid_bold.nii.gz", "x");
  d.write("sourcedata/sub-04/func/sub-04_task-mid_bold.nii.gz", "x");
  d.write("code/convert.py", "print()");
  d.write(".git/sub-05/func/sub-05_task-mid_bold.nii.gz", "x");
  d.write("sub-01/func/.sub-01_task-mid_run-03_bold.nii.gz", "x");
  d.write("sub-01/func/sub-01_task-mid_run-01_bold.nii.gz.bak", "x");
  d.write("sub-01/func/notes.txt", "x");
  d.write("sub-01/func/sub-01_task-mid_run-01_sbref.nii.gz", "x");
  d.write("sub-01/func/.sub-01_task-mid_run-01_bold.json", R"({"RepetitionTime": 5.0})");
}

} // namespace

TEST(Dataset, DiscoversSubjectsRunsEventsAndAnat) {
  TempDir d;
  write_flat_dataset(d);
  const bids::Dataset ds = bids::discover(d.path());

  EXPECT_EQ(ds.root, d.path());
  EXPECT_EQ(ds.description.at("Name"), "test");
  EXPECT_EQ(ds.participants_tsv, d / "participants.tsv");
  ASSERT_EQ(ds.subjects.size(), 2u);
  EXPECT_EQ(ds.subjects[0].label, "01");
  EXPECT_EQ(ds.subjects[1].label, "02");
  const bids::Subject& s1 = ds.subjects[0];
  EXPECT_TRUE(s1.sessions.empty());
  EXPECT_TRUE(s1.pet.empty());

  ASSERT_EQ(s1.bold.size(), 2u);
  EXPECT_EQ(s1.bold[0].image, d / "sub-01/func/sub-01_task-mid_run-01_bold.nii.gz");
  EXPECT_EQ(s1.bold[0].events, d / "sub-01/func/sub-01_task-mid_run-01_events.tsv");
  EXPECT_EQ(s1.bold[0].entities.get("run"), "01");
  EXPECT_EQ(s1.bold[1].image, d / "sub-01/func/sub-01_task-mid_run-02_bold.nii");
  EXPECT_TRUE(s1.bold[1].events.empty()); // run-01's events never stand in for run-02

  ASSERT_EQ(s1.t1w.size(), 1u);
  EXPECT_EQ(s1.t1w[0].image, d / "sub-01/anat/sub-01_T1w.nii.gz");
  EXPECT_EQ(s1.t1w[0].entities.suffix, "T1w");

  ASSERT_EQ(ds.subjects[1].bold.size(), 1u);
  EXPECT_EQ(ds.subjects[1].bold[0].events, d / "sub-02/func/sub-02_task-mid_run-01_events.tsv");
}

TEST(Dataset, MetadataFollowsTheInheritancePrinciple) {
  TempDir d;
  write_flat_dataset(d);
  const bids::Dataset ds = bids::discover(d.path());
  const auto& s1 = ds.subjects.at(0);
  ASSERT_EQ(s1.bold.size(), 2u);

  // run-01: root, then the subject-level override (TR 1.5); EchoTime still from the root.
  const auto& r1 = s1.bold[0];
  EXPECT_EQ(r1.metadata.at("RepetitionTime"), 1.5);
  EXPECT_EQ(r1.metadata.at("EchoTime"), 0.03);
  EXPECT_EQ(r1.metadata.at("TaskName"), "mid");
  EXPECT_EQ(r1.sidecars,
            (std::vector<fs::path>{d / "task-mid_bold.json", d / "sub-01/sub-01_task-mid_bold.json"}));

  // run-02: its own sidecar (datatype level) comes last and overrides EchoTime only.
  const auto& r2 = s1.bold[1];
  EXPECT_EQ(r2.metadata.at("RepetitionTime"), 1.5);
  EXPECT_EQ(r2.metadata.at("EchoTime"), 0.025);
  EXPECT_EQ(r2.sidecars,
            (std::vector<fs::path>{d / "task-mid_bold.json", d / "sub-01/sub-01_task-mid_bold.json",
                                   d / "sub-01/func/sub-01_task-mid_run-02_bold.json"}));

  // sub-02 has only the root sidecar (the derivatives/ and hidden ones never apply).
  const auto& r3 = ds.subjects.at(1).bold.at(0);
  EXPECT_EQ(r3.metadata.at("RepetitionTime"), 2.0);
  EXPECT_EQ(r3.sidecars, (std::vector<fs::path>{d / "task-mid_bold.json"}));
}

TEST(Dataset, MoreEntitiesWinAtOneLevelAndTheMergeIsShallow) {
  TempDir d;
  d.write("dataset_description.json", kDescription);
  d.write("sub-01/func/sub-01_task-mid_run-01_bold.nii.gz", "x");
  d.write("sub-01/func/sub-01_task-mid_run-02_bold.nii.gz", "x");
  d.write("sub-01/func/sub-01_task-mid_acq-mb_run-01_bold.nii.gz", "x");
  // Same folder: the run-specific file (3 entities) is more specific than the task-wide one (2).
  d.write("sub-01/func/sub-01_task-mid_run-01_bold.json", R"({"B": 2, "Nested": {"y": 1}})");
  d.write("sub-01/func/sub-01_task-mid_bold.json", R"({"A": 1, "B": 1, "Nested": {"x": 1}})");
  const auto md = bids::inherited_metadata(d.path(), d / "sub-01/func/sub-01_task-mid_run-01_bold.nii.gz");
  EXPECT_EQ(md.at("A"), 1);
  EXPECT_EQ(md.at("B"), 2);
  EXPECT_EQ(md.at("Nested"), rewardpath::io::Json::parse(R"({"y": 1})")); // replaced, not merged
  EXPECT_EQ(bids::inherited_metadata(d.path(), d / "sub-01/func/sub-01_task-mid_run-02_bold.nii.gz").at("B"),
            1);

  // Two files with the same number of entities both applying at one level is ambiguous.
  d.write("sub-01/func/sub-01_task-mid_acq-mb_bold.json", R"({"B": 3})");
  const std::string msg = error_of([&] {
    bids::inherited_metadata(d.path(), d / "sub-01/func/sub-01_task-mid_acq-mb_run-01_bold.nii.gz");
  });
  EXPECT_CONTAINS(msg, "sub-01_task-mid_acq-mb_run-01_bold.nii.gz");
  EXPECT_CONTAINS(msg, "sub-01_task-mid_acq-mb_bold.json");
  EXPECT_CONTAINS(msg, "sub-01_task-mid_run-01_bold.json");
  // ...while the file that only one of them applies to is fine.
  EXPECT_EQ(bids::inherited_metadata(d.path(), d / "sub-01/func/sub-01_task-mid_run-02_bold.nii.gz").at("B"),
            1);
}

TEST(Dataset, SessionsPetBloodAndEventsInheritance) {
  TempDir d;
  d.write("dataset_description.json", kDescription);
  d.write("task-mid_events.tsv", kEvents); // a fixed design shared by every run...
  d.write("task-mid_bold.json", R"({"RepetitionTime": 2.0})");
  d.write("trc-raclopride_pet.json", R"({"TracerName": "raclopride", "Units": "Bq/mL"})");
  for (const std::string ses : {"2", "1"}) {
    const std::string base = "sub-01/ses-" + ses + "/";
    const std::string stem = "sub-01_ses-" + ses;
    d.write(base + "func/" + stem + "_task-mid_run-01_bold.nii.gz", "x");
    d.write(base + "anat/" + stem + "_T1w.nii.gz", "x");
    d.write(base + "pet/" + stem + "_trc-raclopride_pet.nii.gz", "x");
    d.write(base + "pet/" + stem + "_trc-raclopride_pet.json", R"({"Units": "kBq/mL"})");
    d.write(base + "pet/" + stem + "_trc-raclopride_recording-manual_blood.tsv",
            "time\tplasma_radioactivity\n0\t0\n");
    d.write(base + "pet/" + stem + "_trc-raclopride_recording-autosampler_blood.tsv",
            "time\twhole_blood_radioactivity\n0\t0\n");
    d.write(base + "pet/" + stem + "_trc-other_recording-manual_blood.tsv",
            "time\tplasma_radioactivity\n0\t0\n");
  }
  // ...except where a run has its own.
  d.write("sub-01/ses-2/func/sub-01_ses-2_task-mid_run-01_events.tsv", kEvents);

  const bids::Dataset ds = bids::discover(d.path());
  ASSERT_EQ(ds.subjects.size(), 1u);
  const auto& s = ds.subjects[0];
  EXPECT_EQ(s.sessions, (std::vector<std::string>{"1", "2"}));
  ASSERT_EQ(s.bold.size(), 2u);
  EXPECT_EQ(s.bold[0].entities.get("ses"), "1");
  EXPECT_EQ(s.bold[0].events, d / "task-mid_events.tsv");
  EXPECT_EQ(s.bold[1].events, d / "sub-01/ses-2/func/sub-01_ses-2_task-mid_run-01_events.tsv");
  EXPECT_EQ(s.bold[1].metadata.at("RepetitionTime"), 2.0);
  ASSERT_EQ(s.t1w.size(), 2u);

  ASSERT_EQ(s.pet.size(), 2u);
  const auto& pet = s.pet[0];
  EXPECT_EQ(pet.image, d / "sub-01/ses-1/pet/sub-01_ses-1_trc-raclopride_pet.nii.gz");
  EXPECT_EQ(pet.metadata.at("TracerName"), "raclopride");
  EXPECT_EQ(pet.metadata.at("Units"), "kBq/mL"); // the run's sidecar overrides the root
  ASSERT_EQ(pet.sidecars.size(), 2u);
  // One blood file per recording; the other tracer's file is not this scan's.
  EXPECT_EQ(pet.blood, (std::vector<fs::path>{
                           d / "sub-01/ses-1/pet/sub-01_ses-1_trc-raclopride_recording-autosampler_blood.tsv",
                           d / "sub-01/ses-1/pet/sub-01_ses-1_trc-raclopride_recording-manual_blood.tsv"}));
}

TEST(Dataset, SubjectsAndRunsSortNumbersByValue) {
  TempDir d;
  d.write("dataset_description.json", kDescription);
  for (const char* sub : {"10", "9", "2"}) {
    const std::string s = sub;
    d.write("sub-" + s + "/func/sub-" + s + "_task-mid_run-10_bold.nii.gz", "x");
    d.write("sub-" + s + "/func/sub-" + s + "_task-mid_run-9_bold.nii.gz", "x");
  }
  d.write("sub-3/notes.txt", "a subject folder with no data is still a subject");
  const auto ds = bids::discover(d.path());
  std::vector<std::string> labels;
  for (const auto& s : ds.subjects) labels.push_back(s.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"2", "3", "9", "10"}));
  ASSERT_EQ(ds.subjects[0].bold.size(), 2u);
  EXPECT_EQ(ds.subjects[0].bold[0].entities.get("run"), "9");
  EXPECT_EQ(ds.subjects[0].bold[1].entities.get("run"), "10");
  EXPECT_TRUE(ds.subjects[1].bold.empty());
}

TEST(Dataset, DiscoveryNeverWritesIntoTheDataset) {
  TempDir d;
  write_flat_dataset(d);
  d.write("sub-01/ses-1/pet/sub-01_ses-1_pet.nii.gz", "x"); // a folder discovery has to walk
  const auto before = rp_test::snapshot(d.path());
  ASSERT_GT(before.size(), 20u);
  const auto ds = bids::discover(d.path());
  (void)bids::inherited_metadata(d.path(), d / "sub-01/func/sub-01_task-mid_run-02_bold.nii");
  (void)bids::select_participants(ds, {"01"});
  EXPECT_EQ(rp_test::snapshot(d.path()), before);
}

TEST(Dataset, RootErrorsSayWhatIsWrong) {
  TempDir d;
  std::string msg = error_of([&] { bids::discover(d / "nope"); });
  EXPECT_CONTAINS(msg, (d / "nope").string());
  EXPECT_CONTAINS(msg, "does not exist");

  d.write("file.txt", "x");
  msg = error_of([&] { bids::discover(d / "file.txt"); });
  EXPECT_CONTAINS(msg, "not a folder");

  // sub-* folders but no description: say that the description is what's missing.
  d.write("ds/sub-01/func/sub-01_task-mid_bold.nii.gz", "x");
  msg = error_of([&] { bids::discover(d / "ds"); });
  EXPECT_CONTAINS(msg, (d / "ds").string());
  EXPECT_CONTAINS(msg, "no dataset_description.json");
  EXPECT_CONTAINS(msg, "sub-* folders");

  // A subject folder given instead of the dataset: point at the dataset.
  d.write("ds/dataset_description.json", kDescription);
  msg = error_of([&] { bids::discover(d / "ds/sub-01"); });
  EXPECT_CONTAINS(msg, "dataset's top folder (" + (d / "ds").string() + ")");

  // The dataset's parent given: point one level down.
  msg = error_of([&] { bids::discover(d.path()); });
  EXPECT_CONTAINS(msg, "did you mean " + (d / "ds").string());

  d.write("ds/dataset_description.json", "{\"Name\": ");
  msg = error_of([&] { bids::discover(d / "ds"); });
  EXPECT_CONTAINS(msg, (d / "ds/dataset_description.json").string());
  EXPECT_CONTAINS(msg, "invalid JSON");

  d.write("ds/dataset_description.json", "[1, 2]");
  msg = error_of([&] { bids::discover(d / "ds"); });
  EXPECT_CONTAINS(msg, "expected a JSON object");
}

TEST(Dataset, BrokenSidecarsAndMisplacedFilesAreErrors) {
  TempDir d;
  d.write("dataset_description.json", kDescription);
  d.write("sub-01/func/sub-01_task-mid_bold.nii.gz", "x");
  d.write("sub-01/func/sub-01_task-mid_bold.json", R"({"RepetitionTime": 2.0,})");
  std::string msg = error_of([&] { bids::discover(d.path()); });
  EXPECT_CONTAINS(msg, (d / "sub-01/func/sub-01_task-mid_bold.json").string());
  EXPECT_CONTAINS(msg, "invalid JSON");

  d.write("sub-01/func/sub-01_task-mid_bold.json", R"(["RepetitionTime", 2.0])");
  msg = error_of([&] { bids::discover(d.path()); });
  EXPECT_CONTAINS(msg, "must hold a JSON object");

  d.write("sub-01/func/sub-01_task-mid_bold.json", R"({"RepetitionTime": 2.0})");
  d.write("sub-01/func/sub-02_task-mid_bold.nii.gz", "x");
  msg = error_of([&] { bids::discover(d.path()); });
  EXPECT_CONTAINS(msg, "sub-02_task-mid_bold.nii.gz");
  EXPECT_CONTAINS(msg, "says sub-02 but the file is in folder sub-01");
  fs::remove(d / "sub-01/func/sub-02_task-mid_bold.nii.gz");

  d.write("sub-01/ses-1/func/sub-01_task-mid_bold.nii.gz", "x");
  msg = error_of([&] { bids::discover(d.path()); });
  EXPECT_CONTAINS(msg, "in folder ses-1 but its name lacks ses-1");
  fs::remove(d / "sub-01/ses-1/func/sub-01_task-mid_bold.nii.gz");

  d.write("sub-01/ses-1/func/sub-01_ses-2_task-mid_bold.nii.gz", "x");
  msg = error_of([&] { bids::discover(d.path()); });
  EXPECT_CONTAINS(msg, "says ses-2 but the file is in folder ses-1");
}

TEST(Dataset, InheritedMetadataChecksItsArguments) {
  TempDir d;
  d.write("dataset_description.json", kDescription);
  std::string msg =
      error_of([&] { bids::inherited_metadata(d.path(), d / "sub-01/func/notes_final.nii.gz"); });
  EXPECT_CONTAINS(msg, "not a BIDS file name");
  EXPECT_CONTAINS(msg, "notes_final.nii.gz");
  msg = error_of([&] { bids::inherited_metadata(d / "sub-01", d / "sub-02/func/sub-02_bold.nii"); });
  EXPECT_CONTAINS(msg, "not inside the dataset root");
}

TEST(Dataset, SelectParticipants) {
  TempDir d;
  d.write("dataset_description.json", kDescription);
  for (const char* s : {"01", "02", "03"})
    d.write(std::string("sub-") + s + "/anat/sub-" + s + "_T1w.nii", "x");
  const auto ds = bids::discover(d.path());

  EXPECT_EQ(bids::select_participants(ds, {}), (std::vector<std::string>{"01", "02", "03"}));
  EXPECT_EQ(bids::select_participants(ds, {"03", "sub-01", "01", "sub-03"}),
            (std::vector<std::string>{"01", "03"}));
  ASSERT_NE(ds.find_subject("sub-02"), nullptr);
  EXPECT_EQ(ds.find_subject("02")->label, "02");
  EXPECT_EQ(ds.find_subject("2"), nullptr);

  const std::string msg = error_of([&] { bids::select_participants(ds, {"01", "sub-07", "7"}); });
  EXPECT_CONTAINS(msg, "\"sub-07\", \"7\"");
  EXPECT_CONTAINS(msg, "the dataset has: 01, 02, 03");
  EXPECT_CONTAINS(msg, d.path().string());
}

// Real dataset (read-only copy): 60 subjects x 2 sessions of MID runs; images are annexed so no BOLD run
// is discovered, but the sidecars are real and derivatives/mriqc holds same-named JSONs that must not apply.
TEST(Dataset, RealMidDataset) {
  const fs::path root = rp_test::kSharedData / "events/mid_ds005012";
  const auto ds = bids::discover(root);
  ASSERT_EQ(ds.subjects.size(), 60u);
  EXPECT_EQ(ds.subjects.front().label, "02");
  EXPECT_EQ(ds.subjects.back().label, "108");
  EXPECT_TRUE(std::is_sorted(ds.subjects.begin(), ds.subjects.end(), [](const auto& a, const auto& b) {
    return std::stoi(a.label) < std::stoi(b.label);
  }));
  const auto* s38 = ds.find_subject("sub-38");
  ASSERT_NE(s38, nullptr);
  EXPECT_EQ(s38->sessions, (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(s38->bold.empty());
  EXPECT_EQ(ds.description.at("Name"), "Adolescent Health Risk Behavior Study");

  std::vector<fs::path> applied;
  const auto md = bids::inherited_metadata(
      root, root / "sub-38/ses-1/func/sub-38_ses-1_task-mid_run-01_bold.nii.gz", &applied);
  EXPECT_EQ(applied,
            (std::vector<fs::path>{ds.root / "sub-38/ses-1/func/sub-38_ses-1_task-mid_run-01_bold.json"}));
  EXPECT_EQ(md.at("RepetitionTime"), 0.8);
  EXPECT_EQ(md.at("SliceTiming").size(), 60u);
  EXPECT_EQ(md.at("MultibandAccelerationFactor"), 6);
  EXPECT_FALSE(md.contains("tsnr")); // an MRIQC metric: derivatives never leak in
}

TEST(Dataset, RealMixedGamblesRootSidecar) {
  const fs::path root = rp_test::kSharedData / "events/mixed_gambles_ds005";
  const auto ds = bids::discover(root);
  ASSERT_EQ(ds.subjects.size(), 16u);
  std::vector<fs::path> applied;
  const auto md = bids::inherited_metadata(
      root, root / "sub-01/func/sub-01_task-mixedgamblestask_run-01_bold.nii.gz", &applied);
  EXPECT_EQ(applied, (std::vector<fs::path>{ds.root / "task-mixedgamblestask_bold.json"}));
  EXPECT_EQ(md.at("RepetitionTime"), 2.0);
  EXPECT_EQ(md.at("TaskName"), "mixed-gambles task");
}
