#include "rewardpath/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

#include <cstdio>

namespace rewardpath::log {

namespace {
std::atomic<bool> g_quiet{false};
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

void init(Verbosity verbosity) {
  auto logger = spdlog::stderr_color_mt("rewardpath");
  logger->set_pattern(stderr_is_terminal() ? "%^%l%$: %v" : "[%Y-%m-%d %H:%M:%S.%e] %l: %v");
  switch (verbosity) {
  case Verbosity::quiet:
    logger->set_level(spdlog::level::warn);
    break;
  case Verbosity::normal:
    logger->set_level(spdlog::level::info);
    break;
  case Verbosity::verbose:
    logger->set_level(spdlog::level::debug);
    break;
  case Verbosity::debug:
    logger->set_level(spdlog::level::trace);
    break;
  }
  g_quiet = verbosity == Verbosity::quiet;
  spdlog::set_default_logger(logger);
}

Progress::Progress(std::string label, std::int64_t total)
    : label_(std::move(label)), total_(total), interactive_(stderr_is_terminal() && !g_quiet),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  spdlog::debug("{}: started ({} steps)", label_, total_);
}

Progress::~Progress() { done(); }

void Progress::advance(std::int64_t n) {
  const auto v = value_.fetch_add(n) + n;
  if (!interactive_) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(draw_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(v);
}

void Progress::draw(std::int64_t value) {
  const int width = 30;
  const double frac = total_ > 0 ? static_cast<double>(value) / static_cast<double>(total_) : 1.0;
  const int filled = static_cast<int>(frac * width);
  std::fprintf(stderr, "\r%s [%s%s] %lld/%lld", label_.c_str(), std::string(filled, '#').c_str(),
               std::string(width - filled, ' ').c_str(), static_cast<long long>(value),
               static_cast<long long>(total_));
  std::fflush(stderr);
}

void Progress::done() {
  std::lock_guard lock(draw_mutex_);
  if (finished_) return;
  finished_ = true;
  if (interactive_) {
    draw(value_.load());
    std::fprintf(stderr, "\n");
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  spdlog::debug("{}: finished {} of {} in {:.2f} s", label_, value_.load(), total_, s);
}

} // namespace rewardpath::log
