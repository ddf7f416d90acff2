#include "rewardpath/simulate/fmri.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numbers>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/gaussian.hpp"
#include "rewardpath/core/resample.hpp"

namespace rewardpath::simulate::fmri {
namespace {

// Stream keys for derive_seed(seed, key, ...).
enum Stream : std::uint64_t { fields = 1, innovations = 2, background = 3 };

constexpr double fwhm_to_sigma = 0.42466090014400953; // 1 / (2 sqrt(2 ln 2))

std::vector<double> smoothing_kernel(double fwhm_voxels) {
  const double sigma = fwhm_voxels * fwhm_to_sigma;
  if (sigma < 1e-3) return {1.0};
  return gaussian_kernel(sigma, std::max(1, static_cast<int>(std::ceil(3.0 * sigma))), true);
}

void validate(const PartialVolume& pv, const BoldSpec& s) {
  if (s.volumes < 2) throw Error(fmt::format("a BOLD run needs >= 2 volumes, got {}", s.volumes));
  if (!(s.tr_s > 0.0)) throw Error(fmt::format("RepetitionTime must be > 0, got {}", s.tr_s));
  if (static_cast<std::int64_t>(s.slice_timing_s.size()) != pv.grid.dims[2])
    throw Error(
        fmt::format("SliceTiming has {} entries for {} slices", s.slice_timing_s.size(), pv.grid.dims[2]));
  if (!s.motion.empty() && static_cast<std::int64_t>(s.motion.size()) != s.volumes)
    throw Error(fmt::format("motion has {} volumes, the run {}", s.motion.size(), s.volumes));
  const std::size_t nr = mid::regressor_names().size();
  for (const auto& e : s.effects)
    if (e.beta.size() != nr)
      throw Error(
          fmt::format("ROI {}: {} effects given, {} regressors exist", e.roi_index, e.beta.size(), nr));
}

} // namespace

void gaussian_smooth(std::vector<float>& data, const std::array<std::int64_t, 3>& d,
                     const std::array<double, 3>& fwhm_voxels) {
  std::vector<double> line;
  std::vector<float> tmp;
  const std::array<std::int64_t, 3> stride{1, d[0], d[0] * d[1]};
  for (int axis = 0; axis < 3; ++axis) {
    const auto k = smoothing_kernel(fwhm_voxels[static_cast<std::size_t>(axis)]);
    if (k.size() == 1) continue;
    const auto r = static_cast<std::int64_t>(k.size() / 2);
    const std::int64_t n = d[static_cast<std::size_t>(axis)], st = stride[static_cast<std::size_t>(axis)];
    tmp.resize(static_cast<std::size_t>(n));
    const int a1 = axis == 0 ? 1 : 0, a2 = axis == 2 ? 1 : 2;
    for (std::int64_t q = 0; q < d[static_cast<std::size_t>(a2)]; ++q)
      for (std::int64_t p = 0; p < d[static_cast<std::size_t>(a1)]; ++p) {
        const std::int64_t base =
            p * stride[static_cast<std::size_t>(a1)] + q * stride[static_cast<std::size_t>(a2)];
        for (std::int64_t i = 0; i < n; ++i) {
          double s = 0.0;
          const std::int64_t lo = std::max<std::int64_t>(0, i - r), hi = std::min(n - 1, i + r);
          for (std::int64_t j = lo; j <= hi; ++j)
            s += k[static_cast<std::size_t>(j - i + r)] * data[static_cast<std::size_t>(base + j * st)];
          tmp[static_cast<std::size_t>(i)] = static_cast<float>(s);
        }
        for (std::int64_t i = 0; i < n; ++i)
          data[static_cast<std::size_t>(base + i * st)] = tmp[static_cast<std::size_t>(i)];
      }
  }
}

Volume simulate_bold(const PartialVolume& pv, const BoldSpec& spec, std::uint64_t seed, BoldTruth* truth) {
  validate(pv, spec);
  const Grid& grid = pv.grid;
  const auto dims = grid.dims;
  const auto nv = static_cast<std::size_t>(grid.voxel_count());
  const std::int64_t nt = spec.volumes;
  const std::size_t nr = mid::regressor_names().size();

  // --- voxelwise maps (head frame = reference position) -------------------------------------
  Rng field_rng(derive_seed(seed, Stream::fields));
  const SmoothField coil(field_rng, 200.0, 4);
  const SmoothField ar_field(field_rng, 60.0);
  std::array<SmoothField, 3> drift_field{SmoothField(field_rng, 100.0), SmoothField(field_rng, 100.0),
                                         SmoothField(field_rng, 100.0)};
  const Affine vox_to_template = multiply(invert(pv.template_to_world), grid.affine);
  const auto& T = pv.tissue;
  const auto idx = [](Tissue t) { return static_cast<std::size_t>(t); };
  std::vector<float> s0(nv), phi(nv), sigma(nv), head(nv);
  std::vector<std::array<float, 3>> drift_amp(nv);
  const auto& b = spec.baseline;
  const auto& nz = spec.noise;
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, dims[2]), [&](const tbb::blocked_range<std::int64_t>& rk) {
        for (std::int64_t k = rk.begin(); k != rk.end(); ++k)
          for (std::int64_t j = 0; j < dims[1]; ++j)
            for (std::int64_t i = 0; i < dims[0]; ++i) {
              const auto v = static_cast<std::size_t>((k * dims[1] + j) * dims[0] + i);
              const double fc = T[idx(Tissue::csf)][v], fg = T[idx(Tissue::gm)][v],
                           fw = T[idx(Tissue::wm)][v], fs = T[idx(Tissue::scalp)][v];
              const double f = fc + fg + fw + fs;
              head[v] = static_cast<float>(f);
              const auto pw =
                  grid.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
              const auto pt = transform_point(
                  vox_to_template, {static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)});
              double dist2 = 0.0;
              for (int d = 0; d < 3; ++d)
                dist2 += (pt[d] - b.dropout_centre_mm[d]) * (pt[d] - b.dropout_centre_mm[d]);
              const double dropout =
                  1.0 - b.dropout_depth * std::exp(-0.5 * dist2 / (b.dropout_sigma_mm * b.dropout_sigma_mm));
              const double tissue_signal =
                  fc * b.signal.csf + fg * b.signal.gm + fw * b.signal.wm + fs * b.signal.scalp;
              s0[v] =
                  static_cast<float>(b.gain * (1.0 + b.coil_amplitude * coil(pw)) * dropout * tissue_signal);
              if (f > 0.0) {
                const double a = (fc * nz.ar.csf + fg * nz.ar.gm + fw * nz.ar.wm + fs * nz.ar.scalp) / f;
                phi[v] = static_cast<float>(std::clamp(a + nz.ar_spatial_sd * ar_field(pt), 0.0, 0.95));
                const double rel = (fc * nz.sd.csf + fg * nz.sd.gm + fw * nz.sd.wm + fs * nz.sd.scalp) / f;
                sigma[v] = static_cast<float>(rel * s0[v]);
              } else {
                phi[v] = 0.0f;
                sigma[v] = 0.0f;
              }
              for (int c = 0; c < 3; ++c)
                drift_amp[v][static_cast<std::size_t>(c)] = static_cast<float>(
                    spec.drift.cosine[static_cast<std::size_t>(c)] *
                    (1.0 + spec.drift.spatial_variation *
                               std::clamp(drift_field[static_cast<std::size_t>(c)](pt), -1.0, 1.0)));
            }
      });

  // Effects: fraction-weighted sum over the ROIs in each voxel, on the voxels any effect touches.
  std::vector<std::int64_t> active_of(nv, -1);
  std::vector<std::size_t> active;
  std::vector<float> beta; // active.size() x nr
  for (const auto& e : spec.effects) {
    const bool any = std::any_of(e.beta.begin(), e.beta.end(), [](double x) { return x != 0.0; });
    if (!any) continue;
    const auto roi =
        std::find_if(pv.rois.begin(), pv.rois.end(), [&](const auto& r) { return r.index == e.roi_index; });
    if (roi == pv.rois.end())
      throw Error(fmt::format("effects given for ROI {}, which the atlas lacks", e.roi_index));
    for (std::size_t n = 0; n < roi->voxels.size(); ++n) {
      const auto v = static_cast<std::size_t>(roi->voxels[n]);
      if (active_of[v] < 0) {
        active_of[v] = static_cast<std::int64_t>(active.size());
        active.push_back(v);
        beta.resize(beta.size() + nr, 0.0f);
      }
      for (std::size_t r = 0; r < nr; ++r)
        beta[static_cast<std::size_t>(active_of[v]) * nr + r] +=
            static_cast<float>(roi->fraction[n] * e.beta[r]);
    }
  }

  // Regressors at every slice's acquisition times: x[(k * nt + t) * nr + r].
  std::vector<double> x(static_cast<std::size_t>(dims[2] * nt) * nr);
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, dims[2]), [&](const tbb::blocked_range<std::int64_t>& rk) {
        for (std::int64_t k = rk.begin(); k != rk.end(); ++k) {
          std::vector<double> times(static_cast<std::size_t>(nt));
          for (std::int64_t t = 0; t < nt; ++t)
            times[static_cast<std::size_t>(t)] =
                static_cast<double>(t) * spec.tr_s + spec.slice_timing_s[static_cast<std::size_t>(k)];
          for (std::size_t r = 0; r < nr; ++r) {
            const auto xr = mid::regressor(spec.events, mid::regressor_names()[r], times);
            for (std::int64_t t = 0; t < nt; ++t)
              x[(static_cast<std::size_t>(k * nt + t)) * nr + r] = xr[static_cast<std::size_t>(t)];
          }
        }
      });

  // --- noise: innovations per time point (own stream each), then AR(1) per voxel ------------------
  Volume out(grid, nt);
  out.set_time_step_s(spec.tr_s);
  std::vector<float> noise(nv * static_cast<std::size_t>(nt));
  const std::array<double, 3> fwhm_vox{nz.smooth_fwhm_mm / grid.spacing_mm[0],
                                       nz.smooth_fwhm_mm / grid.spacing_mm[1],
                                       nz.smooth_fwhm_mm / grid.spacing_mm[2]};
  double smooth_var = 1.0; // variance of smoothed unit white noise (interior)
  for (int a = 0; a < 3; ++a) {
    double s2 = 0.0;
    for (double kv : smoothing_kernel(fwhm_vox[static_cast<std::size_t>(a)])) s2 += kv * kv;
    smooth_var *= s2;
  }
  const double w_white = std::sqrt(1.0 - nz.smooth_fraction),
               w_smooth = std::sqrt(nz.smooth_fraction / smooth_var);
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, nt, 1), [&](const tbb::blocked_range<std::int64_t>& rt) {
        std::vector<float> z(nv);
        for (std::int64_t t = rt.begin(); t != rt.end(); ++t) {
          Rng rng(derive_seed(seed, Stream::innovations, static_cast<std::uint64_t>(t)));
          for (auto& zv : z) zv = static_cast<float>(rng.normal());
          gaussian_smooth(z, dims, fwhm_vox);
          float* u = noise.data() + static_cast<std::size_t>(t) * nv;
          for (std::size_t v = 0; v < nv; ++v)
            u[v] = head[v] > 0.0f ? static_cast<float>(w_white * rng.normal() + w_smooth * z[v]) : 0.0f;
        }
      });
  constexpr std::size_t block = 1024;
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, (nv + block - 1) / block),
                    [&](const tbb::blocked_range<std::size_t>& rb) {
                      for (std::size_t bidx = rb.begin(); bidx != rb.end(); ++bidx) {
                        const std::size_t v0 = bidx * block, v1 = std::min(nv, v0 + block);
                        for (std::int64_t t = 1; t < nt; ++t) {
                          float* e = noise.data() + static_cast<std::size_t>(t) * nv;
                          const float* prev = e - nv;
                          for (std::size_t v = v0; v < v1; ++v)
                            e[v] = static_cast<float>(phi[v] * prev[v] +
                                                      std::sqrt(1.0 - static_cast<double>(phi[v]) * phi[v]) *
                                                          e[v]);
                        }
                      }
                    });

  // --- signal per volume, moved by the head motion, plus noise -------------------------------------
  const Affine grid_inv = invert(grid.affine);
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, nt, 1), [&](const tbb::blocked_range<std::int64_t>& rt) {
        std::vector<float> sig(nv);
        for (std::int64_t t = rt.begin(); t != rt.end(); ++t) {
          const double tau = (static_cast<double>(t) + 0.5) / static_cast<double>(nt);
          std::array<double, 3> cosb{};
          for (int c = 0; c < 3; ++c)
            cosb[static_cast<std::size_t>(c)] = std::cos(std::numbers::pi * (c + 1) * tau);
          const double lin = spec.drift.linear * (tau - 0.5);
          for (std::size_t v = 0; v < nv; ++v) {
            const auto& a = drift_amp[v];
            sig[v] =
                static_cast<float>(s0[v] * (1.0 + lin + a[0] * cosb[0] + a[1] * cosb[1] + a[2] * cosb[2]));
          }
          for (std::size_t n = 0; n < active.size(); ++n) {
            const std::size_t v = active[n];
            const auto k = static_cast<std::int64_t>(v / static_cast<std::size_t>(dims[0] * dims[1]));
            const double* xr = x.data() + static_cast<std::size_t>(k * nt + t) * nr;
            double s = 0.0;
            for (std::size_t r = 0; r < nr; ++r) s += beta[n * nr + r] * xr[r];
            sig[v] = static_cast<float>(sig[v] * (1.0 + 0.01 * s));
          }
          float* o = out.volume(t).data();
          if (spec.motion.empty()) {
            std::copy(sig.begin(), sig.end(), o);
          } else {
            // content at scanner voxel p is the head content at M_t^-1 p
            const Affine m =
                multiply(grid_inv, multiply(invert(rigid_matrix(spec.motion[static_cast<std::size_t>(t)],
                                                                spec.motion_centre_mm)),
                                            grid.affine));
            for (std::int64_t k = 0; k < dims[2]; ++k)
              for (std::int64_t j = 0; j < dims[1]; ++j)
                for (std::int64_t i = 0; i < dims[0]; ++i) {
                  const auto p = transform_point(
                      m, {static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)});
                  o[(k * dims[1] + j) * dims[0] + i] = sample_trilinear(sig.data(), dims, p[0], p[1], p[2]);
                }
          }
          Rng rng(derive_seed(seed, Stream::background, static_cast<std::uint64_t>(t)));
          const float* e = noise.data() + static_cast<std::size_t>(t) * nv;
          const double sb = nz.background_sd;
          for (std::size_t v = 0; v < nv; ++v) {
            double re = o[v] + sigma[v] * e[v], im = 0.0;
            if (head[v] < 0.999f) {
              re += (1.0 - head[v]) * sb * rng.normal();
              im = sb * rng.normal();
            }
            o[v] = static_cast<float>(std::min(32767.0, std::sqrt(re * re + im * im)));
          }
        }
      });

  if (truth != nullptr) {
    auto map = [&](const std::vector<float>& m) {
      Volume vol(grid, 1);
      std::copy(m.begin(), m.end(), vol.data());
      return vol;
    };
    truth->baseline = map(s0);
    truth->ar = map(phi);
    truth->noise_sd = map(sigma);
    truth->effects = Volume(grid, static_cast<std::int64_t>(nr), 0.0f);
    for (std::size_t n = 0; n < active.size(); ++n)
      for (std::size_t r = 0; r < nr; ++r) truth->effects.data()[r * nv + active[n]] = beta[n * nr + r];
  }
  return out;
}

