// Real data: Haxby et al. (2001) subject 1 (PyMVPA copy, RP_SHARED_DATA/fmri/haxby2001_sub001),
// 12 runs of 8 stimulus categories in 22.5 s blocks. Per run a first-level AR(1) GLM on the
// one-slice version (40x20x1x121, posterior axial slice), runs combined by fixed effects.
// The dataset's onsets already absorb the hemodynamic lag (NOTES.md: a boxcar fits best at zero
// delay), so the conditions are boxcars (FIR, delay 0) rather than HRF-convolved.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "rewardpath/bids/events.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/glm/fit.hpp"
#include "rewardpath/io/nifti.hpp"

namespace g = rewardpath::glm;
namespace fs = std::filesystem;

namespace {
const fs::path kRoot = fs::path(RP_SHARED_DATA) / "fmri" / "haxby2001_sub001";

struct Run {
  rewardpath::Volume bold;
  rewardpath::bids::Events events;
};

std::vector<Run> load_runs(const std::string& file = "bold_1slice.nii.gz") {
  std::vector<Run> runs;
  for (int r = 1; r <= 12; ++r) {
    char name[32];
    std::snprintf(name, sizeof name, "task001_run%03d", r);
    const fs::path dir = kRoot / "haxby2001" / "sub001" / "BOLD" / name;
    runs.push_back(
        {rewardpath::io::read_nifti(dir / file), rewardpath::bids::read_events(dir / "bold_events.tsv")});
  }
  return runs;
}

// Fixed-effects z of "face - house" (or `expr` with face/house for the conditions) over the runs;
// `swap[r]` exchanges the two labels in run r.
g::ContrastResult faces_vs_houses(const std::vector<Run>& runs, const std::vector<std::uint8_t>& mask,
                                  const std::vector<bool>& swap, const std::string& expr = "face - house") {
  std::vector<g::ContrastResult> per_run;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    auto ev = runs[r].events;
    if (swap[r])
      for (auto& t : ev.trial_type) t = t == "face" ? "house" : t == "house" ? "face" : t;
    g::DesignParams dp;
    dp.tr_s = 2.5;
    dp.volumes = runs[r].bold.volumes();
    dp.hrf = g::HrfModel::fir;
    dp.fir_delays = {0};
    const auto d = g::make_design(ev, dp);
    g::FitParams fp;
    fp.noise_model = g::NoiseModel::ar1;
    const auto fit = g::fit(runs[r].bold, d, fp, mask);
    std::string face, house;
    for (const auto& c : d.columns) {
      if (c.rfind("face", 0) == 0) face = c;
      if (c.rfind("house", 0) == 0) house = c;
    }
    std::string e = expr;
    e.replace(e.find("face"), 4, face);
    if (e.find("house") != std::string::npos) e.replace(e.find("house"), 5, house);
    per_run.push_back(g::contrast(fit, e));
  }
  return g::fixed_effects(per_run);
}
} // namespace

