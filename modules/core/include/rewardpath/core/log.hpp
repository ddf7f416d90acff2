#pragma once
// Logging (spdlog) and terminal progress. Progress bars draw only on an interactive terminal;
// in batch logs (SLURM, pipes) a long task logs its start and end and nothing in between.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace rewardpath::log {

enum class Verbosity { quiet, normal, verbose, debug };

// Sets the global logger: messages to stderr, warnings and errors always shown.
void init(Verbosity verbosity);
bool stderr_is_terminal();

class Progress {
public:
  Progress(std::string label, std::int64_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void advance(std::int64_t n = 1); // thread-safe
  void done();

private:
  void draw(std::int64_t value);
  std::string label_;
  std::int64_t total_;
  std::atomic<std::int64_t> value_{0};
  bool interactive_;
  bool finished_ = false;
  std::mutex draw_mutex_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

} // namespace rewardpath::log
