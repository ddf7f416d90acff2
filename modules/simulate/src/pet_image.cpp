#include "rewardpath/simulate/pet_image.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numbers>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/simulate/fmri.hpp"

namespace rewardpath::simulate::pet {
namespace {

enum Stream : std::uint64_t { frame_noise = 1 };

std::size_t region_slot(const std::vector<RegionTruth>& regions, const std::string& name) {
  for (std::size_t r = 0; r < regions.size(); ++r)
    if (regions[r].roi == name) return r;
  return regions.size();
}

} // namespace

double noise_level_for_voxel(double voxel_mm3, double level_at_8mm3) {
  return level_at_8mm3 * std::sqrt(8.0 / voxel_mm3);
}

std::vector<RigidParams> pet_motion(const FrameSchedule& frames, Rng& rng, double scale) {
  const auto mid = frames.mid_s();
  const double end = frames.start_s.back() + frames.duration_s.back();
  RigidParams drift{};
  for (std::size_t p = 0; p < 3; ++p) drift[p] = rng.uniform(-2.0, 2.0) / std::sqrt(3.0);
  for (std::size_t p = 3; p < 6; ++p)
    drift[p] = rng.uniform(-1.5, 1.5) * std::numbers::pi / 180.0 / std::sqrt(3.0);
  std::vector<RigidParams> m(frames.size());
  for (std::size_t f = 1; f < frames.size(); ++f) {
    const double s = std::pow(mid[f] / end, 0.7); // drifts most early on, then settles
    for (std::size_t p = 0; p < 6; ++p)
      m[f][p] = scale * (drift[p] * s + (p < 3 ? 0.05 : 0.0005) * rng.normal());
  }
  return m;
}

Volume simulate_pet(const PartialVolume& pv, const PetImageSpec& spec, std::uint64_t seed,
                    PetImageTruth* truth) {
  const auto& frames = spec.frames;
  if (frames.size() == 0) throw Error("a PET scan needs at least one frame");
  if (!spec.motion.empty() && spec.motion.size() != frames.size())
    throw Error(fmt::format("PET motion has {} frames, the scan {}", spec.motion.size(), frames.size()));
  const std::size_t bg_gm = region_slot(spec.regions, "background_gm"),
                    bg_wm = region_slot(spec.regions, "background_wm");
  if (bg_gm == spec.regions.size() || bg_wm == spec.regions.size())
    throw Error("PET truth needs regions background_gm and background_wm");
  const Grid& grid = pv.grid;
  const auto dims = grid.dims;
  const auto nv = static_cast<std::size_t>(grid.voxel_count());
  const std::size_t nf = frames.size();

  std::vector<std::vector<double>> tacs;
  for (const auto& r : spec.regions) tacs.push_back(region_tac(spec.input, r, frames));

  // Per voxel: weights of each region's TAC (dense per region: few regions, small grids).
  const std::size_t nreg = spec.regions.size();
  std::vector<float> weight(nreg * nv, 0.0f);
  std::vector<float> bp(nv, 0.0f);
  auto add = [&](std::size_t r, std::size_t v, double w) {
    weight[r * nv + v] += static_cast<float>(w);
    bp[v] += static_cast<float>(w * spec.regions[r].bp_nd);
  };
  for (const auto& roi : pv.rois) {
    std::size_t r = region_slot(spec.regions, roi.name);
    if (r == nreg) r = bg_gm; // an atlas ROI without its own kinetics behaves as grey matter
    for (std::size_t n = 0; n < roi.voxels.size(); ++n)
      add(r, static_cast<std::size_t>(roi.voxels[n]), roi.fraction[n]);
  }
  const auto& t = pv.tissue_outside_rois;
  const auto ti = [](Tissue x) { return static_cast<std::size_t>(x); };
  for (std::size_t v = 0; v < nv; ++v) {
    add(bg_gm, v, t[ti(Tissue::gm)][v]);
    add(bg_wm, v, t[ti(Tissue::wm)][v] + 0.1 * t[ti(Tissue::csf)][v] + 0.3 * t[ti(Tissue::scalp)][v]);
  }
  // Brain voxels (for the noise floor): at least half brain tissue.
  std::vector<std::size_t> brain;
  for (std::size_t v = 0; v < nv; ++v)
    if (pv.tissue[ti(Tissue::gm)][v] + pv.tissue[ti(Tissue::wm)][v] + pv.tissue[ti(Tissue::csf)][v] >= 0.5f)
      brain.push_back(v);

  Volume out(grid, static_cast<std::int64_t>(nf));
  out.set_value_units("Bq/mL");
  const std::array<double, 3> psf{spec.psf_fwhm_mm / grid.spacing_mm[0],
                                  spec.psf_fwhm_mm / grid.spacing_mm[1],
                                  spec.psf_fwhm_mm / grid.spacing_mm[2]};
  const std::array<double, 3> nfw{spec.noise_fwhm_mm / grid.spacing_mm[0],
                                  spec.noise_fwhm_mm / grid.spacing_mm[1],
                                  spec.noise_fwhm_mm / grid.spacing_mm[2]};
  // Variance of Gaussian-smoothed unit white noise, to renormalise the noise field.
  double noise_var = 1.0;
  {
    std::vector<float> impulse(static_cast<std::size_t>(dims[0] * dims[1] * dims[2]), 0.0f);
    const auto c = static_cast<std::size_t>((dims[2] / 2 * dims[1] + dims[1] / 2) * dims[0] + dims[0] / 2);
    impulse[c] = 1.0f;
    fmri::gaussian_smooth(impulse, dims, nfw);
    noise_var = 0.0;
    for (float x : impulse) noise_var += static_cast<double>(x) * x;
  }
  const double noise_scale = 1.0 / std::sqrt(noise_var);
  const Affine grid_inv = invert(grid.affine);
  const auto mid = frames.mid_s();
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, nf, 1), [&](const tbb::blocked_range<std::size_t>& rf) {
        std::vector<float> a(nv), moved(nv), z(nv);
        for (std::size_t f = rf.begin(); f != rf.end(); ++f) {
          std::fill(a.begin(), a.end(), 0.0f);
          for (std::size_t r = 0; r < nreg; ++r) {
            const auto tac = static_cast<float>(tacs[r][f]);
            const float* w = weight.data() + r * nv;
            for (std::size_t v = 0; v < nv; ++v) a[v] += w[v] * tac;
          }
          if (!spec.motion.empty() && f > 0) {
            const Affine m = multiply(
                grid_inv, multiply(invert(rigid_matrix(spec.motion[f], spec.motion_centre_mm)), grid.affine));
            for (std::int64_t k = 0; k < dims[2]; ++k)
              for (std::int64_t j = 0; j < dims[1]; ++j)
                for (std::int64_t i = 0; i < dims[0]; ++i)
                  moved[static_cast<std::size_t>((k * dims[1] + j) * dims[0] + i)] = [&] {
                    const auto q = transform_point(
                        m, {static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)});
                    return sample_trilinear(a.data(), dims, q[0], q[1], q[2]);
                  }();
            std::swap(a, moved);
          }
          fmri::gaussian_smooth(a, dims, psf);
          double brain_mean = 0.0;
          for (std::size_t v : brain) brain_mean += a[v];
          brain_mean /= static_cast<double>(std::max<std::size_t>(1, brain.size()));
          const double floor = spec.noise_floor_fraction * brain_mean;
          Rng rng(derive_seed(seed, Stream::frame_noise, f));
          for (auto& zv : z) zv = static_cast<float>(rng.normal());
          fmri::gaussian_smooth(z, dims, nfw);
          float* o = out.volume(static_cast<std::int64_t>(f)).data();
          for (std::size_t v = 0; v < nv; ++v) {
            const double sd = frame_noise_sd(std::max<double>(a[v], floor), frames.duration_s[f], mid[f],
                                             kC11HalfLifeS, spec.noise_level);
            o[v] = static_cast<float>(a[v] + sd * noise_scale * z[v]);
          }
        }
      });

  if (truth != nullptr) {
    truth->bp_nd = Volume(grid, 1);
    std::copy(bp.begin(), bp.end(), truth->bp_nd.data());
    truth->region_names.clear();
    for (const auto& r : spec.regions) truth->region_names.push_back(r.roi);
    truth->tacs = tacs;
  }
  return out;
}

} // namespace rewardpath::simulate::pet
