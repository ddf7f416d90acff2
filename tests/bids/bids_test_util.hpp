#pragma once
// Helpers for the bids tests: a fresh temporary folder per test and a snapshot of a folder tree
// (to prove that discovery never writes into a dataset).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "rewardpath/core/error.hpp"

namespace rp_test {

namespace fs = std::filesystem;

inline const fs::path kSharedData{RP_SHARED_DATA};

class TempDir {
public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::temp_directory_path() / ("rp_bids_" + std::string(info ? info->test_suite_name() : "x") +
                                         "_" + std::string(info ? info->name() : "x") + "_" +
                                         std::to_string(::getpid()) + "_" + std::to_string(stamp));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }

  // Writes `content` to path()/rel, creating folders on the way.
  fs::path write(const std::string& rel, const std::string& content) const {
    const fs::path p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

private:
  fs::path path_;
};

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every entry under root -> its type, size, modification time and (for files) contents.
inline std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string v = e.is_directory() ? "dir" : "file";
    v += "|" + std::to_string(e.last_write_time().time_since_epoch().count());
    if (e.is_regular_file()) v += "|" + std::to_string(e.file_size()) + "|" + read_text(e.path());
    out[e.path().string()] = v;
  }
  return out;
}

// The full message of the rewardpath::Error thrown by f, or "" (with a test failure) if none was thrown.
template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const rewardpath::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a rewardpath::Error, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

inline ::testing::AssertionResult contains_format(const char* text_expr, const char* part_expr,
                                                  const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << text_expr << " does not contain " << part_expr << "\n  text: " << text << "\n  part: " << part;
}

} // namespace rp_test

// Error messages are checked by the pieces a user needs: file, field, line, what was expected.
#define EXPECT_CONTAINS(text, part) EXPECT_PRED_FORMAT2(rp_test::contains_format, text, part)
