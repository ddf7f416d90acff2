#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "rewardpath/core/atomic_file.hpp"

namespace fs = std::filesystem;
using namespace rewardpath;

namespace {
fs::path fresh_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("rp_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::size_t count_entries(const fs::path& d) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(d), fs::directory_iterator()));
}
} // namespace

TEST(AtomicFile, UncommittedLeavesNothing) {
  const auto d = fresh_dir("atomic1");
  {
    AtomicFile f(d / "out.tsv");
    f.write("partial");
    EXPECT_EQ(count_entries(d), 1u); // only the hidden temporary
    EXPECT_FALSE(fs::exists(d / "out.tsv"));
  }
  EXPECT_EQ(count_entries(d), 0u);
  fs::remove_all(d);
}

TEST(AtomicFile, CommitReplacesTarget) {
  const auto d = fresh_dir("atomic2");
  write_file_atomic(d / "sub" / "a.txt", "old");
  write_file_atomic(d / "sub" / "a.txt", "new");
  EXPECT_EQ(slurp(d / "sub" / "a.txt"), "new");
  EXPECT_EQ(count_entries(d / "sub"), 1u);
  fs::remove_all(d);
}

TEST(AtomicFile, StaleTemporariesAreRemoved) {
  const auto d = fresh_dir("atomic3");
  std::ofstream(d / ".x.nii.gz.tmp-rp123-0") << "half";
  std::ofstream(d / "keep.txt") << "ok";
  EXPECT_EQ(remove_stale_temporaries(d), 1u);
  EXPECT_TRUE(fs::exists(d / "keep.txt"));
  fs::remove_all(d);
}