std::vector<RigidParams> motion_trajectory(std::int64_t volumes, double tr_s, Rng& rng, double scale) {
  const double run = static_cast<double>(volumes) * tr_s;
  // per parameter: slow drift amplitude (mm or rad)
  const std::array<double, 6> slow{0.25, 0.35, 0.5, 0.006, 0.003, 0.003};
  std::array<std::array<double, 9>, 6> waves{}; // 3 x (amplitude, frequency, phase)
  for (std::size_t p = 0; p < 6; ++p)
    for (std::size_t w = 0; w < 3; ++w) {
      waves[p][3 * w] = slow[p] * rng.normal() / std::sqrt(3.0);
      waves[p][3 * w + 1] = rng.uniform(0.3, 3.0) / run; // 0.3 to 3 cycles per run
      waves[p][3 * w + 2] = rng.uniform(0.0, 2.0 * std::numbers::pi);
    }
  // abrupt movements: about one per 150 s, 0.4-1.2 mm / 0.3-0.8 deg, 1-3 volumes, 30-70% persists
  const int jerks = std::max(1, static_cast<int>(std::lround(run / 150.0)));
  struct Jerk {
    std::int64_t start, length;
    RigidParams size;
    double persist;
  };
  std::vector<Jerk> js;
  for (int n = 0; n < jerks; ++n) {
    Jerk jk{rng.integer(3, static_cast<int>(std::max<std::int64_t>(4, volumes - 4))),
            rng.integer(1, 3),
            {},
            rng.uniform(0.3, 0.7)};
    const double mm = rng.uniform(0.4, 1.2), rad = rng.uniform(0.3, 0.8) * std::numbers::pi / 180.0;
    for (std::size_t p = 0; p < 3; ++p) jk.size[p] = mm * rng.uniform(-1.0, 1.0);
    for (std::size_t p = 3; p < 6; ++p) jk.size[p] = rad * rng.uniform(-1.0, 1.0);
    js.push_back(jk);
  }
  std::vector<RigidParams> m(static_cast<std::size_t>(volumes));
  for (std::int64_t t = 0; t < volumes; ++t) {
    const double time = static_cast<double>(t) * tr_s;
    for (std::size_t p = 0; p < 6; ++p) {
      double v = 0.0;
      for (std::size_t w = 0; w < 3; ++w)
        v += waves[p][3 * w] *
             std::sin(2.0 * std::numbers::pi * waves[p][3 * w + 1] * time + waves[p][3 * w + 2]);
      v += (p < 3 ? 0.015 : 0.0002) * rng.normal(); // jitter (respiration, swallowing)
      for (const auto& jk : js) {
        if (t >= jk.start && t < jk.start + jk.length)
          v += jk.size[p];
        else if (t >= jk.start + jk.length)
          v += jk.persist * jk.size[p];
      }
      m[static_cast<std::size_t>(t)][p] = v;
    }
  }
  const RigidParams first = m.front();
  for (auto& q : m)
    for (std::size_t p = 0; p < 6; ++p) q[p] = scale * (q[p] - first[p]);
  return m;
}

std::vector<double> framewise_displacement(const std::vector<RigidParams>& m) {
  std::vector<double> fd(m.size(), 0.0);
  for (std::size_t t = 1; t < m.size(); ++t) {
    double s = 0.0;
    for (std::size_t p = 0; p < 6; ++p) s += std::abs(m[t][p] - m[t - 1][p]) * (p < 3 ? 1.0 : 50.0);
    fd[t] = s;
  }
  return fd;
}

} // namespace rewardpath::simulate::fmri
