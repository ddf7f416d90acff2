#include "rewardpath/core/budget.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

namespace rewardpath {
namespace fs = std::filesystem;

namespace {
std::int64_t read_meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::int64_t value_kb = 0;
  std::string unit;
  while (in >> key >> value_kb >> unit)
    if (key == "MemAvailable:") return value_kb * 1024;
  return static_cast<std::int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
}

std::int64_t read_cgroup_limit() {
  std::ifstream in("/proc/self/cgroup");
  const std::string self{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return cgroup_memory_limit(self, "/sys/fs/cgroup");
}

// One limit file: a number of bytes, or "max" / a huge value (v1's "unlimited") for none.
std::int64_t read_limit_file(const fs::path& file) {
  std::ifstream in(file);
  std::string s;
  if (!(in >> s) || s == "max") return 0;
  try {
    const long long v = std::stoll(s);
    return v > 0 && v < (1LL << 60) ? v : 0;
  } catch (...) {
    return 0;
  }
}
} // namespace

std::int64_t cgroup_memory_limit(const std::string& proc_self_cgroup, const fs::path& sys_fs_cgroup) {
  std::int64_t limit = 0;
  std::istringstream lines(proc_self_cgroup);
  for (std::string line; std::getline(lines, line);) {
    // hierarchy-ID:controller-list:cgroup-path (cgroups(7)); v2 is "0::/path".
    const auto a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    fs::path base, file;
    if (controllers.empty() && line.starts_with("0:")) {
      base = sys_fs_cgroup;
      file = "memory.max";
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      base = sys_fs_cgroup / "memory";
      file = "memory.limit_in_bytes";
    } else {
      continue;
    }
    // The smallest limit from this process's group up to the root of the hierarchy.
    fs::path group = base;
    for (const auto& part : fs::path(path).relative_path())
      if (part != "." && part != "..") group /= part;
    for (fs::path g = group;; g = g.parent_path()) {
      const std::int64_t v = read_limit_file(g / file);
      if (v > 0) limit = limit > 0 ? std::min(limit, v) : v;
      if (g == base || !g.has_relative_path() || g.parent_path() == g) break;
    }
  }
  return limit;
}

std::int64_t available_memory_bytes() {
  std::int64_t avail = read_meminfo_available();
  const std::int64_t cg = read_cgroup_limit();
  if (cg > 0) avail = std::min(avail, cg);
  return avail;
}

ResourceBudget ResourceBudget::detect(int threads, double mem_gb) {
  ResourceBudget b;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  b.threads = threads > 0 ? threads : cores;
  b.memory_bytes = mem_gb > 0
                       ? static_cast<std::int64_t>(mem_gb * 1024.0 * 1024.0 * 1024.0)
                       : static_cast<std::int64_t>(0.8 * static_cast<double>(available_memory_bytes()));
  return b;
}

void MemoryGate::acquire(std::int64_t bytes) {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return used_ == 0 || used_ + bytes <= budget_; });
  used_ += bytes;
}

void MemoryGate::release(std::int64_t bytes) {
  {
    std::lock_guard lock(mutex_);
    used_ -= bytes;
  }
  cv_.notify_all();
}

std::int64_t MemoryGate::in_use() const {
  std::lock_guard lock(mutex_);
  return used_;
}

} // namespace rewardpath
