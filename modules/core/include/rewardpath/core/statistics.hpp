#pragma once
// Small statistics shared by the modules, so each concept has one definition.
#include <vector>

namespace rewardpath {

// The median: the middle value of an odd count, the mean of the two middle values of an even
// count; NaN for no values. Takes the values by value (it reorders them; move a large vector in).
double median(std::vector<double> values);
double median(std::vector<float> values); // e.g. a run's voxels, without a double copy

} // namespace rewardpath
