// bench_glm: first-level GLM with AR(1), end to end (read, design, mask, fit, contrast, write 5
// maps), one mode per process so that each peak RSS is its own. Driven by run_bench.sh, which
// also times nilearn on the same file and prints the side-by-side table.
//
//   bench_glm simulate DIR                  make the standard simulated MID run in DIR
//   bench_glm long PATH VOLUMES             write a synthetic 64x76x64xVOLUMES int16 .nii + events
//   bench_glm read BOLD                     read the whole run into memory (read_nifti)
//   bench_glm read-int16 BOLD               read an int16 run as stored (read_nifti_int16)
//   bench_glm stream-read BOLD              stream all volumes, 64 at a time (NiftiVolumeReader)
//   bench_glm memory BOLD EVENTS OUT [diag] [exact] [defaults] [float]  read whole run, fit, contrast,
//                                           write maps; an int16 run is kept as int16 (`float`: widen it)
//   bench_glm stream BOLD EVENTS OUT [diag] [exact]  stream volumes into the fit (fit_volumes)
//   bench_glm fit-only BOLD EVENTS          the fit alone, in memory, min of 3 (wall and CPU)
//
// The mask is the mean of the first 5 volumes above 20% of its maximum (written to OUT/mask.nii.gz
// for nilearn). Diagnostics (whitened residual autocorrelations) are off unless `diag` is given:
// nilearn does not compute them. The contrast is the first condition minus the second in the
// events' order of appearance. `exact` = ar_bias_correction off (nilearn's AR(1) estimate).
// `defaults` (memory mode) does what nilearn's FirstLevelModel does with its defaults, as the
// pipeline does: the mask by compute_epi_mask on the run's mean, each voxel scaled to percent of
// its mean (nilearn_ar1.py with MASK "defaults" is the other side).
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <tbb/global_control.h>
#include <tbb/parallel_invoke.h>

#include "rewardpath/bids/events.hpp"
#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/glm/scaling.hpp"
#include "rewardpath/preprocess/mask.hpp"
#include "rewardpath/glm/fit.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/simulate/simulate.hpp"

namespace fs = std::filesystem;
namespace g = rewardpath::glm;
namespace io = rewardpath::io;

namespace {
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}
double run_mb(const io::NiftiHeader& h) {
  return static_cast<double>(h.voxels_per_volume() * h.volumes()) * 4.0 / (1024.0 * 1024.0);
}

template <class Value>
std::vector<std::uint8_t> mask_from(const Value& first_volumes, std::size_t nv, int count) {
  std::vector<float> mean(nv, 0.0f);
  for (int t = 0; t < count; ++t)
    for (std::size_t i = 0; i < nv; ++i)
      mean[i] += first_volumes(static_cast<std::size_t>(t) * nv + i) / static_cast<float>(count);
  float mx = 0;
  for (float v : mean) mx = std::max(mx, v);
  std::vector<std::uint8_t> mask(nv);
  for (std::size_t i = 0; i < nv; ++i) mask[i] = mean[i] > 0.2f * mx;
  return mask;
}

std::string first_two_conditions(const rewardpath::bids::Events& ev) {
  std::vector<std::string> seen;
  for (const auto& t : ev.trial_type)
    if (std::find(seen.begin(), seen.end(), t) == seen.end()) seen.push_back(t);
  if (seen.size() < 2) throw std::runtime_error("need two conditions");
  return seen[0] + " - " + seen[1];
}

// As the fMRI stage writes them: concurrently.
void write_maps(const g::FirstLevelFit& fit, const g::ContrastResult& c, const fs::path& out) {
  const std::string stem = "contrast-bench_stat-";
  tbb::parallel_invoke(
      [&] {
        io::write_nifti(out / (stem + "effect_statmap.nii.gz"),
                        g::to_volume(fit, c.effect.row(0).transpose()));
      },
      [&] {
        io::write_nifti(out / (stem + "variance_statmap.nii.gz"),
                        g::to_volume(fit, c.variance.row(0).transpose()));
      },
      [&] { io::write_nifti(out / (stem + "t_statmap.nii.gz"), g::to_volume(fit, c.stat)); },
      [&] { io::write_nifti(out / (stem + "z_statmap.nii.gz"), g::to_volume(fit, c.z)); },
      [&] { io::write_nifti(out / (stem + "p_statmap.nii.gz"), g::to_volume(fit, c.p, 1.0f)); });
}

