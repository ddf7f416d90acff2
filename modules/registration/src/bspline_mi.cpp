#include "bspline_mi.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"

namespace rewardpath::registration::detail {

namespace {

constexpr int kPadding = 2;         // histogram padding bins, as ITK's Mattes metric
constexpr std::size_t kBlocks = 16; // fixed work split: results do not depend on the thread count

double bspline3(double x) {
  x = std::abs(x);
  if (x < 1) return (4.0 - 6.0 * x * x + 3.0 * x * x * x) / 6.0;
  if (x < 2) return (2.0 - x) * (2.0 - x) * (2.0 - x) / 6.0;
  return 0.0;
}
double bspline3_derivative(double x) {
  const double a = std::abs(x);
  if (a < 1) return -2.0 * x + 1.5 * x * a;
  if (a < 2) return (x > 0 ? -0.5 : 0.5) * (2.0 - a) * (2.0 - a);
  return 0.0;
}

std::array<double, 4> cubic_weights(double f) {
  const double f2 = f * f, f3 = f2 * f;
  return {(1 - f) * (1 - f) * (1 - f) / 6.0, (3 * f3 - 6 * f2 + 4) / 6.0,
          (-3 * f3 + 3 * f2 + 3 * f + 1) / 6.0, f3 / 6.0};
}

// One axis of the two-scale refinement: fine[k'] = sum over 2k + r - 3 = k' of h[r] coarse[k].
void refine_axis(const std::vector<double>& in, const std::array<std::int64_t, 3>& din,
                 std::vector<double>& out, const std::array<std::int64_t, 3>& dout, int axis) {
  static constexpr double h[5] = {1 / 8.0, 4 / 8.0, 6 / 8.0, 4 / 8.0, 1 / 8.0};
  out.assign(static_cast<std::size_t>(dout[0] * dout[1] * dout[2] * 3), 0.0);
  for (std::int64_t c = 0; c < din[2]; ++c)
    for (std::int64_t b = 0; b < din[1]; ++b)
      for (std::int64_t a = 0; a < din[0]; ++a) {
        const std::size_t src = static_cast<std::size_t>(((c * din[1] + b) * din[0] + a) * 3);
        std::array<std::int64_t, 3> idx{a, b, c};
        const std::int64_t k = idx[static_cast<std::size_t>(axis)];
        for (int r = 0; r < 5; ++r) {
          const std::int64_t kf = 2 * k + r - 3;
          if (kf < 0 || kf >= dout[static_cast<std::size_t>(axis)]) continue;
          idx[static_cast<std::size_t>(axis)] = kf;
          const std::size_t dst =
              static_cast<std::size_t>(((idx[2] * dout[1] + idx[1]) * dout[0] + idx[0]) * 3);
          for (int x = 0; x < 3; ++x)
            out[dst + static_cast<std::size_t>(x)] += h[r] * in[src + static_cast<std::size_t>(x)];
        }
      }
}

// The 4 x 4 x 4 control points whose cubic B-splines support a sample: f(weight, index of the
// point's x coefficient in the interleaved x, y, z coefficient array).
template <class F>
void for_each_control_point(const std::array<std::int64_t, 3>& base,
                            const std::array<std::array<double, 4>, 3>& w,
                            const std::array<std::int64_t, 3>& dims, F&& f) {
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 4; ++j) {
      const double wkj = w[2][static_cast<std::size_t>(k)] * w[1][static_cast<std::size_t>(j)];
      const auto row =
          static_cast<std::size_t>(((base[2] + k) * dims[1] + base[1] + j) * dims[0] + base[0]) * 3;
      for (int i = 0; i < 4; ++i)
        f(wkj * w[0][static_cast<std::size_t>(i)], row + static_cast<std::size_t>(3 * i));
    }
}

} // namespace

ControlGrid ControlGrid::over(const Grid& fixed, double spacing_mm) {
  ControlGrid g;
  g.world_to_voxel = invert(fixed.affine);
  g.voxel_mm = voxel_size(fixed);
  for (std::size_t a = 0; a < 3; ++a) {
    g.spacing_mm[a] = spacing_mm;
    const double extent = static_cast<double>(fixed.dims[a]) * g.voxel_mm[a];
    g.dims[a] = static_cast<std::int64_t>(std::ceil(extent / spacing_mm - 1e-9)) + 3;
  }
  return g;
}

