#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "rewardpath/core/budget.hpp"

using namespace rewardpath;

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
