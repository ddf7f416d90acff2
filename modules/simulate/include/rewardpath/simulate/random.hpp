#pragma once
// The simulator's random numbers are core's (rewardpath/core/random.hpp), under their old names.
#include "rewardpath/core/random.hpp"

namespace rewardpath::simulate {
using rewardpath::derive_seed;
using rewardpath::Rng;
} // namespace rewardpath::simulate
