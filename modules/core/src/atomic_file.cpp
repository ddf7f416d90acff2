#include "rewardpath/core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "rewardpath/core/error.hpp"

namespace rewardpath {
namespace fs = std::filesystem;

namespace {
constexpr std::string_view kTempMarker = ".tmp-rp";
std::atomic<unsigned> g_counter{0};

std::string errno_text() { return std::strerror(errno); }
} // namespace

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)) {
  std::error_code ec;
  if (target_.has_parent_path()) fs::create_directories(target_.parent_path(), ec);
  if (ec) throw Error("cannot create directory: " + ec.message()).context(target_.parent_path().string());
  std::string temp_name = ".";
  temp_name += target_.filename().string();
  temp_name += kTempMarker;
  temp_name += std::to_string(::getpid());
  temp_name += '-';
  temp_name += std::to_string(g_counter.fetch_add(1));
  temp_ = target_.parent_path() / temp_name;
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot create output file: " + errno_text()).context(target_.string());
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* bytes, std::size_t n) {
  const auto* p = static_cast<const char*>(bytes);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error("write failed: " + errno_text()).context(target_.string());
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFile::commit() {
  if (committed_) return;
  if (::fsync(fd_) != 0) throw Error("fsync failed: " + errno_text()).context(target_.string());
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw Error("close failed: " + errno_text()).context(target_.string());
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    throw Error("cannot rename temporary file into place: " + errno_text()).context(target_.string());
  committed_ = true;
}

void write_file_atomic(const fs::path& target, std::string_view contents) {
  AtomicFile f(target);
  f.write(contents);
  f.commit();
}

std::size_t remove_stale_temporaries(const fs::path& dir) {
  std::size_t removed = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(".") && name.find(kTempMarker) != std::string::npos && it->is_regular_file()) {
      std::error_code rm;
      if (fs::remove(it->path(), rm)) ++removed;
    }
  }
  return removed;
}

} // namespace rewardpath
