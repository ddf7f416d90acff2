#include "rewardpath/simulate/anatomy.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/io/nifti.hpp"

namespace rewardpath::simulate {
namespace {

constexpr double deg = std::numbers::pi / 180.0;

Affine rotation_zyx(double rx, double ry, double rz) {
  const double cx = std::cos(rx), sx = std::sin(rx), cy = std::cos(ry), sy = std::sin(ry), cz = std::cos(rz),
               sz = std::sin(rz);
  Affine x = identity_affine(), y = identity_affine(), z = identity_affine();
  x[1][1] = cx, x[1][2] = -sx, x[2][1] = sx, x[2][2] = cx;
  y[0][0] = cy, y[0][2] = sy, y[2][0] = -sy, y[2][2] = cy;
  z[0][0] = cz, z[0][1] = -sz, z[1][0] = sz, z[1][1] = cz;
  return multiply(z, multiply(y, x));
}

// 3-class k-means of the positive intensities (1D, on a histogram of rounded values).
std::array<double, 3> kmeans3(const Volume& brain) {
  std::vector<double> hist(4097, 0.0);
  double vmax = 0.0;
  for (float v : brain.volume(0)) vmax = std::max(vmax, static_cast<double>(v));
  if (vmax <= 0.0) throw Error("template brain image is empty");
  const double bin = vmax / 4096.0;
  for (float v : brain.volume(0))
    if (v > 0.0f) hist[static_cast<std::size_t>(std::lround(v / bin))] += 1.0;
  std::array<double, 3> c{0.25 * vmax, 0.6 * vmax, 0.85 * vmax};
  for (int iter = 0; iter < 200; ++iter) {
    std::array<double, 3> sum{}, n{};
    for (std::size_t b = 1; b < hist.size(); ++b) {
      if (hist[b] == 0.0) continue;
      const double v = static_cast<double>(b) * bin;
      int best = 0;
      for (int k = 1; k < 3; ++k)
        if (std::abs(v - c[k]) < std::abs(v - c[best])) best = k;
      sum[best] += hist[b] * v;
      n[best] += hist[b];
    }
    std::array<double, 3> next = c;
    for (int k = 0; k < 3; ++k)
      if (n[k] > 0) next[k] = sum[k] / n[k];
    if (next == c) break;
    c = next;
  }
  return c;
}

} // namespace

TemplateAnatomy make_template_anatomy(Volume brain, Volume head, atlas::Atlas atlas) {
  if (!brain.grid().same_sampling(head.grid()))
    throw Error("template head and brain images must share one grid");
  if (!brain.grid().same_sampling(atlas.labels.grid()))
    throw Error("the atlas labels and the template brain must share one grid");
  TemplateAnatomy a;
  a.class_means = kmeans3(brain);
  a.csf_gm_threshold = 0.5 * (a.class_means[0] + a.class_means[1]);
  a.gm_wm_threshold = 0.5 * (a.class_means[1] + a.class_means[2]);
  const auto n = static_cast<std::size_t>(brain.voxels_per_volume());
  a.tissue.assign(n, static_cast<std::uint8_t>(Tissue::air));
  double head_max = 0.0;
  for (std::size_t v = 0; v < n; ++v) head_max = std::max(head_max, static_cast<double>(head.data()[v]));
  std::array<double, 3> sum{};
  double count = 0.0;
  const Grid& g = brain.grid();
  for (std::int64_t k = 0; k < brain.nz(); ++k)
    for (std::int64_t j = 0; j < brain.ny(); ++j)
      for (std::int64_t i = 0; i < brain.nx(); ++i) {
        const std::size_t v = brain.index(i, j, k);
        const double b = brain.data()[v];
        Tissue t = Tissue::air;
        if (b > 0.0) {
          t = b < a.csf_gm_threshold ? Tissue::csf : b < a.gm_wm_threshold ? Tissue::gm : Tissue::wm;
          const auto w = g.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
          for (int d = 0; d < 3; ++d) sum[d] += w[d];
          count += 1.0;
        } else if (head.data()[v] > 0.2 * head_max) {
          t = Tissue::scalp;
        }
        a.tissue[v] = static_cast<std::uint8_t>(t);
      }
  for (int d = 0; d < 3; ++d) a.brain_centroid_mm[d] = sum[d] / count;
  a.brain = std::move(brain);
  a.head = std::move(head);
  a.atlas = std::move(atlas);
  return a;
}

TemplateAnatomy load_template_anatomy() {
  Volume brain = atlas::load_template();
  Volume head;
  const auto ch2 = atlas::mricron_templates_dir() / "ch2.nii.gz";
  if (std::filesystem::exists(ch2)) {
    head = io::read_nifti(ch2, io::Expect::volume3d);
    if (!head.grid().same_sampling(brain.grid())) head = Volume(); // unusable: fall back to the brain
  }
  if (head.size() == 0) {
    head = Volume(brain.grid(), 1);
    std::copy_n(brain.data(), brain.size(), head.data());
  }
  return make_template_anatomy(std::move(brain), std::move(head), atlas::build_reward_atlas());
}

Affine Pose::matrix() const {
  Affine s = identity_affine(), sh = identity_affine(), t = identity_affine();
  for (int d = 0; d < 3; ++d) s[d][d] = scale[d];
  sh[0][1] = shear[0], sh[0][2] = shear[1], sh[1][2] = shear[2];
  for (int d = 0; d < 3; ++d) t[d][3] = translation_mm[d];
  const Affine r = rotation_zyx(rotation_deg[0] * deg, rotation_deg[1] * deg, rotation_deg[2] * deg);
  return multiply(t, multiply(r, multiply(sh, s)));
}

namespace {
std::array<double, 3> random_direction(Rng& rng) {
  while (true) {
    std::array<double, 3> d{rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)};
    const double n = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (n > 0.05 && n <= 1.0) return {d[0] / n, d[1] / n, d[2] / n};
  }
}
} // namespace

