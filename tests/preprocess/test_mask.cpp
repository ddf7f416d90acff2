// EPI brain mask: a bright ball on a noisy background (known answer), and nilearn's
// compute_epi_mask on the same EPI-like image (Colin27 head on a 3 mm grid with background noise).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "preprocess_test_util.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/preprocess/mask.hpp"
#include "temp_dir.hpp"

namespace pp = rewardpath::preprocess;
using rewardpath::Grid;
using rewardpath::Volume;

namespace {
double dice(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  double both = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) both += (a[i] && b[i]), na += a[i] != 0, nb += b[i] != 0;
  return 2 * both / (na + nb);
}
} // namespace

TEST(EpiMask, BallOnNoisyBackground) {
  Grid g;
  g.dims = {40, 40, 30};
  g.spacing_mm = {3, 3, 3};
  Volume v(g, 1);
  std::vector<std::uint8_t> truth(static_cast<std::size_t>(g.voxel_count()));
  std::mt19937 rng(2);
  std::normal_distribution<float> z(0.0f, 5.0f);
  for (std::int64_t k = 0; k < 30; ++k)
    for (std::int64_t j = 0; j < 40; ++j)
      for (std::int64_t i = 0; i < 40; ++i) {
        const double r =
            std::sqrt((i - 19.5) * (i - 19.5) + (j - 19.5) * (j - 19.5) + (k - 14.5) * (k - 14.5) * 1.0);
        const bool in = r < 12.0;
        truth[v.index(i, j, k)] = in;
        v.at(i, j, k) = std::abs(z(rng)) + (in ? 800.0f + 10.0f * z(rng) : 0.0f);
      }
  const auto m = pp::compute_epi_mask(v);
  const double d = dice(m.voxels, truth);
  std::printf("ball: Dice %.4f, threshold %.1f, %ld voxels (true %ld)\n", d, m.threshold,
              static_cast<long>(m.count()), static_cast<long>(std::count(truth.begin(), truth.end(), 1)));
  EXPECT_GT(d, 0.98);
  EXPECT_GT(m.threshold, 20.0);
  EXPECT_LT(m.threshold, 700.0);
}

TEST(EpiMask, AgreesWithNilearnComputeEpiMask) {
  if (!pp_test::python_has("nilearn.masking, nibabel", "/work/ext/nilearn"))
    GTEST_SKIP() << "nilearn (PYTHONPATH=/work/ext/nilearn) with nibabel/scipy is not importable by "
                 << RP_SYSTEM_PYTHON << "; skipping the cross-check";
  rewardpath::testdata::TempDir dir("rp_preproc");
  // Whole head (ch2: scalp and brain) on a 3 mm grid, background noise like a magnitude image.
  const Volume head =
      rewardpath::io::read_nifti("/usr/share/mricron/templates/ch2.nii.gz", rewardpath::io::Expect::volume3d);
  const Grid g = pp_test::bold_grid(3.0, {60, 72, 60});
  Volume v = rewardpath::resample(head, g);
  std::mt19937 rng(4);
  std::normal_distribution<float> z(0.0f, 3.0f);
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = std::hypot(v.data()[i] + z(rng), z(rng));
  rewardpath::io::write_nifti(dir / "mean.nii", v);
  const std::string script = R"PY(
import sys, numpy as np, nibabel as nib
from nilearn.masking import compute_epi_mask
d = sys.argv[1]
m = compute_epi_mask(nib.load(d + '/mean.nii'))
np.asarray(m.dataobj).astype(np.uint8).transpose(2, 1, 0).tofile(d + '/mask.u8')
)PY";
  std::ofstream(dir / "m.py") << script;
  const std::string cmd = "PYTHONPATH=/work/ext/nilearn " + std::string(RP_SYSTEM_PYTHON) + " " +
                          (dir / "m.py").string() + " " + dir.path().string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::vector<std::uint8_t> nl(v.size());
  std::ifstream f(dir / "mask.u8", std::ios::binary);
  f.read(reinterpret_cast<char*>(nl.data()), static_cast<std::streamsize>(nl.size()));
  ASSERT_TRUE(f.good());
  const auto m = pp::compute_epi_mask(v);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < nl.size(); ++i) differ += (nl[i] != 0) != (m.voxels[i] != 0);
  const double d = dice(m.voxels, nl);
  std::printf("nilearn: Dice %.5f, %zu of %ld voxels differ, ours %ld voxels\n", d, differ,
              static_cast<long>(m.count()), static_cast<long>(m.count()));
  EXPECT_GT(d, 0.99);
}

TEST(EpiMask, MeanVolumeAndBadInput) {
  Grid g;
  g.dims = {3, 3, 3};
  Volume run(g, 4);
  for (std::int64_t t = 0; t < 4; ++t)
    for (auto& x : run.volume(t)) x = static_cast<float>(t);
  const auto mean = pp::mean_volume(run);
  EXPECT_EQ(mean.volumes(), 1);
  EXPECT_FLOAT_EQ(mean.at(1, 1, 1), 1.5f);
  EXPECT_THROW(pp::compute_epi_mask(run), rewardpath::Error); // 4D
  pp::EpiMaskParams p;
  p.lower_cutoff = 0.9;
  EXPECT_THROW(pp::compute_epi_mask(mean, p), rewardpath::Error); // lower > upper
}
