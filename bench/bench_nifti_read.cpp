// NIfTI read throughput: read_nifti on .nii, on a multi-member .nii.gz (our writer) and on a
// single-member .nii.gz (gzip -6), against `gzip -dc FILE > /dev/null` on the same files.
//
//   bench_nifti_read [DIR] [--reps N] [--regenerate] [--threads N]
//
// DIR (default /tmp/rp_bench) receives, once, a 64x64x36x300 float32 run with realistic content:
// a smooth brain-like baseline (~1000) inside an ellipsoid, zeros outside, Gaussian noise
// (sd 1% of baseline) inside, so gzip ratios are realistic. Every timing is taken after a warm-up
// read (page cache warm) and reported as the median of N repetitions. Throughput is MB/s of
// uncompressed voxel data (MB = 1e6 bytes). Peak RSS of a reader is measured in a child process
// (this binary re-run with --rss FILE) that does nothing but one read_nifti. --threads N caps TBB
// (our .nii.gz members are inflated in parallel); default: all hardware threads.
// Prints a table, then the same numbers as JSON, to stdout.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tbb/global_control.h>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"

extern "C" {
#include <nifti2_io.h> // the path read_nifti does not take, for comparison
}

namespace fs = std::filesystem;
using namespace rewardpath;

namespace {

constexpr std::array<std::int64_t, 3> kDims{64, 64, 36};
constexpr std::int64_t kVolumes = 300;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string shell_quote(const fs::path& p) { return "'" + p.string() + "'"; }

// Smooth baseline inside an ellipsoid (grey/white-like contrast, slow drift over time), zeros
// outside, Gaussian noise inside.
Volume make_run() {
  Grid g;
  g.dims = kDims;
  g.spacing_mm = {3.0, 3.0, 3.5};
  g.affine = identity_affine();
  g.affine[0][0] = -3.0;
  g.affine[1][1] = 3.0;
  g.affine[2][2] = 3.5;
  g.affine[0][3] = 94.5;
  g.affine[1][3] = -94.5;
  g.affine[2][3] = -60.0;
  Volume v(g, kVolumes);
  v.set_time_step_s(2.0);
  const std::size_t nvox = static_cast<std::size_t>(g.voxel_count());
  std::vector<float> base(nvox, 0.0f);
  for (std::int64_t k = 0; k < kDims[2]; ++k)
    for (std::int64_t j = 0; j < kDims[1]; ++j)
      for (std::int64_t i = 0; i < kDims[0]; ++i) {
        const double x = (i - 31.5) / 27.0, y = (j - 33.0) / 30.0, z = (k - 17.0) / 16.0;
        const double r2 = x * x + y * y + z * z;
        if (r2 >= 1.0) continue;
        // cortex-like rim brighter than the core, plus slow spatial modulation
        const double rim = std::exp(-std::pow((std::sqrt(r2) - 0.85) / 0.08, 2));
        base[v.index(i, j, k)] =
            static_cast<float>(900.0 + 250.0 * rim + 60.0 * std::sin(3.0 * x) * std::cos(2.0 * y) + 40.0 * z);
      }
  std::mt19937_64 rng(42);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (std::int64_t t = 0; t < kVolumes; ++t) {
    const float drift = 1.0f + 0.002f * std::sin(static_cast<float>(t) / 40.0f);
    auto vol = v.volume(t);
    for (std::size_t n = 0; n < nvox; ++n)
      vol[n] = base[n] == 0.0f ? 0.0f : base[n] * drift + 0.01f * base[n] * noise(rng);
  }
  return v;
}

struct Files {
  fs::path nii, gz_multi, gz_single, nii_int16;
};

// Whether the first gzip member carries the member index subfield (docs/io.md): files written
// before it existed are read sequentially, so they are regenerated.
bool has_member_index(const fs::path& gz) {
  unsigned char b[14] = {};
  FILE* f = std::fopen(gz.c_str(), "rb");
  if (!f) return false;
  const std::size_t n = std::fread(b, 1, sizeof b, f);
  std::fclose(f);
  return n == sizeof b && (b[3] & 4) && b[12] == 'R' && b[13] == 'P';
}

Files prepare(const fs::path& dir, bool regenerate) {
  Files f{dir / "bold.nii", dir / "bold.nii.gz", dir / "bold_gzip6.nii.gz", dir / "bold_int16.nii"};
  fs::create_directories(dir);
  if (regenerate || !fs::exists(f.nii) || !fs::exists(f.gz_multi) || !fs::exists(f.gz_single) ||
      !fs::exists(f.nii_int16) || !has_member_index(f.gz_multi)) {
    std::printf("generating %ldx%ldx%ldx%ld float32 run in %s ...\n", static_cast<long>(kDims[0]),
                static_cast<long>(kDims[1]), static_cast<long>(kDims[2]), static_cast<long>(kVolumes),
                dir.c_str());
    std::fflush(stdout);
    const Volume run = make_run();
    io::NiftiWriteOptions opt;
    opt.gzip_level = 6;
    io::write_nifti(f.nii, run, opt);
    io::write_nifti(f.gz_multi, run, opt);
    const std::string cmd = "gzip -6 -c " + shell_quote(f.nii) + " > " + shell_quote(f.gz_single);
    if (std::system(cmd.c_str()) != 0) throw Error("failed: " + cmd);
    opt.type = io::StoredType::int16; // as many scanners store BOLD: exercises the conversion
    io::write_nifti(f.nii_int16, run, opt);
  }
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Timing {
  std::string name;
  fs::path file;
  double median_s = 0, min_s = 0;
};

Timing time_it(const std::string& name, const fs::path& file, int reps, const std::function<void()>& f) {
  f(); // warm-up: page cache, allocator, TBB pool
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_s();
    f();
    t.push_back(now_s() - t0);
  }
  return {name, file, median(t), *std::min_element(t.begin(), t.end())};
}

long max_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss; // KiB on Linux
}

