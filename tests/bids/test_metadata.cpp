#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "bids_test_util.hpp"
#include "rewardpath/bids/metadata.hpp"

namespace bids = rewardpath::bids;
namespace fs = std::filesystem;
using rewardpath::io::Json;
using rp_test::error_of;
using rp_test::TempDir;

namespace {

const fs::path kPet = rp_test::kSharedData / "pet/bids_pet_examples";
const std::string kWhere = "sub-01_task-mid_bold.nii.gz";

Json pet_json(const std::string& frames) {
  Json j = Json::parse(frames);
  j["Units"] = "Bq/mL";
  j["TracerName"] = "raclopride";
  return j;
}

} // namespace

TEST(BoldMetadata, ReadsRepetitionTimeSliceTimingAndTaskName) {
  const Json j =
      Json::parse(R"({"RepetitionTime": 2.0, "SliceTiming": [0, 1.0, 0.5, 1.5], "TaskName": "mid"})");
  const auto m = bids::bold_metadata(j, kWhere, 4);
  EXPECT_EQ(m.repetition_time_s, 2.0);
  EXPECT_EQ(m.slice_timing_s, (std::vector<double>{0, 1.0, 0.5, 1.5}));
  EXPECT_EQ(m.task_name, "mid");

  const auto minimal = bids::bold_metadata(Json::parse(R"({"RepetitionTime": 0.8})"), kWhere);
  EXPECT_EQ(minimal.repetition_time_s, 0.8);
  EXPECT_TRUE(minimal.slice_timing_s.empty());
  EXPECT_EQ(minimal.task_name, "");
}

TEST(BoldMetadata, RepetitionTimeIsRequiredPositiveSeconds) {
  std::string msg = error_of([] { bids::bold_metadata(Json::parse(R"({"TaskName": "mid"})"), kWhere); });
  EXPECT_CONTAINS(msg, kWhere);
  EXPECT_CONTAINS(msg, "\"RepetitionTime\" is missing");
  EXPECT_CONTAINS(msg, "BIDS requires it for BOLD");

  msg = error_of([] { bids::bold_metadata(Json::parse(R"({"RepetitionTime": "2s"})"), kWhere); });
  EXPECT_CONTAINS(msg, "\"RepetitionTime\": expected a number, found string");

  for (const char* bad : {R"({"RepetitionTime": 0})", R"({"RepetitionTime": -2})"}) {
    msg = error_of([&] { bids::bold_metadata(Json::parse(bad), kWhere); });
    EXPECT_CONTAINS(msg, kWhere);
    EXPECT_CONTAINS(msg, "must be > 0 seconds");
  }
  msg = error_of([] { bids::bold_metadata(Json::parse(R"({"RepetitionTime": 2000})"), kWhere); });
  EXPECT_CONTAINS(msg, "looks like milliseconds (did you mean 2?)");
}

TEST(BoldMetadata, SliceTimingWithinTheRepetitionTimeAndOnePerSlice) {
  std::string msg = error_of(
      [] { bids::bold_metadata(Json::parse(R"({"RepetitionTime": 2, "SliceTiming": [0, 2.0]})"), kWhere); });
  EXPECT_CONTAINS(msg, kWhere);
  EXPECT_CONTAINS(msg, "\"SliceTiming\"[1] is 2 s, outside [0, RepetitionTime = 2 s)");

  msg = error_of(
      [] { bids::bold_metadata(Json::parse(R"({"RepetitionTime": 2, "SliceTiming": [-0.1]})"), kWhere); });
  EXPECT_CONTAINS(msg, "\"SliceTiming\"[0] is -0.1 s");

  msg = error_of([] {
    bids::bold_metadata(Json::parse(R"({"RepetitionTime": 2, "SliceTiming": [0, 1, 0.5]})"), kWhere, 4);
  });
  EXPECT_CONTAINS(msg, "\"SliceTiming\" has 3 values but the image has 4 slices");

  msg = error_of(
      [] { bids::bold_metadata(Json::parse(R"({"RepetitionTime": 2, "SliceTiming": [0, "a"]})"), kWhere); });
  EXPECT_CONTAINS(msg, "\"SliceTiming\"[1]: expected a number");
}

