#pragma once
// Internal, ITK-free helpers of the registration module: geometry checks, the pyramid, sampling.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rewardpath/core/volume.hpp"

namespace rewardpath::registration::detail {

using Point = std::array<double, 3>;

inline Point apply_affine(const Affine& m, const Point& p) {
  return {m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] * p[2] + m[0][3],
          m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] * p[2] + m[1][3],
          m[2][0] * p[0] + m[2][1] * p[1] + m[2][2] * p[2] + m[2][3]};
}
inline Point apply_linear(const Affine& m, const Point& v) {
  return {m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2], m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
          m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2]};
}

// Voxel size along each voxel axis: the norms of the affine's columns.
std::array<double, 3> voxel_size(const Grid& g);

// Checks a 3D input image: non-empty, finite, not constant, voxel sizes in [0.1, 20] mm, affine
// invertible. `what` names it in messages ("fixed image").
void validate_input(const Volume& v, const std::string& what);

// Trilinear sample (volume t) at continuous voxel coordinates; points within half a voxel outside
// the grid clamp to the edge, farther ones give `outside` (as rewardpath::resample does).
float sample_linear(const Volume& v, const Point& voxel, float outside = 0.0f, std::int64_t t = 0);
float sample_nearest(const Volume& v, const Point& voxel, float outside = 0.0f, std::int64_t t = 0);

// Separable Gaussian smoothing (sigma in mm, per world axis of the voxel grid), zero-flux edges.
Volume smooth(const Volume& v, double sigma_mm);
// Grid with voxels `factor` times larger (per axis), covering the same extent.
Grid shrink_grid(const Grid& g, const std::array<int, 3>& factor);
// Mask dilated by one voxel (6-neighbourhood).
Volume dilate(const Volume& mask);

// Intensity-weighted centre of mass (world mm) of the voxels inside mask.
Point centre_of_mass(const Volume& image, const Volume& mask);

// Deterministic random points (world mm) in the voxels of `region` (> 0.5): `count` voxels drawn
// without replacement (all when count >= region size), each jittered uniformly within its voxel.
std::vector<Point> sample_points(const Volume& region, std::int64_t count, std::uint64_t seed);

// Fraction of `points` (fixed world) that map through `fixed_to_moving` into moving-mask voxels.
double mapped_overlap(const std::vector<Point>& points, const Affine& fixed_to_moving,
                      const Volume& moving_mask);

} // namespace rewardpath::registration::detail
