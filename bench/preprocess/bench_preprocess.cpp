// bench_preprocess [WORK_DIR] [THREADS]: preprocessing of the standard simulated MID run
// (64x64x36 x 300 volumes, 3x3x3.5 mm, TR 2 s, .nii.gz) in place: realign (mean reference, two
// passes), mean + EPI mask, confounds (+ TSV), slice timing, 6 mm smoothing, 128 s high-pass.
// Makes the run with simulate_dataset (Size::standard) in WORK_DIR (default /tmp/rp_bench_preproc)
// unless it is there. Prints seconds per stage, peak RSS vs the run's float size, and the motion
// error against the simulator's truth.
#include <sys/resource.h>
#include <tbb/global_control.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/preprocess/confounds.hpp"
#include "rewardpath/preprocess/mask.hpp"
#include "rewardpath/preprocess/realign.hpp"
#include "rewardpath/preprocess/smooth.hpp"
#include "rewardpath/preprocess/temporal.hpp"
#include "rewardpath/simulate/simulate.hpp"

namespace fs = std::filesystem;
namespace pp = rewardpath::preprocess;

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
    const fs::path work = argc > 1 ? fs::path(argv[1]) : fs::path("/tmp/rp_bench_preproc");
    const std::size_t threads = argc > 2 ? std::stoul(argv[2]) : 2;
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, threads);
    if (!fs::exists(work / "truth" / "dataset.json")) {
      rewardpath::simulate::Options o;
      o.subjects = 1;
      o.pet = false;
      o.size = rewardpath::simulate::Size::standard;
      std::printf("simulating the standard run into %s ...\n", work.c_str());
      rewardpath::simulate::simulate_dataset(work, o);
    }
    const fs::path func = work / "bids" / "sub-01" / "func";
    const double rss0 = peak_rss_mb();
    double t0 = now();
    auto bold = rewardpath::io::read_nifti(func / "sub-01_task-mid_run-01_bold.nii.gz");
    const auto sidecar = rewardpath::io::read_json(func / "sub-01_task-mid_run-01_bold.json");
    const double t_read = now() - t0;
    const double run_mb = static_cast<double>(bold.size()) * 4.0 / (1024.0 * 1024.0);

    t0 = now();
    const auto r = pp::realign(bold);
    const double t_realign = now() - t0;
    int iters = 0;
    for (int i : r.iterations) iters += i;

    t0 = now();
    const auto mask = pp::compute_epi_mask(r.mean);
    const double t_mask = now() - t0;

    t0 = now();
    const auto conf = pp::confounds(bold, r.params, mask.voxels);
    pp::write_confounds_tsv(work / "confounds.tsv", conf);
    const double t_conf = now() - t0;

    t0 = now();
    pp::SliceTimingParams st;
    st.slice_timing_s = sidecar.at("SliceTiming").get<std::vector<double>>();
    pp::slice_time_correct(bold, st);
    const double t_st = now() - t0;

    t0 = now();
    pp::smooth(bold, 6.0);
    const double t_smooth = now() - t0;

    t0 = now();
    pp::highpass(bold, 128.0, mask.voxels);
    const double t_hp = now() - t0;

    // Motion error vs the simulator's truth (relative to volume 0, the simulator's reference).
    std::vector<pp::RigidParams> truth;
    for (const auto& f : fs::recursive_directory_iterator(work / "truth"))
      if (f.path().filename() == "sub-01_task-mid_run-01_motion.tsv") {
        const auto tab = rewardpath::io::read_tsv(f.path());
        truth.resize(tab.row_count());
        const char* names[6] = {"trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"};
        for (std::size_t k = 0; k < 6; ++k) {
          const auto c = tab.numbers(names[k]);
          for (std::size_t t = 0; t < c.size(); ++t) truth[t][k] = c[t];
        }
      }
    double max_t = 0, max_r = 0, rms_t = 0, rms_r = 0;
    if (truth.size() == r.params.size()) {
      const auto rel = pp::relative_to(r.params, 0, r.centre_mm);
      for (std::size_t t = 0; t < rel.size(); ++t)
        for (std::size_t k = 0; k < 6; ++k) {
          const double d = std::abs(rel[t][k] - truth[t][k]) * (k < 3 ? 1.0 : 180.0 / M_PI);
          (k < 3 ? max_t : max_r) = std::max(k < 3 ? max_t : max_r, d);
          (k < 3 ? rms_t : rms_r) += d * d / (3.0 * static_cast<double>(rel.size()));
        }
    }
    const auto& fd = conf.column("framewise_displacement");
    double mean_fd = 0;
    for (std::size_t t = 1; t < fd.size(); ++t) mean_fd += fd[t] / static_cast<double>(fd.size() - 1);

    std::printf(
        "run %ldx%ldx%ldx%ld (%.0f MB float), %zu threads; mask %ld voxels; %ld samples, %.1f steps/volume\n",
        static_cast<long>(bold.nx()), static_cast<long>(bold.ny()), static_cast<long>(bold.nz()),
        static_cast<long>(bold.volumes()), run_mb, threads, static_cast<long>(mask.count()),
        static_cast<long>(r.samples), static_cast<double>(iters) / static_cast<double>(bold.volumes()));
    std::printf("read %.2f s | realign %.2f s | mask %.3f s | confounds+tsv %.3f s | slice timing %.2f s | "
                "smooth 6 mm %.2f s | high-pass %.2f s\n",
                t_read, t_realign, t_mask, t_conf, t_st, t_smooth, t_hp);
    std::printf("peak RSS %.0f MB (before reading %.0f MB) = %.2fx the run's float size\n", peak_rss_mb(),
                rss0, peak_rss_mb() / run_mb);
    std::printf("motion vs truth: max %.4f mm / %.4f deg, RMS %.4f mm / %.4f deg; mean FD %.3f mm\n", max_t,
                max_r, std::sqrt(rms_t), std::sqrt(rms_r), mean_fd);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_preprocess: %s\n", e.what());
    return 1;
  }
}
