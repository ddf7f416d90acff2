#include "rewardpath/pipeline/config.hpp"

#include <fmt/format.h>

#include "rewardpath/core/error.hpp"

namespace rewardpath::pipeline {

Config default_config() { return parse_config(io::Json::object(), "default configuration"); }

Config load_config(const std::filesystem::path& path) {
  if (path.empty()) return default_config();
  return parse_config(io::read_json(path), path.string());
}

Config parse_config(const io::Json& json, const std::string& where) {
  if (!json.is_object()) throw Error("the configuration must be a JSON object").context(where);
  static const std::vector<std::string> known = {"tasks", "modalities"};
  for (const auto& [key, value] : json.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw Error(
          fmt::format("unknown configuration key \"{}\"; known keys: tasks, modalities (see docs/config.md)",
                      key))
          .context(where);
  }
  Config c;
  if (auto it = json.find("tasks"); it != json.end()) {
    if (!it->is_array()) throw Error("field \"tasks\": expected an array of task labels").context(where);
    for (const auto& t : *it) {
      if (!t.is_string()) throw Error("field \"tasks\": expected task labels as strings").context(where);
      c.tasks.push_back(t.get<std::string>());
    }
  }
  if (auto it = json.find("modalities"); it != json.end()) {
    if (!it->is_array())
      throw Error("field \"modalities\": expected an array, e.g. [\"func\", \"pet\"]").context(where);
    c.process_bold = c.process_pet = false;
    for (const auto& m : *it) {
      const std::string s = m.is_string() ? m.get<std::string>() : m.dump();
      if (s == "func")
        c.process_bold = true;
      else if (s == "pet")
        c.process_pet = true;
      else
        throw Error(
            fmt::format("field \"modalities\": unknown modality \"{}\"; expected \"func\" or \"pet\"", s))
            .context(where);
    }
  }
  c.source = {{"tasks", c.tasks}, {"modalities", [&] {
                                     io::Json m = io::Json::array();
                                     if (c.process_bold) m.push_back("func");
                                     if (c.process_pet) m.push_back("pet");
                                     return m;
                                   }()}};
  return c;
}

} // namespace rewardpath::pipeline
