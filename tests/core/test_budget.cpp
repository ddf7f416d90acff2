#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "rewardpath/core/budget.hpp"

using namespace rewardpath;
namespace fs = std::filesystem;

TEST(ResourceBudget, ExplicitValuesWin) {
  const auto b = ResourceBudget::detect(3, 2.0);
  EXPECT_EQ(b.threads, 3);
  EXPECT_EQ(b.memory_bytes, 2LL * 1024 * 1024 * 1024);
  const auto d = ResourceBudget::detect(0, 0);
  EXPECT_GE(d.threads, 1);
  EXPECT_GT(d.memory_bytes, 0);
}

TEST(MemoryGate, NeverExceedsBudgetAndAdmitsOversizedAlone) {
  MemoryGate gate(100);
  std::atomic<std::int64_t> peak{0}, current{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i) {
    ts.emplace_back([&, i] {
      const std::int64_t need = i == 0 ? 150 : 40; // one request above the whole budget
      MemoryReservation r(gate, need);
      const auto now = current += need;
      auto p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      current -= need;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_LE(peak.load(), 150);
  EXPECT_EQ(gate.in_use(), 0);
}

// The job's own cgroup limit is found from /proc/self/cgroup, as SLURM (cgroup v1 and v2) and
// containers set it: the smallest limit on the path from the process's group to the root, with
// "max" and v1's huge "unlimited" value meaning none.
TEST(ResourceBudget, CgroupLimitOfTheProcessGroup) {
  const fs::path root = fs::temp_directory_path() / ("rp_cgroup_" + std::to_string(::getpid()));
  fs::remove_all(root);
  auto put = [&](const fs::path& rel, const std::string& value) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << value << "\n";
  };
  // cgroup v1, a SLURM job with a step inside it.
  put("memory/memory.limit_in_bytes", "9223372036854771712");
  put("memory/slurm/uid_0/job_5/memory.limit_in_bytes", "4294967296");
  put("memory/slurm/uid_0/job_5/step_0/memory.limit_in_bytes", "9223372036854771712");
  EXPECT_EQ(cgroup_memory_limit("12:memory:/slurm/uid_0/job_5/step_0\n3:cpu,cpuacct:/slurm/uid_0\n", root),
            4294967296);
  EXPECT_EQ(cgroup_memory_limit("4:cpuset,memory:/slurm/uid_0/job_5\n", root), 4294967296);
  EXPECT_EQ(cgroup_memory_limit("12:memory:/\n", root), 0); // the root: unlimited
  // cgroup v2.
  put("memory.max", "max");
  put("user.slice/memory.max", "8589934592");
  put("user.slice/job/memory.max", "max");
  EXPECT_EQ(cgroup_memory_limit("0::/user.slice/job\n", root), 8589934592);
  EXPECT_EQ(cgroup_memory_limit("0::/system.slice\n", root), 0); // no file there, none above
  EXPECT_EQ(cgroup_memory_limit("garbage\n\n", root), 0);
  fs::remove_all(root);
}
