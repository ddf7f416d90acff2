#include "rewardpath/glm/fit.hpp"

#include <algorithm>
#include <cmath>
#include <future>
#include <memory>
#include <map>
#include <mutex>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include "fit_time.hpp"

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/gaussian.hpp"
#include "rewardpath/core/statistics.hpp"

namespace rewardpath::glm {
namespace {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

std::vector<MatrixXd> lagged_products(const MatrixXd& x, int p) {
  const Index n = x.rows();
  std::vector<MatrixXd> m;
  for (int i = 0; i <= p; ++i)
    for (int j = 0; j <= p; ++j) {
      const int mx = std::max(i, j);
      m.push_back(x.middleRows(mx - i, n - mx).transpose() * x.middleRows(mx - j, n - mx));
    }
  return m;
}

template <class Coef> MatrixXd whitened_xtx_from(const std::vector<MatrixXd>& m, int p, const Coef& a) {
  MatrixXd out = MatrixXd::Zero(m[0].rows(), m[0].cols());
  for (int i = 0; i <= p; ++i) {
    const double ci = i == 0 ? 1.0 : -static_cast<double>(a(i - 1));
    for (int j = 0; j <= p; ++j) {
      const double cj = j == 0 ? 1.0 : -static_cast<double>(a(j - 1));
      out += (ci * cj) * m[static_cast<std::size_t>(i * (p + 1) + j)];
    }
  }
  return out;
}

// In place: w_t = y_t - sum_{i <= min(t, p)} a_i y_{t-i}, column by column (a: p x V).
void whiten(MatrixXd& y, const Eigen::Ref<const Eigen::MatrixXf>& a) {
  const Index n = y.rows(), p = a.rows();
  if (p == 0) return;
  for (Index v = 0; v < y.cols(); ++v) {
    double* col = y.col(v).data();
    for (Index t = n - 1; t >= 1; --t) {
      double s = col[t];
      for (Index i = 1; i <= std::min(t, p); ++i) s -= static_cast<double>(a(i - 1, v)) * col[t - i];
      col[t] = s;
    }
  }
}

void autocorrelations(const MatrixXd& e, Eigen::MatrixXf& out, Index first) {
  const Index n = e.rows();
  for (Index v = 0; v < e.cols(); ++v) {
    const double* c = e.col(v).data();
    double s0 = 0.0;
    for (Index t = 0; t < n; ++t) s0 += c[t] * c[t];
    for (Index l = 1; l <= out.rows(); ++l) {
      double s = 0.0;
      for (Index t = l; t < n; ++t) s += c[t] * c[t - l];
      out(l - 1, first + v) = s0 > 0 ? static_cast<float>(s / s0) : 0.0f;
    }
  }
}

// Separable Gaussian smoothing of `maps` (each grid-sized) weighted by `w`, normalised by the
// smoothed weights; values outside w > 0 are left as they are.
void smooth_in_mask(std::vector<std::vector<float>>& maps, const std::vector<float>& w, const Grid& grid,
                    double fwhm_mm) {
  const auto nx = grid.dims[0], ny = grid.dims[1], nz = grid.dims[2];
  std::array<std::vector<double>, 3> kernels;
  for (int a = 0; a < 3; ++a) {
    const double sigma =
        fwhm_mm / std::sqrt(8.0 * std::log(2.0)) / grid.spacing_mm[static_cast<std::size_t>(a)];
    // Not normalised: the smoothed weights normalise.
    kernels[static_cast<std::size_t>(a)] =
        sigma > 0 ? gaussian_kernel(sigma, static_cast<int>(std::ceil(3.0 * sigma)), false)
                  : std::vector<double>{1.0};
  }
  const std::array<std::int64_t, 3> dims{nx, ny, nz};
  const std::array<std::int64_t, 3> strides{1, nx, nx * ny};
  auto smooth = [&](std::vector<float>& f) {
    std::vector<float> tmp(f.size());
    for (int a = 0; a < 3; ++a) {
      const auto& k = kernels[static_cast<std::size_t>(a)];
      const int r = static_cast<int>(k.size() / 2);
      const auto len = dims[static_cast<std::size_t>(a)], st = strides[static_cast<std::size_t>(a)];
      tbb::parallel_for(std::int64_t{0}, nz, [&](std::int64_t z) {
        for (std::int64_t y = 0; y < ny; ++y)
          for (std::int64_t x = 0; x < nx; ++x) {
            const std::array<std::int64_t, 3> c{x, y, z};
            const auto pos = c[static_cast<std::size_t>(a)];
            const auto idx = x + nx * (y + ny * z);
            double s = 0.0;
            for (int i = -r; i <= r; ++i) {
              const auto q = pos + i;
              if (q < 0 || q >= len) continue;
              s += k[static_cast<std::size_t>(i + r)] * f[static_cast<std::size_t>(idx + i * st)];
            }
            tmp[static_cast<std::size_t>(idx)] = static_cast<float>(s);
          }
      });
      f.swap(tmp);
    }
  };
  std::vector<float> ws = w;
  smooth(ws);
  for (auto& m : maps) {
    for (std::size_t i = 0; i < m.size(); ++i) m[i] *= w[i];
    smooth(m);
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = ws[i] > 1e-6f ? m[i] / ws[i] : 0.0f;
  }
}

// The source of raw samples: a chunk [first, first + count) of source series.
struct Source {
  std::int64_t total = 0;
  std::int64_t times = 0;
  SeriesView view; // when set (data != nullptr)
  const ChunkReader* reader = nullptr;
  std::mutex* reader_mutex = nullptr;
  const VolumeReader* volumes = nullptr; // time-ordered blocks of whole volumes
};

detail::SampleScaling scaling(const SeriesView& v) { return {v.slope, v.inter}; }

struct Plan {
  std::vector<std::int64_t> fitted;      // source index of each fitted series
  std::vector<std::int64_t> chunk_begin; // into `fitted`, chunks.size() + 1 entries
};

// The design checks every model needs: more volumes than columns, full rank.
void check_design(const Design& d) {
  if (d.rows() <= d.cols())
    throw Error("design has " + std::to_string(d.cols()) + " columns for " + std::to_string(d.rows()) +
                " volumes");
  check_full_rank(d.matrix, d.columns);
}

// The AR order a model prewhitens with: 0 for ols, 1 for ar1, ar_order (1..8) for arp.
int ar_order_of(const FitParams& prm) {
  if (prm.noise_model == NoiseModel::ols) return 0;
  if (prm.noise_model == NoiseModel::ar1) return 1;
  if (prm.ar_order < 1 || prm.ar_order > 8)
    throw Error("ar_order must be in 1..8, got " + std::to_string(prm.ar_order));
  return prm.ar_order;
}

// The voxel-chunk engine of the arp model (whole series of a chunk in double), which needs two
// passes over the data: an estimation of every voxel's autocorrelations, smoothed in space, then
// the fit. ols and ar1 read each sample once and go through fit_time_blocked.
class ArpEngine {
public:
  ArpEngine(const Design& d, const FitParams& prm, const std::vector<MatrixXd>& lagged)
      : x_(d.matrix), lagged_(lagged), n_(d.rows()), p_(ar_order_of(prm)) {
    pinv_ = x_.completeOrthogonalDecomposition().pseudoInverse();
    bias_ = prm.ar_bias_correction ? autocovariance_bias_matrix(x_, p_) : MatrixXd::Identity(p_ + 1, p_ + 1);
    bias_lu_ = bias_.partialPivLu();
  }