// Child mode: one read, then print peak RSS (KiB) and the voxel checksum.
int rss_child(const std::string& file) {
  const long before = max_rss_kib();
  double sum = 0;
  if (!file.empty()) {
    const Volume v = io::read_nifti(file);
    for (std::size_t i = 0; i < v.size(); i += 4096) sum += v.data()[i];
  }
  std::printf("%ld %ld %.17g\n", before, max_rss_kib(), sum);
  return 0;
}

struct Rss {
  long start_kib = 0, peak_kib = 0;
};
Rss child_rss(const std::string& file) {
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  const std::string cmd = shell_quote(exe) + " --rss " + (file.empty() ? "''" : shell_quote(file));
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw Error("popen failed: " + cmd);
  Rss r;
  double sum = 0;
  const int n = std::fscanf(p, "%ld %ld %lf", &r.start_kib, &r.peak_kib, &sum);
  const int rc = ::pclose(p);
  if (n != 3 || rc != 0) throw Error("child failed: " + cmd);
  return r;
}

} // namespace

int main(int argc, char** argv) try {
  fs::path dir = "/tmp/rp_bench";
  int reps = 7;
  bool regenerate = false;
  std::optional<tbb::global_control> threads;
  unsigned thread_count = std::thread::hardware_concurrency();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rss" && i + 1 < argc) return rss_child(argv[i + 1]);
    if (a == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--threads" && i + 1 < argc) {
      thread_count = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
      threads.emplace(tbb::global_control::max_allowed_parallelism, thread_count);
    } else if (a == "--regenerate") {
      regenerate = true;
    } else if (a == "-h" || a == "--help") {
      std::printf("usage: %s [DIR] [--reps N] [--regenerate] [--threads N]\n", argv[0]);
      return 0;
    } else {
      dir = a;
    }
  }
  const Files f = prepare(dir, regenerate);
  const auto header = io::read_nifti_header(f.nii);
  const double voxel_bytes = static_cast<double>(header.data_bytes());

  std::vector<Timing> results;
  auto read = [](const fs::path& p) {
    return [p] {
      const Volume v = io::read_nifti(p);
      if (v.size() == 0) std::abort();
    };
  };
  auto gunzip = [](const fs::path& p) {
    return [p] {
      const std::string cmd = "gzip -dc " + shell_quote(p) + " > /dev/null";
      if (std::system(cmd.c_str()) != 0) throw Error("failed: " + cmd);
    };
  };
  // Reference: the voxel bytes copied from the page cache into memory that is already mapped
  // (the ceiling for .nii), and into fresh memory (what a new buffer costs in page faults).
  auto pread_into = [&](bool fresh) {
    auto reused = std::make_shared<std::vector<char>>(static_cast<std::size_t>(voxel_bytes), 1);
    return [&, fresh, reused] {
      std::unique_ptr<char[]> buf;
      char* dst = reused->data();
      if (fresh) {
        buf.reset(new char[static_cast<std::size_t>(voxel_bytes)]);
        dst = buf.get();
      }
      const int fd = ::open(f.nii.c_str(), O_RDONLY | O_CLOEXEC);
      std::size_t done = 0;
      const auto n = static_cast<std::size_t>(voxel_bytes);
      while (done < n) {
        const ssize_t r = ::pread(fd, dst + done, n - done, static_cast<off_t>(header.vox_offset + done));
        if (r <= 0) std::abort();
        done += static_cast<std::size_t>(r);
      }
      ::close(fd);
    };
  };
  results.push_back(time_it("pread, reused buffer (ceiling)", f.nii, reps, pread_into(false)));
  results.push_back(time_it("pread, fresh buffer", f.nii, reps, pread_into(true)));
  results.push_back(time_it("read_nifti .nii", f.nii, reps, read(f.nii)));
  results.push_back(time_it("read_nifti .nii int16 (-> float32)", f.nii_int16, reps, read(f.nii_int16)));
  // niftilib's own reader (znz: zlib for .nii.gz). Only the single-member file: for bold.nii.gz
  // niftilib would read the sibling bold.nii instead (shared/notes/toolchain.md).
  auto niftilib = [](const fs::path& p) {
    return [p] {
      nifti_image* nim = nifti_image_read(p.c_str(), 1);
      if (!nim || !nim->data) throw Error("niftilib could not read " + p.string());
      nifti_image_free(nim);
    };
  };
  results.push_back(time_it("niftilib nifti_image_read .nii", f.nii, reps, niftilib(f.nii)));
  results.push_back(time_it("read_nifti .nii.gz (multi-member)", f.gz_multi, reps, read(f.gz_multi)));
  results.push_back(time_it("gzip -dc (multi-member)", f.gz_multi, reps, gunzip(f.gz_multi)));
  results.push_back(time_it("read_nifti .nii.gz (gzip -6)", f.gz_single, reps, read(f.gz_single)));
  results.push_back(time_it("gzip -dc (gzip -6)", f.gz_single, reps, gunzip(f.gz_single)));
  results.push_back(time_it("niftilib nifti_image_read (gzip -6)", f.gz_single, reps, niftilib(f.gz_single)));

  const Rss idle = child_rss("");
  struct RssRow {
    std::string name;
    fs::path file;
    Rss rss;
  };
  std::vector<RssRow> rss;
  for (const auto& [name, file] :
       {std::pair{"read_nifti .nii", f.nii}, std::pair{"read_nifti .nii.gz (multi-member)", f.gz_multi},
        std::pair{"read_nifti .nii.gz (gzip -6)", f.gz_single}})
    rss.push_back({name, file, child_rss(file.string())});

  const double mb = voxel_bytes / 1e6; // float32 voxel bytes (the int16 row: same voxels, same unit)
  std::printf("\nrun %s float32: %.1f MB of voxels; .nii.gz ours %.1f MB (ratio %.2f), gzip -6 %.1f MB "
              "(ratio %.2f)\n",
              header.shape_string().c_str(), mb, fs::file_size(f.gz_multi) / 1e6,
              static_cast<double>(fs::file_size(f.nii)) / fs::file_size(f.gz_multi),
              fs::file_size(f.gz_single) / 1e6,
              static_cast<double>(fs::file_size(f.nii)) / fs::file_size(f.gz_single));
  std::printf("median of %d after a warm-up read; %u hardware threads, TBB limited to %u\n\n", reps,
              std::thread::hardware_concurrency(), thread_count);
  std::printf("%-36s %10s %10s %10s\n", "path", "median ms", "min ms", "MB/s");
  for (const auto& r : results)
    std::printf("%-36s %10.1f %10.1f %10.0f\n", r.name.c_str(), r.median_s * 1e3, r.min_s * 1e3,
                mb / r.median_s);
  std::printf("\npeak RSS of one read (child process; idle process %.1f MB):\n", idle.peak_kib / 1024.0);
  for (const auto& r : rss)
    std::printf("%-36s %8.1f MB  = %.2f x run size (%.2f x above idle)\n", r.name.c_str(),
                r.rss.peak_kib / 1024.0, r.rss.peak_kib * 1024.0 / voxel_bytes,
                (r.rss.peak_kib - idle.peak_kib) * 1024.0 / voxel_bytes);

  nlohmann::json j;
  j["run"] = {{"shape", header.shape_string()},
              {"voxel_bytes", header.data_bytes()},
              {"files",
               {{"nii", {{"path", f.nii.string()}, {"bytes", fs::file_size(f.nii)}}},
                {"gz_multi", {{"path", f.gz_multi.string()}, {"bytes", fs::file_size(f.gz_multi)}}},
                {"gz_single", {{"path", f.gz_single.string()}, {"bytes", fs::file_size(f.gz_single)}}}}}};
  j["repetitions"] = reps;
  j["tbb_threads"] = thread_count;
  for (const auto& r : results)
    j["timings"].push_back({{"name", r.name},
                            {"file", r.file.string()},
                            {"median_s", r.median_s},
                            {"min_s", r.min_s},
                            {"MB_per_s", mb / r.median_s}});
  j["peak_rss"]["idle_bytes"] = idle.peak_kib * 1024;
  for (const auto& r : rss)
    j["peak_rss"]["reads"].push_back(
        {{"name", r.name},
         {"bytes", r.rss.peak_kib * 1024},
         {"ratio_to_run", r.rss.peak_kib * 1024.0 / voxel_bytes},
         {"ratio_above_idle", (r.rss.peak_kib - idle.peak_kib) * 1024.0 / voxel_bytes}});
  std::printf("\n%s\n", j.dump(1).c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_nifti_read: %s\n", e.what());
  return 1;
}
