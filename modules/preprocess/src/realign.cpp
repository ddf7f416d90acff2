#include "rewardpath/preprocess/realign.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/preprocess/smooth.hpp"

namespace rewardpath::preprocess {

std::array<double, 3> fov_centre(const Grid& g) {
  return g.to_world(0.5 * static_cast<double>(g.dims[0] - 1), 0.5 * static_cast<double>(g.dims[1] - 1),
                    0.5 * static_cast<double>(g.dims[2] - 1));
}

Affine rigid_matrix(const RigidParams& q, const std::array<double, 3>& c) {
  const double cx = std::cos(q[3]), sx = std::sin(q[3]), cy = std::cos(q[4]), sy = std::sin(q[4]),
               cz = std::cos(q[5]), sz = std::sin(q[5]);
  // R = Rz Ry Rx written out
  Affine m = identity_affine();
  m[0][0] = cz * cy;
  m[0][1] = cz * sy * sx - sz * cx;
  m[0][2] = cz * sy * cx + sz * sx;
  m[1][0] = sz * cy;
  m[1][1] = sz * sy * sx + cz * cx;
  m[1][2] = sz * sy * cx - cz * sx;
  m[2][0] = -sy;
  m[2][1] = cy * sx;
  m[2][2] = cy * cx;
  for (int r = 0; r < 3; ++r) m[r][3] = c[r] - (m[r][0] * c[0] + m[r][1] * c[1] + m[r][2] * c[2]) + q[r];
  return m;
}

RigidParams rigid_params(const Affine& m, const std::array<double, 3>& c) {
  RigidParams q{};
  q[4] = -std::asin(std::clamp(m[2][0], -1.0, 1.0));
  q[3] = std::atan2(m[2][1], m[2][2]);
  q[5] = std::atan2(m[1][0], m[0][0]);
  for (int r = 0; r < 3; ++r) q[r] = m[r][3] - c[r] + (m[r][0] * c[0] + m[r][1] * c[1] + m[r][2] * c[2]);
  return q;
}

std::vector<RigidParams> relative_to(const std::vector<RigidParams>& params, std::size_t u,
                                     const std::array<double, 3>& c) {
  if (u >= params.size())
    throw Error(fmt::format("relative_to: volume {} out of range (run has {})", u, params.size()));
  const Affine inv_u = invert(rigid_matrix(params[u], c));
  std::vector<RigidParams> out(params.size());
  for (std::size_t t = 0; t < params.size(); ++t)
    out[t] = rigid_params(multiply(rigid_matrix(params[t], c), inv_u), c);
  return out;
}

namespace {

// The reference's samples: world points, values and the Jacobian of R(W(x; p)) at p = 0.
struct Reference {
  std::vector<std::array<double, 3>> x;
  std::vector<double> r;
  std::vector<std::array<double, 6>> j;
  // Normal-equation sums over all samples of a a^T with a = (j, r) (scale 1); an evaluation
  // subtracts the few samples that fall outside a volume instead of summing 49 terms per sample.
  Eigen::Matrix<double, 7, 7> h_all = Eigen::Matrix<double, 7, 7>::Zero();
  void finish() {
    Eigen::Matrix<double, 7, 1> a;
    for (std::size_t i = 0; i < r.size(); ++i) {
      for (int k = 0; k < 6; ++k) a[k] = j[i][static_cast<std::size_t>(k)];
      a[6] = r[i];
      h_all.selfadjointView<Eigen::Lower>().rankUpdate(a);
    }
    h_all = h_all.selfadjointView<Eigen::Lower>();
  }
};

Reference make_reference(std::vector<float> ref, const Grid& g, const RealignParams& p) {
  const auto d = g.dims;
  gaussian_filter(ref.data(), d, fwhm_to_sigma_voxels(g, {p.fwhm_mm, p.fwhm_mm, p.fwhm_mm}));
  // SPM's global mean: mean of voxels above a 1/8 of the mean.
  double mean = 0.0;
  for (float v : ref) mean += v;
  mean /= static_cast<double>(ref.size());
  double gsum = 0.0;
  std::size_t gn = 0;
  for (float v : ref)
    if (v > mean / 8.0) gsum += v, ++gn;
  const double global = gn ? gsum / static_cast<double>(gn) : 0.0;
  const double threshold = p.head_fraction * global;
  // Voxel-space gradient images (central differences, one-sided at the borders).
  const auto nv = ref.size();
  std::array<std::vector<float>, 3> grad;
  for (auto& gr : grad) gr.assign(nv, 0.0f);
  const std::array<std::int64_t, 3> stride{1, d[0], d[0] * d[1]};
  for (std::int64_t k = 0; k < d[2]; ++k)
    for (std::int64_t jj = 0; jj < d[1]; ++jj)
      for (std::int64_t i = 0; i < d[0]; ++i) {
        const std::array<std::int64_t, 3> ix{i, jj, k};
        const std::int64_t v = i + jj * d[0] + k * d[0] * d[1];
        for (std::size_t a = 0; a < 3; ++a) {
          if (d[a] < 2) continue;
          const std::int64_t lo = ix[a] > 0 ? v - stride[a] : v, hi = ix[a] < d[a] - 1 ? v + stride[a] : v;
          const auto span = static_cast<float>((hi - lo) / stride[a]); // 2 inside, 1 at a border (d >= 2)
          grad[a][static_cast<std::size_t>(v)] =
              (ref[static_cast<std::size_t>(hi)] - ref[static_cast<std::size_t>(lo)]) / span;
        }
      }
  const Affine inv = invert(g.affine);
  const auto c = fov_centre(g);
  std::array<double, 3> step{};
  for (std::size_t a = 0; a < 3; ++a) step[a] = std::max(p.sampling_mm / g.spacing_mm[a], 1.0);
  Reference out;
  for (double z = 0.0; z <= static_cast<double>(d[2] - 1); z += step[2])
    for (double y = 0.0; y <= static_cast<double>(d[1] - 1); y += step[1])
      for (double xv = 0.0; xv <= static_cast<double>(d[0] - 1); xv += step[0]) {
        const double r = sample_trilinear(ref.data(), d, xv, y, z);
        if (!(r > threshold)) continue;
        std::array<double, 3> gv{};
        for (std::size_t a = 0; a < 3; ++a) gv[a] = sample_trilinear(grad[a].data(), d, xv, y, z);
        // world gradient: dR/dx_j = sum_i dR/dv_i dv_i/dx_j
        std::array<double, 3> gw{};
        for (int jx = 0; jx < 3; ++jx) gw[jx] = gv[0] * inv[0][jx] + gv[1] * inv[1][jx] + gv[2] * inv[2][jx];
        const auto w = g.to_world(xv, y, z);
        const double dx = w[0] - c[0], dy = w[1] - c[1], dz = w[2] - c[2];
        // dW/dp at 0: translations e_i; rot_x: (0, -dz, dy); rot_y: (dz, 0, -dx); rot_z: (-dy, dx, 0)
        out.x.push_back(w);
        out.r.push_back(r);
        out.j.push_back({gw[0], gw[1], gw[2], -gw[1] * dz + gw[2] * dy, gw[0] * dz - gw[2] * dx,
                         -gw[0] * dy + gw[1] * dx});
      }
  out.finish();
  return out;
}

struct Estimate {
  Affine m = identity_affine();
  int iterations = 0;
  double rms = 0.0;
};

// Least squares of I(M x) - s R(x) over the samples; returns M (reference world -> volume world).
Estimate estimate(const Reference& ref, const float* image, const Grid& g, const Affine& start,
                  const RealignParams& p, std::int64_t volume) {
  const Affine inv = invert(g.affine);
  const auto d = g.dims;
  const auto c = fov_centre(g);
  const std::size_t n = ref.x.size();
  using Vec7 = Eigen::Matrix<double, 7, 1>;
  using Mat7 = Eigen::Matrix<double, 7, 7>;
  struct State {
    Affine m;
    double s = 1.0;
    double cost = 0.0;
    std::size_t valid = 0;
    Mat7 h;
    Vec7 b;
  };
  auto evaluate = [&](State& st) {
    const Affine vm = multiply(inv, st.m);
    Mat7 out_h = Mat7::Zero(); // samples outside this volume's field of view
    Vec7 a;
    double bj[6] = {0, 0, 0, 0, 0, 0}, br = 0.0, sse = 0.0;
    st.valid = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& x = ref.x[i];
      const double u = vm[0][0] * x[0] + vm[0][1] * x[1] + vm[0][2] * x[2] + vm[0][3];
      const double v = vm[1][0] * x[0] + vm[1][1] * x[1] + vm[1][2] * x[2] + vm[1][3];
      const double w = vm[2][0] * x[0] + vm[2][1] * x[1] + vm[2][2] * x[2] + vm[2][3];
      const auto& ji = ref.j[i];
      if (u < 0.0 || v < 0.0 || w < 0.0 || u > static_cast<double>(d[0] - 1) ||
          v > static_cast<double>(d[1] - 1) || w > static_cast<double>(d[2] - 1)) {
        for (int k = 0; k < 6; ++k) a[k] = ji[static_cast<std::size_t>(k)];
        a[6] = ref.r[i];
        out_h.selfadjointView<Eigen::Lower>().rankUpdate(a);
        continue;
      }
      const double e = sample_trilinear(image, d, u, v, w) - st.s * ref.r[i];
      for (std::size_t k = 0; k < 6; ++k) bj[k] += ji[k] * e;
      br += ref.r[i] * e;
      sse += e * e;
      ++st.valid;
    }
    // a = (s j, r): H = D (H_all - H_out) D with D = diag(s, .., s, 1); b = (s sum j e, sum r e)
    st.h = ref.h_all - Mat7(out_h.selfadjointView<Eigen::Lower>());
    Vec7 dg = Vec7::Constant(st.s);
    dg[6] = 1.0;
    st.h = dg.asDiagonal() * st.h * dg.asDiagonal();
    for (int k = 0; k < 6; ++k) st.b[k] = st.s * bj[k];
    st.b[6] = br;
    st.cost = st.valid ? sse / static_cast<double>(st.valid) : std::numeric_limits<double>::infinity();
  };
  State cur;
  cur.m = start;
  evaluate(cur);
  if (cur.valid < n / 2)
    throw Error(fmt::format("volume {}: only {} of {} sample points fall inside its field of view", volume,
                            cur.valid, n));
  double lambda = 1e-3;
  Estimate out;
  for (int it = 0; it < p.max_iterations; ++it) {
    Mat7 h = cur.h;
    for (int k = 0; k < 7; ++k) h(k, k) *= 1.0 + lambda;
    const Vec7 delta = h.ldlt().solve(cur.b);
    if (!delta.allFinite())
      throw Error(fmt::format("volume {}: motion estimation failed (singular normal equations)", volume));
    RigidParams dq{};
    for (int k = 0; k < 6; ++k) dq[static_cast<std::size_t>(k)] = delta[k];
    // Largest displacement of the step over a 50 mm sphere (translation + rotation arc).
    const double step_mm = std::sqrt(dq[0] * dq[0] + dq[1] * dq[1] + dq[2] * dq[2]) +
                           50.0 * std::sqrt(dq[3] * dq[3] + dq[4] * dq[4] + dq[5] * dq[5]);
    State cand;
    cand.m = multiply(cur.m, invert(rigid_matrix(dq, c)));
    cand.s = cur.s + delta[6];
    evaluate(cand);
    out.iterations = it + 1;
    if (cand.valid >= n / 2 && cand.cost <= cur.cost) {
      cur = cand;
      lambda = std::max(lambda * 0.1, 1e-7);
      if (step_mm < p.tolerance_mm) {
        out.m = cur.m;
        out.rms = std::sqrt(cur.cost);
        return out;
      }
    } else {
      lambda *= 10.0;
      // No step makes the cost smaller: at a minimum of the (piecewise trilinear) cost.
      if (lambda > 1e6 || step_mm < p.tolerance_mm) {
        out.m = cur.m;
        out.rms = std::sqrt(cur.cost);
        return out;
      }
    }
  }
  throw Error(fmt::format("volume {}: motion estimation did not converge in {} iterations (last step, "
                          "RMS residual {:.4g})",
                          volume, p.max_iterations, std::sqrt(cur.cost)));
}

// Mean over volumes of each volume sampled at M_t(x) (identity when `m` is empty), deterministic.
std::vector<float> run_mean(const Volume& bold, const std::vector<Affine>& m, float outside) {
  const auto& g = bold.grid();
  const auto d = g.dims;
  const auto nxy = static_cast<std::size_t>(d[0] * d[1]);
  const auto nv = static_cast<std::size_t>(g.voxel_count());
  const Affine inv = invert(g.affine);
  std::vector<Affine> vox(m.size());
  for (std::size_t t = 0; t < m.size(); ++t) vox[t] = multiply(inv, multiply(m[t], g.affine));
  std::vector<float> mean(nv);
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, d[2]), [&](const tbb::blocked_range<std::int64_t>& r) {
        std::vector<double> acc(nxy);
        for (std::int64_t k = r.begin(); k != r.end(); ++k) {
          std::fill(acc.begin(), acc.end(), 0.0);
          for (std::int64_t t = 0; t < bold.volumes(); ++t) {
            const float* img = bold.volume(t).data();
            if (m.empty()) {
              const float* s = img + static_cast<std::size_t>(k) * nxy;
              for (std::size_t i = 0; i < nxy; ++i) acc[i] += s[i];
              continue;
            }
            const Affine& a = vox[static_cast<std::size_t>(t)];
            for (std::int64_t j = 0; j < d[1]; ++j)
              for (std::int64_t i = 0; i < d[0]; ++i) {
                const double di = static_cast<double>(i), dj = static_cast<double>(j),
                             dk = static_cast<double>(k);
                acc[static_cast<std::size_t>(j * d[0] + i)] +=
                    sample_trilinear(img, d, a[0][0] * di + a[0][1] * dj + a[0][2] * dk + a[0][3],
                                     a[1][0] * di + a[1][1] * dj + a[1][2] * dk + a[1][3],
                                     a[2][0] * di + a[2][1] * dj + a[2][2] * dk + a[2][3], outside);
              }
          }
          for (std::size_t i = 0; i < nxy; ++i)
            mean[static_cast<std::size_t>(k) * nxy + i] =
                static_cast<float>(acc[i] / static_cast<double>(bold.volumes()));
        }
      });
  return mean;
}

} // namespace

