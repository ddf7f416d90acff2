#include <gtest/gtest.h>

#include "rewardpath/core/error.hpp"
#include "rewardpath/pipeline/config.hpp"

using namespace rewardpath;
using pipeline::parse_config;

TEST(Config, DefaultsProcessEverything) {
  const auto c = pipeline::default_config();
  EXPECT_TRUE(c.tasks.empty());
  EXPECT_TRUE(c.process_bold);
  EXPECT_TRUE(c.process_pet);
}

TEST(Config, ReadsTasksAndModalities) {
  const auto c = parse_config({{"tasks", {"mid"}}, {"modalities", {"func"}}}, "cfg.json");
  ASSERT_EQ(c.tasks.size(), 1u);
  EXPECT_EQ(c.tasks[0], "mid");
  EXPECT_TRUE(c.process_bold);
  EXPECT_FALSE(c.process_pet);
}

TEST(Config, UnknownKeyIsAnErrorNotIgnored) {
  try {
    parse_config({{"taks", {"mid"}}}, "cfg.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("\"taks\""), std::string::npos);
  }
  EXPECT_THROW(parse_config({{"modalities", {"eeg"}}}, "cfg.json"), Error);
  EXPECT_THROW(parse_config(io::Json::array(), "cfg.json"), Error);
}
