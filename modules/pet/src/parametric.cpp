#include "rewardpath/pet/parametric.hpp"

#include <cmath>
#include <limits>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "common.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::pet {

using detail::to_eigen;

namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
constexpr std::size_t kBlock = 2048; // voxels per task: Y block 27 x 2048 doubles = 440 kB

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check_voxels(const FrameTiming& timing, const std::vector<double>& reference, const VoxelTacs& v,
                  const std::string& model) {
  detail::check_reference_inputs(timing, reference, reference, model);
  if (v.frames != timing.size()) {
    throw Error(model + ": voxel data have " + std::to_string(v.frames) + " frames but the timing has " +
                std::to_string(timing.size()) + "; expected equal counts");
  }
  if (v.voxels > 0 && v.data == nullptr) throw Error(model + ": voxel data pointer is null");
}

ParametricMaps allocate(std::size_t voxels) {
  ParametricMaps m;
  m.bp_nd.assign(voxels, kNaNf);
  m.r1.assign(voxels, kNaNf);
  m.k2a.assign(voxels, kNaNf);
  m.flags.assign(voxels, 0);
  return m;
}

// Weighted block copy: Y(f, j) = sw[f] * data[f * voxels + v0 + j]; `finite[j]` false if any NaN/inf.
void load_block(const VoxelTacs& v, std::size_t v0, std::size_t m, const Eigen::VectorXd& sw, RowMatrix& y,
                std::vector<char>& finite) {
  const auto n = static_cast<Eigen::Index>(v.frames);
  y.resize(n, static_cast<Eigen::Index>(m));
  finite.assign(m, 1);
  for (Eigen::Index f = 0; f < n; ++f) {
    const float* row = v.data + static_cast<std::size_t>(f) * v.voxels + v0;
    double* out = y.row(f).data();
    const double s = sw[f];
    for (std::size_t j = 0; j < m; ++j) {
      out[j] = s * static_cast<double>(row[j]);
      if (!std::isfinite(row[j])) finite[j] = 0;
    }
  }
}

// Blocks of kBlock voxels in parallel: each loaded with the weights `sw` (load_block), then
// `fit(v0, m, y, finite, out)` fills voxels v0 .. v0 + m - 1 of the maps.
template <class Fit>
ParametricMaps map_blocks(const VoxelTacs& voxels, const Eigen::VectorXd& sw, Fit&& fit) {
  ParametricMaps out = allocate(voxels.voxels);
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, voxels.voxels, kBlock),
                    [&](const tbb::blocked_range<std::size_t>& range) {
                      RowMatrix y;
                      std::vector<char> finite;
                      for (std::size_t v0 = range.begin(); v0 < range.end(); v0 += kBlock) {
                        const std::size_t m = std::min(kBlock, range.end() - v0);
                        load_block(voxels, v0, m, sw, y, finite);
                        fit(v0, m, y, finite, out);
                      }
                    });
  return out;
}

} // namespace

ParametricMaps bf_srtm_map(const FrameTiming& timing, const std::vector<double>& reference,
                           const VoxelTacs& voxels, const BfSrtmParams& params) {
  check_voxels(timing, reference, voxels, "BF-SRTM map");
  const Eigen::VectorXd w = detail::checked_weights(params.weights, timing.size(), "BF-SRTM map");
  const Eigen::VectorXd sw = w.cwiseSqrt();
  const detail::SrtmBasis b = detail::srtm_basis(timing, reference, params.k2a_min, params.k2a_max,
                                                 params.basis_count, params.max_grid_step_s);
  const auto n = static_cast<Eigen::Index>(timing.size());
  const int nb = params.basis_count;
  // Per basis: thin QR of the weighted design [C_R, basis_b]; Q stacked for one GEMM per block.
  Eigen::MatrixXd q_all(n, 2 * nb);
  std::vector<Eigen::Matrix2d> r_inv(static_cast<std::size_t>(nb));
  std::vector<char> basis_ok(static_cast<std::size_t>(nb), 1);
  for (int j = 0; j < nb; ++j) {
    Eigen::MatrixXd a(n, 2);
    a.col(0) = sw.cwiseProduct(b.cr_mid);
    a.col(1) = sw.cwiseProduct(b.basis.col(j));
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
    const Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(n, 2);
    const Eigen::Matrix2d r = qr.matrixQR().topLeftCorner(2, 2).triangularView<Eigen::Upper>();
    q_all.middleCols(2 * j, 2) = q;
    if (std::abs(r(0, 0)) < 1e-12 * a.norm() || std::abs(r(1, 1)) < 1e-12 * a.norm()) {
      basis_ok[static_cast<std::size_t>(j)] = 0;
      q_all.middleCols(2 * j, 2).setZero();
    } else {
      r_inv[static_cast<std::size_t>(j)] = r.inverse();
    }
  }
  const Eigen::MatrixXd qt = q_all.transpose();
  return map_blocks(voxels, sw,
                    [&](std::size_t v0, std::size_t m, const RowMatrix& y, const std::vector<char>& finite,
                        ParametricMaps& out) {
                      const Eigen::MatrixXd z = qt * y; // 2B x m
                      for (std::size_t jv = 0; jv < m; ++jv) {
                        const std::size_t vox = v0 + jv;
                        const auto c = static_cast<Eigen::Index>(jv);
                        if (!finite[jv]) {
                          out.flags[vox] = kFlagFailed;
                          continue;
                        }
                        double best = -1.0;
                        int jb = -1;
                        for (int j = 0; j < nb; ++j) {
                          if (!basis_ok[static_cast<std::size_t>(j)]) continue;
                          const double p = z(2 * j, c) * z(2 * j, c) + z(2 * j + 1, c) * z(2 * j + 1, c);
                          if (p > best) {
                            best = p;
                            jb = j;
                          }
                        }
                        if (jb < 0) {
                          out.flags[vox] = kFlagFailed;
                          continue;
                        }
                        const Eigen::Vector2d coef = r_inv[static_cast<std::size_t>(jb)] *
                                                     Eigen::Vector2d(z(2 * jb, c), z(2 * jb + 1, c));
                        const double th3 = b.theta[jb];
                        const double bp = coef[1] / th3 + coef[0] - 1.0;
                        if (!std::isfinite(bp)) {
                          out.flags[vox] = kFlagFailed;
                          continue;
                        }
                        out.bp_nd[vox] = static_cast<float>(bp);
                        out.r1[vox] = static_cast<float>(coef[0]);
                        out.k2a[vox] = static_cast<float>(th3);
                        if (jb == 0 || jb == nb - 1) out.flags[vox] = kFlagAtBound;
                      }
                    });
}