void report(const char* mode, const io::NiftiHeader& h, double seconds, std::size_t fitted,
            const char* extra) {
  std::printf("mode=%s run=%s volumes=%ld run_float_mb=%.0f seconds=%.3f peak_rss_mb=%.0f rss_over_run=%.2f "
              "fitted=%zu %s\n",
              mode, h.shape_string().c_str(), static_cast<long>(h.volumes()), run_mb(h), seconds,
              peak_rss_mb(), peak_rss_mb() / run_mb(h), fitted, extra);
}

// A long synthetic run: 64x76x64 int16, AR(1) noise (rho 0.3) around 1000 inside an ellipsoid,
// two conditions with a 1% response in one half of it. Written volume by volume.
void write_long(const fs::path& path, std::int64_t volumes) {
  const std::int64_t nx = 64, ny = 76, nz = 64, nv = nx * ny * nz;
  rewardpath::Grid grid;
  grid.dims = {nx, ny, nz};
  grid.spacing_mm = {3.0, 3.0, 3.0};
  rewardpath::bids::Events ev;
  for (double t = 10.0; t < 2.0 * static_cast<double>(volumes) - 30.0; t += 12.0) {
    ev.onset.push_back(t);
    ev.duration.push_back(3.0);
    ev.trial_type.push_back(ev.onset.size() % 2 ? "a" : "b");
  }
  {
    std::ofstream e(path.parent_path() / "long_events.tsv");
    e << "onset\tduration\ttrial_type\n";
    for (std::size_t i = 0; i < ev.onset.size(); ++i)
      e << ev.onset[i] << "\t" << ev.duration[i] << "\t" << ev.trial_type[i] << "\n";
  }
  g::DesignParams dp;
  dp.tr_s = 2.0;
  dp.volumes = volumes;
  const auto d = g::make_design(ev, dp);
  // Header from a 2-volume image written by our writer (dim[4] patched), then the samples
  // appended volume by volume, so that writing needs no more memory than one volume.
  {
    rewardpath::Volume two(grid, 2, 0.0f);
    two.set_time_step_s(2.0);
    io::NiftiWriteOptions o;
    o.type = io::StoredType::int16;
    io::write_nifti(path, two, o);
  }
  const auto h = io::read_nifti_header(path);
  if (h.version != 1 || h.vox_offset != 352 || (h.scl_slope != 0.0 && h.scl_slope != 1.0))
    throw std::runtime_error("unexpected header layout");
  fs::resize_file(path, 352);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  const auto vols = static_cast<std::int16_t>(volumes);
  f.seekp(48);
  f.write(reinterpret_cast<const char*>(&vols), 2);
  f.seekp(352);
  std::mt19937_64 rng(7);
  std::normal_distribution<float> z;
  std::vector<float> state(static_cast<std::size_t>(nv), 0.0f);
  std::vector<std::int16_t> vol(static_cast<std::size_t>(nv), 0);
  std::vector<std::size_t> inside;
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i)
        if (std::pow((i - 32.0) / 28, 2) + std::pow((j - 38.0) / 34, 2) + std::pow((k - 32.0) / 28, 2) <= 1.0)
          inside.push_back(static_cast<std::size_t>(i + nx * (j + ny * k)));
  const float innov = 10.0f * std::sqrt(1.0f - 0.09f);
  for (std::int64_t t = 0; t < volumes; ++t) {
    const double task = 10.0 * (d.matrix(t, 0) - d.matrix(t, 1));
    for (const auto idx : inside) {
      state[idx] = 0.3f * state[idx] + innov * z(rng);
      const double sig = static_cast<std::int64_t>(idx) % nx < 32 ? task : 0.0;
      vol[idx] = static_cast<std::int16_t>(std::lround(1000.0 + sig + state[idx]));
    }
    f.write(reinterpret_cast<const char*>(vol.data()), static_cast<std::streamsize>(vol.size() * 2));
  }
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

