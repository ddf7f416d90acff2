#pragma once
// Voxelwise parametric maps of BP_ND and R1: basis-function SRTM and MRTM2.
//
// Voxel TACs are frame-major (one contiguous image per frame, as in a 4D NIfTI after masking):
// data[f * voxels + v]. Voxels are processed in blocks in parallel (TBB); each block is a few
// matrix products, so results are identical at any thread count.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rewardpath/pet/frames.hpp"
#include "rewardpath/pet/reference.hpp"

namespace rewardpath::pet {

struct VoxelTacs {
  std::size_t frames = 0;
  std::size_t voxels = 0;
  const float* data = nullptr; // frames x voxels, frame-major
};

struct ParametricMaps {
  std::vector<float> bp_nd;
  std::vector<float> r1;
  std::vector<float> k2a;          // BF-SRTM: theta3 of the winning basis; MRTM2: -g2
  std::vector<std::uint8_t> flags; // kFlag* bits
};
inline constexpr std::uint8_t kFlagAtBound = 1; // BF-SRTM: first or last basis won
inline constexpr std::uint8_t kFlagFailed = 2;  // non-finite or singular; outputs are NaN

// Same estimator as bf_srtm() in reference.hpp for every voxel.
ParametricMaps bf_srtm_map(const FrameTiming& timing, const std::vector<double>& reference,
                           const VoxelTacs& voxels, const BfSrtmParams& params = {});

// Same estimator as mrtm2() for every voxel (t* as in params.tstar.tstar_s; automatic t* is not
// supported voxelwise). Normal equations for the 2 coefficients, the voxel integrals as one GEMM.
ParametricMaps mrtm2_map(const FrameTiming& timing, const std::vector<double>& reference,
                         const VoxelTacs& voxels, const Mrtm2Params& params);

} // namespace rewardpath::pet