  // Gathers chunk c of the plan into y (n x m doubles).
  void load(const Source& src, const Plan& plan, std::size_t c, MatrixXd& y, std::vector<float>& buf) const {
    const auto b = plan.chunk_begin[c], e = plan.chunk_begin[c + 1];
    const auto m = e - b;
    y.resize(n_, m);
    if (m == 0) return;
    const auto first = plan.fitted[static_cast<std::size_t>(b)];
    const auto last = plan.fitted[static_cast<std::size_t>(e - 1)];
    if (src.view.data || src.view.int16) {
      auto gather = [&](const auto* base) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(base)>>;
        detail::with_conversion<T>(scaling(src.view), [&](auto value) {
          for (Index t = 0; t < n_; ++t) {
            const auto* row = base + t * src.view.time_stride;
            for (std::int64_t j = 0; j < m; ++j)
              y(t, j) = value(row[plan.fitted[static_cast<std::size_t>(b + j)]]);
          }
        });
      };
      if (src.view.data)
        gather(src.view.data);
      else
        gather(src.view.int16);
      return;
    }
    const float* ptr;
    std::int64_t stride;
    {
      const auto count = last - first + 1;
      buf.resize(static_cast<std::size_t>(count * n_));
      {
        std::lock_guard<std::mutex> lock(*src.reader_mutex);
        (*src.reader)(first, count, std::span<float>(buf));
      }
      ptr = buf.data();
      stride = count;
    }
    for (Index t = 0; t < n_; ++t) {
      const float* row = ptr + t * stride;
      for (std::int64_t j = 0; j < m; ++j)
        y(t, j) = row[plan.fitted[static_cast<std::size_t>(b + j)] - first];
    }
  }

