// bench_glm [WORK_DIR]: first-level GLM with AR(1) on the standard simulated MID run
// (64x64x36 x 300 volumes, .nii.gz), end to end: read, design, fit, contrast, write maps.
// Makes the run with simulate_dataset (Size::standard) in WORK_DIR (default /tmp/rp_bench_glm)
// unless it is there already. Prints time per stage, voxels/s and peak RSS vs the run size.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "rewardpath/bids/events.hpp"
#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/glm/fit.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/simulate/simulate.hpp"

namespace fs = std::filesystem;
namespace g = rewardpath::glm;

namespace {
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}
} // namespace

int main(int argc, char** argv) {
  try {
    const fs::path work = argc > 1 ? fs::path(argv[1]) : fs::path("/tmp/rp_bench_glm");
    if (!fs::exists(work / "truth" / "dataset.json")) {
      rewardpath::simulate::Options o;
      o.subjects = 1;
      o.pet = false;
      o.size = rewardpath::simulate::Size::standard;
      std::printf("simulating the standard run into %s ...\n", work.c_str());
      rewardpath::simulate::simulate_dataset(work, o);
    }
    const fs::path func = work / "bids" / "sub-01" / "func";
    const fs::path out = work / "glm_out";
    fs::create_directories(out);
    const double rss0 = peak_rss_mb();

    double t0 = now();
    const auto bold = rewardpath::io::read_nifti(func / "sub-01_task-mid_run-01_bold.nii.gz");
    const auto events = rewardpath::bids::read_events(func / "sub-01_task-mid_run-01_events.tsv");
    const double t_read = now() - t0;
    const double run_mb = static_cast<double>(bold.size()) * 4.0 / (1024.0 * 1024.0);

    t0 = now();
    g::DesignParams dp;
    dp.tr_s = bold.time_step_s() > 0 ? bold.time_step_s() : 2.0;
    dp.volumes = bold.volumes();
    const auto design = g::make_design(events, dp);
    const double t_design = now() - t0;

    t0 = now();
    // Brain mask: mean of the first 5 volumes above 20% of its 99th-percentile-ish maximum.
    const auto nv = static_cast<std::size_t>(bold.voxels_per_volume());
    std::vector<float> mean(nv, 0.0f);
    for (int t = 0; t < 5; ++t)
      for (std::size_t i = 0; i < nv; ++i)
        mean[i] += bold.data()[static_cast<std::size_t>(t) * nv + i] / 5.0f;
    float mx = 0;
    for (float v : mean) mx = std::max(mx, v);
    std::vector<std::uint8_t> mask(nv);
    std::size_t in = 0;
    for (std::size_t i = 0; i < nv; ++i) in += (mask[i] = mean[i] > 0.2f * mx);
    const double t_mask = now() - t0;

    t0 = now();
    g::FitParams fp;
    fp.noise_model = g::NoiseModel::ar1;
    const auto fit = g::fit(bold, design, fp, mask);
    const double t_fit = now() - t0;

    t0 = now();
    const auto c = g::contrast(fit, "gain_anticipation - neutral_anticipation");
    const double t_con = now() - t0;

    t0 = now();
    const std::string stem = "sub-01_task-mid_contrast-gainVsNeutral_stat-";
    rewardpath::io::write_nifti(out / (stem + "effect_statmap.nii.gz"),
                                g::to_volume(fit, c.effect.row(0).transpose()));
    rewardpath::io::write_nifti(out / (stem + "variance_statmap.nii.gz"),
                                g::to_volume(fit, c.variance.row(0).transpose()));
    rewardpath::io::write_nifti(out / (stem + "t_statmap.nii.gz"), g::to_volume(fit, c.stat));
    rewardpath::io::write_nifti(out / (stem + "z_statmap.nii.gz"), g::to_volume(fit, c.z));
    rewardpath::io::write_nifti(out / (stem + "p_statmap.nii.gz"), g::to_volume(fit, c.p, 1.0f));
    const double t_write = now() - t0;

    const double total = t_read + t_design + t_mask + t_fit + t_con + t_write;
    const auto s = g::residual_autocorrelation_summary(fit);
    std::printf("run %ldx%ldx%ldx%ld (%.0f MB float), design %ld columns, mask %zu voxels\n",
                static_cast<long>(bold.nx()), static_cast<long>(bold.ny()), static_cast<long>(bold.nz()),
                static_cast<long>(bold.volumes()), run_mb, static_cast<long>(design.cols()), in);
    std::printf("read %.3f s | design %.3f s | mask %.3f s | fit AR(1) %.3f s (%.2f Mvox/s masked, %.2f "
                "Mvox/s of grid) | "
                "contrast %.3f s | write 5 maps %.3f s | total %.3f s\n",
                t_read, t_design, t_mask, t_fit, static_cast<double>(in) / t_fit / 1e6,
                static_cast<double>(nv) / t_fit / 1e6, t_con, t_write, total);
    std::printf("peak RSS %.0f MB (before reading %.0f MB) = %.2fx the run's float size\n", peak_rss_mb(),
                rss0, peak_rss_mb() / run_mb);
    std::printf("whitened residual lag-1/2/3 autocorrelation: mean %.3f %.3f %.3f (1/sqrt(n) = %.3f)\n",
                s.mean[0], s.mean[1], s.mean[2], s.expected_sd);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_glm: %s\n", e.what());
    return 1;
  }
}
