#pragma once
// Analysis configuration (JSON). Every key is documented in docs/config.md; an unknown key is an
// error, never silently ignored.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rewardpath/io/json.hpp"

namespace rewardpath::pipeline {

// The registration stage (docs/config.md, docs/registration.md "Pipeline stage"). Off unless the
// configuration has a "registration" object.
struct RegistrationConfig {
  bool enabled = false;
  std::string model = "affine"; // subject anatomy -> template: "rigid", "affine" or "nonlinear"
  bool fractional_weights = false;
  bool fail_on_qc_flag = true; // "on_qc_flag": "fail" (default) or "continue"
  // User atlas (empty image: the built-in reward atlas on Colin27)
  std::string atlas_name = "reward"; // the atlas- entity of the outputs
  std::filesystem::path atlas_image, atlas_labels, atlas_probability, atlas_template;
  std::optional<double> atlas_threshold;
  std::string atlas_space;
};

struct Config {
  std::vector<std::string> tasks; // BOLD tasks to process; empty: all
  bool process_bold = true;
  bool process_pet = true;
  RegistrationConfig registration;
  io::Json source = io::Json::object(); // as read, with defaults filled in (for provenance)
};

Config default_config();
Config load_config(const std::filesystem::path& path); // empty path: defaults
Config parse_config(const io::Json& json, const std::string& where);

} // namespace rewardpath::pipeline