RealignResult realign(Volume& bold, const RealignParams& p) {
  const auto& g = bold.grid();
  const std::int64_t nt = bold.volumes();
  if (nt < 2 || bold.size() == 0)
    throw Error(fmt::format("realign needs a 4D run with at least 2 volumes, got {} volume(s)", nt));
  if (p.reference_volume >= nt)
    throw Error(fmt::format("realign: reference volume {} out of range (run has {} volumes)",
                            p.reference_volume, nt));
  if (!(p.fwhm_mm >= 0.0) || !(p.sampling_mm > 0.0) || p.max_iterations < 1 || !(p.tolerance_mm > 0.0))
    throw Error("realign: fwhm_mm must be >= 0, sampling_mm and tolerance_mm > 0, max_iterations >= 1");
  for (int a = 0; a < 3; ++a)
    if (g.dims[static_cast<std::size_t>(a)] < 2)
      throw Error(fmt::format("realign: the volumes must be 3D (axis {} has {} voxel)", a,
                              g.dims[static_cast<std::size_t>(a)]));
  // Validate before heavy work: the first volume with a non-finite voxel.
  std::atomic<std::int64_t> bad{nt};
  tbb::parallel_for(std::int64_t{0}, nt, [&](std::int64_t t) {
    for (float v : bold.volume(t))
      if (!std::isfinite(v)) {
        std::int64_t cur = bad.load();
        while (t < cur && !bad.compare_exchange_weak(cur, t)) {
        }
        return;
      }
  });
  if (bad.load() < nt)
    throw Error(fmt::format("realign: volume {} has non-finite voxel values (NaN or inf)", bad.load()));

  const auto nv = static_cast<std::size_t>(g.voxel_count());
  const auto sigma = fwhm_to_sigma_voxels(g, {p.fwhm_mm, p.fwhm_mm, p.fwhm_mm});
  RealignResult res;
  res.centre_mm = fov_centre(g);
  std::vector<Affine> m(static_cast<std::size_t>(nt), identity_affine());
  res.iterations.assign(static_cast<std::size_t>(nt), 0);
  res.rms_residual.assign(static_cast<std::size_t>(nt), 0.0);

  const int passes = p.register_to_mean ? 2 : 1;
  for (int pass = 0; pass < passes; ++pass) {
    std::vector<float> ref;
    if (pass == 0 && p.reference_volume >= 0) {
      const auto v = bold.volume(p.reference_volume);
      ref.assign(v.begin(), v.end());
    } else {
      ref = run_mean(bold, pass == 0 ? std::vector<Affine>{} : m, p.outside);
    }
    const Reference r = make_reference(std::move(ref), g, p);
    if (r.x.size() < 100)
      throw Error(
          fmt::format("realign: the reference has only {} in-head sample points (need >= 100); is the "
                      "run empty or the sampling too coarse?",
                      r.x.size()));
    res.samples = static_cast<std::int64_t>(r.x.size());
    // Errors are kept per volume and the lowest volume's is thrown: the same message at any thread count.
    std::vector<std::string> errors(static_cast<std::size_t>(nt));
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, nt, 1),
                      [&](const tbb::blocked_range<std::int64_t>& rt) {
                        std::vector<float> img(nv);
                        for (std::int64_t t = rt.begin(); t != rt.end(); ++t) {
                          const auto ti = static_cast<std::size_t>(t);
                          try {
                            const auto v = bold.volume(t);
                            std::copy(v.begin(), v.end(), img.begin());
                            gaussian_filter(img.data(), g.dims, sigma);
                            const Estimate e = estimate(r, img.data(), g, m[ti], p, t);
                            m[ti] = e.m;
                            res.iterations[ti] = e.iterations;
                            res.rms_residual[ti] = e.rms;
                          } catch (const Error& e) {
                            errors[ti] = e.what();
                          }
                        }
                      });
    for (const auto& e : errors)
      if (!e.empty()) throw Error(fmt::format("realign (pass {} of {}): {}", pass + 1, passes, e));
  }

  // Reslice in place: volume_t(M_t(x)) at each voxel x, from a copy of the volume.
  const Affine inv = invert(g.affine);
  const auto d = g.dims;
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, nt, 1), [&](const tbb::blocked_range<std::int64_t>& rt) {
        std::vector<float> src(nv);
        for (std::int64_t t = rt.begin(); t != rt.end(); ++t) {
          auto v = bold.volume(t);
          std::copy(v.begin(), v.end(), src.begin());
          const Affine a = multiply(inv, multiply(m[static_cast<std::size_t>(t)], g.affine));
          for (std::int64_t k = 0; k < d[2]; ++k)
            for (std::int64_t j = 0; j < d[1]; ++j)
              for (std::int64_t i = 0; i < d[0]; ++i) {
                const double di = static_cast<double>(i), dj = static_cast<double>(j),
                             dk = static_cast<double>(k);
                v[static_cast<std::size_t>((k * d[1] + j) * d[0] + i)] =
                    sample_trilinear(src.data(), d, a[0][0] * di + a[0][1] * dj + a[0][2] * dk + a[0][3],
                                     a[1][0] * di + a[1][1] * dj + a[1][2] * dk + a[1][3],
                                     a[2][0] * di + a[2][1] * dj + a[2][2] * dk + a[2][3], p.outside);
              }
        }
      });
  res.params.resize(static_cast<std::size_t>(nt));
  for (std::size_t t = 0; t < m.size(); ++t) res.params[t] = rigid_params(m[t], res.centre_mm);
  Grid mg = g;
  res.mean = Volume(mg, 1);
  const auto mean = run_mean(bold, {}, p.outside);
  std::copy(mean.begin(), mean.end(), res.mean.data());
  return res;
}

} // namespace rewardpath::preprocess
