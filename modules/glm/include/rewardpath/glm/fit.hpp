#pragma once
// Voxelwise first-level fits: OLS, AR(1) prewhitening as nilearn does it, and voxelwise AR(p)
// with spatially regularised autocorrelation (after Olszowy et al. 2019). See docs/glm.md.
//
// Every path processes the series in chunks of voxels (time x chunk, blocked GEMM, TBB over
// chunks): a time x voxel *view* of the run is read without copying the run, and a streaming
// reader callback lets a caller supply chunks (e.g. slabs of slices from a file) so that a run
// with thousands of volumes never needs to be in memory at once.
//
// Prewhitening (nilearn/nipy convention, used for ar1 and arp): with AR coefficients a_1..a_p,
// the whitened series is w_t = y_t - sum_{i<=min(t,p)} a_i y_{t-i}; the first rows are not
// rescaled. Betas are GLS estimates (X_w'X_w)^-1 X_w'y_w, the residual variance is
// |y_w - X_w b|^2 / (n - k).
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include <Eigen/Dense>

#include "rewardpath/core/volume.hpp"
#include "rewardpath/glm/design.hpp"

namespace rewardpath::glm {

enum class NoiseModel {
  ols, // ordinary least squares
  ar1, // nilearn: lag-1 autocorrelation of the OLS residuals per voxel, binned to
       // `ar1_decimals`, each distinct value refit with its whitened design. With
       // ar_bias_correction (default) the autocorrelation is first corrected for the bias the
       // design induces in residual autocovariances (Worsley 2002) and rounded to the nearest bin;
       // false = exactly nilearn 0.10 (lag sums normalised by n - l, binned toward zero).
       // ols and ar1 read each sample once, in blocks of volumes (float GEMMs on sufficient
       // statistics, see docs/glm.md), so they also stream whole volumes (fit_volumes).
  arp  // voxelwise AR(ar_order): bias-corrected residual autocorrelations (Worsley 2002),
       // smoothed spatially within the mask (Gaussian, ar_smoothing_fwhm_mm), Yule-Walker per voxel
};

struct FitParams {
  NoiseModel noise_model = NoiseModel::ar1;
  int ar_order = 2;                  // arp only, 1..8
  int ar1_decimals = 2;              // ar1 binning (nilearn: 2)
  double ar_smoothing_fwhm_mm = 6.0; // arp, when the series are voxels of a grid; 0 = none
  bool ar_bias_correction = true;    // ar1 and arp (false: nilearn's uncorrected estimate)
  std::int64_t chunk_voxels = 2048;
  bool diagnostics = true; // lag-1..3 autocorrelation of the whitened residuals
};

// A time x series block of samples: sample (t, s) at data[t * time_stride + s].
// A 4D Volume is such a block with time_stride = voxels per volume.
// The samples are floats (`data`), or int16 as a NIfTI file stores them (`int16`, data == nullptr;
// io::read_nifti_int16): the value of a raw sample r is float(double(r) * slope + inter), or
// float(r) when slope is 0 -- bit for bit the float that io::read_nifti gives. A run kept as int16
// takes half the memory and memory traffic of its float copy; the fit converts while it gathers.
struct SeriesView {
  const float* data = nullptr;
  std::int64_t times = 0;
  std::int64_t series = 0;
  std::int64_t time_stride = 0;
  const std::int16_t* int16 = nullptr;
  double slope = 0.0, inter = 0.0; // NIfTI scl_slope, scl_inter (int16 only; slope 0 = none)
};
SeriesView series_view(const Volume& bold);
// An int16 run of `times` volumes of grid.voxel_count() voxels each, as stored.
SeriesView series_view(const std::int16_t* samples, std::int64_t times, const Grid& grid, double slope = 0.0,
                       double inter = 0.0);

// Streaming: fill `out` (times x count, row-major: out[t * count + j]) with series
// first .. first + count - 1. Called from worker threads, one call at a time; the arp model calls
// it twice per chunk (an estimation pass, then the fit).
using ChunkReader = std::function<void(std::int64_t first, std::int64_t count, std::span<float> out)>;

// Time-ordered streaming: fill `out` (count x series, out[t * series + s]) with volumes
// first .. first + count - 1. Called in time order, one call at a time, from a helper thread
// while the previous block is being fitted (so decompression overlaps the fit).
using VolumeReader = std::function<void(std::int64_t first, std::int64_t count, std::span<float> out)>;

struct FirstLevelFit {
  std::vector<std::string> columns;
  Eigen::MatrixXd design; // n x k (unwhitened)
  NoiseModel noise_model = NoiseModel::ols;
  int ar_order = 0; // 0 for ols
  double dof = 0.0; // n - k
  // Per fitted series (voxels inside the mask, in grid order, or the columns of a matrix):
  Eigen::MatrixXd beta;         // k x V
  Eigen::VectorXd sigma2;       // V, residual variance of the whitened model
  Eigen::MatrixXf ar;           // p x V, AR coefficients used for prewhitening
  Eigen::MatrixXf residual_acf; // 3 x V, lag-1..3 autocorrelation of whitened residuals (or empty)
  // Where the series sit when they are voxels: the grid and the voxel index of each series.
  std::optional<Grid> grid;
  std::vector<std::int64_t> voxel_index; // empty with a grid = every voxel of the grid

