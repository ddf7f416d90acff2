// Group-level OLS, FDR and max-statistic permutation FWE (see docs/group.md).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/random.hpp"
#include "rewardpath/glm/group.hpp"
#include "rewardpath/glm/stats.hpp"

namespace rewardpath::glm {
namespace {

using Eigen::ArrayXd;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Residual sum of squares below this fraction of sum(y^2) counts as zero variance (all
// subjects equal up to rounding).
constexpr double kZeroVar = 1e-24;

struct Model {
  MatrixXd x; // n x k
  MatrixXd c; // q x k
  StatKind kind = StatKind::t;
  MatrixXd pinv;    // k x n
  MatrixXd xtx_inv; // k x k
  MatrixXd m;       // (C (X'X)^-1 C')^-1, q x q
};

Model make_model(const GroupDesign& design, const std::vector<std::string>& contrast) {
  Model md;
  md.x = design.matrix;
  const Index k = md.x.cols();
  std::vector<std::string> rows = contrast;
  if (rows.empty()) rows.push_back(design.contrast);
  md.c.resize(static_cast<Index>(rows.size()), k);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const VectorXd w = parse_contrast(rows[r], design.columns);
    if (w.isZero(0.0)) throw Error("contrast '" + rows[r] + "' has all weights zero");
    md.c.row(static_cast<Index>(r)) = w.transpose();
  }
  md.kind = rows.size() == 1 ? StatKind::t : StatKind::F;
  if (md.kind == StatKind::F && Eigen::FullPivLU<MatrixXd>(md.c).rank() < md.c.rows())
    throw Error("F contrast rows are linearly dependent; drop the redundant rows");
  md.xtx_inv = (md.x.transpose() * md.x).ldlt().solve(MatrixXd::Identity(k, k));
  md.pinv = md.xtx_inv * md.x.transpose();
  md.m = (md.c * md.xtx_inv * md.c.transpose()).inverse();
  return md;
}

double tail_p(double t, double dof, Tail tail) {
  switch (tail) {
  case Tail::greater:
    return std::exp(log_t_sf(t, dof));
  case Tail::less:
    return std::exp(log_t_sf(-t, dof));
  case Tail::two_sided:
    break;
  }
  return two_sided_t_p(t, dof);
}

// Statistics of one test from its coefficients b, residual sum of squares and (X'X)^-1.
void finish_test(GroupResult& r, Index v, const VectorXd& b, double rss, double ssy, double dof,
                 const MatrixXd& c, const MatrixXd& xtx_inv, const MatrixXd* m, Tail tail) {
  const VectorXd eff = c * b;
  r.effect.col(v) = eff;
  r.dof(v) = dof;
  const bool zero = !(rss > kZeroVar * ssy) || !(rss > 0.0);
  const double sigma2 = rss / dof;
  if (r.kind == StatKind::t) {
    const double cvc = (c.row(0) * xtx_inv * c.row(0).transpose())(0, 0);
    if (zero) {
      r.se(v) = 0.0, r.stat(v) = 0.0, r.z(v) = 0.0, r.p(v) = 1.0;
      return;
    }
    r.se(v) = std::sqrt(sigma2 * cvc);
    const double t = eff(0) / r.se(v);
    r.stat(v) = t;
    r.z(v) = t_to_z(t, dof);
    r.p(v) = tail_p(t, dof, tail);
    return;
  }
  if (zero) {
    r.stat(v) = 0.0, r.z(v) = 0.0, r.p(v) = 1.0;
    return;
  }
  const double q = static_cast<double>(c.rows());
  MatrixXd mm;
  if (m == nullptr) mm = (c * xtx_inv * c.transpose()).inverse();
  const double f = (eff.transpose() * (m ? *m : mm) * eff)(0, 0) / (q * sigma2);
  r.stat(v) = f;
  const double lp = log_f_sf(f, q, dof);
  r.p(v) = std::exp(lp);
  r.z(v) = norm_isf_log(lp);
}

// A test with missing subjects: refit on the subjects it has.
void fit_incomplete(GroupResult& r, Index v, const VectorXd& y, const Model& md, Tail tail) {
  std::vector<Index> keep;
  for (Index i = 0; i < y.size(); ++i)
    if (std::isfinite(y(i))) keep.push_back(i);
  const Index n = static_cast<Index>(keep.size()), k = md.x.cols();
  r.n(v) = static_cast<int>(n);
  auto nan_test = [&] {
    r.effect.col(v).setConstant(kNaN);
    r.dof(v) = n > k ? static_cast<double>(n - k) : kNaN;
    r.stat(v) = r.z(v) = r.p(v) = kNaN;
    if (r.kind == StatKind::t) r.se(v) = kNaN;
  };
  if (n <= k) return nan_test();
  MatrixXd xs(n, k);
  VectorXd ys(n);
  for (Index i = 0; i < n; ++i) {
    const Index src = keep[static_cast<std::size_t>(i)];
    xs.row(i) = md.x.row(src);
    ys(i) = y(src);
  }
  const Eigen::ColPivHouseholderQR<MatrixXd> qr(xs);
  if (qr.rank() < k) return nan_test();
  const VectorXd b = qr.solve(ys);
  const double rss = (ys - xs * b).squaredNorm();
  const MatrixXd xtx_inv = (xs.transpose() * xs).ldlt().solve(MatrixXd::Identity(k, k));
  finish_test(r, v, b, rss, ys.squaredNorm(), static_cast<double>(n - k), md.c, xtx_inv, nullptr, tail);
}

template <class Mat> GroupResult fit_all(const Mat& y, const Model& md, Tail tail, Index chunk) {
  const Index n = md.x.rows(), k = md.x.cols(), V = y.cols(), q = md.c.rows();
  if (y.rows() != n)
    throw Error("group data has " + std::to_string(y.rows()) + " rows but the design has " +
                std::to_string(n) + " subjects (select the design's rows with select_rows)");
  GroupResult r;
  r.kind = md.kind;
  r.weights = md.c;
  r.tail = tail;
  r.effect.resize(q, V);
  if (md.kind == StatKind::t) r.se.resize(V);
  r.stat.resize(V), r.dof.resize(V), r.p.resize(V), r.z.resize(V);
  r.n = Eigen::VectorXi::Constant(V, static_cast<int>(n));
  const double dof = static_cast<double>(n - k);
  const Index nchunks = (V + chunk - 1) / chunk;
  tbb::parallel_for(tbb::blocked_range<Index>(0, nchunks, 1), [&](const tbb::blocked_range<Index>& range) {
    for (Index ci = range.begin(); ci != range.end(); ++ci) {
      const Index b0 = ci * chunk, w = std::min(chunk, V - b0);
      const MatrixXd yc = y.middleCols(b0, w).template cast<double>();
      const MatrixXd beta = md.pinv * yc;
      const VectorXd rss = (yc - md.x * beta).colwise().squaredNorm().transpose();
      const VectorXd ssy = yc.colwise().squaredNorm().transpose();
      for (Index j = 0; j < w; ++j) {
        if (!yc.col(j).allFinite())
          fit_incomplete(r, b0 + j, yc.col(j), md, tail);
        else
          finish_test(r, b0 + j, beta.col(j), rss(j), ssy(j), dof, md.c, md.xtx_inv, &md.m, tail);
      }
    }
  });
  return r;
}

// The contrast weighs the intercept (column 0): it tests a mean, which permuting rows leaves
// unchanged, so only sign flipping can test it.
bool tests_mean(const Model& md) { return md.c.col(0).cwiseAbs().maxCoeff() > 0.0; }

// Orthonormal basis (k x (k - q)) of the null space of the contrast rows: the nuisance part of
// the design under H0 (C b = 0) is X * basis.
MatrixXd null_space(const MatrixXd& c) {
  const Eigen::JacobiSVD<MatrixXd> svd(c, Eigen::ComputeFullV);
  const Index q = c.rows(), k = c.cols();
  return svd.matrixV().rightCols(k - q);
}

template <class Mat>
void permutation_fwe(const Mat& y, const Model& md, const GroupTestParams& params, GroupResult& r) {
  const Index n = md.x.rows(), k = md.x.cols(), q = md.c.rows(), V = y.cols();
  PermutationSummary& ps = r.permutation;
  ps.alpha = params.alpha;
  ps.seed = params.seed;
  ps.scheme = params.scheme;
  if (ps.scheme == PermutationScheme::automatic)
    ps.scheme = tests_mean(md) ? PermutationScheme::sign_flip : PermutationScheme::permute;
  const bool flip = ps.scheme == PermutationScheme::sign_flip;

  // Freedman-Lane: E = R_z Y (residuals of the nuisance-only model); every permuted E is refitted
  // with the full model. With thin QR X = Q R, the contrast and residual sum of squares of P E
  // need only W = Q' P E: effect = G W (G = C R^-1), rss = |E|^2 - |W|^2 (P keeps |E|).
  const MatrixXd nz = null_space(md.c);
  ps.freedman_lane = nz.cols() > 0;
  MatrixXd rz = MatrixXd::Identity(n, n);
  if (nz.cols() > 0) {
    const MatrixXd z = md.x * nz;
    rz -= z * (z.transpose() * z).ldlt().solve(z.transpose());
  }
  const Eigen::HouseholderQR<MatrixXd> qr(md.x);
  const MatrixXd qm = qr.householderQ() * MatrixXd::Identity(n, k);
  const MatrixXd rf = qr.matrixQR().topLeftCorner(k, k).template triangularView<Eigen::Upper>();
  const MatrixXd g =
      rf.transpose().template triangularView<Eigen::Lower>().solve(md.c.transpose()).transpose();
  const MatrixXd gm = (g * g.transpose()).inverse(); // (C (X'X)^-1 C')^-1
  const double gg = (g * g.transpose())(0, 0);
  const double dof = static_cast<double>(n - k);

  // The permutations (identity first), generated serially so any thread count gives the same.
  std::vector<std::vector<int>> perms;
  std::vector<std::vector<signed char>> signs;
  std::vector<int> ident(static_cast<std::size_t>(n));
  std::iota(ident.begin(), ident.end(), 0);
  const std::vector<signed char> plus(static_cast<std::size_t>(n), 1);
  if (flip && n < 31 && (std::int64_t{1} << n) <= params.permutations) {
    ps.exact = true;
    const std::int64_t total = std::int64_t{1} << n;
    for (std::int64_t j = 0; j < total; ++j) {
      std::vector<signed char> s(static_cast<std::size_t>(n));
      for (Index i = 0; i < n; ++i) s[static_cast<std::size_t>(i)] = (j >> i) & 1 ? -1 : 1;
      perms.push_back(ident);
      signs.push_back(std::move(s));
    }
  } else {
    rewardpath::Rng rng(params.seed); // core/random.hpp: xoshiro256**, same stream everywhere
    perms.push_back(ident);
    signs.push_back(plus);
    for (int j = 0; j < params.permutations; ++j) {
      if (flip) {
        std::vector<signed char> s(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) s[static_cast<std::size_t>(i)] = (rng.next() >> 63) ? -1 : 1;
        perms.push_back(ident);
        signs.push_back(std::move(s));
      } else {
        std::vector<int> p = ident;
        for (std::size_t i = p.size() - 1; i > 0; --i) std::swap(p[i], p[rng.below(i + 1)]);
        perms.push_back(std::move(p));
        signs.push_back(plus);
      }
    }
  }
  const Index P = static_cast<Index>(perms.size());
  ps.count = static_cast<int>(P);
  // Rows pi*k .. pi*k+k-1 of a batch hold Q' P_p, so W = A E gives every permutation of the batch
  // in one GEMM (built per chunk: m k n work against m k n chunk for the product).
  auto batch = [&](Index p0, Index m) {
    MatrixXd a(m * k, n);
    for (Index pi = 0; pi < m; ++pi) {
      const auto& pp = perms[static_cast<std::size_t>(p0 + pi)];
      const auto& ss = signs[static_cast<std::size_t>(p0 + pi)];
      for (Index i = 0; i < n; ++i)
        a.block(pi * k, pp[static_cast<std::size_t>(i)], k, 1) =
            ss[static_cast<std::size_t>(i)] * qm.row(i).transpose();
    }
    return a;
  };

  // Ranking by a monotone "ratio" (no square roots in the loop): two-sided t^2 ~ e^2 / rss,
  // one-sided t|t| ~ e|e| / rss, F ~ (U' M U) / rss.
  const Index chunk = std::max<Index>(64, std::min<Index>(params.chunk, 1024));
  const Index nchunks = (V + chunk - 1) / chunk;
  constexpr Index kBatch = 64;
  MatrixXd maxes(P, std::max<Index>(nchunks, 1));
  maxes.setConstant(-std::numeric_limits<double>::infinity());
  VectorXd observed(V);
  std::vector<char> complete(static_cast<std::size_t>(V));
  tbb::parallel_for(tbb::blocked_range<Index>(0, nchunks, 1), [&](const tbb::blocked_range<Index>& range) {
    for (Index ci = range.begin(); ci != range.end(); ++ci) {
      const Index b0 = ci * chunk, w = std::min(chunk, V - b0);
      const MatrixXd yc = y.middleCols(b0, w).template cast<double>();
      MatrixXd e = rz * yc;
      const ArrayXd ssy = yc.colwise().squaredNorm().transpose().array();
      ArrayXd sse = e.colwise().squaredNorm().transpose().array();
      // Zero variance as in the parametric fit (full-model residuals): such tests rank as 0.
      const ArrayXd rss_obs = (yc - md.x * (md.pinv * yc)).colwise().squaredNorm().transpose().array();
      Eigen::Array<bool, Eigen::Dynamic, 1> valid(w);
      for (Index j = 0; j < w; ++j) {
        valid(j) = e.col(j).allFinite() && rss_obs(j) > kZeroVar * ssy(j) && rss_obs(j) > 0.0;
        complete[static_cast<std::size_t>(b0 + j)] = e.col(j).allFinite();
        if (!valid(j)) e.col(j).setZero(), sse(j) = 1.0;
      }
      const ArrayXd floor = sse * 1e-14;
      const ArrayXd minus_inf = ArrayXd::Constant(w, -std::numeric_limits<double>::infinity());
      for (Index p0 = 0; p0 < P; p0 += kBatch) {
        const Index m = std::min(kBatch, P - p0);
        const MatrixXd wm = batch(p0, m) * e;
        for (Index pi = 0; pi < m; ++pi) {
          const auto blk = wm.middleRows(pi * k, k);
          const ArrayXd rss = (sse - blk.colwise().squaredNorm().transpose().array()).max(floor);
          ArrayXd ratio;
          if (md.kind == StatKind::F) {
            const MatrixXd u = g * blk;
            ratio = (u.array() * (gm * u).array()).colwise().sum().transpose() / rss;
          } else {
            const ArrayXd eff = (g.row(0) * blk).transpose().array();
            if (params.tail == Tail::two_sided)
              ratio = eff.square() / rss;
            else if (params.tail == Tail::greater)
              ratio = eff * eff.abs() / rss;
            else
              ratio = -eff * eff.abs() / rss;
          }
          // Tests with zero variance rank as 0, tests with missing values not at all.
          for (Index j = 0; j < w; ++j)
            if (!valid(j)) ratio(j) = complete[static_cast<std::size_t>(b0 + j)] ? 0.0 : minus_inf(j);
          maxes(p0 + pi, ci) = ratio.maxCoeff();
          if (p0 + pi == 0) observed.segment(b0, w) = ratio.matrix();
        }
      }
    }
  });
  const VectorXd dist = maxes.rowwise().maxCoeff();
  auto to_stat = [&](double ratio) {
    if (md.kind == StatKind::F) return ratio * dof / static_cast<double>(q);
    const double s = std::sqrt(std::abs(ratio) * dof / gg);
    return ratio < 0.0 ? -s : s;
  };
  ps.max_distribution.resize(P);
  for (Index p = 0; p < P; ++p) ps.max_distribution(p) = to_stat(dist(p));
  std::vector<double> sorted(dist.data(), dist.data() + P);
  std::sort(sorted.begin(), sorted.end());
  ps.complete_tests = std::count(complete.begin(), complete.end(), 1);
  r.p_fwe.resize(V);
  for (Index v = 0; v < V; ++v) {
    if (!complete[static_cast<std::size_t>(v)]) {
      r.p_fwe(v) = kNaN;
      continue;
    }
    // #{max >= observed}, with a relative tolerance so that permutations that reproduce the
    // observed statistic exactly (e.g. flipping every sign) count despite rounding.
    const double o = observed(v);
    const double lo = o - 1e-10 * std::abs(o);
    const auto ge = sorted.end() - std::lower_bound(sorted.begin(), sorted.end(), lo);
    r.p_fwe(v) = static_cast<double>(ge) / static_cast<double>(P);
  }
  const auto m_alpha = static_cast<Index>(std::floor(params.alpha * static_cast<double>(P)));
  ps.fwe_threshold = m_alpha >= 1 ? to_stat(sorted[static_cast<std::size_t>(P - m_alpha)])
                                  : std::numeric_limits<double>::infinity();
}

template <class Mat>
GroupResult run_test(const GroupDesign& design, const Mat& y, const std::vector<std::string>& contrast,
                     const GroupTestParams& params) {
  if (design.matrix.rows() == 0) throw Error("group design has no subjects");
  if (y.cols() == 0) throw Error("group data has no tests (columns)");
  if (params.permutations < 0)
    throw Error("permutations must be >= 0, got " + std::to_string(params.permutations));
  if (params.chunk < 1) throw Error("chunk must be >= 1");
  if (!(params.alpha > 0.0 && params.alpha < 1.0)) throw Error("alpha must be in (0, 1)");
  const Model md = make_model(design, contrast);
  if (params.permutations > 0 && params.scheme == PermutationScheme::permute && tests_mean(md))
    throw Error("row permutation cannot test a contrast that weighs the intercept (a mean): use sign "
                "flipping (PermutationScheme::sign_flip or automatic)");
  GroupResult r = fit_all(y, md, params.tail, params.chunk);
  r.expressions = contrast.empty() ? std::vector<std::string>{design.contrast} : contrast;
  r.p_fdr = fdr_bh(r.p);
  if (params.permutations > 0)
    permutation_fwe(y, md, params, r);
  else
    r.p_fwe = VectorXd::Constant(y.cols(), kNaN);
  return r;
}

} // namespace

double two_sided_t_p(double t, double dof) {
  if (std::isnan(t)) return kNaN;
  return std::min(1.0, 2.0 * std::exp(log_t_sf(std::abs(t), dof)));
}

Eigen::VectorXd fdr_bh(const Eigen::Ref<const Eigen::VectorXd>& p) {
  std::vector<Index> idx;
  for (Index i = 0; i < p.size(); ++i)
    if (!std::isnan(p(i))) idx.push_back(i);
  std::sort(idx.begin(), idx.end(), [&](Index a, Index b) { return p(a) < p(b); });
  VectorXd q = VectorXd::Constant(p.size(), kNaN);
  const double m = static_cast<double>(idx.size());
  double running = 1.0;
  for (std::size_t j = idx.size(); j-- > 0;) {
    running = std::min(running, p(idx[j]) * m / static_cast<double>(j + 1));
    q(idx[j]) = running;
  }
  return q;
}

GroupResult group_test(const GroupDesign& design, const Eigen::Ref<const Eigen::MatrixXd>& y,
                       const std::vector<std::string>& contrast, const GroupTestParams& params) {
  return run_test(design, y, contrast, params);
}

GroupResult group_test(const GroupDesign& design, const Eigen::Ref<const Eigen::MatrixXf>& y,
                       const std::vector<std::string>& contrast, const GroupTestParams& params) {
  return run_test(design, y, contrast, params);
}

} // namespace rewardpath::glm