// ds005012 MID sidecar: multiband 6, TR 0.8 s, 60 slices acquired in 10 groups of 6.
TEST(BoldMetadata, RealMidSidecar) {
  const fs::path f =
      rp_test::kSharedData / "events/mid_ds005012/sub-38/ses-1/func/sub-38_ses-1_task-mid_run-01_bold.json";
  const auto m = bids::bold_metadata(rewardpath::io::read_json(f), f.string(), 60);
  EXPECT_EQ(m.repetition_time_s, 0.8);
  ASSERT_EQ(m.slice_timing_s.size(), 60u);
  EXPECT_EQ(m.slice_timing_s[1], 0.4);
  EXPECT_EQ(m.slice_timing_s[9], 0.72);
  EXPECT_EQ(std::count(m.slice_timing_s.begin(), m.slice_timing_s.end(), 0.0), 6); // MB factor 6
  EXPECT_EQ(m.task_name, "func_mid");
  const std::string msg =
      error_of([&] { bids::bold_metadata(rewardpath::io::read_json(f), f.string(), 58); });
  EXPECT_CONTAINS(msg, "has 60 values but the image has 58 slices");
}

TEST(PetMetadata, ReadsFramesTracerAndDecay) {
  Json j = pet_json(R"({"FrameTimesStart": [0, 60, 120], "FrameDuration": [60, 60, 300]})");
  j["TracerRadionuclide"] = "[11C]";
  j["ImageDecayCorrected"] = true;
  j["ImageDecayCorrectionTime"] = 0;
  j["InjectedRadioactivity"] = 250.5;
  j["InjectedRadioactivityUnits"] = "MBq";
  const auto m = bids::pet_metadata(j, "pet.nii.gz", 3);
  EXPECT_EQ(m.frames(), 3u);
  EXPECT_EQ(m.frame_mid_times_s(), (std::vector<double>{30, 90, 270}));
  EXPECT_EQ(m.units, "Bq/mL");
  EXPECT_EQ(m.tracer_name, "raclopride");
  EXPECT_EQ(m.tracer_half_life_s, 1223.1);
  EXPECT_EQ(m.decay_corrected, true);
  EXPECT_EQ(m.decay_correction_time_s, 0.0);
  EXPECT_EQ(m.injected_radioactivity, 250.5);
  EXPECT_EQ(m.injected_radioactivity_units, "MBq");

  // Gaps between frames are fine; optional fields may be absent.
  const auto gaps =
      bids::pet_metadata(pet_json(R"({"FrameTimesStart": [0, 100], "FrameDuration": [60, 60]})"), "x");
  EXPECT_EQ(gaps.frames(), 2u);
  EXPECT_FALSE(gaps.decay_corrected);
  EXPECT_FALSE(gaps.tracer_half_life_s);
  EXPECT_FALSE(gaps.injected_radioactivity);
}

TEST(PetMetadata, RadionuclideHalfLives) {
  const std::vector<std::pair<std::string, double>> known{{"C11", 1223.1},   {"11C", 1223.1}, {"F18", 6586.2},
                                                          {"[18F]", 6586.2}, {"O15", 122.24}, {"15O", 122.24},
                                                          {"N13", 597.9},    {"N-13", 597.9}};
  for (const auto& [nuclide, half_life] : known) {
    Json j = pet_json(R"({"FrameTimesStart": [0], "FrameDuration": [60]})");
    j["TracerRadionuclide"] = nuclide;
    EXPECT_EQ(bids::pet_metadata(j, "x").tracer_half_life_s, half_life) << nuclide;
  }
  Json j = pet_json(R"({"FrameTimesStart": [0], "FrameDuration": [60]})");
  j["TracerRadionuclide"] = "Ga68"; // not in the table: unknown, not an error
  EXPECT_FALSE(bids::pet_metadata(j, "x").tracer_half_life_s);
}

