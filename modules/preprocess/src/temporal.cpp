#include "rewardpath/preprocess/temporal.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>
#include <numbers>

#include "rewardpath/core/error.hpp"

namespace rewardpath::preprocess {

namespace {
double run_tr(const Volume& bold, double tr_s, const char* what) {
  const double tr = tr_s > 0.0 ? tr_s : bold.time_step_s();
  if (!(tr > 0.0) || !std::isfinite(tr))
    throw Error(fmt::format("{}: the repetition time must be > 0 s (the run has {} s and none was given)",
                            what, bold.time_step_s()));
  return tr;
}

std::int64_t reflect(std::int64_t i, std::int64_t n) {
  if (n == 1) return 0;
  const std::int64_t period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}
} // namespace

void slice_time_correct(Volume& bold, const SliceTimingParams& p) {
  const std::int64_t nt = bold.volumes(), nz = bold.nz();
  if (nt < 2) throw Error(fmt::format("slice-timing correction needs a 4D run, got {} volume(s)", nt));
  const double tr = run_tr(bold, p.tr_s, "slice-timing correction");
  if (static_cast<std::int64_t>(p.slice_timing_s.size()) != nz)
    throw Error(fmt::format("SliceTiming has {} entries, the run has {} slices along k",
                            p.slice_timing_s.size(), nz));
  for (std::size_t k = 0; k < p.slice_timing_s.size(); ++k) {
    const double s = p.slice_timing_s[k];
    if (!std::isfinite(s) || s < 0.0 || s > tr)
      throw Error(fmt::format("SliceTiming[{}] = {} s is outside [0, TR = {} s]", k, s, tr));
  }
  if (!(p.slice_time_ref >= 0.0 && p.slice_time_ref <= 1.0))
    throw Error(fmt::format("slice_time_ref must be in [0, 1], got {}", p.slice_time_ref));
  if (p.half_width < 1) throw Error("slice-timing correction: half_width must be >= 1");
  const int a = p.half_width;
  const auto nxy = static_cast<std::size_t>(bold.nx() * bold.ny());
  const auto nv = static_cast<std::size_t>(bold.voxels_per_volume());
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, nz, 1), [&](const tbb::blocked_range<std::int64_t>& r) {
        std::vector<float> x(nxy * static_cast<std::size_t>(nt));
        std::vector<double> acc(nxy);
        for (std::int64_t k = r.begin(); k != r.end(); ++k) {
          const double d = (p.slice_time_ref * tr - p.slice_timing_s[static_cast<std::size_t>(k)]) / tr;
          const double fl = std::floor(d), f = d - fl;
          if (f == 0.0 && fl == 0.0) continue; // acquired at the reference time
          // taps at sample offsets fl + j, j = -a+1..a, weight h(f - j)
          std::vector<double> w(static_cast<std::size_t>(2 * a));
          double sum = 0.0;
          for (int j = -a + 1; j <= a; ++j) {
            const double u = f - j;
            const double sinc = u == 0.0 ? 1.0 : std::sin(std::numbers::pi * u) / (std::numbers::pi * u);
            const double win = std::abs(u) < a ? 0.5 * (1.0 + std::cos(std::numbers::pi * u / a)) : 0.0;
            w[static_cast<std::size_t>(j + a - 1)] = sinc * win;
            sum += sinc * win;
          }
          for (auto& v : w) v /= sum;
          for (std::int64_t t = 0; t < nt; ++t) {
            const float* s =
                bold.data() + static_cast<std::size_t>(t) * nv + static_cast<std::size_t>(k) * nxy;
            std::copy(s, s + nxy, x.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(t) * nxy));
          }
          const auto off = static_cast<std::int64_t>(fl);
          for (std::int64_t t = 0; t < nt; ++t) {
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int j = -a + 1; j <= a; ++j) {
              const double wj = w[static_cast<std::size_t>(j + a - 1)];
              const float* row = x.data() + static_cast<std::size_t>(reflect(t + off + j, nt)) * nxy;
              for (std::size_t i = 0; i < nxy; ++i) acc[i] += wj * row[i];
            }
            float* o = bold.data() + static_cast<std::size_t>(t) * nv + static_cast<std::size_t>(k) * nxy;
            for (std::size_t i = 0; i < nxy; ++i) o[i] = static_cast<float>(acc[i]);
          }
        }
      });
}

std::vector<std::vector<double>> cosine_basis(std::int64_t n, double tr_s, double cutoff_s) {
  if (!(cutoff_s > 0.0) || !std::isfinite(cutoff_s))
    throw Error(fmt::format("high-pass cut-off must be > 0 s, got {}", cutoff_s));
  if (!(tr_s > 0.0)) throw Error(fmt::format("cosine basis: TR must be > 0 s, got {}", tr_s));
  if (n < 2) return {};
  const auto order = std::min<std::int64_t>(
      n - 1, static_cast<std::int64_t>(std::floor(2.0 * static_cast<double>(n) * tr_s / cutoff_s)));
  std::vector<std::vector<double>> c(static_cast<std::size_t>(order),
                                     std::vector<double>(static_cast<std::size_t>(n)));
  const double norm = std::sqrt(2.0 / static_cast<double>(n));
  for (std::int64_t k = 1; k <= order; ++k)
    for (std::int64_t i = 0; i < n; ++i)
      c[static_cast<std::size_t>(k - 1)][static_cast<std::size_t>(i)] =
          norm * std::cos(std::numbers::pi / static_cast<double>(n) * (static_cast<double>(i) + 0.5) *
                          static_cast<double>(k));
  return c;
}

void highpass(Volume& bold, double cutoff_s, const std::vector<std::uint8_t>& mask, double tr_s) {
  const std::int64_t nt = bold.volumes();
  if (nt < 2) throw Error(fmt::format("high-pass filtering needs a 4D run, got {} volume(s)", nt));
  const auto nv = static_cast<std::size_t>(bold.voxels_per_volume());
  if (!mask.empty() && mask.size() != nv)
    throw Error(fmt::format("high-pass: mask has {} voxels, the run's volumes {}", mask.size(), nv));
  const auto basis = cosine_basis(nt, run_tr(bold, tr_s, "high-pass filter"), cutoff_s);
  if (basis.empty()) return;
  const std::size_t nk = basis.size(), n = static_cast<std::size_t>(nt);
  constexpr std::size_t block = 512;
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, (nv + block - 1) / block),
                    [&](const tbb::blocked_range<std::size_t>& r) {
                      std::vector<double> b(nk * block);
                      for (std::size_t bi = r.begin(); bi != r.end(); ++bi) {
                        const std::size_t v0 = bi * block, v1 = std::min(nv, v0 + block), nb = v1 - v0;
                        std::fill(b.begin(), b.end(), 0.0);
                        for (std::size_t t = 0; t < n; ++t) {
                          const float* y = bold.data() + t * nv + v0;
                          for (std::size_t k = 0; k < nk; ++k) {
                            const double c = basis[k][t];
                            double* bk = b.data() + k * block;
                            for (std::size_t i = 0; i < nb; ++i) bk[i] += c * y[i];
                          }
                        }
                        for (std::size_t t = 0; t < n; ++t) {
                          float* y = bold.data() + t * nv + v0;
                          for (std::size_t i = 0; i < nb; ++i) {
                            if (!mask.empty() && !mask[v0 + i]) continue;
                            double s = 0.0;
                            for (std::size_t k = 0; k < nk; ++k) s += basis[k][t] * b[k * block + i];
                            y[i] = static_cast<float>(y[i] - s);
                          }
                        }
                      }
                    });
}

} // namespace rewardpath::preprocess
