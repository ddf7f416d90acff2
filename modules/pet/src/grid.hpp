#pragma once
// Internal: the fine time grid, linear interpolation and exact exponential convolution.
#include <cstddef>
#include <vector>

#include "rewardpath/pet/frames.hpp"

namespace rewardpath::pet::detail {

// Times in minutes from min(0, origin_s) to the end of the last frame; every frame start, mid and
// end is a knot, and knots are subdivided to steps <= max_step_s. A negative origin lets an input
// that a delay shifts before the scan start enter the convolution (the tissue sees it all).
struct FineGrid {
  std::vector<double> t; // minutes
  std::vector<std::size_t> start_index, mid_index, end_index;

  std::vector<double> at_mids(const std::vector<double>& y) const;
  std::vector<double> frame_means(const std::vector<double>& y) const; // trapezoid over each frame
};
FineGrid make_grid(const FrameTiming& timing, double max_step_s, double origin_s = 0.0);

// Linear interpolation of (x, y) at xq; 0 before x.front(), y.back() after x.back().
std::vector<double> interp_linear(const std::vector<double>& x, const std::vector<double>& y,
                                  const std::vector<double>& xq);

// Knots of a frame TAC as a curve, in minutes: (t0, 0), (mid_i, C_i) with t0 the first start (or
// none when the first mid is at 0).
void tac_curve(const FrameTiming& timing, const std::vector<double>& tac, std::vector<double>& x_min,
               std::vector<double>& y);

// The frame TAC as a curve on the grid: linear through the mids (tac_curve), then corrected
// frame by frame (a few fixed-point passes) so that its frame means equal the measured means.
std::vector<double> frame_consistent_curve(const FineGrid& grid, const FrameTiming& timing,
                                           const std::vector<double>& tac);

// out = u (x) exp(-k t) on the grid t, exact for u piecewise linear between grid points (k >= 0).
void conv_exp(const std::vector<double>& t, const std::vector<double>& u, double k, std::vector<double>& out);

// Cumulative trapezoid integral of y over t.
std::vector<double> cumulative_integral(const std::vector<double>& t, const std::vector<double>& y);

} // namespace rewardpath::pet::detail
