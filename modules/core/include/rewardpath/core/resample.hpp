#pragma once
// Plain resampling of a Volume onto another grid (no ITK): the simulator's poses and quick
// checks. Registration-driven resampling lives in modules/registration.
#include "rewardpath/core/volume.hpp"

namespace rewardpath {

enum class Interpolation { nearest, linear };

Affine multiply(const Affine& a, const Affine& b); // a * b
Affine invert(const Affine& a);                    // throws Error when singular

// Trilinear sample of one 3D image (x fastest) at voxel coordinates (x, y, z). Points outside the
// image by more than half a voxel give `outside`; points within half a voxel clamp to the edge.
float sample_trilinear(const float* image, const std::array<std::int64_t, 3>& dims, double x, double y,
                       double z, float outside = 0.0f);

// For each voxel v of `target`: p = target_to_source_world * target.affine * v (world mm of the
// source), sampled from `source` (through source.affine^-1). Outside the source -> `outside`.
// 4D sources are resampled volume by volume. Parallel over slices; same result at any thread count.
Volume resample(const Volume& source, const Grid& target,
                const Affine& target_to_source_world = identity_affine(),
                Interpolation interpolation = Interpolation::linear, float outside = 0.0f);

} // namespace rewardpath
