#include "gzip.hpp"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
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
    ::madvise(p, size_, MADV_SEQUENTIAL | MADV_WILLNEED);
    data_ = static_cast<const std::byte*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
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
} // namespace

InflateResult gunzip_into(std::span<const std::byte> in, std::byte* out, std::size_t capacity) {
  std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d(libdeflate_alloc_decompressor());
  if (!d) throw Error("out of memory allocating a gzip decompressor");
  InflateResult result;
  std::size_t in_pos = 0;
  while (in_pos < in.size()) {
    // Trailing zero padding after the last member is tolerated, as gzip does.
    if (!has_gzip_magic(in.subspan(in_pos))) {
      bool all_zero = true;
      for (std::size_t i = in_pos; i < in.size() && all_zero; ++i) all_zero = in[i] == std::byte{0};
      if (all_zero && in_pos > 0) break;
      throw Error("corrupt gzip data: no gzip member header at compressed byte " + std::to_string(in_pos));
    }
    std::size_t in_used = 0, out_got = 0;
    const auto rc =
        libdeflate_gzip_decompress_ex(d.get(), in.data() + in_pos, in.size() - in_pos, out + result.bytes_out,
                                      capacity - result.bytes_out, &in_used, &out_got);
    if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) {
      result.output_full = true;
      return result;
    }
    if (rc != LIBDEFLATE_SUCCESS)
      throw Error("corrupt or truncated gzip data in the member starting at compressed byte " +
                  std::to_string(in_pos) + " (" + std::to_string(in.size()) + " bytes in file)");
    in_pos += in_used;
    result.bytes_out += out_got;
  }
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
  std::vector<std::byte> out(libdeflate_gzip_compress_bound(c.get(), in.size()));
  const std::size_t n = libdeflate_gzip_compress(c.get(), in.data(), in.size(), out.data(), out.size());
  if (n == 0) throw Error("gzip compression failed");
  out.resize(n);
  return out;
}

} // namespace rewardpath::io::detail