Pose random_pose(Rng& rng, const PoseLimits& limits) {
  // A rotation of angle U(3, max) about a random axis, expressed as x/y/z Euler angles (Rz Ry Rx).
  const auto axis = random_direction(rng);
  const double angle = rng.uniform(std::min(3.0, limits.max_rotation_deg), limits.max_rotation_deg) * deg;
  const double c = std::cos(angle), s = std::sin(angle), C = 1 - c;
  const double x = axis[0], y = axis[1], z = axis[2];
  const double r00 = c + x * x * C, r10 = y * x * C + z * s, r20 = z * x * C - y * s;
  const double r21 = z * y * C + x * s, r22 = c + z * z * C;
  Pose p;
  p.rotation_deg[1] = -std::asin(std::clamp(r20, -1.0, 1.0)) / deg;
  p.rotation_deg[0] = std::atan2(r21, r22) / deg;
  p.rotation_deg[2] = std::atan2(r10, r00) / deg;
  const auto dir = random_direction(rng);
  const double len = rng.uniform(std::min(2.0, limits.max_translation_mm), limits.max_translation_mm);
  for (int d = 0; d < 3; ++d) p.translation_mm[d] = len * dir[d];
  for (int d = 0; d < 3; ++d) p.scale[d] = 1.0 + rng.uniform(-limits.max_scale, limits.max_scale);
  for (int d = 0; d < 3; ++d) p.shear[d] = rng.uniform(-limits.max_shear, limits.max_shear);
  return p;
}

Affine rigid_matrix(const RigidParams& q, const std::array<double, 3>& c) {
  Affine m = rotation_zyx(q[3], q[4], q[5]);
  for (int r = 0; r < 3; ++r) {
    double rc = 0.0;
    for (int k = 0; k < 3; ++k) rc += m[r][k] * c[k];
    m[r][3] = c[r] - rc + q[r];
  }
  return m;
}

std::array<double, 3> transform_point(const Affine& a, const std::array<double, 3>& p) {
  std::array<double, 3> r{};
  for (int i = 0; i < 3; ++i) r[i] = a[i][0] * p[0] + a[i][1] * p[1] + a[i][2] * p[2] + a[i][3];
  return r;
}

Grid scanner_grid(const std::array<std::int64_t, 3>& dims, const std::array<double, 3>& spacing,
                  const std::array<double, 3>& centre) {
  Grid g;
  g.dims = dims;
  g.spacing_mm = spacing;
  g.affine = identity_affine();
  g.affine[0][0] = -spacing[0];
  g.affine[1][1] = spacing[1];
  g.affine[2][2] = spacing[2];
  for (int d = 0; d < 3; ++d)
    g.affine[d][3] = centre[d] - g.affine[d][d] * 0.5 * static_cast<double>(dims[d] - 1);
  g.space = "scanner";
  return g;
}