TEST(Haxby, FacesVersusHousesIsStructuredNotNoise) {
  if (!fs::exists(kRoot / "NOTES.md")) GTEST_SKIP() << "Haxby data not found under " << kRoot;
  const auto runs = load_runs();
  const auto maskvol = rewardpath::io::read_nifti(kRoot / "mask.nii.gz");
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(maskvol.voxels_per_volume()));
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = maskvol.data()[i] != 0;

  const auto fe = faces_vs_houses(runs, mask, std::vector<bool>(12, false));
  // Null control: the two labels exchanged in 6 of the 12 runs (chosen at random), so a real
  // face/house difference cancels in the combination and only noise (and the runs' variability)
  // is left.
  std::vector<bool> swap(12, false);
  for (int i = 0; i < 6; ++i) swap[static_cast<std::size_t>(i)] = true;
  std::mt19937_64 rng(2001);
  std::shuffle(swap.begin(), swap.end(), rng);
  const auto ctl = faces_vs_houses(runs, mask, swap);

  auto count_above = [](const Eigen::VectorXd& z, double thr) {
    int c = 0;
    for (Eigen::Index v = 0; v < z.size(); ++v) c += std::fabs(z(v)) > thr;
    return c;
  };
  const int n = static_cast<int>(fe.z.size());
  const int real_hi = count_above(fe.z, 5.0), ctl_hi = count_above(ctl.z, 5.0);
  const int real_3 = count_above(fe.z, 3.09), ctl_3 = count_above(ctl.z, 3.09);
  int faces_pos = 0, houses_pos = 0;
  for (Eigen::Index v = 0; v < fe.z.size(); ++v) faces_pos += fe.z(v) > 5.0, houses_pos += fe.z(v) < -5.0;
  std::printf("faces - houses, %d voxels: |z| > 5: %d real (faces %d, houses %d), %d control; |z| > 3.09: %d "
              "real, %d control; max |z| %.1f real, %.1f control\n",
              n, real_hi, faces_pos, houses_pos, ctl_hi, real_3, ctl_3, fe.z.cwiseAbs().maxCoeff(),
              ctl.z.cwiseAbs().maxCoeff());
  // Suprathreshold voxels form clusters: most have a suprathreshold in-plane neighbour.
  auto clustered = [&](const Eigen::VectorXd& z, double thr) {
    std::vector<double> map(mask.size(), 0.0);
    Eigen::Index k = 0;
    for (std::size_t i = 0; i < mask.size(); ++i)
      if (mask[i]) map[i] = z(k++);
    const int nx = 40, ny = 20;
    int above = 0, with_neighbour = 0;
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        const double v = map[static_cast<std::size_t>(x + nx * y)];
        if (std::fabs(v) <= thr) continue;
        ++above;
        bool nb = false;
        for (auto [dx, dy] : {std::pair{1, 0}, {-1, 0}, {0, 1}, {0, -1}}) {
          const int xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= nx || yy >= ny) continue;
          const double w = map[static_cast<std::size_t>(xx + nx * yy)];
          nb = nb || (std::fabs(w) > thr && (w > 0) == (v > 0));
        }
        with_neighbour += nb;
      }
    return above > 0 ? static_cast<double>(with_neighbour) / above : 0.0;
  };
  const double cl = clustered(fe.z, 5.0);
  // The same z values scattered at random over the mask: the clustering noise would have.
  double cl_random = 0.0;
  Eigen::VectorXd zs = fe.z;
  for (int rep = 0; rep < 50; ++rep) {
    std::shuffle(zs.data(), zs.data() + zs.size(), rng);
    cl_random += clustered(zs, 5.0) / 50.0;
  }
  std::printf(
      "fraction of |z| > 5 voxels with a same-sign suprathreshold neighbour: %.2f (%.2f when the same "
      "values are scattered at random)\n",
      cl, cl_random);
  // Real: many strong voxels, clustered. Control: none strong, and about the nominal rate at
  // p < 0.001 two-sided per tail (530 x 0.002 = 1.1 expected; fixed effects ignore the runs'
  // variability, so allow a few).
  EXPECT_GE(real_hi, 15);
  EXPECT_GE(cl, 2.0 * cl_random);
  EXPECT_EQ(ctl_hi, 0);
  EXPECT_LE(ctl_3, 8);
  EXPECT_GT(fe.z.cwiseAbs().maxCoeff(), 2.5 * ctl.z.cwiseAbs().maxCoeff());
}