  // Raw bias-corrected residual autocorrelations r_1..r_p of the OLS fit into est (p x V).
  void estimate(const MatrixXd& y, Eigen::MatrixXf& est, Index first) const {
    const MatrixXd r = y - x_ * (pinv_ * y);
    for (Index v = 0; v < r.cols(); ++v) {
      const double* c = r.col(v).data();
      VectorXd a(p_ + 1);
      for (int l = 0; l <= p_; ++l) {
        double s = 0.0;
        for (Index t = l; t < n_; ++t) s += c[t] * c[t - l];
        a(l) = s;
      }
      const VectorXd g = bias_lu_.solve(a);
      for (int l = 1; l <= p_; ++l) est(l - 1, first + v) = g(0) > 0 ? static_cast<float>(g(l) / g(0)) : 0.0f;
    }
  }

  void solve(const MatrixXd& y, const Eigen::Ref<const Eigen::MatrixXf>& a, FirstLevelFit& out,
             Index first) const {
    const Index m = y.cols();
    MatrixXd beta(x_.cols(), m);
    MatrixXd yw = y;
    whiten(yw, a);
    std::vector<MatrixXd> g(static_cast<std::size_t>(p_ + 1));
    for (int i = 0; i <= p_; ++i)
      g[static_cast<std::size_t>(i)].noalias() = x_.topRows(n_ - i).transpose() * yw.bottomRows(n_ - i);
    for (Index v = 0; v < m; ++v) {
      VectorXd rhs = g[0].col(v);
      for (int i = 1; i <= p_; ++i)
        rhs -= static_cast<double>(a(i - 1, v)) * g[static_cast<std::size_t>(i)].col(v);
      beta.col(v) = Eigen::LLT<MatrixXd>(whitened_xtx_from(lagged_, p_, a.col(v))).solve(rhs);
    }
    MatrixXd e = y;
    e.noalias() -= x_ * beta;
    whiten(e, a);
    out.beta.middleCols(first, m) = beta;
    out.sigma2.segment(first, m) = e.colwise().squaredNorm().transpose() / out.dof;
    if (out.residual_acf.size() > 0) autocorrelations(e, out.residual_acf, first);
  }

private:
  MatrixXd x_, pinv_, bias_;
  Eigen::PartialPivLU<MatrixXd> bias_lu_;
  const std::vector<MatrixXd>& lagged_;
  Index n_ = 0;
  int p_ = 0;
};

Plan make_plan(std::int64_t total, std::span<const std::uint8_t> mask, std::int64_t chunk) {
  Plan plan;
  if (!mask.empty() && static_cast<std::int64_t>(mask.size()) != total)
    throw Error("mask has " + std::to_string(mask.size()) + " voxels, the run has " + std::to_string(total) +
                " per volume");
  // Chunks are ranges of source series holding up to `chunk` fitted series.
  plan.chunk_begin.push_back(0);
  std::int64_t in_chunk = 0;
  for (std::int64_t s = 0; s < total; ++s) {
    if (!mask.empty() && !mask[static_cast<std::size_t>(s)]) continue;
    plan.fitted.push_back(s);
    if (++in_chunk == chunk) {
      plan.chunk_begin.push_back(static_cast<std::int64_t>(plan.fitted.size()));
      in_chunk = 0;
    }
  }
  if (in_chunk > 0) plan.chunk_begin.push_back(static_cast<std::int64_t>(plan.fitted.size()));
  return plan;
}

// ols and ar1: sufficient statistics per chunk, one block of volumes at a time (fit_time.hpp).
void fit_time_blocked(const Source& src, const Plan& plan, const Design& design, const FitParams& prm,
                      FirstLevelFit& out) {
  const detail::TimeEngine te(design, prm);
  const std::int64_t n = design.rows(), nb_max = te.block();
  const std::size_t chunks = plan.chunk_begin.size() - 1;
  tbb::enumerable_thread_specific<detail::TimeEngine::Scratch> scratch;
  auto chunk_size = [&](std::size_t c) { return plan.chunk_begin[c + 1] - plan.chunk_begin[c]; };
  if (src.volumes) {
    // Whole volumes in time order: the next block is read (e.g. decompressed) on another thread
    // while this one is fitted; only two blocks of volumes are in memory.
    std::vector<detail::TimeEngine::State> states(chunks);
    for (std::size_t c = 0; c < chunks; ++c) te.init(states[c], chunk_size(c));
    const auto block_floats = static_cast<std::size_t>(std::min(nb_max, n) * src.total);
    std::array<std::unique_ptr<float[]>, 2> buf{std::unique_ptr<float[]>(new float[block_floats]),
                                                std::unique_ptr<float[]>(new float[block_floats])};
    auto read = [&](std::int64_t t0, float* b) {
      const auto nb = std::min(nb_max, n - t0);
      (*src.volumes)(t0, nb, std::span<float>(b, static_cast<std::size_t>(nb * src.total)));
    };
    read(0, buf[0].get());
    int cur = 0;
    for (std::int64_t t0 = 0; t0 < n; t0 += nb_max) {
      std::future<void> next;
      if (t0 + nb_max < n)
        next =
            std::async(std::launch::async, read, t0 + nb_max, buf[static_cast<std::size_t>(1 - cur)].get());
      const auto nb = std::min(nb_max, n - t0);
      const float* base = buf[static_cast<std::size_t>(cur)].get();
      tbb::parallel_for(
          tbb::blocked_range<std::size_t>(0, chunks, 1), [&](const tbb::blocked_range<std::size_t>& r) {
            auto& sc = scratch.local();
            for (std::size_t c = r.begin(); c != r.end(); ++c)
              te.add(states[c], t0, nb, base, src.total, plan.fitted.data() + plan.chunk_begin[c], sc);
          });
      if (next.valid()) next.get();
      cur = 1 - cur;
    }
    tbb::parallel_for(std::size_t{0}, chunks,
                      [&](std::size_t c) { te.finish(states[c], out, plan.chunk_begin[c]); });
    return;
  }
  // A view or a chunk reader: each chunk's whole series, block by block of time.
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, chunks, 1), [&](const tbb::blocked_range<std::size_t>& r) {
        auto& sc = scratch.local();
        detail::TimeEngine::State st;
        std::vector<float> buf;
        std::vector<std::int64_t> idx;
        for (std::size_t c = r.begin(); c != r.end(); ++c) {
          const auto b = plan.chunk_begin[c], m = chunk_size(c);
          te.init(st, m);
          if (m == 0) continue;
          const std::int64_t* ix = plan.fitted.data() + b;
          auto add_all = [&](const auto* base, std::int64_t stride, const detail::SampleScaling& scaling) {
            for (std::int64_t t0 = 0; t0 < n; t0 += nb_max)
              te.add(st, t0, std::min(nb_max, n - t0), base + t0 * stride, stride, ix, sc, scaling);
            te.finish(st, out, b);
          };
          if (src.view.data) {
            add_all(src.view.data, src.view.time_stride, {});
          } else if (src.view.int16) {
            add_all(src.view.int16, src.view.time_stride, scaling(src.view));
          } else {
            const auto first = ix[0], count = ix[m - 1] - first + 1;
            buf.resize(static_cast<std::size_t>(count * n));
            {
              std::lock_guard<std::mutex> lock(*src.reader_mutex);
              (*src.reader)(first, count, std::span<float>(buf));
            }
            idx.assign(ix, ix + m);
            for (auto& i : idx) i -= first;
            ix = idx.data();
            add_all(buf.data(), count, {});
          }
        }
      });
}

