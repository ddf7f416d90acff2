#include <gtest/gtest.h>

#include "bids_test_util.hpp"
#include "rewardpath/bids/derivatives.hpp"
#include "rewardpath/core/provenance.hpp"

namespace bids = rewardpath::bids;
namespace fs = std::filesystem;
using bids::Output;
using rp_test::error_of;

namespace {

const fs::path kOut = "/data/out";

bids::Entities src(const std::string& name) {
  auto e = bids::parse_filename(name);
  if (!e) ADD_FAILURE() << "not a BIDS name: " << name;
  return e.value_or(bids::Entities{});
}

std::string rel(const fs::path& p) { return p.lexically_relative(kOut).generic_string(); }

} // namespace

TEST(Derivatives, FuncOutputsWithAndWithoutSession) {
  const auto bold = src("sub-01_task-mid_run-01_bold.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(kOut, bold, Output::confounds)),
            "sub-01/func/sub-01_task-mid_run-01_desc-confounds_timeseries.tsv");
  EXPECT_EQ(bids::derivative_path(kOut, bold, Output::confounds),
            kOut / "sub-01/func/sub-01_task-mid_run-01_desc-confounds_timeseries.tsv");
  EXPECT_EQ(
      rel(bids::derivative_path(kOut, src("sub-01_ses-1_task-mid_run-01_bold.nii.gz"), Output::confounds)),
      "sub-01/ses-1/func/sub-01_ses-1_task-mid_run-01_desc-confounds_timeseries.tsv");
  EXPECT_EQ(rel(bids::derivative_path(kOut, bold, Output::mean_bold)),
            "sub-01/func/sub-01_task-mid_run-01_desc-mean_bold.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(kOut, bold, Output::bold_summary)),
            "sub-01/func/sub-01_task-mid_run-01_desc-summary_bold.json");
  EXPECT_EQ(rel(bids::derivative_path(kOut, bold, Output::roi_timeseries, {{"atlas", "reward"}})),
            "sub-01/func/sub-01_task-mid_run-01_atlas-reward_timeseries.tsv");
  EXPECT_EQ(rel(bids::derivative_path(kOut, src("sub-01_task-mid_bold.nii.gz"), Output::statmap,
                                      {{"contrast", "gainVsNeutral"}, {"stat", "t"}})),
            "sub-01/func/sub-01_task-mid_contrast-gainVsNeutral_stat-t_statmap.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(
                kOut, bold, Output::statmap,
                {{"stat", "z"}, {"contrast", "gainVsNeutral"}, {"space", "MNI152NLin2009cAsym"}})),
            "sub-01/func/"
            "sub-01_task-mid_run-01_space-MNI152NLin2009cAsym_contrast-gainVsNeutral_stat-z_statmap.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(kOut, bold, Output::roi_table,
                                      {{"contrast", "gainVsNeutral"}, {"atlas", "reward"}})),
            "sub-01/func/sub-01_task-mid_run-01_atlas-reward_contrast-gainVsNeutral_roistats.tsv");
  EXPECT_EQ(rel(bids::derivative_path(kOut, bold, Output::dseg, {{"atlas", "reward"}, {"space", "T1w"}})),
            "sub-01/func/sub-01_task-mid_run-01_space-T1w_atlas-reward_dseg.nii.gz");
}

TEST(Derivatives, EntitiesComeInBidsOrder) {
  // parse_filename keeps entities in a std::map (alphabetical); names must come out in BIDS order.
  const auto bold =
      src("sub-01_ses-2_task-mid_acq-mb6_ce-gd_rec-x_dir-PA_run-02_echo-1_part-mag_bold.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(kOut, bold, Output::mean_bold, {{"space", "MNI"}, {"res", "2"}})),
            "sub-01/ses-2/func/"
            "sub-01_ses-2_task-mid_acq-mb6_ce-gd_rec-x_dir-PA_run-02_echo-1_part-mag_space-MNI_res-2_desc-"
            "mean_bold.nii.gz");
  // A dataset's own entity goes after the known ones and before desc.
  EXPECT_EQ(rel(bids::derivative_path(kOut, src("sub-01_task-mid_zeta-1_run-1_bold.nii"), Output::confounds)),
            "sub-01/func/sub-01_task-mid_run-1_zeta-1_desc-confounds_timeseries.tsv");
}

TEST(Derivatives, PetOutputs) {
  const auto pet = src("sub-01_trc-raclopride_pet.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(kOut, pet, Output::tacs, {{"atlas", "reward"}})),
            "sub-01/pet/sub-01_trc-raclopride_atlas-reward_tacs.tsv");
  EXPECT_EQ(rel(bids::derivative_path(kOut, pet, Output::bp_table, {{"model", "SRTM"}, {"atlas", "reward"}})),
            "sub-01/pet/sub-01_trc-raclopride_atlas-reward_model-SRTM_bp.tsv");
  EXPECT_EQ(rel(bids::derivative_path(kOut, pet, Output::bp_map, {{"model", "SRTM"}})),
            "sub-01/pet/sub-01_trc-raclopride_model-SRTM_meas-BPnd_mimap.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(kOut, pet, Output::mean_pet)),
            "sub-01/pet/sub-01_trc-raclopride_desc-mean_pet.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(kOut, pet, Output::mean_pet_realigned)),
            "sub-01/pet/sub-01_trc-raclopride_desc-realignedmean_pet.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(kOut, pet, Output::pet_motion)),
            "sub-01/pet/sub-01_trc-raclopride_desc-motion_timeseries.tsv");
  EXPECT_EQ(rel(bids::derivative_path(kOut, pet, Output::pet_summary)),
            "sub-01/pet/sub-01_trc-raclopride_desc-summary_pet.json");
  EXPECT_EQ(rel(bids::derivative_path(kOut, pet, Output::dseg, {{"atlas", "reward"}})),
            "sub-01/pet/sub-01_trc-raclopride_atlas-reward_dseg.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(kOut, src("sub-01_ses-bl_trc-raclopride_rec-acdyn_pet.nii.gz"),
                                      Output::tacs, {{"atlas", "reward"}})),
            "sub-01/ses-bl/pet/sub-01_ses-bl_trc-raclopride_rec-acdyn_atlas-reward_tacs.tsv");
}