TEST(PetMetadata, BadFramesAreErrors) {
  const std::string where = "sub-01_pet.nii.gz (sidecar metadata)";
  auto msg_for = [&](const std::string& frames, std::optional<std::int64_t> n = {}) {
    return error_of([&] { bids::pet_metadata(pet_json(frames), where, n); });
  };
  std::string msg = msg_for(R"({"FrameTimesStart": [0, 60, 100], "FrameDuration": [60, 60, 60]})");
  EXPECT_CONTAINS(msg, where);
  EXPECT_CONTAINS(
      msg,
      "frames overlap: frame 1 starts at 60 s and lasts 60 s (ends at 120 s) but frame 2 starts at 100 s");

  msg = msg_for(R"({"FrameTimesStart": [0, 120, 60], "FrameDuration": [60, 60, 60]})");
  EXPECT_CONTAINS(msg, "\"FrameTimesStart\" is not sorted: frame 1 starts at 120 s, frame 2 at 60 s");

  msg = msg_for(R"({"FrameTimesStart": [0, 60], "FrameDuration": [60, 60]})", 3);
  EXPECT_CONTAINS(msg, "the sidecar lists 2 frames (FrameTimesStart/FrameDuration) but the image has 3");

  msg = msg_for(R"({"FrameTimesStart": [0, 60], "FrameDuration": [60]})");
  EXPECT_CONTAINS(msg, "FrameTimesStart has 2 values but FrameDuration has 1");

  msg = msg_for(R"({"FrameTimesStart": [0, 60], "FrameDuration": [60, 0]})");
  EXPECT_CONTAINS(msg, "\"FrameDuration\"[1] is 0 s; frame durations must be > 0");

  msg = msg_for(R"({"FrameDuration": [60]})");
  EXPECT_CONTAINS(msg, "required field \"FrameTimesStart\" is missing");
  msg = msg_for(R"({"FrameTimesStart": [0]})");
  EXPECT_CONTAINS(msg, "required field \"FrameDuration\" is missing");
  msg = msg_for(R"({"FrameTimesStart": [], "FrameDuration": []})");
  EXPECT_CONTAINS(msg, "\"FrameTimesStart\" is empty");
}

TEST(PetMetadata, MissingUnitsTracerAndBadTypes) {
  const std::string where = "sub-01_pet.nii.gz";
  Json j = pet_json(R"({"FrameTimesStart": [0], "FrameDuration": [60]})");
  j.erase("Units");
  std::string msg = error_of([&] { bids::pet_metadata(j, where); });
  EXPECT_CONTAINS(msg, where);
  EXPECT_CONTAINS(msg, "required field \"Units\" is missing");

  j = pet_json(R"({"FrameTimesStart": [0], "FrameDuration": [60]})");
  j.erase("TracerName");
  msg = error_of([&] { bids::pet_metadata(j, where); });
  EXPECT_CONTAINS(msg, "required field \"TracerName\" is missing");

  j = pet_json(R"({"FrameTimesStart": [0], "FrameDuration": [60]})");
  j["ImageDecayCorrected"] = "yes";
  msg = error_of([&] { bids::pet_metadata(j, where); });
  EXPECT_CONTAINS(msg, "\"ImageDecayCorrected\": expected true or false, found string \"yes\"");
}

