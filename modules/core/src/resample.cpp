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
          // Trilinear, volume by volume.
          const std::array<std::int64_t, 3> sdims{sx, sy, sz};
          for (std::int64_t t = 0; t < source.volumes(); ++t)
            out.data()[static_cast<std::size_t>(t) * dst_n + dst] = sample_trilinear(
                source.data() + static_cast<std::size_t>(t) * src_n, sdims, x, y, z, outside);
        }
  });
  return out;
}

} // namespace rewardpath
