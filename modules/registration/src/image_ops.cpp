#include "image_ops.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/gaussian.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/registration/registration.hpp"

namespace rewardpath::registration {
namespace detail {

std::array<double, 3> voxel_size(const Grid& g) {
  std::array<double, 3> s{};
  for (int c = 0; c < 3; ++c)
    s[c] = std::sqrt(g.affine[0][c] * g.affine[0][c] + g.affine[1][c] * g.affine[1][c] +
                     g.affine[2][c] * g.affine[2][c]);
  return s;
}

namespace {

std::string fmt_mm(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string dims_string(const Grid& g) {
  return std::to_string(g.dims[0]) + "x" + std::to_string(g.dims[1]) + "x" + std::to_string(g.dims[2]);
}

struct Range {
  float lo = 0, hi = 0;
};

// lo = minimum, hi = 99.5th percentile of the values above lo.
Range robust_range(const Volume& v) {
  const auto n = static_cast<std::size_t>(v.voxels_per_volume());
  const float* d = v.data();
  float lo = d[0];
  for (std::size_t i = 0; i < n; ++i) lo = std::min(lo, d[i]);
  std::vector<float> above;
  above.reserve(n / 2);
  for (std::size_t i = 0; i < n; ++i)
    if (d[i] > lo) above.push_back(d[i]);
  if (above.empty()) return {lo, lo};
  const auto k = static_cast<std::size_t>(0.995 * static_cast<double>(above.size() - 1));
  std::nth_element(above.begin(), above.begin() + static_cast<std::ptrdiff_t>(k), above.end());
  return {lo, above[k]};
}

// splitmix64: small, fast, and the same sequence on every platform.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); } // [0, 1)
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>(uniform() * static_cast<double>(n));
  }
};

// Not normalised: each pass renormalises by the weights inside the image.
std::vector<double> pyramid_kernel(double sigma_vox) {
  return gaussian_kernel(sigma_vox, std::max(1, static_cast<int>(std::ceil(3.0 * sigma_vox))), false);
}

// One separable pass along `axis` (0 = i, 1 = j, 2 = k), renormalising at the edges.
Volume smooth_axis(const Volume& in, int axis, double sigma_vox) {
  const auto w = pyramid_kernel(sigma_vox);
  const int r = static_cast<int>(w.size() / 2);
  const std::int64_t nx = in.nx(), ny = in.ny(), nz = in.nz();
  const std::int64_t n_axis = in.grid().dims[static_cast<std::size_t>(axis)];
  const std::int64_t stride = axis == 0 ? 1 : axis == 1 ? nx : nx * ny;
  Volume out(in.grid(), 1);
  const float* src = in.data();
  float* dst = out.data();
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, nz), [&](const tbb::blocked_range<std::int64_t>& rk) {
    std::vector<double> acc(static_cast<std::size_t>(nx));
    for (std::int64_t k = rk.begin(); k != rk.end(); ++k)
      for (std::int64_t j = 0; j < ny; ++j) {
        const std::int64_t pos = axis == 0 ? 0 : axis == 1 ? j : k; // position along the axis
        const std::size_t base = static_cast<std::size_t>((k * ny + j) * nx);
        if (axis == 0) {
          for (std::int64_t i = 0; i < nx; ++i) {
            double s = 0, ws = 0;
            const std::int64_t t0 = std::max<std::int64_t>(-r, -i),
                               t1 = std::min<std::int64_t>(r, nx - 1 - i);
            for (std::int64_t t = t0; t <= t1; ++t) {
              const double wt = w[static_cast<std::size_t>(t + r)];
              s += wt * src[base + static_cast<std::size_t>(i + t)];
              ws += wt;
            }
            dst[base + static_cast<std::size_t>(i)] = static_cast<float>(s / ws);
          }
          continue;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        const std::int64_t t0 = std::max<std::int64_t>(-r, -pos),
                           t1 = std::min<std::int64_t>(r, n_axis - 1 - pos);
        double ws = 0;
        for (std::int64_t t = t0; t <= t1; ++t) {
          const double wt = w[static_cast<std::size_t>(t + r)];
          ws += wt;
          const float* line = src + static_cast<std::ptrdiff_t>(base) + t * stride;
          for (std::int64_t i = 0; i < nx; ++i) acc[static_cast<std::size_t>(i)] += wt * line[i];
        }
        for (std::int64_t i = 0; i < nx; ++i)
          dst[base + static_cast<std::size_t>(i)] = static_cast<float>(acc[static_cast<std::size_t>(i)] / ws);
      }
  });
  return out;
}

} // namespace