std::vector<int> PartialVolume::majority_labels() const {
  std::vector<int> out(static_cast<std::size_t>(voxel_count()), 0);
  std::vector<float> best(out.size(), 0.5f);
  for (const auto& r : rois)
    for (std::size_t n = 0; n < r.voxels.size(); ++n) {
      const auto v = static_cast<std::size_t>(r.voxels[n]);
      if (r.fraction[n] >= best[v]) {
        best[v] = r.fraction[n] + 1e-6f;
        out[v] = r.index;
      }
    }
  return out;
}

PartialVolume partial_volume(const TemplateAnatomy& anatomy, const Grid& grid,
                             const Affine& template_to_world) {
  PartialVolume pv;
  pv.grid = grid;
  pv.template_to_world = template_to_world;
  const auto nvox = static_cast<std::size_t>(grid.voxel_count());
  for (auto& t : pv.tissue) t.assign(nvox, 0.0f);
  for (auto& t : pv.tissue_outside_rois) t.assign(nvox, 0.0f);
  // subject voxel -> template voxel
  const Grid& tg = anatomy.brain.grid();
  const Affine m = multiply(invert(tg.affine), multiply(invert(template_to_world), grid.affine));
  std::array<int, 3> ns{};
  for (int d = 0; d < 3; ++d) ns[d] = std::max(1, static_cast<int>(std::ceil(grid.spacing_mm[d] - 1e-6)));
  const double w = 1.0 / (ns[0] * ns[1] * ns[2]);
  const std::int64_t tx = tg.dims[0], ty = tg.dims[1], tz = tg.dims[2];
  const float* labels = anatomy.atlas.labels.data();
  int max_label = 0;
  for (const auto& r : anatomy.atlas.rois) max_label = std::max(max_label, r.index);
  std::vector<int> slot(static_cast<std::size_t>(max_label) + 1, -1);
  for (std::size_t r = 0; r < anatomy.atlas.rois.size(); ++r) {
    PartialVolume::Roi roi;
    roi.index = anatomy.atlas.rois[r].index;
    roi.name = anatomy.atlas.rois[r].name;
    if (roi.index > 0) slot[static_cast<std::size_t>(roi.index)] = static_cast<int>(r);
    pv.rois.push_back(std::move(roi));
  }
  const std::int64_t nk = grid.dims[2];
  struct Hit {
    std::int64_t voxel;
    int roi;
    float fraction;
  };
  std::vector<std::vector<Hit>> per_slice(static_cast<std::size_t>(nk));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, nk), [&](const tbb::blocked_range<std::int64_t>& rk) {
    std::vector<std::pair<int, int>> counts; // (roi slot, samples)
    for (std::int64_t k = rk.begin(); k != rk.end(); ++k) {
      auto& hits = per_slice[static_cast<std::size_t>(k)];
      for (std::int64_t j = 0; j < grid.dims[1]; ++j)
        for (std::int64_t i = 0; i < grid.dims[0]; ++i) {
          const auto v = static_cast<std::size_t>((k * grid.dims[1] + j) * grid.dims[0] + i);
          std::array<int, tissue_count> tc{}, to{};
          counts.clear();
          for (int c = 0; c < ns[2]; ++c)
            for (int b = 0; b < ns[1]; ++b)
              for (int a = 0; a < ns[0]; ++a) {
                const double pi = static_cast<double>(i) + (a + 0.5) / ns[0] - 0.5;
                const double pj = static_cast<double>(j) + (b + 0.5) / ns[1] - 0.5;
                const double pk = static_cast<double>(k) + (c + 0.5) / ns[2] - 0.5;
                const auto xi = static_cast<std::int64_t>(
                    std::lround(m[0][0] * pi + m[0][1] * pj + m[0][2] * pk + m[0][3]));
                const auto yi = static_cast<std::int64_t>(
                    std::lround(m[1][0] * pi + m[1][1] * pj + m[1][2] * pk + m[1][3]));
                const auto zi = static_cast<std::int64_t>(
                    std::lround(m[2][0] * pi + m[2][1] * pj + m[2][2] * pk + m[2][3]));
                if (xi < 0 || yi < 0 || zi < 0 || xi >= tx || yi >= ty || zi >= tz) {
                  ++tc[0], ++to[0];
                  continue;
                }
                const auto tv = static_cast<std::size_t>((zi * ty + yi) * tx + xi);
                const int cls = anatomy.tissue[tv];
                ++tc[cls];
                const auto label = static_cast<int>(std::lround(labels[tv]));
                const int s = label > 0 && label <= max_label ? slot[static_cast<std::size_t>(label)] : -1;
                if (s < 0) {
                  ++to[cls];
                  continue;
                }
                auto it =
                    std::find_if(counts.begin(), counts.end(), [&](const auto& p) { return p.first == s; });
                if (it == counts.end())
                  counts.emplace_back(s, 1);
                else
                  ++it->second;
              }
          for (int t = 0; t < tissue_count; ++t) {
            pv.tissue[static_cast<std::size_t>(t)][v] = static_cast<float>(tc[t] * w);
            pv.tissue_outside_rois[static_cast<std::size_t>(t)][v] = static_cast<float>(to[t] * w);
          }
          for (const auto& [s, n] : counts)
            hits.push_back({static_cast<std::int64_t>(v), s, static_cast<float>(n * w)});
        }
    }
  });
  for (const auto& hits : per_slice) // slice order, voxel order within: sorted voxel lists
    for (const auto& h : hits) {
      auto& roi = pv.rois[static_cast<std::size_t>(h.roi)];
      roi.voxels.push_back(h.voxel);
      roi.fraction.push_back(h.fraction);
    }
  return pv;
}

