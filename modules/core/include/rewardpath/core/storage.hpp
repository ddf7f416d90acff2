#pragma once
// Raw bytes for voxel data: in memory, or in a scratch file mapped in their place.
//
// A 4D run larger than the memory budget is kept in a scratch file (out of core, as SPM's
// file_array does): the file is created in a chosen directory, mapped shared and unlinked at once,
// so the kernel can write its pages back and drop them under memory pressure (a cgroup limit, as
// under SLURM, included), and nothing is left on disk when the mapping goes, even if the process
// is killed. The code using the bytes does not change; only its page faults may go to disk.
#include <cstddef>
#include <filesystem>

namespace rewardpath {

class ByteStorage {
public:
  ByteStorage() = default;
  // `bytes` of anonymous memory, uninitialised; large blocks ask for transparent huge pages (a
  // hint: with 4 KiB pages, the page faults of a fresh buffer cost more than filling it).
  static ByteStorage in_memory(std::size_t bytes);
  // `bytes` in an unlinked scratch file in `dir` (zero-filled). Throws Error naming `dir` when
  // the file cannot be created, sized or mapped (e.g. no space left).
  static ByteStorage scratch_file(const std::filesystem::path& dir, std::size_t bytes);

  ByteStorage(ByteStorage&& other) noexcept;
  ByteStorage& operator=(ByteStorage&& other) noexcept;
  ByteStorage(const ByteStorage&) = delete;
  ByteStorage& operator=(const ByteStorage&) = delete;
  ~ByteStorage();

  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool file_backed() const { return mapped_; }

private:
  void reset() noexcept;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool mapped_ = false;
};

// True when `dir` is on a memory-backed file system (tmpfs, ramfs): a scratch file there would
// hold its pages in memory all the same.
bool is_memory_backed_dir(const std::filesystem::path& dir);

} // namespace rewardpath
