#pragma once
// What produced an output: program version, command line, configuration and the inputs read
// (path, size, modification time). Written as JSON next to the outputs; also the key used to
// decide whether a stage's outputs are current on rerun.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rewardpath {

const std::string& version();        // e.g. "0.1.0"
const std::string& version_detail(); // e.g. "0.1.0 (git 1a2b3c4)"

struct InputRecord {
  std::string path;
  std::uintmax_t size_bytes = 0;
  std::string modified;         // ISO 8601 UTC
  std::int64_t modified_ns = 0; // full-resolution mtime: a same-second rewrite still counts as a change
};
InputRecord describe_input(const std::filesystem::path& p);

struct Provenance {
  std::string command_line;
  nlohmann::json config = nlohmann::json::object();
  std::vector<InputRecord> inputs;
  std::string started; // ISO 8601 UTC
  std::string finished;
  int threads = 0;

  nlohmann::json to_json() const;
  // Stable digest of version + config + inputs: equal digests mean outputs are current.
  std::string digest() const;
};

std::string utc_now_iso8601();

} // namespace rewardpath