ControlGrid ControlGrid::refined() const {
  ControlGrid g = *this;
  for (std::size_t a = 0; a < 3; ++a) {
    g.spacing_mm[a] = spacing_mm[a] / 2;
    g.dims[a] = 2 * (dims[a] - 3) + 3;
  }
  return g;
}

void ControlGrid::weights(const Point& p, std::array<std::int64_t, 3>& base,
                          std::array<std::array<double, 4>, 3>& w) const {
  const Point v = apply_affine(world_to_voxel, p);
  for (std::size_t a = 0; a < 3; ++a) {
    const double t = (v[a] + 0.5) * voxel_mm[a] / spacing_mm[a] + 1.0;
    std::int64_t b = static_cast<std::int64_t>(std::floor(t)) - 1;
    b = std::clamp<std::int64_t>(b, 0, dims[a] - 4);
    const double f = std::clamp(t - static_cast<double>(b + 1), 0.0, 1.0);
    base[a] = b;
    w[a] = cubic_weights(f);
  }
}

Point ControlGrid::displacement(const std::vector<double>& coef, const Point& p) const {
  std::array<std::int64_t, 3> base{};
  std::array<std::array<double, 4>, 3> w{};
  weights(p, base, w);
  Point d{0, 0, 0};
  for (int c = 0; c < 4; ++c)
    for (int b = 0; b < 4; ++b) {
      const double wcb = w[2][static_cast<std::size_t>(c)] * w[1][static_cast<std::size_t>(b)];
      const std::size_t row =
          static_cast<std::size_t>(((base[2] + c) * dims[1] + base[1] + b) * dims[0] + base[0]) * 3;
      for (int a = 0; a < 4; ++a) {
        const double wt = wcb * w[0][static_cast<std::size_t>(a)];
        const std::size_t n = row + static_cast<std::size_t>(3 * a);
        d[0] += wt * coef[n];
        d[1] += wt * coef[n + 1];
        d[2] += wt * coef[n + 2];
      }
    }
  return d;
}

std::vector<double> refine(const ControlGrid& coarse, const std::vector<double>& coef,
                           const ControlGrid& fine) {
  if (static_cast<std::int64_t>(coef.size()) != coarse.parameters())
    throw Error("internal: B-spline coefficient count does not match its grid");
  std::array<std::int64_t, 3> d0 = coarse.dims, d1 = {fine.dims[0], coarse.dims[1], coarse.dims[2]},
                              d2 = {fine.dims[0], fine.dims[1], coarse.dims[2]};
  std::vector<double> a, b, c;
  refine_axis(coef, d0, a, d1, 0);
  refine_axis(a, d1, b, d2, 1);
  refine_axis(b, d2, c, fine.dims, 2);
  return c;
}

BsplineMattes::BsplineMattes(const Volume& fixed, const Volume& moving, const std::vector<Point>& samples,
                             const Affine& affine, const ControlGrid& grid, int bins)
    : moving_(moving), grid_(grid), bins_(bins) {
  if (bins < 8) throw Error("internal: too few histogram bins");
  to_moving_voxel_ = multiply(invert(moving.grid().affine), affine);
  float mmin = moving.data()[0], mmax = mmin;
  for (std::size_t i = 0; i < static_cast<std::size_t>(moving.voxels_per_volume()); ++i) {
    mmin = std::min(mmin, moving.data()[i]);
    mmax = std::max(mmax, moving.data()[i]);
  }
  moving_min_ = mmin;
  moving_bin_ = std::max(1e-12, static_cast<double>(mmax - mmin)) / (bins - 2 * kPadding);

  const Affine fixed_to_voxel = invert(fixed.grid().affine);
  std::vector<float> values;
  std::vector<Point> kept;
  for (const auto& p : samples) {
    const Point v = apply_affine(fixed_to_voxel, p);
    if (v[0] < -0.5 || v[1] < -0.5 || v[2] < -0.5 || v[0] > fixed.nx() - 0.5 || v[1] > fixed.ny() - 0.5 ||
        v[2] > fixed.nz() - 0.5)
      continue;
    values.push_back(sample_linear(fixed, v));
    kept.push_back(p);
  }
  if (kept.empty()) throw Error("nonlinear stage: no metric samples inside the fixed image");
  const auto [fmin_it, fmax_it] = std::minmax_element(values.begin(), values.end());
  const double fmin = *fmin_it;
  const double fbin = std::max(1e-12, static_cast<double>(*fmax_it - *fmin_it)) / (bins - 2 * kPadding);
  samples_.resize(kept.size());
  for (std::size_t s = 0; s < kept.size(); ++s) {
    Sample& smp = samples_[s];
    smp.x = kept[s];
    grid.weights(kept[s], smp.base, smp.w);
    const int bin = static_cast<int>(std::floor((values[s] - fmin) / fbin)) + kPadding;
    smp.fixed_bin = std::clamp(bin, kPadding, bins - kPadding - 1);
  }
}

