#pragma once
// Small statistics shared by the modules, so each concept has one definition.
#include <vector>

namespace rewardpath {

// The median: the middle value of an odd count, the mean of the two middle values of an even
// count; NaN for no values. Takes a copy (it sorts).
double median(std::vector<double> values);

} // namespace rewardpath
