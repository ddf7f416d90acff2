#include "rewardpath/core/storage.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

#include "rewardpath/core/error.hpp"

namespace rewardpath {
namespace fs = std::filesystem;

namespace {
std::atomic<unsigned> g_scratch_counter{0};
constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
constexpr long kTmpfsMagic = 0x01021994, kRamfsMagic = 0x858458f6;
} // namespace

ByteStorage ByteStorage::in_memory(std::size_t bytes) {
  ByteStorage s;
  s.data_ = new std::byte[bytes == 0 ? 1 : bytes];
  s.size_ = bytes;
  if (bytes >= 4 * kHugePage) {
    const auto begin = reinterpret_cast<std::uintptr_t>(s.data_);
    const std::uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
    const std::uintptr_t last = (begin + bytes) & ~(kHugePage - 1);
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
  return s;
}

ByteStorage ByteStorage::scratch_file(const fs::path& dir, std::size_t bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create the scratch directory: " + ec.message()).context(dir.string());
  // Named like the atomic writer's temporaries, so a stale one (only possible if unlink failed)
  // is removed by remove_stale_temporaries() on the next run.
  const fs::path path = dir / (".rp-scratch.tmp-rp" + std::to_string(::getpid()) + "-" +
                               std::to_string(g_scratch_counter.fetch_add(1)));
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw Error(std::string("cannot create a scratch file: ") + std::strerror(errno)).context(dir.string());
  ::unlink(path.c_str()); // the mapping keeps the file; nothing is left behind
  const std::size_t length = bytes == 0 ? 1 : bytes;
  // Reserve the blocks now, so that "no space left" is an error here, not a SIGBUS later.
  const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(length));
  if (rc != 0) {
    ::close(fd);
    throw Error("cannot reserve " + std::to_string(length >> 20) +
                " MiB for a scratch file: " + std::strerror(rc))
        .context(dir.string());
  }
  void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  ::close(fd); // the mapping holds the file open
  if (p == MAP_FAILED)
    throw Error(std::string("cannot map a scratch file: ") + std::strerror(map_errno)).context(dir.string());
  ByteStorage s;
  s.data_ = static_cast<std::byte*>(p);
  s.size_ = bytes;
  s.mapped_ = true;
  return s;
}

ByteStorage::ByteStorage(ByteStorage&& other) noexcept
    : data_(other.data_), size_(other.size_), mapped_(other.mapped_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.mapped_ = false;
}

ByteStorage& ByteStorage::operator=(ByteStorage&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = other.data_;
    size_ = other.size_;
    mapped_ = other.mapped_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.mapped_ = false;
  }
  return *this;
}

ByteStorage::~ByteStorage() { reset(); }

void ByteStorage::reset() noexcept {
  if (!data_) return;
  if (mapped_)
    ::munmap(data_, size_ == 0 ? 1 : size_);
  else
    delete[] data_;
  data_ = nullptr;
  size_ = 0;
  mapped_ = false;
}

bool is_memory_backed_dir(const fs::path& dir) {
  struct statfs s {};
  if (::statfs(dir.c_str(), &s) != 0) return false;
  return static_cast<long>(s.f_type) == kTmpfsMagic || static_cast<long>(s.f_type) == kRamfsMagic;
}

} // namespace rewardpath