double BsplineMattes::evaluate(const std::vector<double>& coef, std::vector<double>* gradient) const {
  const std::size_t n = samples_.size();
  const std::size_t nb = static_cast<std::size_t>(bins_);
  struct Cache {
    double term; // continuous moving bin position
    Point g;     // d(moving value)/d(displacement), RAS: A_lin^T grad_world m
    int valid;
  };
  std::vector<Cache> cache(n);
  std::vector<std::vector<double>> hist(kBlocks, std::vector<double>(nb * nb, 0.0));
  const std::int64_t sx = moving_.nx(), sy = moving_.ny(), sz = moving_.nz();
  const float* mv = moving_.data();
  const Affine& P = to_moving_voxel_;
  const std::size_t per_block = (n + kBlocks - 1) / kBlocks;

  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, kBlocks, 1), [&](const tbb::blocked_range<std::size_t>& r) {
        for (std::size_t blk = r.begin(); blk != r.end(); ++blk) {
          std::vector<double>& h = hist[blk];
          for (std::size_t s = blk * per_block; s < std::min(n, (blk + 1) * per_block); ++s) {
            const Sample& smp = samples_[s];
            Cache& c = cache[s];
            c.valid = 0;
            // displacement at the sample
            Point d{0, 0, 0};
            for_each_control_point(smp.base, smp.w, grid_.dims, [&](double wt, std::size_t at) {
              d[0] += wt * coef[at];
              d[1] += wt * coef[at + 1];
              d[2] += wt * coef[at + 2];
            });
            const Point y{smp.x[0] + d[0], smp.x[1] + d[1], smp.x[2] + d[2]};
            const Point z = apply_affine(P, y);
            if (!(z[0] >= -0.5 && z[1] >= -0.5 && z[2] >= -0.5 && z[0] <= sx - 0.5 && z[1] <= sy - 0.5 &&
                  z[2] <= sz - 0.5))
              continue;
            // trilinear value and its gradient in voxel coordinates
            std::int64_t i0[3];
            double f[3];
            const std::int64_t nn[3] = {sx, sy, sz};
            for (int a = 0; a < 3; ++a) {
              i0[a] = std::clamp<std::int64_t>(
                  static_cast<std::int64_t>(std::floor(z[static_cast<std::size_t>(a)])), 0,
                  std::max<std::int64_t>(0, nn[a] - 2));
              f[a] = std::clamp(z[static_cast<std::size_t>(a)] - static_cast<double>(i0[a]), 0.0, 1.0);
            }
            const std::int64_t i1x = std::min(i0[0] + 1, sx - 1), i1y = std::min(i0[1] + 1, sy - 1),
                               i1z = std::min(i0[2] + 1, sz - 1);
            auto at = [&](std::int64_t a, std::int64_t b, std::int64_t cc) {
              return static_cast<double>(mv[static_cast<std::size_t>((cc * sy + b) * sx + a)]);
            };
            const double c000 = at(i0[0], i0[1], i0[2]), c100 = at(i1x, i0[1], i0[2]),
                         c010 = at(i0[0], i1y, i0[2]), c110 = at(i1x, i1y, i0[2]),
                         c001 = at(i0[0], i0[1], i1z), c101 = at(i1x, i0[1], i1z), c011 = at(i0[0], i1y, i1z),
                         c111 = at(i1x, i1y, i1z);
            const double fx = f[0], fy = f[1], fz = f[2];
            const double c00 = c000 + fx * (c100 - c000), c10 = c010 + fx * (c110 - c010),
                         c01 = c001 + fx * (c101 - c001), c11 = c011 + fx * (c111 - c011);
            const double c0 = c00 + fy * (c10 - c00), c1 = c01 + fy * (c11 - c01);
            const double m = c0 + fz * (c1 - c0);
            const double gx = (1 - fz) * ((1 - fy) * (c100 - c000) + fy * (c110 - c010)) +
                              fz * ((1 - fy) * (c101 - c001) + fy * (c111 - c011));
            const double gy = (1 - fz) * (c10 - c00) + fz * (c11 - c01);
            const double gz = c1 - c0;
            // d m / d y = P_lin^T grad_z m
            c.g = {P[0][0] * gx + P[1][0] * gy + P[2][0] * gz, P[0][1] * gx + P[1][1] * gy + P[2][1] * gz,
                   P[0][2] * gx + P[1][2] * gy + P[2][2] * gz};
            c.term = (m - moving_min_) / moving_bin_ + kPadding;
            c.valid = 1;
            const int idx = std::clamp(static_cast<int>(std::floor(c.term)), kPadding, bins_ - kPadding - 1);
            double* row = &h[static_cast<std::size_t>(smp.fixed_bin) * nb];
            for (int k = 0; k < 4; ++k) {
              const int j = idx - 1 + k;
              row[j] += bspline3(static_cast<double>(j) - c.term);
            }
          }
        }
      });

  std::vector<double> joint(nb * nb, 0.0);
  for (const auto& h : hist)
    for (std::size_t i = 0; i < nb * nb; ++i) joint[i] += h[i];
  std::int64_t valid = 0;
  for (const auto& c : cache) valid += c.valid;
  if (valid == 0)
    throw Error("nonlinear stage: every metric sample maps outside the moving image (diverged)");
  double total = 0;
  for (double v : joint) total += v;
  std::vector<double> pf(nb, 0.0), pm(nb, 0.0);
  for (std::size_t i = 0; i < nb; ++i)
    for (std::size_t j = 0; j < nb; ++j) {
      joint[i * nb + j] /= total;
      pf[i] += joint[i * nb + j];
      pm[j] += joint[i * nb + j];
    }
  double mi = 0;
  std::vector<double> logratio(nb * nb, 0.0);
  for (std::size_t i = 0; i < nb; ++i)
    for (std::size_t j = 0; j < nb; ++j) {
      const double p = joint[i * nb + j];
      if (p <= 1e-16) continue;
      mi += p * std::log(p / (pf[i] * pm[j]));
      logratio[i * nb + j] = std::log(p / pm[j]);
    }
  if (!gradient) return -mi;

  const std::size_t np = static_cast<std::size_t>(grid_.parameters());
  std::vector<std::vector<double>> partial(kBlocks);
  const double norm = 1.0 / (total * moving_bin_);
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, kBlocks, 1), [&](const tbb::blocked_range<std::size_t>& r) {
        for (std::size_t blk = r.begin(); blk != r.end(); ++blk) {
          std::vector<double>& g = partial[blk];
          g.assign(np, 0.0);
          for (std::size_t s = blk * per_block; s < std::min(n, (blk + 1) * per_block); ++s) {
            const Cache& c = cache[s];
            if (!c.valid) continue;
            const Sample& smp = samples_[s];
            const int idx = std::clamp(static_cast<int>(std::floor(c.term)), kPadding, bins_ - kPadding - 1);
            double S = 0;
            for (int k = 0; k < 4; ++k) {
              const int j = idx - 1 + k;
              S += logratio[static_cast<std::size_t>(smp.fixed_bin) * nb + static_cast<std::size_t>(j)] *
                   bspline3_derivative(static_cast<double>(j) - c.term);
            }
            S *= norm;
            if (S == 0) continue;
            const Point sg{S * c.g[0], S * c.g[1], S * c.g[2]};
            for_each_control_point(smp.base, smp.w, grid_.dims, [&](double wt, std::size_t at) {
              g[at] += wt * sg[0];
              g[at + 1] += wt * sg[1];
              g[at + 2] += wt * sg[2];
            });
          }
        }
      });
  gradient->assign(np, 0.0);
  for (const auto& g : partial)
    for (std::size_t i = 0; i < np; ++i) (*gradient)[i] += g[i];
  return -mi;
}

} // namespace rewardpath::registration::detail