// arp: every voxel's autocorrelations (first pass), smoothed in space within the mask when the
// series are voxels of a grid, Yule-Walker per voxel, then the prewhitened fit (second pass).
void fit_arp(const Source& src, const Plan& plan, const Design& design, const FitParams& prm,
             const std::optional<Grid>& grid, FirstLevelFit& out) {
  const ArpEngine eng(design, prm, out.lagged_xtx);
  const int p = out.ar_order;
  const auto V = static_cast<Index>(plan.fitted.size());
  // Every chunk of voxels, loaded in parallel: body(chunk's series y, index of its first series).
  auto for_each_chunk = [&](const auto& body) {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, plan.chunk_begin.size() - 1, 1),
                      [&](const tbb::blocked_range<std::size_t>& r) {
                        MatrixXd y;
                        std::vector<float> buf;
                        for (std::size_t c = r.begin(); c != r.end(); ++c) {
                          eng.load(src, plan, c, y, buf);
                          body(y, plan.chunk_begin[c]);
                        }
                      });
  };
  for_each_chunk([&](const MatrixXd& y, Index first) { eng.estimate(y, out.ar, first); });
  Eigen::MatrixXf rho = out.ar; // autocorrelations r_1..r_p
  if (grid && prm.ar_smoothing_fwhm_mm > 0) {
    const auto nvox = static_cast<std::size_t>(grid->voxel_count());
    std::vector<float> w(nvox, 0.0f);
    std::vector<std::vector<float>> maps(static_cast<std::size_t>(p), std::vector<float>(nvox, 0.0f));
    for (Index v = 0; v < V; ++v) {
      const auto g = static_cast<std::size_t>(plan.fitted[static_cast<std::size_t>(v)]);
      w[g] = 1.0f;
      for (int l = 0; l < p; ++l) maps[static_cast<std::size_t>(l)][g] = rho(l, v);
    }
    smooth_in_mask(maps, w, *grid, prm.ar_smoothing_fwhm_mm);
    for (Index v = 0; v < V; ++v) {
      const auto g = static_cast<std::size_t>(plan.fitted[static_cast<std::size_t>(v)]);
      for (int l = 0; l < p; ++l) rho(l, v) = maps[static_cast<std::size_t>(l)][g];
    }
  }
  for (Index v = 0; v < V; ++v) {
    std::vector<double> r(static_cast<std::size_t>(p));
    for (int l = 0; l < p; ++l) r[static_cast<std::size_t>(l)] = rho(l, v);
    const VectorXd a = yule_walker(r);
    for (int l = 0; l < p; ++l) out.ar(l, v) = static_cast<float>(a(l));
  }
  for_each_chunk(
      [&](const MatrixXd& y, Index first) { eng.solve(y, out.ar.middleCols(first, y.cols()), out, first); });
}