// pet002: [11C]DASB baseline, 32 frames 0..3216 s with a 237 s and a 279 s frame near the end.
TEST(PetMetadata, RealDasbSidecar) {
  const fs::path f = kPet / "pet002/sub-01/ses-baseline/pet/sub-01_ses-baseline_pet.json";
  const auto m = bids::pet_metadata(rewardpath::io::read_json(f), f.string(), 32);
  ASSERT_EQ(m.frames(), 32u);
  EXPECT_EQ(m.frame_times_start_s.front(), 0);
  EXPECT_EQ(m.frame_times_start_s.back(), 2916);
  EXPECT_EQ(m.frame_duration_s[28], 237);
  EXPECT_EQ(m.frame_times_start_s.back() + m.frame_duration_s.back(), 3216);
  EXPECT_EQ(m.frame_mid_times_s().front(), 5);
  EXPECT_EQ(m.units, "Bq/mL");
  EXPECT_EQ(m.tracer_name, "DASB");
  EXPECT_EQ(m.tracer_half_life_s, 1223.1);
  EXPECT_EQ(m.decay_corrected, true);
  EXPECT_EQ(m.injected_radioactivity, 601.648);
  EXPECT_EQ(m.injected_radioactivity_units, "MBq");
  EXPECT_CONTAINS(error_of([&] { bids::pet_metadata(rewardpath::io::read_json(f), f.string(), 31); }),
                  "lists 32 frames (FrameTimesStart/FrameDuration) but the image has 31");

  const fs::path fdg = kPet / "pet006/sub-01/pet/sub-01_pet.json";
  const auto p = bids::pet_metadata(rewardpath::io::read_json(fdg), fdg.string());
  EXPECT_EQ(p.frames(), 1u);
  EXPECT_EQ(p.tracer_name, "FDG");
  EXPECT_EQ(p.tracer_half_life_s, 6586.2);
}

// pet001/pet003 (as NOTES.md warns): FrameDuration holds each frame's end time. Say so.
TEST(PetMetadata, RealSidecarsWithEndTimesAsDurations) {
  for (const char* rel : {"pet001/sub-01/ses-01/pet/sub-01_ses-01_trc-CIMBI36_pet.json",
                          "pet003/sub-01/ses-01/pet/sub-01_ses-01_pet.json"}) {
    const fs::path f = kPet / rel;
    const std::string msg = error_of([&] { bids::pet_metadata(rewardpath::io::read_json(f), f.string()); });
    EXPECT_CONTAINS(msg, f.string());
    EXPECT_CONTAINS(msg, "frames overlap: frame 1 starts at");
    EXPECT_CONTAINS(msg, "FrameDuration looks like frame end times");
  }
}

TEST(Blood, RealManualSamplesWithUnits) {
  const fs::path f = kPet / "pet001/sub-01/ses-01/pet/sub-01_ses-01_trc-CIMBI36_recording-manual_blood.tsv";
  const auto b = bids::read_blood(f);
  EXPECT_EQ(b.source, f);
  ASSERT_EQ(b.time_s.size(), 11u);
  EXPECT_EQ(b.time_s[1], 145);
  EXPECT_EQ(b.time_s.back(), 7193);
  ASSERT_EQ(b.plasma_radioactivity.size(), 11u);
  EXPECT_EQ(b.plasma_radioactivity[1], 43.31);
  EXPECT_EQ(b.whole_blood_radioactivity[1], 33.79);
  EXPECT_EQ(b.metabolite_parent_fraction[1], 0.5749);
  EXPECT_EQ(b.metabolite_parent_fraction.back(), 0.02);
  EXPECT_EQ(b.plasma_units, "kBq/ml");
  EXPECT_EQ(b.whole_blood_units, "kBq/ml");
}

TEST(Blood, RealAutosamplerWholeBloodOnly) {
  const fs::path f =
      kPet / "pet001/sub-01/ses-01/pet/sub-01_ses-01_trc-CIMBI36_recording-autosampler_blood.tsv";
  const auto b = bids::read_blood(f);
  ASSERT_EQ(b.time_s.size(), 901u); // 1 Hz, 0..900 s
  EXPECT_EQ(b.time_s.back(), 900);
  EXPECT_EQ(b.whole_blood_radioactivity.front(), 0.261018174);
  EXPECT_EQ(b.whole_blood_radioactivity.back(), 24.61883099);
  EXPECT_TRUE(b.plasma_radioactivity.empty());
  EXPECT_TRUE(b.metabolite_parent_fraction.empty());
  EXPECT_EQ(b.whole_blood_units, "kBq/ml");
  EXPECT_EQ(b.plasma_units, "");
}

