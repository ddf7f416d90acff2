#pragma once
// Brain mask from a mean EPI, after nilearn.masking.compute_epi_mask (0.10.4; heuristic of
// T. Nichols):
//   1. the mean is smoothed with a Gaussian of FWHM 1 voxel when opening > 0 (nilearn's _compute_mean
//      passes fwhm=1 with an identity affine, so 1 voxel, not 1 mm),
//   2. the sorted intensities s (optionally without zeros) between floor(lower_cutoff n) and
//      floor(upper_cutoff n) are searched for the largest gap s[i+1] - s[i]; the threshold is its
//      midpoint and the mask is mean >= threshold,
//   3. opening: `opening` binary erosions (6-neighbour cross, outside = 0, as scipy.ndimage),
//      then the largest 6-connected component, then 2 x opening dilations and `opening` erosions.
// Differences from nilearn: none intended for 3D input; nilearn also accepts 4D input (it averages
// first; here call mean_volume()) and resampling targets (not supported). Ties in the largest
// component are broken by the lowest label (first voxel in x-fastest order), as numpy's argmax does.
#include <cstdint>
#include <vector>

#include "rewardpath/core/volume.hpp"

namespace rewardpath::preprocess {

struct EpiMaskParams {
  double lower_cutoff = 0.2;
  double upper_cutoff = 0.85;
  bool connected = true; // keep only the largest connected component
  int opening = 2;       // erosions before / after the component step (0: none, and no smoothing)
  bool exclude_zeros = false;
};

struct Mask {
  Grid grid;
  std::vector<std::uint8_t> voxels; // 1 in the mask, x fastest
  double threshold = 0.0;           // intensity threshold chosen on the (smoothed) mean
  std::int64_t count() const;
};

// `mean_epi` must be 3D (one volume) with finite values (non-finite ones are set to 0, as nilearn's
// ensure_finite). Throws Error for 4D input, bad cut-offs or an empty mask.
Mask compute_epi_mask(const Volume& mean_epi, const EpiMaskParams& params = {});

// Voxelwise mean over the volumes of a run (3D result), summed in double in time order.
Volume mean_volume(const Volume& run);

} // namespace rewardpath::preprocess
