#pragma once
// Analysis configuration (JSON). Every key is documented in docs/config.md; an unknown key is an
// error, never silently ignored.
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/io/json.hpp"

namespace rewardpath::pipeline {

struct Config {
  std::vector<std::string> tasks; // BOLD tasks to process; empty: all
  bool process_bold = true;
  bool process_pet = true;
  io::Json source = io::Json::object(); // as read, with defaults filled in (for provenance)
};

Config default_config();
Config load_config(const std::filesystem::path& path); // empty path: defaults
Config parse_config(const io::Json& json, const std::string& where);

} // namespace rewardpath::pipeline
