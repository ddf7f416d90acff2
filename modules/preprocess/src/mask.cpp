#include "rewardpath/preprocess/mask.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

#include "rewardpath/core/error.hpp"
#include "rewardpath/preprocess/smooth.hpp"

namespace rewardpath::preprocess {

std::int64_t Mask::count() const {
  return static_cast<std::int64_t>(
      std::count_if(voxels.begin(), voxels.end(), [](std::uint8_t v) { return v != 0; }));
}

Volume mean_volume(const Volume& run) {
  if (run.size() == 0) throw Error("mean_volume: empty image");
  Volume out(run.grid(), 1);
  const auto nv = static_cast<std::size_t>(run.voxels_per_volume());
  const auto nt = static_cast<std::size_t>(run.volumes());
  // Volume by volume, a block of volumes at a time (the run is read in file order, which is what
  // a run kept in a scratch file pages best), summing each voxel in time order.
  std::vector<double> acc(nv, 0.0);
  const std::size_t block = std::max<std::size_t>(1, (std::size_t{16} << 20) / (nv * sizeof(float)));
  for (std::size_t t0 = 0; t0 < nt; t0 += block) {
    const std::size_t t1 = std::min(nt, t0 + block);
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, nv, 8192),
                      [&](const tbb::blocked_range<std::size_t>& r) {
                        for (std::size_t t = t0; t < t1; ++t) {
                          const float* s = run.data() + t * nv;
                          for (std::size_t i = r.begin(); i != r.end(); ++i) acc[i] += s[i];
                        }
                      });
  }
  for (std::size_t i = 0; i < nv; ++i) out.data()[i] = static_cast<float>(acc[i] / static_cast<double>(nt));
  return out;
}

namespace {

using Bits = std::vector<std::uint8_t>;

// scipy.ndimage binary erosion/dilation with the 6-neighbour cross; border_value 0 (outside is
// background, so erosion removes voxels on the image border).
Bits morph(const Bits& in, const std::array<std::int64_t, 3>& d, bool erode) {
  Bits out(in.size());
  const std::int64_t sx = 1, sy = d[0], sz = d[0] * d[1];
  for (std::int64_t k = 0; k < d[2]; ++k)
    for (std::int64_t j = 0; j < d[1]; ++j)
      for (std::int64_t i = 0; i < d[0]; ++i) {
        const std::int64_t v = i + j * sy + k * sz;
        auto at = [&](std::int64_t ii, std::int64_t jj, std::int64_t kk, std::int64_t off) -> std::uint8_t {
          if (ii < 0 || jj < 0 || kk < 0 || ii >= d[0] || jj >= d[1] || kk >= d[2]) return 0;
          return in[static_cast<std::size_t>(v + off)];
        };
        const std::uint8_t n[7] = {in[static_cast<std::size_t>(v)],
                                   at(i - 1, j, k, -sx),
                                   at(i + 1, j, k, sx),
                                   at(i, j - 1, k, -sy),
                                   at(i, j + 1, k, sy),
                                   at(i, j, k - 1, -sz),
                                   at(i, j, k + 1, sz)};
        bool r = erode;
        for (auto b : n) r = erode ? (r && b) : (r || b);
        out[static_cast<std::size_t>(v)] = r ? 1 : 0;
      }
  return out;
}

Bits largest_component(const Bits& in, const std::array<std::int64_t, 3>& d) {
  std::vector<std::int32_t> label(in.size(), 0);
  std::vector<std::int64_t> sizes{0};
  std::vector<std::int64_t> stack;
  const std::int64_t sy = d[0], sz = d[0] * d[1];
  for (std::size_t s = 0; s < in.size(); ++s) {
    if (!in[s] || label[s]) continue;
    const auto id = static_cast<std::int32_t>(sizes.size());
    std::int64_t size = 0;
    stack.push_back(static_cast<std::int64_t>(s));
    label[s] = id;
    while (!stack.empty()) {
      const std::int64_t v = stack.back();
      stack.pop_back();
      ++size;
      const std::int64_t i = v % sy, j = (v / sy) % d[1], k = v / sz;
      const std::int64_t nb[6][4] = {{i - 1, j, k, v - 1},  {i + 1, j, k, v + 1},  {i, j - 1, k, v - sy},
                                     {i, j + 1, k, v + sy}, {i, j, k - 1, v - sz}, {i, j, k + 1, v + sz}};
      for (const auto& n : nb) {
        if (n[0] < 0 || n[1] < 0 || n[2] < 0 || n[0] >= d[0] || n[1] >= d[1] || n[2] >= d[2]) continue;
        const auto u = static_cast<std::size_t>(n[3]);
        if (in[u] && !label[u]) {
          label[u] = id;
          stack.push_back(n[3]);
        }
      }
    }
    sizes.push_back(size);
  }
  const auto best = static_cast<std::int32_t>(std::max_element(sizes.begin(), sizes.end()) - sizes.begin());
  Bits out(in.size());
  for (std::size_t v = 0; v < in.size(); ++v) out[v] = label[v] == best && best > 0 ? 1 : 0;
  return out;
}

} // namespace

