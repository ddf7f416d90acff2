#include "gzip.hpp"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <cerrno>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <functional>
#include <memory>

#include "rewardpath/core/error.hpp"

namespace rewardpath::io::detail {

MappedFile::MappedFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(std::string("cannot stat: ") + std::strerror(errno));
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw Error(std::string("cannot map file: ") + std::strerror(errno));
    }
    ::madvise(p, size_, MADV_WILLNEED); // read ahead; members are inflated in parallel, not in order
    data_ = static_cast<const std::byte*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

void MappedFile::release(std::size_t begin, std::size_t size) const {
  if (!data_ || begin >= size_) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto base = reinterpret_cast<std::uintptr_t>(data_);
  const std::uintptr_t first = (base + begin + page - 1) & ~(page - 1);
  const std::uintptr_t last = (base + std::min(begin + size, size_)) & ~(page - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

bool has_gzip_magic(std::span<const std::byte> b) {
  return b.size() >= 2 && b[0] == std::byte{0x1f} && b[1] == std::byte{0x8b};
}

namespace {
struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};
struct CompressorDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

std::uint64_t load_le(const std::byte* p, int n) {
  std::uint64_t v = 0;
  for (int i = n; i-- > 0;) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

void store_le(std::byte* p, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i, v >>= 8) p[i] = static_cast<std::byte>(v & 0xff);
}

constexpr std::byte kFlagExtra{0x04};

// The (compressed, uncompressed) sizes in the RP subfield of the member header starting b, if any.
struct SizeField {
  bool found = false;
  std::uint64_t in_size = 0, out_size = 0;
};
SizeField find_size_field(std::span<const std::byte> b) {
  SizeField f;
  if (b.size() < 12 || !has_gzip_magic(b) || b[2] != std::byte{8} || (b[3] & kFlagExtra) == std::byte{0})
    return f;
  const std::size_t xlen = load_le(b.data() + 10, 2);
  if (b.size() < 12 + xlen) return f;
  for (std::size_t pos = 12; pos + 4 <= 12 + xlen;) {
    const std::size_t len = load_le(b.data() + pos + 2, 2);
    if (pos + 4 + len > 12 + xlen) break;
    if (b[pos] == std::byte{'R'} && b[pos + 1] == std::byte{'P'} && len == 16) {
      f.found = true;
      f.in_size = load_le(b.data() + pos + 4, 8);
      f.out_size = load_le(b.data() + pos + 12, 8);
      return f;
    }
    pos += 4 + len;
  }
  return f;
}

bool all_zero(std::span<const std::byte> b) {
  for (const std::byte x : b)
    if (x != std::byte{0}) return false;
  return true;
}

// Members one after another from in_pos, appending at result.bytes_out.
void gunzip_sequential(std::span<const std::byte> in, std::size_t in_pos, std::byte* out,
                       std::size_t capacity, InflateResult& result) {
  std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d(libdeflate_alloc_decompressor());
  if (!d) throw Error("out of memory allocating a gzip decompressor");
  while (in_pos < in.size()) {
    // Trailing zero padding after the last member is tolerated, as gzip does.
    if (!has_gzip_magic(in.subspan(in_pos))) {
      if (all_zero(in.subspan(in_pos)) && in_pos > 0) break;
      throw Error("corrupt gzip data: no gzip member header at compressed byte " + std::to_string(in_pos));
    }
    std::size_t in_used = 0, out_got = 0;
    const auto rc =
        libdeflate_gzip_decompress_ex(d.get(), in.data() + in_pos, in.size() - in_pos, out + result.bytes_out,
                                      capacity - result.bytes_out, &in_used, &out_got);
    if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) {
      result.output_full = true;
      return;
    }
    if (rc != LIBDEFLATE_SUCCESS)
      throw Error("corrupt or truncated gzip data in the member starting at compressed byte " +
                  std::to_string(in_pos) + " (" + std::to_string(in.size()) + " bytes in file)");
    in_pos += in_used;
    result.bytes_out += out_got;
  }
}

} // namespace

