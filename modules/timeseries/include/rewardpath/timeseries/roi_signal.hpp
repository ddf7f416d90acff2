#pragma once
// ROI signal extraction from a 4D run: per ROI of a label image on the run's grid, the mean time
// series and the first eigenvariate (SPM's spm_regions summary).
//
// First eigenvariate: with Y the time x voxel matrix of the ROI, each voxel's series centred on its
// temporal mean, and u, s1, v the first singular triplet of Y (|u| = |v| = 1),
//   eigenvariate = u * s1 / sqrt(voxels),  sign chosen so that sum(v) >= 0,
// exactly as spm_regions.m scales it (u * sqrt(eigenvalue / voxels)). It is mean-free (its units
// are those of the data); the mean series keeps the signal's baseline. The eigenvariate follows
// the ROI's dominant coherent fluctuation, which in a large ROI with mixed responses differs from
// the mean; the mean is what the ROI GLM uses by default.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rewardpath/core/volume.hpp"

namespace rewardpath::timeseries {

struct RoiLabel {
  int index = 0;    // label value in the label image
  std::string name; // column name, e.g. "NAcc_L"
};

// An ROI without any voxel (after the mask) keeps its place: voxels 0, its mean and eigenvariate
// series all NaN (as many values as volumes; io::format_number writes NaN as "n/a"), and a reason
// in `missing`. Fields are parallel vectors, one entry per requested ROI in the order given.
struct RoiSignals {
  std::vector<std::string> names;
  std::vector<std::int64_t> voxels;      // voxels in each ROI (after the mask); 0 = no data
  std::vector<std::vector<double>> mean; // mean[r][t]; NaN for an ROI without data
  std::vector<std::vector<double>>
      eigenvariate;                 // eigenvariate[r][t] (all zero for a 1-voxel ROI; NaN without data)
  std::vector<std::string> missing; // "" when the ROI has data, else why it has none
  std::int64_t times() const { return mean.empty() ? 0 : static_cast<std::int64_t>(mean.front().size()); }
  bool has_data(std::size_t r) const { return voxels[r] > 0; }
};

// `labels` is a 3D image on the same sampling as `run` (integer values stored as float; checked
// with Grid::same_sampling). `mask` (optional, one byte per voxel, non-zero = keep) restricts every
// ROI, e.g. to the brain mask. An ROI with no voxel left (susceptibility dropout, a field of view
// that cuts it off, a label absent from the image) is not an error: it is returned without data as
// above, so callers must check has_data(r) and write n/a, never a number, for it. The reason says
// whether the label has no voxel in the image at all (outside the field of view, or an ROI too small
// for the run's grid) or only none inside the mask. Voxels whose series is not finite are an Error.
RoiSignals extract(const Volume& run, const Volume& labels, const std::vector<RoiLabel>& rois,
                   std::span<const std::uint8_t> mask = {});

// A region made of several labels (e.g. NAcc_L + NAcc_R): its voxels are pooled, so the mean is
// voxel-weighted over the labels.
struct RoiGroup {
  std::string name;
  std::vector<int> indices; // label values in the label image
};
// As extract, one entry per group in the order given.
RoiSignals extract_pooled(const Volume& run, const Volume& labels, const std::vector<RoiGroup>& rois,
                          std::span<const std::uint8_t> mask = {});

// First eigenvariate of a time x voxel block (row-major: y[t * voxels + v]), as above.
std::vector<double> first_eigenvariate(std::span<const double> y, std::int64_t times, std::int64_t voxels);

} // namespace rewardpath::timeseries