// pet003: CRLF line ends, no final newline, parent fraction n/a except at 6 sample times.
TEST(Blood, RealSparseParentFraction) {
  const fs::path f = kPet / "pet003/sub-01/ses-01/pet/sub-01_ses-01_recording-manual_blood.tsv";
  const auto b = bids::read_blood(f);
  ASSERT_EQ(b.time_s.size(), 32u);
  EXPECT_EQ(b.time_s.back(), 7200);
  EXPECT_EQ(b.plasma_radioactivity.back(), 6279.54565);
  EXPECT_TRUE(b.whole_blood_radioactivity.empty());
  ASSERT_EQ(b.metabolite_parent_fraction.size(), 32u);
  EXPECT_EQ(std::count_if(b.metabolite_parent_fraction.begin(), b.metabolite_parent_fraction.end(),
                          [](double v) { return !std::isnan(v); }),
            6);
  EXPECT_EQ(b.time_s[12], 120);
  EXPECT_EQ(b.metabolite_parent_fraction[12], 0.50774032);
  EXPECT_EQ(b.plasma_units, "Bq/ml");

  const auto pig = bids::read_blood(kPet / "pet004/sub-01/pet/sub-01_recording-manual_blood.tsv");
  ASSERT_EQ(pig.time_s.size(), 13u);
  EXPECT_EQ(pig.time_s.back(), 7198.98);
  EXPECT_EQ(pig.metabolite_parent_fraction.back(), 0.1911);
  EXPECT_EQ(bids::read_blood(kPet / "pet004/sub-01/pet/sub-01_recording-autosampler_blood.tsv").time_s.size(),
            1614u);
}

TEST(Blood, BadFilesAreErrors) {
  TempDir d;
  auto f = d.write("a_blood.tsv", "seconds\tplasma_radioactivity\n0\t1\n");
  std::string msg = error_of([&] { bids::read_blood(f); });
  EXPECT_CONTAINS(msg, f.string());
  EXPECT_CONTAINS(msg, "missing required column \"time\"");

  f = d.write("b_blood.tsv", "time\tplasma_radioactivity\n0\t1\n10\thigh\n");
  msg = error_of([&] { bids::read_blood(f); });
  EXPECT_CONTAINS(msg, f.string());
  EXPECT_CONTAINS(msg, "line 3, column \"plasma_radioactivity\": \"high\" is not a number");

  f = d.write("c_blood.tsv", "time\tplasma_radioactivity\n0\t1\n20\t2\n10\t3\n");
  msg = error_of([&] { bids::read_blood(f); });
  EXPECT_CONTAINS(msg, "line 4, column \"time\": 10 s comes after 20 s");

  f = d.write("d_blood.tsv", "time\tplasma_radioactivity\nn/a\t1\n");
  msg = error_of([&] { bids::read_blood(f); });
  EXPECT_CONTAINS(msg, "line 2, column \"time\": \"n/a\" is not a time");

  f = d.write("e_blood.tsv", "time\thematocrit\n0\t0.4\n");
  msg = error_of([&] { bids::read_blood(f); });
  EXPECT_CONTAINS(msg, "none of the columns plasma_radioactivity");

  f = d.write("f_blood.tsv", "time\tplasma_radioactivity\n0\t1\n");
  d.write("f_blood.json", R"({"time": {"Units": "min"}, "plasma_radioactivity": {"Units": "kBq/mL"}})");
  msg = error_of([&] { bids::read_blood(f); });
  EXPECT_CONTAINS(msg, (d / "f_blood.json").string());
  EXPECT_CONTAINS(msg, "column \"time\" has Units \"min\"");

  d.write("f_blood.json", R"({"time": {"Units": "s"}, "plasma_radioactivity": {"Units": 3}})");
  msg = error_of([&] { bids::read_blood(f); });
  EXPECT_CONTAINS(msg, "column \"plasma_radioactivity\": field \"Units\": expected a string");
}
