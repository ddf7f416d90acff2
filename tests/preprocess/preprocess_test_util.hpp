#pragma once
// Shared helpers for tests/preprocess: a head phantom from Colin27 (mricron-data's ch2bet) on a
// BOLD-like 3 mm grid, moved by known rigid transforms, and a python runner for cross-checks.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "rewardpath/core/resample.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/preprocess/realign.hpp"

namespace pp_test {

using rewardpath::Grid;
using rewardpath::Volume;
namespace pp = rewardpath::preprocess;

inline const Volume& colin() {
  static const Volume v = rewardpath::io::read_nifti("/usr/share/mricron/templates/ch2bet.nii.gz",
                                                     rewardpath::io::Expect::volume3d);
  return v;
}

// 48 x 56 x 44 voxels of 3 mm around the Colin27 brain (LAS-like axes do not matter here: RAS).
inline Grid bold_grid(double mm = 3.0, std::array<std::int64_t, 3> dims = {48, 56, 44}) {
  const auto c = colin().grid().to_world(90.0, 108.0, 90.0);
  Grid g;
  g.dims = dims;
  g.spacing_mm = {mm, mm, mm};
  g.affine = rewardpath::identity_affine();
  for (std::size_t a = 0; a < 3; ++a) {
    g.affine[a][a] = mm;
    g.affine[a][3] = c[a] - mm * 0.5 * static_cast<double>(dims[a] - 1);
  }
  return g;
}

// A run whose volume t is Colin27 moved by params[t] (volume_t(M_t(x)) = colin(x)), sampled from
// the 1 mm image (no interpolation of a 3 mm image); Gaussian noise of sd `noise` (image units,
// the brain's mean is ~ 90) when > 0.
inline Volume moved_run(const Grid& g, const std::vector<pp::RigidParams>& params, double noise = 0.0,
                        unsigned seed = 1) {
  Volume run(g, static_cast<std::int64_t>(params.size()));
  const auto c = pp::fov_centre(g);
  std::mt19937 rng(seed);
  std::normal_distribution<float> z(0.0f, static_cast<float>(noise));
  for (std::size_t t = 0; t < params.size(); ++t) {
    const Volume v = rewardpath::resample(colin(), g, rewardpath::invert(pp::rigid_matrix(params[t], c)));
    auto dst = run.volume(static_cast<std::int64_t>(t));
    for (std::size_t i = 0; i < dst.size(); ++i) dst[i] = v.data()[i] + (noise > 0.0 ? z(rng) : 0.0f);
  }
  run.set_time_step_s(2.0);
  return run;
}

inline bool python_has(const std::string& modules, const std::string& pythonpath = "") {
  const std::string py = RP_SYSTEM_PYTHON;
  if (py.empty()) return false;
  const std::string cmd = (pythonpath.empty() ? "" : "PYTHONPATH=" + pythonpath + " ") + py +
                          " -c \"import " + modules + "\" >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

constexpr double deg = 3.14159265358979323846 / 180.0;

} // namespace pp_test
