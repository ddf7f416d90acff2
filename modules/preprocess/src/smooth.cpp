#include "rewardpath/preprocess/smooth.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/gaussian.hpp"

namespace rewardpath::preprocess {

std::vector<double> gaussian_weights(double sigma, double truncate) {
  if (!(sigma > 0.0)) return {1.0};
  return gaussian_kernel(sigma, static_cast<std::int64_t>(truncate * sigma + 0.5), true);
}

namespace {

// scipy "reflect": index -1 -> 0, -2 -> 1, n -> n-1, ... with period 2n for far indices.
std::int64_t reflect_index(std::int64_t i, std::int64_t n) {
  if (n == 1) return 0;
  const std::int64_t period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

// Along x: line by line (contiguous). Lines are independent, so parallel loops are deterministic.
void filter_x(float* img, const std::array<std::int64_t, 3>& d, const std::vector<double>& w) {
  const auto radius = static_cast<std::int64_t>(w.size() / 2);
  const std::int64_t n = d[0];
  std::vector<std::int64_t> src(static_cast<std::size_t>(n + 2 * radius));
  for (std::int64_t i = -radius; i < n + radius; ++i)
    src[static_cast<std::size_t>(i + radius)] = reflect_index(i, n);
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, d[1] * d[2]),
                    [&](const tbb::blocked_range<std::int64_t>& r) {
                      std::vector<double> line(src.size());
                      for (std::int64_t l = r.begin(); l != r.end(); ++l) {
                        float* p = img + l * n;
                        for (std::size_t i = 0; i < src.size(); ++i) line[i] = p[src[i]];
                        for (std::int64_t i = 0; i < n; ++i) {
                          double s = 0.0;
                          const double* q = line.data() + i;
                          for (std::size_t k = 0; k < w.size(); ++k) s += w[k] * q[k];
                          p[i] = static_cast<float>(s);
                        }
                      }
                    });
}

// Along y or z: the image is [outer][n][inner] with contiguous rows of `inner` values; whole rows
// are combined (cache friendly), in column chunks so that a single slab still runs in parallel.
void filter_rows(float* img, std::int64_t outer, std::int64_t n, std::int64_t inner,
                 const std::vector<double>& w) {
  const auto radius = static_cast<std::int64_t>(w.size() / 2);
  constexpr std::int64_t chunk = 256;
  const std::int64_t chunks = (inner + chunk - 1) / chunk;
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, outer * chunks),
                    [&](const tbb::blocked_range<std::int64_t>& r) {
                      std::vector<float> block(static_cast<std::size_t>(n * chunk));
                      std::vector<double> acc(static_cast<std::size_t>(chunk));
                      for (std::int64_t task = r.begin(); task != r.end(); ++task) {
                        const std::int64_t o = task / chunks, c0 = (task % chunks) * chunk,
                                           cn = std::min(chunk, inner - c0);
                        float* base = img + o * n * inner + c0;
                        for (std::int64_t i = 0; i < n; ++i)
                          std::copy(base + i * inner, base + i * inner + cn, block.begin() + i * chunk);
                        for (std::int64_t i = 0; i < n; ++i) {
                          std::fill(acc.begin(), acc.begin() + cn, 0.0);
                          for (std::int64_t k = -radius; k <= radius; ++k) {
                            const double wk = w[static_cast<std::size_t>(k + radius)];
                            const float* row = block.data() + reflect_index(i + k, n) * chunk;
                            for (std::int64_t c = 0; c < cn; ++c)
                              acc[static_cast<std::size_t>(c)] += wk * row[c];
                          }
                          float* out = base + i * inner;
                          for (std::int64_t c = 0; c < cn; ++c)
                            out[c] = static_cast<float>(acc[static_cast<std::size_t>(c)]);
                        }
                      }
                    });
}

void filter_axis(float* img, const std::array<std::int64_t, 3>& d, int axis, const std::vector<double>& w) {
  if (axis == 0)
    filter_x(img, d, w);
  else if (axis == 1)
    filter_rows(img, d[2], d[1], d[0], w);
  else
    filter_rows(img, 1, d[2], d[0] * d[1], w);
}

} // namespace

void gaussian_filter(float* image, const std::array<std::int64_t, 3>& dims,
                     const std::array<double, 3>& sigma, double truncate) {
  for (int a = 0; a < 3; ++a) {
    const double s = sigma[static_cast<std::size_t>(a)];
    if (!std::isfinite(s))
      throw Error("gaussian_filter: sigma along axis " + std::to_string(a) + " is not finite");
    if (s > 0.0 && dims[static_cast<std::size_t>(a)] > 0)
      filter_axis(image, dims, a, gaussian_weights(s, truncate));
  }
}

std::array<double, 3> fwhm_to_sigma_voxels(const Grid& grid, const std::array<double, 3>& fwhm_mm) {
  std::array<double, 3> s{};
  const double k = std::sqrt(8.0 * std::log(2.0));
  for (std::size_t a = 0; a < 3; ++a) {
    if (!std::isfinite(fwhm_mm[a]) || fwhm_mm[a] < 0.0)
      throw Error("smoothing FWHM along axis " + std::to_string(a) + " must be finite and >= 0 mm, got " +
                  std::to_string(fwhm_mm[a]));
    if (!(grid.spacing_mm[a] > 0.0))
      throw Error("smoothing needs a positive voxel size, axis " + std::to_string(a) + " has " +
                  std::to_string(grid.spacing_mm[a]) + " mm");
    s[a] = fwhm_mm[a] / k / grid.spacing_mm[a];
  }
  return s;
}

void smooth(Volume& image, const std::array<double, 3>& fwhm_mm) {
  const auto sigma = fwhm_to_sigma_voxels(image.grid(), fwhm_mm);
  if (image.size() == 0) throw Error("smooth: empty image");
  const auto dims = image.grid().dims;
  tbb::parallel_for(std::int64_t{0}, image.volumes(),
                    [&](std::int64_t t) { gaussian_filter(image.volume(t).data(), dims, sigma); });
}

} // namespace rewardpath::preprocess