g::Design design_for(const fs::path& events, const io::NiftiHeader& h) {
  g::DesignParams dp;
  dp.tr_s = h.time_step_s > 0 ? h.time_step_s : 2.0;
  dp.volumes = h.volumes();
  return g::make_design(rewardpath::bids::read_events(events), dp);
}
} // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    // RP_BENCH_THREADS=n limits the fit's TBB threads (the streaming reader has its own thread).
    const char* threads_env = std::getenv("RP_BENCH_THREADS");
    const tbb::global_control threads(
        tbb::global_control::max_allowed_parallelism,
        threads_env ? std::stoul(threads_env)
                    : tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
    if (mode == "simulate" && argc > 2) {
      rewardpath::simulate::Options o;
      o.subjects = 1;
      o.pet = false;
      o.size = rewardpath::simulate::Size::standard;
      rewardpath::simulate::simulate_dataset(argv[2], o);
      return 0;
    }
    if (mode == "long" && argc > 3) {
      write_long(argv[2], std::stoll(argv[3]));
      return 0;
    }
    if (argc < 3) {
      std::fprintf(stderr, "usage: see the comment at the top of bench/glm/bench_glm.cpp\n");
      return 2;
    }
    const fs::path bold_path = argv[2];
    const double t0 = now();
    const auto h = io::read_nifti_header(bold_path, io::Expect::series4d);
    const auto nv = static_cast<std::size_t>(h.voxels_per_volume());
    if (mode == "read") {
      const auto bold = io::read_nifti_voxels(h);
      report("read", h, now() - t0, 0, "");
      return 0;
    }
    if (mode == "read-int16") { // the samples as stored, no float copy (an int16 run only)
      const auto raw = io::read_nifti_int16(h);
      report("read-int16", h, now() - t0, 0, "");
      return 0;
    }
    if (mode == "stream-read") {
      io::NiftiVolumeReader r(h);
      std::vector<float> buf(64 * nv);
      double sum = 0;
      while (r.next_volume() < h.volumes()) {
        const auto c = std::min<std::int64_t>(64, h.volumes() - r.next_volume());
        r.read(c, buf);
        sum += buf[nv / 2];
      }
      report("stream-read", h, now() - t0, 0, sum > 0 ? "" : " ");
      return 0;
    }
    if (mode == "fit-only" && argc > 3) {
      // The fit alone on the in-memory run, 3 repeats: min wall and CPU seconds (for tuning).
      const auto bold = io::read_nifti_voxels(h);
      const auto mask = mask_from([&](std::size_t i) { return bold.data()[i]; }, nv, 5);
      const auto design = design_for(argv[3], h);
      for (int diag = 0; diag <= 1; ++diag) {
        g::FitParams fp;
        fp.diagnostics = diag == 1;
        double best = 1e9, best_cpu = 1e9;
        for (int rep = 0; rep < 3; ++rep) {
          rusage a{}, b{};
          getrusage(RUSAGE_SELF, &a);
          const double t1 = now();
          const auto f = g::fit(bold, design, fp, mask);
          best = std::min(best, now() - t1);
          getrusage(RUSAGE_SELF, &b);
          auto sec = [](const timeval& tv) {
            return static_cast<double>(tv.tv_sec) + 1e-6 * static_cast<double>(tv.tv_usec);
          };
          best_cpu =
              std::min(best_cpu, sec(b.ru_utime) - sec(a.ru_utime) + sec(b.ru_stime) - sec(a.ru_stime));
        }
        std::printf("fit-only ar1 diag=%d: wall %.3f s, cpu %.3f s\n", diag, best, best_cpu);
      }
      return 0;
    }
    if ((mode != "memory" && mode != "stream") || argc < 5) {
      std::fprintf(stderr, "unknown mode or missing arguments\n");
      return 2;
    }
    const fs::path events = argv[3], out = argv[4];
    bool diag = false, exact = false, defaults = false, force_float = false;
    for (int a = 5; a < argc; ++a) {
      diag = diag || std::string(argv[a]) == "diag";
      exact = exact || std::string(argv[a]) == "exact";
      defaults = defaults || std::string(argv[a]) == "defaults";
      force_float = force_float || std::string(argv[a]) == "float";
    }
    fs::create_directories(out);
    g::FitParams fp;
    fp.noise_model = g::NoiseModel::ar1;
    fp.diagnostics = diag;
    fp.ar_bias_correction = !exact; // exact: nilearn's uncorrected AR(1) estimate
    const auto design = design_for(events, h);
    const auto expr = first_two_conditions(rewardpath::bids::read_events(events));
    double t_read = 0, t_fit = 0;
    std::vector<std::uint8_t> mask;
    g::FirstLevelFit fit;
    // An int16 run is fitted as stored (io::read_nifti_int16, glm::SeriesView), unless percent
    // scaling (`defaults`) needs a float copy to scale, or `float` asks for one.
    const bool as_int16 = mode == "memory" && h.is_int16() && !defaults && !force_float;
    if (as_int16) {
      const auto run = io::read_nifti_int16(h);
      t_read = now() - t0;
      const auto value = [&](std::size_t i) {
        const double r = run.data[i];
        return static_cast<float>(run.slope != 0.0 ? r * run.slope + run.inter : r);
      };
      mask = mask_from(value, nv, 5);
      const double t1 = now();
      fit = g::fit(g::series_view(run.data, h.volumes(), h.grid, run.slope, run.inter), design, fp, h.grid,
                   mask);
      t_fit = now() - t1;
    } else if (mode == "memory") {
      auto bold = io::read_nifti_voxels(h);
      t_read = now() - t0;
      if (defaults) {
        mask = rewardpath::preprocess::compute_epi_mask(rewardpath::preprocess::mean_volume(bold)).voxels;
        g::scale_to_percent_of_mean(bold, mask);
      } else {
        mask = mask_from([&](std::size_t i) { return bold.data()[i]; }, nv, 5);
      }
      const double t1 = now();
      fit = g::fit(bold, design, fp, mask);
      t_fit = now() - t1;
    } else {
      {
        io::NiftiVolumeReader first(h); // the mask needs the first volumes: read them, then stream
        std::vector<float> buf(5 * nv);
        first.read(5, buf);
        mask = mask_from([&](std::size_t i) { return buf[i]; }, nv, 5);
      }
      io::NiftiVolumeReader r(h);
      const double t1 = now();
      fit = g::fit_volumes(
          h.volumes(), h.voxels_per_volume(),
          [&](std::int64_t, std::int64_t count, std::span<float> o) { r.read(count, o); }, design, fp, h.grid,
          mask);
      t_fit = now() - t1;
    }
    const double t2 = now();
    const auto c = g::contrast(fit, expr);
    const double t_contrast = now() - t2;
    write_maps(fit, c, out);
    const double t_write = now() - t2;
    {
      rewardpath::Volume m(h.grid, 1, 0.0f);
      for (std::size_t i = 0; i < nv; ++i) m.data()[i] = mask[i];
      io::NiftiWriteOptions o;
      o.type = io::StoredType::uint8;
      io::write_nifti(out / "mask.nii.gz", m, o);
    }
    char extra[256];
    const auto s = g::residual_autocorrelation_summary(fit);
    std::snprintf(extra, sizeof extra,
                  "read=%.3f fit=%.3f contrast_write=%.3f (contrast=%.3f) diag=%d resid_lag1=%.3f samples=%s",
                  t_read, t_fit, t_write, t_contrast, diag ? 1 : 0, s.mean[0], as_int16 ? "int16" : "float");
    report((mode + (defaults ? "-defaults" : "")).c_str(), h, t_write + t2 - t0, fit.series(), extra);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_glm: %s\n", e.what());
    return 1;
  }
}