ParametricMaps mrtm2_map(const FrameTiming& timing, const std::vector<double>& reference,
                         const VoxelTacs& voxels, const Mrtm2Params& params) {
  check_voxels(timing, reference, voxels, "MRTM2 map");
  if (!(params.k2_prime > 0.0) || !std::isfinite(params.k2_prime)) {
    throw Error("MRTM2 map: k2' = " + io::format_number(params.k2_prime) +
                " /min; expected a finite value > 0");
  }
  if (!params.tstar.tstar_s) throw Error("MRTM2 map: automatic t* is not supported voxelwise; give tstar_s");
  const Eigen::VectorXd w_all = detail::checked_weights(params.weights, timing.size(), "MRTM2 map");
  const std::vector<double> mid = timing.mid_s();
  const std::size_t n = timing.size();
  std::size_t k0 = 0;
  while (k0 < n && mid[k0] < *params.tstar.tstar_s) ++k0;
  if (n - k0 < 3)
    throw Error("MRTM2 map: t* leaves " + std::to_string(n - k0) + " frames; expected at least 3");
  const auto nn = static_cast<Eigen::Index>(n), used = static_cast<Eigen::Index>(n - k0);
  // Integration operator: int C_T at the mids = L C_T (integrate_tac is linear in the TAC).
  Eigen::MatrixXd l(nn, nn);
  std::vector<double> e(n, 0.0);
  for (std::size_t j = 0; j < n; ++j) {
    e[j] = 1.0;
    l.col(static_cast<Eigen::Index>(j)) = to_eigen(integrate_tac(timing, e, params.integration));
    e[j] = 0.0;
  }
  const Eigen::MatrixXd l_used = l.bottomRows(used);
  const Eigen::VectorXd x1 =
      (to_eigen(integrate_tac(timing, reference, params.integration)) + to_eigen(reference) / params.k2_prime)
          .tail(used);
  const Eigen::VectorXd w = w_all.tail(used);
  const Eigen::VectorXd wx1 = w.cwiseProduct(x1);
  const double a = wx1.dot(x1);
  const Eigen::VectorXd ones = Eigen::VectorXd::Ones(nn);
  return map_blocks(voxels, ones,
                    [&](std::size_t v0, std::size_t m, const RowMatrix& y, const std::vector<char>& finite,
                        ParametricMaps& out) {
                      const Eigen::MatrixXd integ = l_used * y; // used x m
                      const auto yu = y.bottomRows(used);
                      const Eigen::RowVectorXd bvec = wx1.transpose() * integ;
                      const Eigen::RowVectorXd dvec = wx1.transpose() * yu;
                      const Eigen::MatrixXd wi = w.asDiagonal() * integ;
                      const Eigen::RowVectorXd cvec = wi.cwiseProduct(integ).colwise().sum();
                      const Eigen::RowVectorXd evec = wi.cwiseProduct(yu).colwise().sum();
                      for (std::size_t jv = 0; jv < m; ++jv) {
                        const std::size_t vox = v0 + jv;
                        const auto c = static_cast<Eigen::Index>(jv);
                        const double det = a * cvec[c] - bvec[c] * bvec[c];
                        if (!finite[jv] || !(std::abs(det) > 1e-12 * a * std::abs(cvec[c]))) {
                          out.flags[vox] = kFlagFailed;
                          continue;
                        }
                        const double g1 = (cvec[c] * dvec[c] - bvec[c] * evec[c]) / det;
                        const double g2 = (a * evec[c] - bvec[c] * dvec[c]) / det;
                        const double bp = -g1 / g2 - 1.0;
                        if (!std::isfinite(bp)) {
                          out.flags[vox] = kFlagFailed;
                          continue;
                        }
                        out.bp_nd[vox] = static_cast<float>(bp);
                        out.r1[vox] = static_cast<float>(g1 / params.k2_prime);
                        out.k2a[vox] = static_cast<float>(-g2);
                      }
                    });
}

} // namespace rewardpath::pet
