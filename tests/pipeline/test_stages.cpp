// Each stage called on its own through its public header, handing the next stage values: the load
// stage's means, the registration stage's transforms and labels. Checks that the values equal what
// the stages write for users, and that the fMRI stage needs none of those files (they are deleted
// before it runs).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "rewardpath/bids/dataset.hpp"
#include "rewardpath/bids/derivatives.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/fmri_stage.hpp"
#include "rewardpath/pipeline/load_stage.hpp"
#include "rewardpath/pipeline/registration_stage.hpp"
#include "rewardpath/pipeline/subject_plan.hpp"
#include "rewardpath/registration/registration.hpp"
#include "rewardpath/simulate/simulate.hpp"

namespace fs = std::filesystem;
using namespace rewardpath;

namespace {

class Stages : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("rp_stages_" + std::to_string(::getpid()));
    fs::create_directories(root_);
    simulate::Options o;
    o.subjects = 1;
    o.seed = 11;
    o.pet = false;
    o.size = simulate::Size::small;
    simulate::simulate_dataset(root_ / "sim", o);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }
  static fs::path root_;
};
fs::path Stages::root_;

TEST_F(Stages, PassValuesThatEqualTheFilesWrittenForUsers) {
  const fs::path bids_dir = root_ / "sim" / "bids", out = root_ / "out";
  io::Json cfg = io::read_json(fs::path(RP_SOURCE_DIR) / "configs" / "mid.json");
  const pipeline::Config config = pipeline::parse_config(cfg, "mid.json");
  const bids::Dataset dataset = bids::discover(bids_dir);
  const pipeline::SubjectPlan plan = pipeline::plan_subject(*dataset.find_subject("01"), config);
  ASSERT_FALSE(plan.bold.empty());

  // Load: the temporal mean of each run, the very values of its _desc-mean_bold file.
  const pipeline::LoadResult load = pipeline::run_load_stage(plan, bids_dir, out);
  ASSERT_EQ(load.bold_means.size(), plan.bold.size());
  const Volume run = io::read_nifti(plan.bold[0].run.image);
  const Volume& mean = load.bold_means[0];
  ASSERT_TRUE(mean.grid().same_sampling(run.grid()));
  double max_rel = 0;
  for (std::int64_t i = 0; i < mean.voxels_per_volume(); ++i) {
    double sum = 0;
    for (std::int64_t t = 0; t < run.volumes(); ++t) sum += run.volume(t)[static_cast<std::size_t>(i)];
    const double expected = sum / static_cast<double>(run.volumes());
    max_rel = std::max(max_rel, std::abs(mean.data()[i] - expected) / std::max(1.0, std::abs(expected)));
  }
  EXPECT_LT(max_rel, 1e-6);
  const fs::path mean_file = bids::derivative_path(out, plan.bold[0].run.entities, bids::Output::mean_bold);
  const Volume written_mean = io::read_nifti(mean_file);
  ASSERT_EQ(written_mean.size(), mean.size());
  EXPECT_TRUE(std::equal(mean.data(), mean.data() + mean.size(), written_mean.data()));

  // Registration: the atlas on each run's grid and the run -> template transform, as written.
  const pipeline::RegistrationResources resources =
      pipeline::load_registration_resources(config.registration);
  const pipeline::RegistrationResult reg = pipeline::run_registration_stage(
      plan, {load.bold_means, load.pet_means}, resources, config.registration, out);
  ASSERT_EQ(reg.bold.size(), plan.bold.size());
  const pipeline::RunRegistration& r0 = reg.bold[0];
  EXPECT_TRUE(r0.labels.grid().same_sampling(run.grid()));
  EXPECT_TRUE(r0.to_template.is_linear());
  const auto& ents = plan.bold[0].run.entities;
  const fs::path dseg =
      bids::derivative_path(out, ents, bids::Output::dseg, {{"space", "bold"}, {"atlas", "reward"}});
  const Volume written_labels = io::read_nifti(dseg);
  ASSERT_EQ(written_labels.size(), r0.labels.size());
  EXPECT_TRUE(std::equal(r0.labels.data(), r0.labels.data() + r0.labels.size(), written_labels.data()));
  std::int64_t labelled = 0;
  for (std::size_t i = 0; i < r0.labels.size(); ++i) labelled += r0.labels.data()[i] > 0;
  EXPECT_GT(labelled, 100); // the reward ROIs land inside the run's field of view
  const fs::path xfm =
      bids::derivative_path(out, ents, bids::Output::xfm, {{"from", "MNIColin27"}, {"to", "bold"}});
  const registration::Transform written_xfm = registration::read_transform(xfm);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(written_xfm.matrix[i][j], r0.to_template.matrix[i][j]) << i << j;

  // fMRI: from the values alone. The registration stage's files are gone before it runs.
  for (const auto& f : reg.outputs) fs::remove(f);
  const pipeline::RegisteredRuns bold{resources, reg.bold};
  const auto written = pipeline::run_fmri_stage(plan, config, &bold, out);
  const auto has = [&](const std::string& suffix) {
    return std::any_of(written.begin(), written.end(),
                       [&](const fs::path& p) { return p.filename().string().ends_with(suffix); });
  };
  EXPECT_TRUE(has("_atlas-reward_timeseries.tsv"));
  EXPECT_TRUE(has("_atlas-reward_contrast-gainVsNeutral_roistats.tsv"));
  EXPECT_TRUE(has("_space-MNIColin27_res-2_contrast-gainVsNeutral_stat-t_desc-fixedeffects_statmap.nii.gz"));
  for (const auto& f : written) EXPECT_TRUE(fs::exists(f)) << f;

  // The noise-model settings reach the fit: nilearn's uncorrected AR(1) estimate gives other t.
  pipeline::Config nilearn = config;
  nilearn.glm.ar_bias_correction = false;
  const auto written_nilearn = pipeline::run_fmri_stage(plan, nilearn, &bold, root_ / "out_nilearn");
  const std::string t_map = "_run-01_contrast-gainVsNeutral_stat-t_statmap.nii.gz";
  const auto find = [&](const std::vector<fs::path>& files) {
    for (const auto& f : files)
      if (f.filename().string().ends_with(t_map)) return f;
    return fs::path{};
  };
  const Volume t_default = io::read_nifti(find(written)), t_nilearn = io::read_nifti(find(written_nilearn));
  ASSERT_EQ(t_default.size(), t_nilearn.size());
  double max_diff = 0;
  for (std::size_t i = 0; i < t_default.size(); ++i)
    max_diff = std::max(max_diff, static_cast<double>(std::abs(t_default.data()[i] - t_nilearn.data()[i])));
  EXPECT_GT(max_diff, 1e-3);
  EXPECT_LT(max_diff, 2.0); // the same model, a different AR(1) estimate
}

} // namespace
