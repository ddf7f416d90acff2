#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "rewardpath/core/statistics.hpp"

namespace {

using rewardpath::median;

TEST(Statistics, MedianOfAnOddCountIsTheMiddleValue) { EXPECT_EQ(median({5.0, 1.0, 3.0}), 3.0); }

TEST(Statistics, MedianOfAnEvenCountAveragesTheTwoMiddleValues) {
  // Not the upper middle (4) nor the lower (2).
  EXPECT_EQ(median({4.0, 1.0, 2.0, 10.0}), 3.0);
}

TEST(Statistics, MedianOfOneValueAndOfNone) {
  EXPECT_EQ(median({-2.5}), -2.5);
  EXPECT_TRUE(std::isnan(median({})));
}

} // namespace
