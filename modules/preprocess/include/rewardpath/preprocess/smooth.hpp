#pragma once
// Spatial smoothing: a separable Gaussian that matches scipy.ndimage.gaussian_filter as
// nilearn.image.smooth_img calls it (per axis sigma = fwhm / sqrt(8 ln 2) / voxel size, kernel
// radius int(truncate * sigma + 0.5), truncate 4.0, mode "reflect": d c b a | a b c d | d c b a).
// Sums run in double; results are stored as float. Same result at any thread count.
#include <array>
#include <cstdint>
#include <vector>

#include "rewardpath/core/volume.hpp"

namespace rewardpath::preprocess {

// scipy's 1D Gaussian weights (normalised to sum 1), 2 * radius + 1 taps; sigma <= 0 gives {1}.
std::vector<double> gaussian_weights(double sigma_voxels, double truncate = 4.0);

// Smooths one 3D image (x fastest) in place with a Gaussian of the given sigma per axis (voxels).
// An axis with sigma <= 0 is left alone (as scipy/nilearn do for fwhm 0).
void gaussian_filter(float* image, const std::array<std::int64_t, 3>& dims,
                     const std::array<double, 3>& sigma_voxels, double truncate = 4.0);

// Smooths every volume of `image` in place (3D or 4D, volume by volume, TBB), FWHM in mm per axis;
// voxel sizes are the grid's spacing_mm (nilearn uses the column norms of the affine: the same
// for any grid core builds). Throws Error for negative or non-finite FWHM.
void smooth(Volume& image, const std::array<double, 3>& fwhm_mm);
inline void smooth(Volume& image, double fwhm_mm) { smooth(image, {fwhm_mm, fwhm_mm, fwhm_mm}); }

// sigma (voxels) per axis for a FWHM in mm on `grid`.
std::array<double, 3> fwhm_to_sigma_voxels(const Grid& grid, const std::array<double, 3>& fwhm_mm);

} // namespace rewardpath::preprocess
