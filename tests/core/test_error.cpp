#include <gtest/gtest.h>

#include "rewardpath/core/error.hpp"

using rewardpath::Error;

TEST(Error, ContextReadsOutermostFirst) {
  try {
    try {
      throw Error("RepetitionTime must be > 0, got -2");
    } catch (Error& e) {
      e.context("sub-01_task-mid_bold.json");
      throw;
    }
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sub-01_task-mid_bold.json: RepetitionTime must be > 0, got -2");
    EXPECT_EQ(e.message(), "RepetitionTime must be > 0, got -2");
    ASSERT_EQ(e.layers().size(), 2u);
  }
}

TEST(Error, WithContextWrapsForeignExceptions) {
  try {
    rewardpath::with_context("subject 01", [] { throw std::runtime_error("boom"); });
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "subject 01: boom");
  }
}

TEST(Error, WithContextReturnsValue) {
  EXPECT_EQ(rewardpath::with_context("x", [] { return 42; }), 42);
}
