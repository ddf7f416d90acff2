#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "rewardpath/core/statistics.hpp"

namespace {

using rewardpath::median;

TEST(Statistics, MedianOfAnOddCountIsTheMiddleValue) {
  EXPECT_EQ(median(std::vector<double>{5.0, 1.0, 3.0}), 3.0);
}

TEST(Statistics, MedianOfAnEvenCountAveragesTheTwoMiddleValues) {
  // Not the upper middle (4) nor the lower (2).
  EXPECT_EQ(median(std::vector<double>{4.0, 1.0, 2.0, 10.0}), 3.0);
}

TEST(Statistics, MedianOfOneValueAndOfNone) {
  EXPECT_EQ(median(std::vector<double>{-2.5}), -2.5);
  EXPECT_TRUE(std::isnan(median(std::vector<double>{})));
}

TEST(Statistics, MedianOfFloatsIsComputedInDouble) {
  // 1 and 2^-24 + 1 differ in float; their mean is not a float.
  const float a = 1.0f, b = 1.0f + 1.0f / 16777216.0f * 2.0f;
  EXPECT_EQ(median(std::vector<float>{b, 7.0f, a, -3.0f}),
            0.5 * (static_cast<double>(a) + static_cast<double>(b)));
  EXPECT_EQ(median(std::vector<float>{2.0f, 9.0f, 1.0f}), 2.0);
  EXPECT_TRUE(std::isnan(median(std::vector<float>{})));
}

} // namespace