FirstLevelFit run(const Source& src, const Design& design, const FitParams& prm,
                  const std::optional<Grid>& grid, std::span<const std::uint8_t> mask) {
  if (src.times != design.rows())
    throw Error("the run has " + std::to_string(src.times) + " volumes but the design has " +
                std::to_string(design.rows()) + " rows");
  if (prm.chunk_voxels < 1) throw Error("chunk_voxels must be >= 1");
  check_design(design);
  const int p = ar_order_of(prm);
  const Plan plan = make_plan(src.total, mask, prm.chunk_voxels);
  const auto V = static_cast<Index>(plan.fitted.size());
  const auto k = design.cols();

  FirstLevelFit out;
  out.columns = design.columns;
  out.design = design.matrix;
  out.noise_model = prm.noise_model;
  out.ar_order = p;
  out.dof = static_cast<double>(design.rows() - k);
  out.beta.resize(k, V);
  out.sigma2.resize(V);
  out.ar = Eigen::MatrixXf::Zero(p, V);
  if (prm.diagnostics) out.residual_acf = Eigen::MatrixXf::Zero(3, V);
  out.lagged_xtx = lagged_products(design.matrix, p);
  out.grid = grid;
  if (grid && !mask.empty()) out.voxel_index = plan.fitted;
  if (grid && grid->voxel_count() != src.total)
    throw Error("grid has " + std::to_string(grid->voxel_count()) + " voxels, the data " +
                std::to_string(src.total));

  if (prm.noise_model != NoiseModel::arp) {
    fit_time_blocked(src, plan, design, prm, out);
    return out;
  }
  fit_arp(src, plan, design, prm, grid, out);
  return out;
}

} // namespace

