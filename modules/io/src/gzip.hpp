#pragma once
// gzip helpers for the NIfTI reader/writer (internal to modules/io).
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace rewardpath::io::detail {

// Read-only memory map of a whole file.
class MappedFile {
public:
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::span<const std::byte> bytes() const { return {data_, size_}; }

private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

bool has_gzip_magic(std::span<const std::byte> bytes);

struct InflateResult {
  std::size_t bytes_out = 0;
  bool output_full = false; // the stream holds more than `capacity` bytes
};

// Inflates all gzip members of `in` into out[0, capacity) with libdeflate. Throws Error on
// corrupt or truncated data.
InflateResult gunzip_into(std::span<const std::byte> in, std::byte* out, std::size_t capacity);

// Reads the first `n` uncompressed bytes (or fewer at end of stream) through zlib, which also
// passes uncompressed files through. Used for headers and as a streaming fallback. With
// `check_rest`, the rest of the stream is inflated too (and discarded), so that corrupt data
// after the prefix (CRC, length) is still reported.
std::size_t read_prefix(const std::filesystem::path& path, std::byte* out, std::size_t n,
                        bool check_rest = false);

// Compresses `in` as one gzip member.
std::vector<std::byte> gzip_member(std::span<const std::byte> in, int level);

} // namespace rewardpath::io::detail