SmoothField::SmoothField(Rng& rng, double min_wavelength_mm, int waves) {
  const double amplitude = std::sqrt(2.0 / waves);
  for (int n = 0; n < waves; ++n) {
    const auto d = random_direction(rng);
    const double k = 2.0 * std::numbers::pi / rng.uniform(min_wavelength_mm, 2.0 * min_wavelength_mm);
    waves_.push_back({k * d[0], k * d[1], k * d[2], rng.uniform(0.0, 2.0 * std::numbers::pi), amplitude});
  }
}

double SmoothField::operator()(const std::array<double, 3>& p) const {
  double s = 0.0;
  for (const auto& w : waves_) s += w[4] * std::cos(w[0] * p[0] + w[1] * p[1] + w[2] * p[2] + w[3]);
  return s;
}

Volume simulate_t1w(const TemplateAnatomy& anatomy, const Grid& grid, const Affine& template_to_world,
                    const T1wParams& params, std::uint64_t seed) {
  Volume out = resample(anatomy.head, grid, invert(template_to_world), Interpolation::linear, 0.0f);
  out.grid().space = "scanner";
  Rng field_rng(derive_seed(seed, 1));
  const SmoothField bias(field_rng, 250.0, 4);
  // mean white-matter intensity of the template, for the noise level
  double wm_sum = 0.0, wm_n = 0.0;
  for (std::size_t v = 0; v < anatomy.tissue.size(); ++v)
    if (anatomy.tissue[v] == static_cast<std::uint8_t>(Tissue::wm)) {
      wm_sum += anatomy.head.data()[v];
      wm_n += 1.0;
    }
  const double sd = params.noise_fraction * params.scale * (wm_n > 0 ? wm_sum / wm_n : 100.0);
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, out.nz()), [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t k = r.begin(); k != r.end(); ++k) {
          Rng rng(derive_seed(seed, 2, static_cast<std::uint64_t>(k)));
          for (std::int64_t j = 0; j < out.ny(); ++j)
            for (std::int64_t i = 0; i < out.nx(); ++i) {
              const auto p =
                  grid.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
              const double s = out.at(i, j, k) * params.scale * (1.0 + params.bias_amplitude * bias(p));
              const double a = s + sd * rng.normal(), b = sd * rng.normal();
              out.at(i, j, k) = static_cast<float>(std::sqrt(a * a + b * b));
            }
        }
      });
  return out;
}

Volume brain_mask(const TemplateAnatomy& anatomy, const Grid& grid, const Affine& template_to_world) {
  Volume mask(anatomy.brain.grid(), 1);
  for (std::size_t v = 0; v < mask.size(); ++v) mask.data()[v] = anatomy.brain.data()[v] > 0.0f ? 1.0f : 0.0f;
  Volume out = resample(mask, grid, invert(template_to_world), Interpolation::nearest, 0.0f);
  out.grid().space = "scanner";
  return out;
}

} // namespace rewardpath::simulate
