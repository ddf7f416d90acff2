#pragma once
// Signal scaling before a voxelwise GLM (nilearn's signal_scaling=0, SPM's grand-mean idea per
// voxel): effects then read as percent signal change.
#include <cstdint>
#include <span>
#include <vector>

#include "rewardpath/core/volume.hpp"

namespace rewardpath::glm {

// In place, y <- 100 (y / mean_t(y) - 1) for every voxel inside `mask` (one byte per voxel of a
// volume, nonzero = inside) whose temporal mean is > 0; every other voxel becomes 0 at all times.
// The mean is accumulated in double. Parallel over voxels (TBB); no copy of the run.
// Throws rewardpath::Error if the mask size differs from the voxels per volume.
void scale_to_percent_of_mean(Volume& run, std::span<const std::uint8_t> mask);

// The same for one series (e.g. an ROI's mean): 100 (y / mean(y) - 1), all 0 when mean(y) <= 0.
std::vector<double> percent_of_mean(const std::vector<double>& y);

} // namespace rewardpath::glm
