#pragma once
// Thread and memory budget for a run. The pipeline admits a subject only while the memory its
// data needs fits in what is left of the budget.
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <string>
#include <mutex>

namespace rewardpath {

struct ResourceBudget {
  int threads = 1;
  std::int64_t memory_bytes = 0;

  // threads <= 0: all cores; mem_gb <= 0: 80% of the memory available now (cgroup limits, as
  // under SLURM, included).
  static ResourceBudget detect(int threads, double mem_gb);
};

std::int64_t available_memory_bytes();
// The memory limit (bytes; 0 = none) of the cgroup a process is in, given its /proc/self/cgroup
// text and where cgroupfs is mounted: v2 memory.max or v1 memory.limit_in_bytes, the smallest from
// its own group up to the root (SLURM job and step groups, containers).
std::int64_t cgroup_memory_limit(const std::string& proc_self_cgroup,
                                 const std::filesystem::path& sys_fs_cgroup);

// Counting semaphore over bytes. A request larger than the whole budget is admitted alone, so
// one oversized subject still runs (by itself) instead of waiting for ever.
class MemoryGate {
public:
  explicit MemoryGate(std::int64_t budget_bytes) : budget_(budget_bytes) {}
  void acquire(std::int64_t bytes);
  void release(std::int64_t bytes);
  std::int64_t in_use() const;

private:
  std::int64_t budget_;
  std::int64_t used_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
};

class MemoryReservation {
public:
  MemoryReservation(MemoryGate& gate, std::int64_t bytes) : gate_(gate), bytes_(bytes) {
    gate_.acquire(bytes_);
  }
  ~MemoryReservation() { gate_.release(bytes_); }
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;

private:
  MemoryGate& gate_;
  std::int64_t bytes_;
};

} // namespace rewardpath