MemberIndex index_members(std::span<const std::byte> in) {
  MemberIndex index;
  std::size_t pos = 0, out = 0;
  while (pos < in.size()) {
    const auto rest = in.subspan(pos);
    const SizeField f = find_size_field(rest);
    if (!f.found) {
      if (index.members.empty() || has_gzip_magic(rest) || all_zero(rest)) break; // foreign, or padding
      throw Error(fmt::format("corrupt gzip data: member {} should start at compressed byte {} (the size "
                              "field of member {} says so), but there is no gzip header there",
                              index.members.size() + 1, pos, index.members.size()));
    }
    const std::size_t m = index.members.size() + 1;
    if (f.in_size < kIndexedHeaderSize + 8 + 2 || f.in_size > rest.size()) {
      if (f.in_size > rest.size())
        throw Error(fmt::format("truncated gzip data: member {} announces {} compressed bytes from byte {}, "
                                "but the file ends {} bytes after its start",
                                m, f.in_size, pos, rest.size()));
      throw Error(fmt::format("corrupt gzip data: member {} at compressed byte {} announces {} compressed "
                              "bytes, too few for a gzip member",
                              m, pos, f.in_size));
    }
    const std::uint64_t isize = load_le(rest.data() + f.in_size - 4, 4);
    if (isize != (f.out_size & 0xffffffffu) || out + f.out_size < out)
      throw Error(fmt::format("corrupt gzip data: member {} (compressed bytes {}..{} by its size field) "
                              "announces {} uncompressed bytes, but the ISIZE trailer at the end of that "
                              "range says {} (mod 2^32)",
                              m, pos, pos + f.in_size, f.out_size, isize));
    GzipMember g;
    g.in_begin = pos;
    g.in_size = static_cast<std::size_t>(f.in_size);
    g.out_begin = out;
    g.out_size = static_cast<std::size_t>(f.out_size);
    index.members.push_back(g);
    pos += g.in_size;
    out += g.out_size;
  }
  index.in_end = pos;
  index.out_size = out;
  return index;
}

namespace {

// Inflates member m of `index` into out[0, out_size) with `d`, checking CRC, ISIZE and both sizes.
void inflate_member(libdeflate_decompressor* d, std::span<const std::byte> in, const MemberIndex& index,
                    std::size_t m, std::byte* out) {
  const GzipMember& g = index.members[m];
  std::size_t used = 0, got = 0;
  const auto rc =
      libdeflate_gzip_decompress_ex(d, in.data() + g.in_begin, g.in_size, out, g.out_size, &used, &got);
  const char* what = nullptr;
  if (rc == LIBDEFLATE_INSUFFICIENT_SPACE)
    what = "it inflates to more bytes than its header announces";
  else if (rc != LIBDEFLATE_SUCCESS)
    what = "invalid deflate data or CRC mismatch";
  else if (got != g.out_size)
    what = "it inflates to fewer bytes than its header announces";
  else if (used != g.in_size)
    what = "its deflate data ends before the member's announced size";
  if (what)
    throw Error(fmt::format("corrupt gzip data in member {} of {} (compressed bytes {}..{}, {} bytes "
                            "uncompressed): {}",
                            m + 1, index.members.size(), g.in_begin, g.in_begin + g.in_size, g.out_size,
                            what));
}

using Decompressor = std::unique_ptr<libdeflate_decompressor, DecompressorDeleter>;

libdeflate_decompressor* local_decompressor(tbb::enumerable_thread_specific<Decompressor>& all) {
  auto& d = all.local();
  if (!d) d.reset(libdeflate_alloc_decompressor());
  if (!d) throw Error("out of memory allocating a gzip decompressor");
  return d.get();
}

} // namespace

void inflate_members(std::span<const std::byte> in, const MemberIndex& index, std::size_t first,
                     std::size_t last, std::byte* out) {
  if (first >= last) return;
  tbb::enumerable_thread_specific<Decompressor> decompressors;
  const std::size_t base = index.members[first].out_begin;
  tbb::parallel_for(tbb::blocked_range<std::size_t>(first, last, 1), [&](const auto& r) {
    auto* d = local_decompressor(decompressors);
    for (std::size_t m = r.begin(); m != r.end(); ++m)
      inflate_member(d, in, index, m, out + (index.members[m].out_begin - base));
  });
}

void inflate_members_to(std::span<const std::byte> in, const MemberIndex& index,
                        const std::function<void(std::size_t, std::span<const std::byte>)>& consume) {
  std::size_t largest = 0;
  for (const auto& g : index.members) largest = std::max(largest, g.out_size);
  tbb::enumerable_thread_specific<Decompressor> decompressors;
  tbb::enumerable_thread_specific<std::unique_ptr<std::byte[]>> buffers; // not zeroed
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, index.members.size(), 1), [&](const auto& r) {
    auto* d = local_decompressor(decompressors);
    auto& buf = buffers.local();
    if (!buf) buf.reset(new std::byte[std::max<std::size_t>(largest, 1)]);
    for (std::size_t m = r.begin(); m != r.end(); ++m) {
      inflate_member(d, in, index, m, buf.get());
      consume(m, std::span<const std::byte>(buf.get(), index.members[m].out_size));
    }
  });
}