  std::int64_t series() const { return beta.cols(); }
  // X_w'X_w for the AR coefficients of series v (the unwhitened X'X for ols).
  Eigen::MatrixXd whitened_xtx(std::int64_t v) const;
  // Lagged products M_ij = sum_{t >= max(i,j)} x_{t-i} x_{t-j}', (p+1)^2 of them, row-major.
  std::vector<Eigen::MatrixXd> lagged_xtx;
};

// Time x series matrix (e.g. ROI mean time series).
FirstLevelFit fit(const Eigen::MatrixXd& y, const Design& design, const FitParams& params = {});
// A view (no copy of the run). `grid` places series s at voxel s (then arp smooths spatially);
// with a grid, `mask` (grid.voxel_count() entries, non-zero = fitted) restricts the fit as for a Volume.
FirstLevelFit fit(const SeriesView& y, const Design& design, const FitParams& params = {},
                  const std::optional<Grid>& grid = std::nullopt, std::span<const std::uint8_t> mask = {});
// A 4D run, optionally restricted to a mask (non-zero = fitted; voxels_per_volume entries).
FirstLevelFit fit(const Volume& bold, const Design& design, const FitParams& params = {},
                  std::span<const std::uint8_t> mask = {});
// Streaming over `series` series (voxels of `grid` when given: series == grid.voxel_count()).
FirstLevelFit fit_streaming(std::int64_t series, const ChunkReader& reader, const Design& design,
                            const FitParams& params = {}, const std::optional<Grid>& grid = std::nullopt,
                            std::span<const std::uint8_t> mask = {});

// Streaming whole volumes in time order (ols and ar1 only; arp throws): only two blocks of 32
// volumes and the per-series sums are in memory, whatever the run's length. Same numbers as fit().
FirstLevelFit fit_volumes(std::int64_t times, std::int64_t series, const VolumeReader& reader,
                          const Design& design, const FitParams& params = {},
                          const std::optional<Grid>& grid = std::nullopt,
                          std::span<const std::uint8_t> mask = {});

// Per-series values back on the grid (voxels not fitted get `fill`).
Volume to_volume(const FirstLevelFit& fit, const Eigen::Ref<const Eigen::VectorXd>& values,
                 float fill = 0.0f);

struct AutocorrelationSummary {
  std::array<double, 3> mean{}; // mean lag-1..3 autocorrelation of whitened residuals
  std::array<double, 3> median{};
  std::array<double, 3> fraction_outside{}; // |r| > 1.96 / sqrt(n)
  double expected_sd = 0.0;                 // 1 / sqrt(n) under white residuals
};
AutocorrelationSummary residual_autocorrelation_summary(const FirstLevelFit& fit);

// Worsley (2002) bias correction for residual autocovariances: E[a_j] = sum_l M_jl gamma_l for
// the residual-forming matrix of x; returns M ((p+1) x (p+1)).
Eigen::MatrixXd autocovariance_bias_matrix(const Eigen::MatrixXd& x, int p);

// Levinson-Durbin: AR(p) coefficients from autocorrelations r_1..r_p (r_0 = 1); reflection
// coefficients clamped to +-0.99 so the filter stays stable.
Eigen::VectorXd yule_walker(std::span<const double> r);

} // namespace rewardpath::glm
