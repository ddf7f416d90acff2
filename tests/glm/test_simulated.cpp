// The simulator's MID run (modules/simulate, small size, no motion): fit the NAcc mean time series
// and recover the true gain-anticipation effect (percent signal change) within its SE.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "rewardpath/bids/events.hpp"
#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/glm/fit.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/simulate/simulate.hpp"

namespace g = rewardpath::glm;
namespace fs = std::filesystem;

namespace {
fs::path dataset() {
  const fs::path out = fs::absolute("glm_sim_small");
  if (!fs::exists(out / "truth" / "dataset.json")) {
    rewardpath::simulate::Options o;
    o.subjects = 1;
    o.pet = false;
    o.motion = false;
    o.seed = 5;
    rewardpath::simulate::simulate_dataset(out, o);
  }
  return out;
}
} // namespace

TEST(Simulated, NaccGainAnticipationRecovered) {
  const fs::path root = dataset();
  const fs::path func = root / "bids" / "sub-01" / "func";
  const fs::path truth_dir = root / "truth" / "sub-01";
  const auto bold = rewardpath::io::read_nifti(func / "sub-01_task-mid_run-01_bold.nii.gz");
  const auto events = rewardpath::bids::read_events(func / "sub-01_task-mid_run-01_events.tsv");
  const auto labels = rewardpath::io::read_nifti(truth_dir / "sub-01_task-mid_run-01_roilabels.nii.gz");
  const auto effects = rewardpath::io::read_nifti(truth_dir / "sub-01_task-mid_run-01_effects.nii.gz");
  const auto baseline = rewardpath::io::read_nifti(truth_dir / "sub-01_task-mid_run-01_baseline.nii.gz");
  nlohmann::json truth, sidecar;
  std::ifstream(truth_dir / "sub-01_truth.json") >> truth;
  std::ifstream(func / "sub-01_task-mid_run-01_bold.json") >> sidecar;
  const auto regressors = truth["func"]["regressors"].get<std::vector<std::string>>();
  const auto gain_index =
      std::find(regressors.begin(), regressors.end(), "gain_anticipation") - regressors.begin();
  const auto majority = truth["func"]["roi_voxels_majority"];
  const double tr = sidecar["RepetitionTime"].get<double>();
  const auto slice_timing = sidecar["SliceTiming"].get<std::vector<double>>();

  // NAcc = labels 3 (left) and 4 (right); check against the truth's voxel counts.
  const auto nv = static_cast<std::size_t>(bold.voxels_per_volume());
  std::vector<std::size_t> vox;
  int left = 0, right = 0;
  for (std::size_t i = 0; i < nv; ++i) {
    const int l = static_cast<int>(labels.data()[i]);
    if (l == 3 || l == 4) vox.push_back(i), (l == 3 ? left : right)++;
  }
  ASSERT_EQ(left, majority["NAcc_L"].get<int>());
  ASSERT_EQ(right, majority["NAcc_R"].get<int>());
  // Truth for the ROI mean: baseline-weighted mean of the voxel effects; sampling time: the
  // ROI's mean slice acquisition time (slice timing is in the simulated data).
  double sw = 0, se = 0, st = 0;
  for (auto i : vox) {
    const double s0 = baseline.data()[i];
    sw += s0;
    se += s0 * effects.data()[static_cast<std::size_t>(gain_index) * nv + i];
    st += slice_timing[i / static_cast<std::size_t>(bold.nx() * bold.ny())];
  }
  const double true_percent = se / sw;
  const double slice_ref = st / static_cast<double>(vox.size()) / tr;

  Eigen::MatrixXd y(bold.volumes(), 1);
  for (std::int64_t t = 0; t < bold.volumes(); ++t) {
    double m = 0;
    for (auto i : vox) m += bold.data()[static_cast<std::size_t>(t) * nv + i];
    y(t, 0) = m / static_cast<double>(vox.size());
  }
  g::DesignParams dp;
  dp.tr_s = tr;
  dp.volumes = bold.volumes();
  dp.slice_time_ref = slice_ref;
  const auto design = g::make_design(events, dp);
  for (auto model : {g::NoiseModel::ols, g::NoiseModel::ar1}) {
    g::FitParams fp;
    fp.noise_model = model;
    const auto f = g::fit(y, design, fp);
    const auto c = g::contrast(f, "gain_anticipation");
    const double scale = 100.0 / f.beta(design.column("constant"), 0);
    const double est = c.effect(0, 0) * scale, sem = std::sqrt(c.variance(0, 0)) * scale;
    std::printf(
        "NAcc gain_anticipation (%s): estimate %.3f +- %.3f %%, truth %.3f %% (z %.2f), slice ref %.3f\n",
        model == g::NoiseModel::ols ? "ols" : "ar1", est, sem, true_percent, (est - true_percent) / sem,
        slice_ref);
    EXPECT_LT(std::fabs(est - true_percent), 2.5 * sem);
    EXPECT_GT(c.stat(0), 2.0); // detected
  }
}
