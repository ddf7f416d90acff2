#include "rewardpath/core/budget.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>

namespace rewardpath {

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
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(path);
    std::string s;
    if (in >> s && s != "max") {
      try {
        return std::stoll(s);
      } catch (...) {
      }
    }
  }
  return 0;
}
} // namespace

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