Eigen::MatrixXd FirstLevelFit::whitened_xtx(std::int64_t v) const {
  if (ar_order == 0) return lagged_xtx[0];
  return whitened_xtx_from(lagged_xtx, ar_order, ar.col(v));
}

SeriesView series_view(const Volume& bold) {
  return {bold.data(), bold.volumes(), bold.voxels_per_volume(), bold.voxels_per_volume()};
}

SeriesView series_view(const std::int16_t* samples, std::int64_t times, const Grid& grid, double slope,
                       double inter) {
  SeriesView v;
  v.int16 = samples;
  v.times = times;
  v.series = v.time_stride = grid.voxel_count();
  v.slope = slope;
  v.inter = inter;
  return v;
}

FirstLevelFit fit(const Eigen::MatrixXd& y, const Design& design, const FitParams& params) {
  const Eigen::MatrixXf yf = y.cast<float>().transpose(); // series x time, col-major = time-major rows
  // yf is col-major (series x time): sample (t, s) at data[t * series + s].
  Source src;
  src.total = y.cols();
  src.times = y.rows();
  src.view = {yf.data(), y.rows(), y.cols(), y.cols()};
  return run(src, design, params, std::nullopt, {});
}

FirstLevelFit fit(const SeriesView& y, const Design& design, const FitParams& params,
                  const std::optional<Grid>& grid, std::span<const std::uint8_t> mask) {
  if ((y.data == nullptr) == (y.int16 == nullptr))
    throw Error("a series view needs exactly one of float or int16 samples");
  if (!mask.empty() && !grid) throw Error("a mask needs the grid its voxels lie on");
  Source src;
  src.total = y.series;
  src.times = y.times;
  src.view = y;
  return run(src, design, params, grid, mask);
}

FirstLevelFit fit(const Volume& bold, const Design& design, const FitParams& params,
                  std::span<const std::uint8_t> mask) {
  Source src;
  src.total = bold.voxels_per_volume();
  src.times = bold.volumes();
  src.view = series_view(bold);
  return run(src, design, params, bold.grid(), mask);
}

FirstLevelFit fit_volumes(std::int64_t times, std::int64_t series, const VolumeReader& reader,
                          const Design& design, const FitParams& params, const std::optional<Grid>& grid,
                          std::span<const std::uint8_t> mask) {
  if (params.noise_model == NoiseModel::arp)
    throw Error("fit_volumes: the arp model needs two passes over the data; use fit_streaming");
  Source src;
  src.total = series;
  src.times = times;
  src.volumes = &reader;
  return run(src, design, params, grid, mask);
}

FirstLevelFit fit_streaming(std::int64_t series, const ChunkReader& reader, const Design& design,
                            const FitParams& params, const std::optional<Grid>& grid,
                            std::span<const std::uint8_t> mask) {
  std::mutex m;
  Source src;
  src.total = series;
  src.times = design.rows();
  src.reader = &reader;
  src.reader_mutex = &m;
  return run(src, design, params, grid, mask);
}

Volume to_volume(const FirstLevelFit& fit, const Eigen::Ref<const Eigen::VectorXd>& values, float fill) {
  if (!fit.grid) throw Error("to_volume: the fit has no grid (its series are not voxels)");
  if (values.size() != fit.series())
    throw Error("to_volume: " + std::to_string(values.size()) + " values for " +
                std::to_string(fit.series()) + " series");
  Volume v(*fit.grid, 1, fill);
  for (Index i = 0; i < values.size(); ++i) {
    const auto g = fit.voxel_index.empty() ? i : fit.voxel_index[static_cast<std::size_t>(i)];
    v.data()[g] = static_cast<float>(values(i));
  }
  return v;
}

