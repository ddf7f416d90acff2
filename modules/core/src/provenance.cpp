#include "rewardpath/core/provenance.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fmt/format.h>

#include "rewardpath/core/version_info.hpp"

namespace rewardpath {
namespace fs = std::filesystem;

const std::string& version() {
  static const std::string v = kVersion;
  return v;
}

const std::string& version_detail() {
  static const std::string v = fmt::format("{} (git {})", kVersion, kGitDescribe);
  return v;
}

namespace {
std::string iso8601(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
} // namespace

std::string utc_now_iso8601() { return iso8601(std::time(nullptr)); }

InputRecord describe_input(const fs::path& p) {
  InputRecord r;
  r.path = fs::absolute(p).lexically_normal().string();
  std::error_code ec;
  r.size_bytes = fs::file_size(p, ec);
  if (ec) r.size_bytes = 0;
  const auto mtime = fs::last_write_time(p, ec);
  if (!ec) {
    const auto sys = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
        std::chrono::file_clock::to_sys(mtime));
    r.modified = iso8601(std::chrono::system_clock::to_time_t(sys));
    r.modified_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
  }
  return r;
}

nlohmann::json Provenance::to_json() const {
  char host[256] = "unknown";
  ::gethostname(host, sizeof host - 1);
  nlohmann::json inputs_json = nlohmann::json::array();
  for (const auto& in : inputs)
    inputs_json.push_back({{"path", in.path}, {"size_bytes", in.size_bytes}, {"modified", in.modified}});
  return {{"GeneratedBy",
           {{"Name", "rewardpath"},
            {"Version", version()},
            {"CodeVersion", kGitDescribe},
            {"CpuTarget", kCpuTarget}}},
          {"CommandLine", command_line},
          {"Config", config},
          {"Inputs", inputs_json},
          {"Started", started},
          {"Finished", finished},
          {"Threads", threads},
          {"Host", host},
          {"Digest", digest()}};
}

std::string Provenance::digest() const {
  // FNV-1a over a canonical serialisation; a change detector, not a cryptographic hash.
  nlohmann::json key = {{"version", kGitDescribe}, {"config", config}};
  for (const auto& in : inputs) key["inputs"].push_back({in.path, in.size_bytes, in.modified_ns});
  const std::string s = key.dump();
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

} // namespace rewardpath
