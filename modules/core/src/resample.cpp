#include "rewardpath/core/resample.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

#include "rewardpath/core/error.hpp"

namespace rewardpath {

Affine multiply(const Affine& a, const Affine& b) {
  Affine r{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      double s = 0.0;
      for (int k = 0; k < 4; ++k) s += a[i][k] * b[k][j];
      r[i][j] = s;
    }
  return r;
}

Affine invert(const Affine& a) {
  // Gauss-Jordan with partial pivoting on the full 4x4 (affines here are small and well scaled).
  double m[4][8];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) m[i][j] = j < 4 ? a[i][j] : (j - 4 == i ? 1.0 : 0.0);
  for (int c = 0; c < 4; ++c) {
    int pivot = c;
    for (int r = c + 1; r < 4; ++r)
      if (std::abs(m[r][c]) > std::abs(m[pivot][c])) pivot = r;
    if (std::abs(m[pivot][c]) < 1e-12) throw Error("cannot invert a singular affine matrix");
    if (pivot != c)
      for (int j = 0; j < 8; ++j) std::swap(m[c][j], m[pivot][j]);
    const double d = m[c][c];
    for (int j = 0; j < 8; ++j) m[c][j] /= d;
    for (int r = 0; r < 4; ++r) {
      if (r == c) continue;
      const double f = m[r][c];
      if (f != 0.0)
        for (int j = 0; j < 8; ++j) m[r][j] -= f * m[c][j];
    }
  }
  Affine inv{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) inv[i][j] = m[i][j + 4];
  return inv;
}

Volume resample(const Volume& source, const Grid& target, const Affine& target_to_source_world,
                Interpolation interpolation, float outside) {
  if (source.size() == 0) throw Error("resample: empty source image");
  // target voxel -> source voxel, one matrix for the whole image
  const Affine m = multiply(invert(source.grid().affine), multiply(target_to_source_world, target.affine));
  Grid out_grid = target;
  Volume out(out_grid, source.volumes());
  out.set_time_step_s(source.time_step_s());
  out.set_value_units(source.value_units());

  const std::int64_t sx = source.nx(), sy = source.ny(), sz = source.nz();
  const std::int64_t tx = target.dims[0], ty = target.dims[1], tz = target.dims[2];
  const auto src_n = static_cast<std::size_t>(source.voxels_per_volume());
  const auto dst_n = static_cast<std::size_t>(target.voxel_count());

  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, tz), [&](const tbb::blocked_range<std::int64_t>& r) {
    for (std::int64_t k = r.begin(); k != r.end(); ++k)
      for (std::int64_t j = 0; j < ty; ++j)
        for (std::int64_t i = 0; i < tx; ++i) {
          const double x = m[0][0] * i + m[0][1] * j + m[0][2] * k + m[0][3];
          const double y = m[1][0] * i + m[1][1] * j + m[1][2] * k + m[1][3];
          const double z = m[2][0] * i + m[2][1] * j + m[2][2] * k + m[2][3];
          const std::size_t dst = static_cast<std::size_t>((k * ty + j) * tx + i);
          if (interpolation == Interpolation::nearest) {
            const auto xi = static_cast<std::int64_t>(std::lround(x));
            const auto yi = static_cast<std::int64_t>(std::lround(y));
            const auto zi = static_cast<std::int64_t>(std::lround(z));
            const bool inside = xi >= 0 && yi >= 0 && zi >= 0 && xi < sx && yi < sy && zi < sz;
            const std::size_t src = inside ? static_cast<std::size_t>((zi * sy + yi) * sx + xi) : 0;
            for (std::int64_t t = 0; t < source.volumes(); ++t)
              out.data()[static_cast<std::size_t>(t) * dst_n + dst] =
                  inside ? source.data()[static_cast<std::size_t>(t) * src_n + src] : outside;
            continue;
          }
          // Trilinear; points within half a voxel outside the edge clamp to it (no dark rim).
          if (x < -0.5 || y < -0.5 || z < -0.5 || x > static_cast<double>(sx) - 0.5 ||
              y > static_cast<double>(sy) - 0.5 || z > static_cast<double>(sz) - 0.5) {
            for (std::int64_t t = 0; t < source.volumes(); ++t)
              out.data()[static_cast<std::size_t>(t) * dst_n + dst] = outside;
            continue;
          }
          const double cx = std::clamp(x, 0.0, static_cast<double>(sx - 1));
          const double cy = std::clamp(y, 0.0, static_cast<double>(sy - 1));
          const double cz = std::clamp(z, 0.0, static_cast<double>(sz - 1));
          const auto x0 = std::min(static_cast<std::int64_t>(cx), sx - 1);
          const auto y0 = std::min(static_cast<std::int64_t>(cy), sy - 1);
          const auto z0 = std::min(static_cast<std::int64_t>(cz), sz - 1);
          const auto x1 = std::min(x0 + 1, sx - 1), y1 = std::min(y0 + 1, sy - 1),
                     z1 = std::min(z0 + 1, sz - 1);
          const double fx = cx - static_cast<double>(x0), fy = cy - static_cast<double>(y0),
                       fz = cz - static_cast<double>(z0);
          auto at = [&](std::int64_t a, std::int64_t b, std::int64_t c) {
            return static_cast<std::size_t>((c * sy + b) * sx + a);
          };
          const std::size_t i000 = at(x0, y0, z0), i100 = at(x1, y0, z0), i010 = at(x0, y1, z0),
                            i110 = at(x1, y1, z0), i001 = at(x0, y0, z1), i101 = at(x1, y0, z1),
                            i011 = at(x0, y1, z1), i111 = at(x1, y1, z1);
          for (std::int64_t t = 0; t < source.volumes(); ++t) {
            const float* s = source.data() + static_cast<std::size_t>(t) * src_n;
            const double c00 = s[i000] * (1 - fx) + s[i100] * fx;
            const double c10 = s[i010] * (1 - fx) + s[i110] * fx;
            const double c01 = s[i001] * (1 - fx) + s[i101] * fx;
            const double c11 = s[i011] * (1 - fx) + s[i111] * fx;
            const double c0 = c00 * (1 - fy) + c10 * fy;
            const double c1 = c01 * (1 - fy) + c11 * fy;
            out.data()[static_cast<std::size_t>(t) * dst_n + dst] =
                static_cast<float>(c0 * (1 - fz) + c1 * fz);
          }
        }
  });
  return out;
}

} // namespace rewardpath