AutocorrelationSummary residual_autocorrelation_summary(const FirstLevelFit& fit) {
  AutocorrelationSummary s;
  const double n = static_cast<double>(fit.design.rows());
  s.expected_sd = 1.0 / std::sqrt(n);
  if (fit.residual_acf.cols() == 0) return s;
  for (int l = 0; l < 3; ++l) {
    std::vector<float> v;
    for (Index i = 0; i < fit.residual_acf.cols(); ++i)
      if (fit.sigma2(i) > 0) v.push_back(fit.residual_acf(l, i));
    if (v.empty()) continue;
    double sum = 0.0;
    std::size_t out = 0;
    for (float x : v) {
      sum += x;
      if (std::fabs(x) > 1.96 * s.expected_sd) ++out;
    }
    s.mean[static_cast<std::size_t>(l)] = sum / static_cast<double>(v.size());
    s.fraction_outside[static_cast<std::size_t>(l)] =
        static_cast<double>(out) / static_cast<double>(v.size());
    s.median[static_cast<std::size_t>(l)] = median(std::move(v)); // last: it takes v
  }
  return s;
}

Eigen::MatrixXd autocovariance_bias_matrix(const Eigen::MatrixXd& x, int p) {
  const Index n = x.rows();
  const MatrixXd q = Eigen::HouseholderQR<MatrixXd>(x).householderQ() * MatrixXd::Identity(n, x.cols());
  // D_j m: out[t] = m[t + j]; D_j' m: out[t] = m[t - j].
  auto up = [&](const MatrixXd& m, int j) {
    MatrixXd o = MatrixXd::Zero(m.rows(), m.cols());
    if (j < n) o.topRows(n - j) = m.bottomRows(n - j);
    return o;
  };
  auto down = [&](const MatrixXd& m, int j) {
    MatrixXd o = MatrixXd::Zero(m.rows(), m.cols());
    if (j < n) o.bottomRows(n - j) = m.topRows(n - j);
    return o;
  };
  auto s_apply = [&](const MatrixXd& m, int l) -> MatrixXd {
    return l == 0 ? m : MatrixXd(up(m, l) + down(m, l));
  };
  MatrixXd out(p + 1, p + 1);
  for (int j = 0; j <= p; ++j)
    for (int l = 0; l <= p; ++l) {
      // tr(R D_j R S_l) with R = I - Q Q'.
      double t1 = 0.0;
      if (l == 0)
        t1 = j == 0 ? static_cast<double>(n) : 0.0;
      else
        t1 = j == l ? static_cast<double>(n - j) : 0.0;
      const double t2 = q.cwiseProduct(up(s_apply(q, l), j)).sum();
      const double t3 = q.cwiseProduct(s_apply(up(q, j), l)).sum();
      const MatrixXd a = q.transpose() * up(q, j), b = q.transpose() * s_apply(q, l);
      const double t4 = (a * b).trace();
      out(j, l) = t1 - t2 - t3 + t4;
    }
  return out;
}

Eigen::VectorXd yule_walker(std::span<const double> r) {
  const auto p = static_cast<Index>(r.size());
  VectorXd a = VectorXd::Zero(p), prev(p);
  double err = 1.0;
  for (Index m = 0; m < p; ++m) {
    double acc = r[static_cast<std::size_t>(m)];
    for (Index i = 0; i < m; ++i) acc -= a(i) * r[static_cast<std::size_t>(m - 1 - i)];
    double kref = err > 0 ? acc / err : 0.0;
    kref = std::clamp(kref, -0.99, 0.99);
    prev = a;
    a(m) = kref;
    for (Index i = 0; i < m; ++i) a(i) = prev(i) - kref * prev(m - 1 - i);
    err *= (1.0 - kref * kref);
  }
  return a;
}

} // namespace rewardpath::glm
