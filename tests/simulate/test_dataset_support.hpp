#pragma once
// Shared by the simulator's dataset tests: simulated datasets cached in the build tree (each test
// runs in its own process under ctest; the first one to need a dataset makes it, the others reuse
// it), and small independent numerics (HRF, design, least squares) written here, not taken from
// the simulator.
#include <gtest/gtest.h>
#include <unistd.h>

#include <Eigen/Dense>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <string>
#include <vector>

#include "rewardpath/io/json.hpp"
#include "rewardpath/simulate/simulate.hpp"

namespace rptest {
namespace fs = std::filesystem;

// A dataset for `o`, made once per build of this test binary (keyed by the options and the binary's
// modification time) under the working directory, and published by an atomic directory rename.
inline fs::path cached_dataset(const std::string& name, const rewardpath::simulate::Options& o) {
  const auto stamp = fs::last_write_time("/proc/self/exe").time_since_epoch().count();
  const fs::path root = fs::current_path() / "simulate_test_data";
  const fs::path dir = root / fmt::format("{}-{}", name, stamp);
  if (fs::exists(dir / "truth" / "dataset.json")) return dir;
  fs::create_directories(root);
  for (const auto& e : fs::directory_iterator(root)) // older builds' datasets
    if (e.path().filename().string().starts_with(name + "-") && e.path() != dir) {
      std::error_code ec;
      fs::remove_all(e.path(), ec);
    }
  const fs::path tmp = root / fmt::format(".{}-{}-tmp-{}", name, stamp, ::getpid());
  fs::remove_all(tmp);
  rewardpath::simulate::simulate_dataset(tmp, o);
  std::error_code ec;
  fs::rename(tmp, dir, ec); // fails if another process published first: use theirs
  if (ec) fs::remove_all(tmp);
  return dir;
}

inline rewardpath::simulate::Options small_options(int subjects, std::uint64_t seed, bool motion, bool pet) {
  rewardpath::simulate::Options o;
  o.subjects = subjects;
  o.seed = seed;
  o.motion = motion;
  o.pet = pet;
  o.size = rewardpath::simulate::Size::small;
  return o;
}

// Datasets the tests share: 4 subjects without motion (AR, effects, PET means); 2 with motion.
inline fs::path still_dataset() { return cached_dataset("still", small_options(4, 2024, false, true)); }
inline fs::path moving_dataset() { return cached_dataset("moving", small_options(2, 77, true, true)); }

// --- independent numerics --------------------------------------------------------------------------

// SPM canonical HRF (spm_hrf defaults: peak 6 s, undershoot 16 s, ratio 1/6, dispersion 1), by
// direct evaluation of the gamma densities, sampled every dt seconds for 32 s and scaled to unit
// sum * dt (unit area), as SPM/nilearn normalise it.
inline std::vector<double> spm_hrf(double dt) {
  std::vector<double> h;
  for (double t = 0.0; t <= 32.0 + 1e-9; t += dt) {
    const double g1 = t > 0 ? std::pow(t, 5) * std::exp(-t) / 120.0 : 0.0;            // Gamma(6)
    const double g2 = t > 0 ? std::pow(t, 15) * std::exp(-t) / 1307674368000.0 : 0.0; // Gamma(16)
    h.push_back(g1 - g2 / 6.0);
  }
  double s = 0.0;
  for (double v : h) s += v;
  for (double& v : h) v /= s * dt;
  return h;
}

struct EventRow {
  double onset, duration;
  std::string type;
};

// Regressor of one trial type at times t0 + n TR (n < volumes): boxcar on a dt grid convolved
// with the HRF (numerically), sampled.
inline std::vector<double> build_regressor(const std::vector<EventRow>& events, const std::string& type,
                                           int volumes, double tr, double t0, double dt = 0.01) {
  const auto h = spm_hrf(dt);
  const double total = volumes * tr + 40.0;
  const auto n = static_cast<std::size_t>(total / dt) + 1;
  std::vector<double> box(n, 0.0), conv(n, 0.0);
  for (const auto& e : events) {
    if (e.type != type) continue;
    const auto a = static_cast<std::size_t>(std::llround(e.onset / dt));
    const auto b = static_cast<std::size_t>(std::llround((e.onset + e.duration) / dt));
    for (std::size_t i = a; i < b && i < n; ++i) box[i] = 1.0;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (box[i] == 0.0) continue;
    for (std::size_t k = 0; k < h.size() && i + k < n; ++k) conv[i + k] += h[k] * dt;
  }
  std::vector<double> x(static_cast<std::size_t>(volumes));
  for (int v = 0; v < volumes; ++v) {
    const double t = t0 + v * tr;
    const double pos = t / dt;
    const auto i = static_cast<std::size_t>(pos);
    const double f = pos - static_cast<double>(i);
    x[static_cast<std::size_t>(v)] = i + 1 < n ? (1 - f) * conv[i] + f * conv[i + 1] : 0.0;
  }
  return x;
}

// Discrete cosine drift basis (SPM's high-pass, cut-off `period_s`), without the constant.
inline Eigen::MatrixXd dct_basis(int volumes, double tr, double period_s) {
  const int k = static_cast<int>(std::floor(2.0 * volumes * tr / period_s));
  Eigen::MatrixXd x(volumes, k);
  for (int j = 1; j <= k; ++j)
    for (int n = 0; n < volumes; ++n) x(n, j - 1) = std::cos(M_PI * j * (n + 0.5) / volumes);
  return x;
}

} // namespace rptest