InflateResult gunzip_into(std::span<const std::byte> in, std::byte* out, std::size_t capacity) {
  InflateResult result;
  const MemberIndex index = index_members(in);
  std::size_t fit = 0; // indexed members that fit whole in the output
  while (fit < index.members.size() && index.members[fit].out_begin + index.members[fit].out_size <= capacity)
    ++fit;
  inflate_members(in, index, 0, fit, out);
  if (fit > 0) result.bytes_out = index.members[fit - 1].out_begin + index.members[fit - 1].out_size;
  // The rest (a foreign tail, or a member that does not fit: output_full) one member at a time.
  const std::size_t in_pos = fit < index.members.size() ? index.members[fit].in_begin : index.in_end;
  gunzip_sequential(in, in_pos, out, capacity, result);
  return result;
}

std::size_t read_prefix(const std::filesystem::path& path, std::byte* out, std::size_t n, bool check_rest) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error(std::string("cannot open: ") + std::strerror(errno));
  gzbuffer(f, 1 << 17);
  std::size_t got = 0;
  std::unique_ptr<std::byte[]> scratch;
  constexpr std::size_t kScratch = 1 << 20;
  while (true) {
    const bool in_prefix = got < n;
    if (!in_prefix && !check_rest) break;
    if (!in_prefix && !scratch) scratch.reset(new std::byte[kScratch]);
    std::byte* dst = in_prefix ? out + got : scratch.get();
    const unsigned chunk =
        static_cast<unsigned>(in_prefix ? std::min<std::size_t>(n - got, 1u << 30) : kScratch);
    const int r = gzread(f, dst, chunk);
    if (r < 0) {
      int errnum = 0;
      std::string msg = gzerror(f, &errnum);
      // zlib prefixes the path; the caller's context names the file already.
      if (const std::string prefix = path.string() + ": "; msg.starts_with(prefix))
        msg.erase(0, prefix.size());
      gzclose(f);
      throw Error("corrupt gzip data: " + msg);
    }
    if (r == 0) break;
    if (in_prefix) got += static_cast<std::size_t>(r);
  }
  gzclose(f);
  return got;
}

std::vector<std::byte> gzip_member(std::span<const std::byte> in, int level) {
  std::unique_ptr<libdeflate_compressor, CompressorDeleter> c(libdeflate_alloc_compressor(level));
  if (!c) throw Error("invalid gzip level " + std::to_string(level) + " (expected 0-12)");
  std::vector<std::byte> out(kIndexedHeaderSize + libdeflate_deflate_compress_bound(c.get(), in.size()) + 8);
  const std::size_t n = libdeflate_deflate_compress(
      c.get(), in.data(), in.size(), out.data() + kIndexedHeaderSize, out.size() - kIndexedHeaderSize - 8);
  if (n == 0) throw Error("gzip compression failed");
  out.resize(kIndexedHeaderSize + n + 8);
  std::byte* h = out.data();
  h[0] = std::byte{0x1f};
  h[1] = std::byte{0x8b};
  h[2] = std::byte{8};                                                              // CM: deflate
  h[3] = kFlagExtra;                                                                // FLG: FEXTRA only
  store_le(h + 4, 0, 4);                                                            // MTIME: none
  h[8] = std::byte{static_cast<unsigned char>(level < 2 ? 4 : level >= 8 ? 2 : 0)}; // XFL, as gzip/libdeflate
  h[9] = std::byte{255};                                                            // OS: unknown
  store_le(h + 10, 20, 2);                                                          // XLEN
  h[12] = std::byte{'R'};
  h[13] = std::byte{'P'};
  store_le(h + 14, 16, 2);
  store_le(h + 16, out.size(), 8);
  store_le(h + 24, in.size(), 8);
  std::byte* t = out.data() + kIndexedHeaderSize + n;
  store_le(t, libdeflate_crc32(0, in.data(), in.size()), 4);
  store_le(t + 4, in.size() & 0xffffffffu, 4);
  return out;
}

} // namespace rewardpath::io::detail
