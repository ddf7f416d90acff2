#pragma once
// Output files appear complete or not at all: data goes to a hidden temporary file in the target
// directory, which is fsync'ed and renamed over the target on commit(). A run killed mid-write
// leaves only a ".name.tmp-*" file, never a truncated output under the real name.
#include <cstddef>
#include <filesystem>
#include <string_view>

namespace rewardpath {

class AtomicFile {
public:
  explicit AtomicFile(std::filesystem::path target); // creates parent directories
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile(); // removes the temporary file unless committed

  void write(const void* bytes, std::size_t n);
  void write(std::string_view text) { write(text.data(), text.size()); }
  void commit();

private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

void write_file_atomic(const std::filesystem::path& target, std::string_view contents);

// Removes temporary files left in `dir` (recursively) by killed runs; returns how many.
std::size_t remove_stale_temporaries(const std::filesystem::path& dir);

} // namespace rewardpath