TEST(Derivatives, TransformsProvenanceAndReport) {
  const auto bold = src("sub-01_ses-1_task-mid_run-01_bold.nii.gz");
  EXPECT_EQ(rel(bids::derivative_path(kOut, bold, Output::xfm, {{"from", "boldref"}, {"to", "T1w"}})),
            "sub-01/ses-1/xfm/sub-01_ses-1_task-mid_run-01_from-boldref_to-T1w_mode-image_xfm.txt");
  EXPECT_EQ(
      rel(bids::derivative_path(kOut, src("sub-01_T1w.nii.gz"), Output::xfm,
                                {{"from", "T1w"}, {"to", "MNI152NLin2009cAsym"}, {"extension", ".h5"}})),
      "sub-01/xfm/sub-01_from-T1w_to-MNI152NLin2009cAsym_mode-image_xfm.h5");
  // Per-subject files keep only sub, whatever run they were asked for.
  EXPECT_EQ(rel(bids::derivative_path(kOut, bold, Output::provenance)), "sub-01/sub-01_desc-provenance.json");
  EXPECT_EQ(bids::derivative_path(kOut, bold, Output::report), kOut / "sub-01.html");
  EXPECT_EQ(rel(bids::derivative_path(kOut, src("sub-01_T1w.nii.gz"), Output::dseg, {{"atlas", "reward"}})),
            "sub-01/anat/sub-01_atlas-reward_dseg.nii.gz");
}

TEST(Derivatives, NamesParseBackToTheirEntities) {
  const auto bold = src("sub-01_ses-1_task-mid_run-01_bold.nii.gz");
  const auto p =
      bids::derivative_path(kOut, bold, Output::statmap, {{"contrast", "gainVsNeutral"}, {"stat", "effect"}});
  const auto e = bids::parse_filename(p.filename().string());
  ASSERT_TRUE(e);
  const std::map<std::string, std::string> expected{
      {"sub", "01"},     {"ses", "1"}, {"task", "mid"}, {"run", "01"}, {"contrast", "gainVsNeutral"},
      {"stat", "effect"}};
  EXPECT_EQ(e->values, expected);
  EXPECT_EQ(e->suffix, "statmap");
  EXPECT_EQ(e->extension, ".nii.gz");
}

TEST(Derivatives, BadCombinationsAreErrors) {
  const auto bold = src("sub-01_task-mid_bold.nii.gz");
  std::string msg = error_of([&] {
    bids::derivative_path(kOut, bold, Output::statmap, {{"contrast", "gain"}});
  });
  EXPECT_CONTAINS(msg, "output name for statmap");
  EXPECT_CONTAINS(msg, "entity \"stat\" is required (needs: contrast, stat)");

  msg = error_of([&] { bids::derivative_path(kOut, bold, Output::confounds, {{"atlas", "reward"}}); });
  EXPECT_CONTAINS(msg, "entity \"atlas\" is not used for this output (allowed: none)");

  msg = error_of([&] {
    bids::derivative_path(kOut, bold, Output::roi_timeseries, {{"atlas", "reward"}, {"model", "x"}});
  });
  EXPECT_CONTAINS(msg, "entity \"model\" is not used for this output (allowed: atlas, space, desc)");

  msg = error_of([&] {
    bids::derivative_path(kOut, bold, Output::statmap, {{"contrast", "gain-neutral"}, {"stat", "t"}});
  });
  EXPECT_CONTAINS(msg, "entity \"contrast\" has label \"gain-neutral\"");

  msg = error_of([&] { bids::derivative_path(kOut, bold, Output::mean_bold, {{"extension", ".nii"}}); });
  EXPECT_CONTAINS(msg, "entity \"extension\" is not used");

  msg = error_of([&] { bids::derivative_path(kOut, src("task-mid_bold.json"), Output::confounds); });
  EXPECT_CONTAINS(msg, "no sub- entity");
}

TEST(Derivatives, DatasetDescription) {
  const auto d = bids::derivatives_description("/data/bids/ds005012/");
  EXPECT_EQ(d.at("Name"), "rewardpath");
  EXPECT_EQ(d.at("BIDSVersion"), "1.9.0");
  EXPECT_EQ(d.at("DatasetType"), "derivative");
  ASSERT_EQ(d.at("GeneratedBy").size(), 1u);
  EXPECT_EQ(d.at("GeneratedBy")[0].at("Name"), "rewardpath");
  EXPECT_EQ(d.at("GeneratedBy")[0].at("Version"), rewardpath::version());
  ASSERT_EQ(d.at("SourceDatasets").size(), 1u);
  EXPECT_EQ(d.at("SourceDatasets")[0].at("URL"), "file:///data/bids/ds005012");

  // Relative paths become absolute; characters that cannot appear in a URL are escaped.
  const auto rel_d = bids::derivatives_description("my data/../ds");
  EXPECT_EQ(rel_d.at("SourceDatasets")[0].at("URL"),
            "file://" + (fs::current_path() / "ds").generic_string());
  EXPECT_EQ(bids::derivatives_description("/data/my ds").at("SourceDatasets")[0].at("URL"),
            "file:///data/my%20ds");
}
