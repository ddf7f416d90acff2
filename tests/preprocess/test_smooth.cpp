// Gaussian smoothing against scipy.ndimage.gaussian_filter (what nilearn.image.smooth_img uses) and
// an impulse response with the expected FWHM.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "preprocess_test_util.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/preprocess/smooth.hpp"
#include "temp_dir.hpp"

namespace pp = rewardpath::preprocess;
using rewardpath::Grid;
using rewardpath::Volume;

TEST(Smooth, MatchesScipyGaussianFilterOnAnisotropicVoxels) {
  if (!pp_test::python_has("numpy, scipy.ndimage"))
    GTEST_SKIP() << "numpy/scipy are not importable by " << RP_SYSTEM_PYTHON
                 << "; skipping the scipy cross-check";
  rewardpath::testdata::TempDir dir("rp_preproc");
  Grid g;
  g.dims = {23, 17, 5}; // 5 slices of 4 mm with a 20 mm FWHM: the kernel (radius 8) is wider than the axis
  g.spacing_mm = {2.0, 3.0, 4.0};
  for (int a = 0; a < 3; ++a) g.affine[a][a] = g.spacing_mm[static_cast<std::size_t>(a)];
  Volume v(g, 2);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 1000.0f);
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = u(rng);
  {
    std::ofstream f(dir / "in.f32", std::ios::binary);
    f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  }
  const std::array<double, 3> fwhm{6.0, 5.0, 20.0};
  // Sigma as nilearn's _smooth_array computes it; numpy axes are (t, z, y, x) for x-fastest data.
  const std::string script = R"PY(
import sys, numpy as np
from scipy.ndimage import gaussian_filter1d
d = sys.argv[1]
a = np.fromfile(d + '/in.f32', dtype=np.float32).astype(np.float64).reshape(2, 5, 17, 23)
fwhm = np.array([6.0, 5.0, 20.0]); vox = np.array([2.0, 3.0, 4.0])
sigma = fwhm / (np.sqrt(8 * np.log(2)) * vox)
for n, s in enumerate(sigma):
    a = gaussian_filter1d(a, s, axis=3 - n, mode='reflect', truncate=4.0)
a.astype(np.float64).tofile(d + '/out.f64')
)PY";
  std::ofstream(dir / "s.py") << script;
  const std::string cmd =
      std::string(RP_SYSTEM_PYTHON) + " " + (dir / "s.py").string() + " " + dir.path().string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  pp::smooth(v, fwhm);
  std::vector<double> ref(v.size());
  std::ifstream f(dir / "out.f64", std::ios::binary);
  f.read(reinterpret_cast<char*>(ref.data()), static_cast<std::streamsize>(ref.size() * sizeof(double)));
  ASSERT_TRUE(f.good());
  double maxdiff = 0, maxref = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    maxdiff = std::max(maxdiff, std::abs(v.data()[i] - ref[i]));
    maxref = std::max(maxref, std::abs(ref[i]));
  }
  std::printf("max |ours - scipy| = %.3g (relative %.3g)\n", maxdiff, maxdiff / maxref);
  EXPECT_LT(maxdiff / maxref, 1e-6); // float32 storage of ~500: ~3e-8 relative
}

TEST(Smooth, ImpulseBecomesGaussianOfTheRequestedFwhm) {
  Grid g;
  g.dims = {41, 41, 41};
  g.spacing_mm = {2.0, 2.5, 3.0};
  Volume v(g, 1, 0.0f);
  v.at(20, 20, 20) = 1.0f;
  pp::smooth(v, {8.0, 10.0, 12.0});
  double sum = 0;
  for (std::size_t i = 0; i < v.size(); ++i) sum += v.data()[i];
  EXPECT_NEAR(sum, 1.0, 1e-5);
  // FWHM from the second moment along each axis through the centre: 2 sqrt(2 ln 2) sigma.
  const std::array<double, 3> want{8.0, 10.0, 12.0};
  for (int a = 0; a < 3; ++a) {
    double m0 = 0, m2 = 0;
    for (int x = 0; x < 41; ++x) {
      std::array<int, 3> p{20, 20, 20};
      p[static_cast<std::size_t>(a)] = x;
      const double w = v.at(p[0], p[1], p[2]);
      const double mm = (x - 20) * g.spacing_mm[static_cast<std::size_t>(a)];
      m0 += w, m2 += w * mm * mm;
    }
    const double fwhm = std::sqrt(8.0 * std::log(2.0)) * std::sqrt(m2 / m0);
    EXPECT_NEAR(fwhm, want[static_cast<std::size_t>(a)], 0.01 * want[static_cast<std::size_t>(a)])
        << "axis " << a;
  }
  // Half maximum along x lies at +- FWHM/2 = 4 mm (2 voxels): value there / peak ~ 0.5.
  EXPECT_NEAR(v.at(22, 20, 20) / v.at(20, 20, 20), 0.5, 0.01);
}

TEST(Smooth, BadInput) {
  Grid g;
  g.dims = {4, 4, 4};
  Volume v(g, 1, 1.0f);
  EXPECT_THROW(pp::smooth(v, {-1.0, 1.0, 1.0}), rewardpath::Error);
  EXPECT_THROW(pp::smooth(v, {std::nan(""), 1.0, 1.0}), rewardpath::Error);
  pp::smooth(v, {0.0, 0.0, 0.0}); // no-op
  EXPECT_EQ(v.at(1, 1, 1), 1.0f);
}