void validate_input(const Volume& v, const std::string& what) {
  if (v.size() == 0) throw Error(what + " is empty (no voxels)");
  if (v.is_4d())
    throw Error(what + " is 4D (" + std::to_string(v.volumes()) +
                " volumes); registration needs a 3D image (e.g. the mean of a run)");
  const auto s = voxel_size(v.grid());
  for (int a = 0; a < 3; ++a)
    if (!(s[static_cast<std::size_t>(a)] >= 0.1 && s[static_cast<std::size_t>(a)] <= 20.0))
      throw Error(what + " has an absurd voxel size: " + fmt_mm(s[0]) + " x " + fmt_mm(s[1]) + " x " +
                  fmt_mm(s[2]) + " mm (expected 0.1 to 20 mm); check the header's pixdim/sform units");
  try {
    (void)invert(v.grid().affine);
  } catch (const Error&) {
    throw Error(what + " has a singular voxel-to-world affine");
  }
  std::int64_t nonfinite = 0;
  const float* d = v.data();
  float mn = 0, mx = 0;
  bool any = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(d[i])) {
      ++nonfinite;
      continue;
    }
    if (!any) mn = mx = d[i], any = true;
    mn = std::min(mn, d[i]);
    mx = std::max(mx, d[i]);
  }
  if (nonfinite > 0)
    throw Error(what + " has " + std::to_string(nonfinite) +
                " non-finite voxels (NaN/Inf); replace them first");
  if (mx == mn)
    throw Error(what + " is constant (every voxel is " + fmt_mm(mn) + ", " + dims_string(v.grid()) +
                "): nothing to register");
}

float sample_linear(const Volume& v, const Point& p, float outside, std::int64_t t) {
  const std::int64_t sx = v.nx(), sy = v.ny(), sz = v.nz();
  const double x = p[0], y = p[1], z = p[2];
  if (!(x >= -0.5 && y >= -0.5 && z >= -0.5 && x <= static_cast<double>(sx) - 0.5 &&
        y <= static_cast<double>(sy) - 0.5 && z <= static_cast<double>(sz) - 0.5))
    return outside;
  const double cx = std::clamp(x, 0.0, static_cast<double>(sx - 1));
  const double cy = std::clamp(y, 0.0, static_cast<double>(sy - 1));
  const double cz = std::clamp(z, 0.0, static_cast<double>(sz - 1));
  const auto x0 = std::min(static_cast<std::int64_t>(cx), sx - 1);
  const auto y0 = std::min(static_cast<std::int64_t>(cy), sy - 1);
  const auto z0 = std::min(static_cast<std::int64_t>(cz), sz - 1);
  const auto x1 = std::min(x0 + 1, sx - 1), y1 = std::min(y0 + 1, sy - 1), z1 = std::min(z0 + 1, sz - 1);
  const double fx = cx - static_cast<double>(x0), fy = cy - static_cast<double>(y0),
               fz = cz - static_cast<double>(z0);
  const float* s = v.data() + static_cast<std::size_t>(t * v.voxels_per_volume());
  auto at = [&](std::int64_t a, std::int64_t b, std::int64_t c) {
    return static_cast<double>(s[static_cast<std::size_t>((c * sy + b) * sx + a)]);
  };
  const double c00 = at(x0, y0, z0) * (1 - fx) + at(x1, y0, z0) * fx;
  const double c10 = at(x0, y1, z0) * (1 - fx) + at(x1, y1, z0) * fx;
  const double c01 = at(x0, y0, z1) * (1 - fx) + at(x1, y0, z1) * fx;
  const double c11 = at(x0, y1, z1) * (1 - fx) + at(x1, y1, z1) * fx;
  return static_cast<float>((c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz);
}

float sample_nearest(const Volume& v, const Point& p, float outside, std::int64_t t) {
  const auto xi = static_cast<std::int64_t>(std::lround(p[0]));
  const auto yi = static_cast<std::int64_t>(std::lround(p[1]));
  const auto zi = static_cast<std::int64_t>(std::lround(p[2]));
  if (!(std::isfinite(p[0]) && std::isfinite(p[1]) && std::isfinite(p[2]))) return outside;
  if (xi < 0 || yi < 0 || zi < 0 || xi >= v.nx() || yi >= v.ny() || zi >= v.nz()) return outside;
  return v.at(xi, yi, zi, t);
}

Volume smooth(const Volume& v, double sigma_mm) {
  if (sigma_mm <= 0) {
    Volume copy(v.grid(), 1);
    std::copy_n(v.data(), v.voxels_per_volume(), copy.data());
    return copy;
  }
  const auto s = voxel_size(v.grid());
  Volume cur(v.grid(), 1);
  std::copy_n(v.data(), v.voxels_per_volume(), cur.data());
  for (int a = 0; a < 3; ++a) {
    const double sv = sigma_mm / s[static_cast<std::size_t>(a)];
    if (sv < 0.2 || v.grid().dims[static_cast<std::size_t>(a)] < 2) continue; // negligible
    cur = smooth_axis(cur, a, sv);
  }
  return cur;
}

Grid shrink_grid(const Grid& g, const std::array<int, 3>& f) {
  Grid out = g;
  Affine scale = identity_affine();
  for (std::size_t a = 0; a < 3; ++a) {
    out.dims[a] = std::max<std::int64_t>(1, g.dims[a] / f[a]);
    scale[a][a] = f[a];
    scale[a][3] = (f[a] - 1) / 2.0;
    out.spacing_mm[a] = g.spacing_mm[a] * f[a];
  }
  out.affine = multiply(g.affine, scale);
  return out;
}

Volume dilate(const Volume& mask) {
  Volume out(mask.grid(), 1, 0.0f);
  const std::int64_t nx = mask.nx(), ny = mask.ny(), nz = mask.nz();
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i) {
        if (mask.at(i, j, k) <= 0.5f) continue;
        out.at(i, j, k) = 1.0f;
        if (i > 0) out.at(i - 1, j, k) = 1.0f;
        if (i + 1 < nx) out.at(i + 1, j, k) = 1.0f;
        if (j > 0) out.at(i, j - 1, k) = 1.0f;
        if (j + 1 < ny) out.at(i, j + 1, k) = 1.0f;
        if (k > 0) out.at(i, j, k - 1) = 1.0f;
        if (k + 1 < nz) out.at(i, j, k + 1) = 1.0f;
      }
  return out;
}