TEST(Haxby, VentralTemporalAt25mm) {
  if (!fs::exists(kRoot / "NOTES.md")) GTEST_SKIP() << "Haxby data not found under " << kRoot;
  const auto runs = load_runs("bold_25mm.nii.gz");
  const fs::path masks = kRoot / "haxby2001" / "sub001" / "masks" / "25mm";
  const auto brain = rewardpath::io::read_nifti(masks / "brain.nii.gz");
  const auto vt = rewardpath::io::read_nifti(masks / "vt.nii.gz");
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(brain.voxels_per_volume()));
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = brain.data()[i] != 0;
  for (const char* expr : {"face - house", "face"}) {
    const auto fe = faces_vs_houses(runs, mask, std::vector<bool>(12, false), expr);
    int k = 0;
    for (std::size_t i = 0; i < mask.size(); ++i) {
      if (!mask[i]) continue;
      if (vt.data()[i] != 0) {
        int rank = 0;
        for (Eigen::Index v = 0; v < fe.z.size(); ++v) rank += std::fabs(fe.z(v)) > std::fabs(fe.z(k));
        std::vector<double> az(static_cast<std::size_t>(fe.z.size()));
        for (Eigen::Index v = 0; v < fe.z.size(); ++v) az[static_cast<std::size_t>(v)] = std::fabs(fe.z(v));
        std::nth_element(az.begin(), az.begin() + static_cast<std::ptrdiff_t>(az.size() / 2), az.end());
        std::printf("%s: vt voxel z %.2f, rank %d of %ld brain voxels by |z|, brain median |z| %.2f\n", expr,
                    fe.z(k), rank, static_cast<long>(fe.z.size()), az[az.size() / 2]);
        if (std::string(expr) == "face") {
          // Ventral temporal cortex responds to faces (vs rest) far above the brain's median voxel.
          EXPECT_GT(fe.z(k), 3.09);
          EXPECT_GT(fe.z(k), 2.0 * az[az.size() / 2]);
        }
      }
      ++k;
    }
  }
}

// fit_volumes streaming a real .nii.gz (NiftiVolumeReader, blocks read on another thread) gives
// the same numbers as the in-memory fit, for ols and ar1 with diagnostics; arp is refused.
TEST(Haxby, StreamedVolumesMatchInMemoryFit) {
  if (!fs::exists(kRoot / "NOTES.md")) GTEST_SKIP() << "Haxby data not found under " << kRoot;
  const fs::path dir = kRoot / "haxby2001" / "sub001" / "BOLD" / "task001_run003";
  const auto h = rewardpath::io::read_nifti_header(dir / "bold_1slice.nii.gz");
  const auto bold = rewardpath::io::read_nifti_voxels(h);
  const auto maskvol = rewardpath::io::read_nifti(kRoot / "mask.nii.gz");
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(maskvol.voxels_per_volume()));
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = maskvol.data()[i] != 0;
  g::DesignParams dp;
  dp.tr_s = 2.5;
  dp.volumes = h.volumes();
  dp.hrf = g::HrfModel::fir;
  dp.fir_delays = {0};
  const auto d = g::make_design(rewardpath::bids::read_events(dir / "bold_events.tsv"), dp);
  for (auto model : {g::NoiseModel::ols, g::NoiseModel::ar1}) {
    g::FitParams fp;
    fp.noise_model = model;
    fp.chunk_voxels = 100;
    const auto a = g::fit(bold, d, fp, mask);
    rewardpath::io::NiftiVolumeReader reader(h);
    int calls = 0;
    const auto b = g::fit_volumes(
        h.volumes(), h.voxels_per_volume(),
        [&](std::int64_t first, std::int64_t count, std::span<float> out) {
          ++calls;
          ASSERT_EQ(first, reader.next_volume());
          reader.read(count, out);
        },
        d, fp, h.grid, mask);
    EXPECT_GT(calls, 2);
    ASSERT_EQ(a.series(), b.series());
    EXPECT_EQ((a.beta - b.beta).cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ((a.sigma2 - b.sigma2).cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ(a.ar, b.ar);
    EXPECT_EQ(a.residual_acf, b.residual_acf);
  }
  g::FitParams arp;
  arp.noise_model = g::NoiseModel::arp;
  EXPECT_THROW(g::fit_volumes(
                   h.volumes(), h.voxels_per_volume(), [](std::int64_t, std::int64_t, std::span<float>) {}, d,
                   arp, h.grid, mask),
               rewardpath::Error);
}
