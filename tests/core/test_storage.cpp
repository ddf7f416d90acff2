// ByteStorage: memory or an unlinked scratch file mapped in place (runs larger than the memory
// budget). The scratch file leaves nothing in its directory, holds what is written, disappears
// from the process when the storage goes, and failures are errors naming the directory.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/storage.hpp"
#include "rewardpath/core/volume.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace rewardpath;

namespace {
// Lines of /proc/self/maps naming our scratch files.
int scratch_mappings() {
  std::ifstream maps("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(maps, line);) n += line.find(".rp-scratch.tmp-rp") != std::string::npos;
  return n;
}
std::size_t entries(const fs::path& d) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(d), fs::directory_iterator()));
}
} // namespace

TEST(ByteStorage, ScratchFileHoldsDataAndLeavesNothing) {
  testdata::TempDir dir("rp_storage");
  const int before = scratch_mappings();
  {
    const std::size_t n = (std::size_t{3} << 20) + 123; // not a multiple of the page size
    ByteStorage s = ByteStorage::scratch_file(dir.path() / "scratch", n);
    EXPECT_TRUE(s.file_backed());
    ASSERT_EQ(s.size(), n);
    EXPECT_EQ(entries(dir.path() / "scratch"), 0u) << "the scratch file must be unlinked at once";
    EXPECT_EQ(scratch_mappings(), before + 1);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(s.data()[i], std::byte{0}) << i; // zero-filled
    for (std::size_t i = 0; i < n; ++i) s.data()[i] = static_cast<std::byte>(i * 7 + 1);
    ByteStorage moved = std::move(s); // ownership moves, the mapping stays
    EXPECT_EQ(s.data(), nullptr);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i) wrong += moved.data()[i] != static_cast<std::byte>(i * 7 + 1);
    EXPECT_EQ(wrong, 0u);
  }
  EXPECT_EQ(scratch_mappings(), before) << "the mapping (and so the file) must go with the storage";
}

TEST(ByteStorage, FloatBufferAdoptsAScratchFile) {
  testdata::TempDir dir("rp_storage");
  ByteStorage s = ByteStorage::scratch_file(dir.path(), 8 + 100 * sizeof(float));
  FloatBuffer b = FloatBuffer::adopt(std::move(s), 8, 100);
  EXPECT_TRUE(b.file_backed());
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) * 0.5f;
  const FloatBuffer c = b.clone();
  EXPECT_FALSE(c.file_backed());
  EXPECT_EQ(c[99], 49.5f);
  EXPECT_THROW(FloatBuffer::adopt(ByteStorage::in_memory(16), 0, 5), Error); // 20 bytes in 16
  EXPECT_FALSE(FloatBuffer(10).file_backed());
}

TEST(ByteStorage, FailuresNameTheDirectory) {
  testdata::TempDir dir("rp_storage");
  const fs::path file = dir.path() / "a_file";
  std::ofstream(file) << "x";
  try {
    (void)ByteStorage::scratch_file(file / "sub", 4096); // a directory cannot be made under a file
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a_file"), std::string::npos) << e.what();
  }
  try {
    (void)ByteStorage::scratch_file(dir.path(),
                                    std::size_t{1} << 62); // more than any disk: reserved up front
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scratch"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir.path().filename().string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(dir.path()), 1u); // only a_file: no scratch file left by the failures
}

TEST(ByteStorage, MemoryBackedDirectoriesAreRecognised) {
  EXPECT_FALSE(is_memory_backed_dir("/nonexistent/rp")); // unknown: not claimed
  EXPECT_FALSE(is_memory_backed_dir("/proc"));
  if (fs::exists("/dev/shm")) {
    EXPECT_TRUE(is_memory_backed_dir("/dev/shm"));
  }
}