Point centre_of_mass(const Volume& image, const Volume& mask) {
  double sw = 0;
  Point s{0, 0, 0};
  float lo = image.data()[0];
  for (std::size_t i = 0; i < static_cast<std::size_t>(image.voxels_per_volume()); ++i)
    lo = std::min(lo, image.data()[i]);
  for (std::int64_t k = 0; k < image.nz(); ++k)
    for (std::int64_t j = 0; j < image.ny(); ++j)
      for (std::int64_t i = 0; i < image.nx(); ++i) {
        if (mask.at(i, j, k) <= 0.5f) continue;
        const double w = image.at(i, j, k) - lo;
        sw += w;
        s[0] += w * static_cast<double>(i);
        s[1] += w * static_cast<double>(j);
        s[2] += w * static_cast<double>(k);
      }
  if (sw <= 0) throw Error("centre of mass of an empty mask");
  return image.grid().to_world(s[0] / sw, s[1] / sw, s[2] / sw);
}

std::vector<Point> sample_points(const Volume& region, std::int64_t count, std::uint64_t seed) {
  std::vector<std::int64_t> idx;
  const std::int64_t n = region.voxels_per_volume();
  for (std::int64_t i = 0; i < n; ++i)
    if (region.data()[i] > 0.5f) idx.push_back(i);
  SplitMix64 rng{seed * 0x2545F4914F6CDD1Dull + 0x1234567ull};
  if (count < static_cast<std::int64_t>(idx.size())) {
    // partial Fisher-Yates: the first `count` entries become a uniform sample without replacement
    for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
      const std::size_t j = i + static_cast<std::size_t>(rng.below(idx.size() - i));
      std::swap(idx[i], idx[j]);
    }
    idx.resize(static_cast<std::size_t>(count));
    std::sort(idx.begin(), idx.end()); // memory order: friendlier to the metric's interpolation
  }
  std::vector<Point> pts;
  pts.reserve(idx.size());
  const std::int64_t nx = region.nx(), ny = region.ny();
  for (const std::int64_t v : idx) {
    const std::int64_t i = v % nx, j = (v / nx) % ny, k = v / (nx * ny);
    const double di = rng.uniform() - 0.5, dj = rng.uniform() - 0.5, dk = rng.uniform() - 0.5;
    pts.push_back(region.grid().to_world(static_cast<double>(i) + di, static_cast<double>(j) + dj,
                                         static_cast<double>(k) + dk));
  }
  return pts;
}

double mapped_overlap(const std::vector<Point>& points, const Affine& fixed_to_moving,
                      const Volume& moving_mask) {
  if (points.empty()) return 0.0;
  const Affine m = multiply(invert(moving_mask.grid().affine), fixed_to_moving);
  std::int64_t inside = 0;
  for (const auto& p : points)
    if (sample_nearest(moving_mask, apply_affine(m, p)) > 0.5f) ++inside;
  return static_cast<double>(inside) / static_cast<double>(points.size());
}

} // namespace detail

Volume brain_mask(const Volume& image) {
  detail::validate_input(image, "image");
  const auto r = detail::robust_range(image);
  if (!(r.hi > r.lo)) throw Error("cannot make a brain mask of a (nearly) constant image");
  const float thr = r.lo + 0.1f * (r.hi - r.lo);
  Volume m(image.grid(), 1, 0.0f);
  for (std::size_t i = 0; i < static_cast<std::size_t>(image.voxels_per_volume()); ++i)
    m.data()[i] = image.data()[i] > thr ? 1.0f : 0.0f;
  return m;
}

double dice(const Volume& a, const Volume& b) {
  if (a.voxels_per_volume() != b.voxels_per_volume() || a.grid().dims != b.grid().dims)
    throw Error("dice: masks are on different grids");
  std::int64_t na = 0, nb = 0, both = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(a.voxels_per_volume()); ++i) {
    const bool x = a.data()[i] > 0.5f, y = b.data()[i] > 0.5f;
    na += x;
    nb += y;
    both += x && y;
  }
  return na + nb == 0 ? 0.0 : 2.0 * static_cast<double>(both) / static_cast<double>(na + nb);
}

} // namespace rewardpath::registration