Mask compute_epi_mask(const Volume& mean_epi, const EpiMaskParams& p) {
  if (mean_epi.volumes() != 1 || mean_epi.size() == 0)
    throw Error(fmt::format("compute_epi_mask needs a 3D mean image, got {} volumes (average a run with "
                            "mean_volume first)",
                            mean_epi.volumes()));
  if (!(p.lower_cutoff >= 0.0 && p.lower_cutoff < p.upper_cutoff && p.upper_cutoff <= 1.0))
    throw Error(fmt::format("compute_epi_mask: need 0 <= lower_cutoff < upper_cutoff <= 1, got {} and {}",
                            p.lower_cutoff, p.upper_cutoff));
  if (p.opening < 0) throw Error("compute_epi_mask: opening must be >= 0");
  const auto& g = mean_epi.grid();
  std::vector<float> img(mean_epi.data(), mean_epi.data() + mean_epi.size());
  // nilearn smooths with fwhm = 1 on an identity affine: 1 voxel, whatever the voxel size.
  const double s1 = 1.0 / std::sqrt(8.0 * std::log(2.0));
  if (p.opening > 0) gaussian_filter(img.data(), g.dims, {s1, s1, s1});
  for (auto& v : img)
    if (!std::isfinite(v)) v = 0.0f;
  std::vector<float> s = img;
  std::sort(s.begin(), s.end());
  if (p.exclude_zeros) s.erase(std::remove(s.begin(), s.end(), 0.0f), s.end());
  if (s.size() < 3) throw Error("compute_epi_mask: fewer than 3 voxels to build a histogram from");
  const auto n = static_cast<double>(s.size());
  const auto lo = static_cast<std::size_t>(std::floor(p.lower_cutoff * n));
  const auto hi = std::min(static_cast<std::size_t>(std::floor(p.upper_cutoff * n)), s.size() - 1);
  if (hi <= lo) throw Error("compute_epi_mask: the cut-offs leave no intensities to search");
  std::size_t ia = 0;
  float best = -1.0f;
  for (std::size_t i = lo; i < hi; ++i)
    if (s[i + 1] - s[i] > best) best = s[i + 1] - s[i], ia = i; // first maximum, as numpy's argmax
  // nilearn computes in the image's dtype (float32 here)
  const float threshold = 0.5f * (s[ia] + s[ia + 1]);
  Mask m;
  m.grid = g;
  m.threshold = threshold;
  m.voxels.resize(img.size());
  for (std::size_t v = 0; v < img.size(); ++v) m.voxels[v] = img[v] >= threshold ? 1 : 0;
  for (int i = 0; i < p.opening; ++i) m.voxels = morph(m.voxels, g.dims, true);
  const bool any = std::any_of(m.voxels.begin(), m.voxels.end(), [](std::uint8_t b) { return b != 0; });
  if (!any)
    throw Error(fmt::format("compute_epi_mask: the mask is empty (threshold {:.6g}); is this a mean EPI that "
                            "was not detrended? Try a higher lower_cutoff",
                            threshold));
  if (p.connected) m.voxels = largest_component(m.voxels, g.dims);
  for (int i = 0; i < 2 * p.opening; ++i) m.voxels = morph(m.voxels, g.dims, false);
  for (int i = 0; i < p.opening; ++i) m.voxels = morph(m.voxels, g.dims, true);
  return m;
}

} // namespace rewardpath::preprocess
