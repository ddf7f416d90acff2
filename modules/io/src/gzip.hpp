#pragma once
// gzip helpers for the NIfTI reader/writer (internal to modules/io).
#include <cstddef>
#include <filesystem>
#include <functional>
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
  // Unmaps the pages lying wholly inside bytes [begin, begin + size) (MADV_DONTNEED: the page
  // cache keeps them, a later access maps them again), so that a reader done with a part of the
  // file does not hold it in its resident set while it fills its output.
  void release(std::size_t begin, std::size_t size) const;

private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

bool has_gzip_magic(std::span<const std::byte> bytes);

struct InflateResult {
  std::size_t bytes_out = 0;
  bool output_full = false; // the stream holds more than `capacity` bytes
};

// Inflates all gzip members of `in` into out[0, capacity) with libdeflate: members with the index
// subfield in parallel, any others (foreign files, or a foreign tail) one after another. Throws
// Error on corrupt or truncated data.
InflateResult gunzip_into(std::span<const std::byte> in, std::byte* out, std::size_t capacity);

// Reads the first `n` uncompressed bytes (or fewer at end of stream) through zlib, which also
// passes uncompressed files through. Used for headers and as a streaming fallback. With
// `check_rest`, the rest of the stream is inflated too (and discarded), so that corrupt data
// after the prefix (CRC, length) is still reported.
std::size_t read_prefix(const std::filesystem::path& path, std::byte* out, std::size_t n,
                        bool check_rest = false);

// Compresses `in` as one gzip member whose header carries the member index subfield below.
std::vector<std::byte> gzip_member(std::span<const std::byte> in, int level);

// Voxels per data member for an image of `voxels`: an eighth of the image rounded up to 2^15,
// within [2^15, 2^21]. Small images (one statistical map) still split into several members, so
// that writing and reading them use every thread; large runs keep 8 MiB float members. A function
// of the size alone: the same image gives the same bytes at any thread count.
constexpr std::size_t voxels_per_member(std::size_t voxels) {
  constexpr std::size_t lo = std::size_t{1} << 15, hi = std::size_t{1} << 21;
  const std::size_t eighth = (voxels + 7) / 8;
  const std::size_t rounded = (eighth + lo - 1) / lo * lo;
  return rounded < lo ? lo : rounded > hi ? hi : rounded;
}

// Member index (docs/io.md, "Parallel inflation"): every member our writer produces has FLG.FEXTRA
// set and one extra subfield SI1='R', SI2='P', LEN=16, holding the member's total compressed size
// (ID1 to the end of ISIZE) and its uncompressed size, both uint64 little-endian. gzip readers
// skip unknown subfields (RFC 1952, 2.3.1.1), so the files stay standard gzip.
inline constexpr std::size_t kIndexedHeaderSize = 32; // 10 fixed + XLEN 2 + subfield 4 + 16

struct GzipMember {
  std::size_t in_begin = 0, in_size = 0;   // compressed bytes of the whole member
  std::size_t out_begin = 0, out_size = 0; // its place in the inflated stream
};
struct MemberIndex {
  std::vector<GzipMember> members; // in stream order; empty: the first member has no subfield
  std::size_t in_end = 0;          // compressed bytes covered by `members`
  std::size_t out_size = 0;        // their uncompressed total
};

// Walks the member headers (and reads each ISIZE trailer) of a stream whose first member carries
// the subfield, inflating nothing. Stops at end of input, at all-zero padding, or at the first
// member without the subfield (a foreign member appended: in_end marks where it starts). Throws
// Error naming the member when a size field disagrees with the file (truncated or corrupt).
MemberIndex index_members(std::span<const std::byte> in);

// Inflates members [first, last) of `index` in parallel (TBB, one libdeflate decompressor per
// thread) into `out`: member m lands at out + members[m].out_begin - members[first].out_begin.
// Each member's CRC, ISIZE and sizes are checked; Error names the member on any mismatch.
void inflate_members(std::span<const std::byte> in, const MemberIndex& index, std::size_t first,
                     std::size_t last, std::byte* out);

// Inflates every member of `index` in parallel, each into a buffer of its thread (as large as the
// largest member, not zeroed), and hands it to consume(member, bytes) on that thread: members
// arrive in any order and concurrently. For readers that transform the bytes (e.g. widen int16
// to float) straight into their destination, while the member is still in cache.
void inflate_members_to(std::span<const std::byte> in, const MemberIndex& index,
                        const std::function<void(std::size_t, std::span<const std::byte>)>& consume);

} // namespace rewardpath::io::detail
