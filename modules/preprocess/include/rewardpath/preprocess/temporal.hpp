#pragma once
// Temporal processing of a 4D run, in place: slice-timing correction and a DCT high-pass filter.
#include <cstdint>
#include <vector>

#include "rewardpath/core/volume.hpp"

namespace rewardpath::preprocess {

// Slice-timing correction by windowed-sinc interpolation along time.
// Slice k (k axis of the grid) was acquired at t * TR + slice_timing_s[k]. Each slice's series is
// resampled at t * TR + slice_time_ref * TR, i.e. at fractional sample t + d_k with
// d_k = (slice_time_ref * TR - slice_timing_s[k]) / TR, using a Hann-windowed sinc
//   h(u) = sinc(u) * 0.5 (1 + cos(pi u / a)),  |u| < a = half_width,
// whose 2a weights are normalised to sum 1 (a constant series stays constant). The default
// slice_time_ref = 0 matches nilearn's FirstLevelModel and rewardpath::glm (frame times t * TR);
// fMRIPrep shifts to the middle (0.5): set slice_time_ref = 0.5 and the GLM's slice_time_ref too.
// Ends: samples before the first / after the last volume are mirrored (half-sample symmetric,
// x[-1] = x[0], x[n] = x[n-1]), so the first and last ~a volumes carry some interpolation error
// for series with a trend at the ends.
struct SliceTimingParams {
  std::vector<double> slice_timing_s; // one per slice along k, seconds from the volume's start
  double tr_s = 0.0;                  // 0: the run's time_step_s()
  double slice_time_ref = 0.0;        // fraction of the TR, in [0, 1]
  int half_width = 8;                 // a: taps on each side
};
// Throws Error for a 3D run, a SliceTiming length that differs from the slice count, non-finite or
// out-of-range slice times (outside [0, TR]), TR <= 0 or half_width < 1.
void slice_time_correct(Volume& bold, const SliceTimingParams& params);

// Discrete cosine basis (SPM's spm_dctmtx without the constant; rewardpath::glm's cosine_drift):
// column k-1 (k = 1..K) is sqrt(2/n) cos(pi k (i + 0.5) / n), i = 0..n-1, with
// K = min(n - 1, floor(2 n TR / cutoff_s)). Columns are orthonormal and orthogonal to a constant.
std::vector<std::vector<double>> cosine_basis(std::int64_t n, double tr_s, double cutoff_s);

// High-pass filter: removes the cosine basis (periods longer than cutoff_s) from every voxel's
// series by least squares (projection onto the orthonormal basis); the mean is kept. `mask`: one
// byte per voxel (non-zero = filter it), empty = all voxels. tr_s 0: the run's time_step_s().
void highpass(Volume& bold, double cutoff_s = 128.0, const std::vector<std::uint8_t>& mask = {},
              double tr_s = 0.0);

} // namespace rewardpath::preprocess
