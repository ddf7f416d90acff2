#pragma once
// The sampled Gaussian kernel every smoothing in the modules uses (preprocess's scipy-compatible
// filter, the registration pyramid, the AR-coefficient smoothing of the arp GLM, the simulator's
// noise fields). Each caller keeps its own radius rule: that rule is part of the method it
// reproduces (scipy: round(truncate sigma); the others: ceil(3 sigma)).
#include <cstdint>
#include <vector>

namespace rewardpath {

// exp(-x^2 / (2 sigma^2)) for x = -radius .. radius; divided by its sum when `normalise`.
// sigma in samples (voxels), > 0.
std::vector<double> gaussian_kernel(double sigma, std::int64_t radius, bool normalise);

} // namespace rewardpath
