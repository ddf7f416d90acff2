#include <gtest/gtest.h>

#include "rewardpath/bids/entities.hpp"

using rewardpath::bids::Entities;
using rewardpath::bids::parse_filename;

TEST(Entities, ParsesFullBoldName) {
  const auto e = parse_filename("sub-01_ses-1_task-mid_acq-x_run-01_bold.nii.gz");
  ASSERT_TRUE(e);
  const std::map<std::string, std::string> expected{
      {"sub", "01"}, {"ses", "1"}, {"task", "mid"}, {"acq", "x"}, {"run", "01"}};
  EXPECT_EQ(e->values, expected);
  EXPECT_EQ(e->suffix, "bold");
  EXPECT_EQ(e->extension, ".nii.gz");
}

TEST(Entities, ParsesSidecarAndInheritanceLevelNames) {
  const auto run = parse_filename("sub-01_task-mid_bold.json");
  ASSERT_TRUE(run);
  EXPECT_EQ(run->values, (std::map<std::string, std::string>{{"sub", "01"}, {"task", "mid"}}));
  EXPECT_EQ(run->suffix, "bold");
  EXPECT_EQ(run->extension, ".json");

  const auto top = parse_filename("task-mid_bold.json"); // dataset-root sidecar: no sub
  ASSERT_TRUE(top);
  EXPECT_FALSE(top->has("sub"));
  EXPECT_EQ(top->get("task"), "mid");
  EXPECT_EQ(top->suffix, "bold");

  const auto bare = parse_filename("bold.json"); // a root sidecar for every task (all entities optional)
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->values.empty());
  EXPECT_EQ(bare->suffix, "bold");

  const auto blood = parse_filename("sub-01_ses-01_trc-CIMBI36_recording-manual_blood.tsv");
  ASSERT_TRUE(blood);
  EXPECT_EQ(blood->get("recording"), "manual");
  EXPECT_EQ(blood->get("trc"), "CIMBI36");
  EXPECT_EQ(blood->suffix, "blood");
  EXPECT_EQ(blood->extension, ".tsv");
}

TEST(Entities, ExtensionIsEverythingFromTheFirstDot) {
  EXPECT_EQ(parse_filename("sub-01_T1w.nii.gz")->extension, ".nii.gz");
  EXPECT_EQ(parse_filename("sub-01_T1w.nii")->extension, ".nii");
  EXPECT_EQ(parse_filename("sub-01_from-T1w_to-MNI_mode-image_xfm.h5")->extension, ".h5");
  // A dot inside a label makes the "extension" swallow the rest of the name, which is not BIDS.
  EXPECT_FALSE(parse_filename("sub-01_acq-1.5mm_bold.nii"));
}

TEST(Entities, RejectsNamesThatAreNotBidsShaped) {
  for (const char* name : {"dataset_description.json", "README", "participants", ".sub-01_task-mid_bold.json",
                           "._sub-01_bold.nii", "sub-01_task-mid_bold", "sub-01__bold.nii",
                           "sub-01_task-_bold.nii", "sub-01_-mid_bold.nii", "sub-01_sub-02_bold.nii",
                           "sub-01/func_bold.nii", "sub-01_task-mid_bold.nii.gz~", "sub-01_task-mid.json",
                           "sub-01_task-mid_bold.", "sub-01_task-m@d_bold.nii", ""})
    EXPECT_FALSE(parse_filename(name)) << name;
}

TEST(Entities, GetHasAndFallback) {
  const auto e = parse_filename("sub-01_task-mid_run-2_bold.nii");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->has("run"));
  EXPECT_FALSE(e->has("ses"));
  EXPECT_EQ(e->get("run"), "2");
  EXPECT_EQ(e->get("ses"), "");
  EXPECT_EQ(e->get("ses", "none"), "none");
}

TEST(Entities, SubsetIsTheInheritanceTest) {
  const auto data = *parse_filename("sub-01_ses-1_task-mid_run-01_bold.nii.gz");
  EXPECT_TRUE(parse_filename("task-mid_bold.json")->is_subset_of(data));
  EXPECT_TRUE(parse_filename("sub-01_task-mid_bold.json")->is_subset_of(data));
  EXPECT_TRUE(parse_filename("sub-01_ses-1_task-mid_run-01_bold.json")->is_subset_of(data));
  EXPECT_FALSE(parse_filename("task-gamble_bold.json")->is_subset_of(data)); // other label
  EXPECT_FALSE(parse_filename("sub-01_task-mid_run-02_bold.json")->is_subset_of(data));
  EXPECT_FALSE(parse_filename("sub-01_task-mid_acq-x_bold.json")->is_subset_of(data)); // key the data lacks
  EXPECT_TRUE(Entities{}.is_subset_of(data));
  EXPECT_FALSE(data.is_subset_of(*parse_filename("sub-01_task-mid_bold.json")));
}
