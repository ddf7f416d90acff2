#include "rewardpath/pipeline/config.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config_fmri.hpp"
#include "rewardpath/pipeline/pet_stage.hpp"
#include "rewardpath/core/error.hpp"

namespace rewardpath::pipeline {

namespace {

void check_keys(const io::Json& obj, const std::vector<std::string>& known, const std::string& field,
                const std::string& where) {
  for (const auto& [key, value] : obj.items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw Error(fmt::format("unknown key \"{}\" in \"{}\"; known keys: {} (see docs/config.md)", key, field,
                              fmt::join(known, ", ")))
          .context(where);
}

std::string string_field(const io::Json& obj, const std::string& key, const std::string& field,
                         const std::string& where) {
  const auto& v = obj.at(key);
  if (!v.is_string())
    throw Error(fmt::format("field \"{}.{}\": expected a string, got {}", field, key, v.dump()))
        .context(where);
  return v.get<std::string>();
}

bool is_label(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

RegistrationConfig parse_registration(const io::Json& j, const std::string& where) {
  if (!j.is_object())
    throw Error("field \"registration\": expected an object, e.g. {\"model\": \"affine\"}").context(where);
  check_keys(j, {"model", "atlas", "fractional_weights", "on_qc_flag"}, "registration", where);
  RegistrationConfig r;
  r.enabled = true;
  if (j.contains("model")) {
    r.model = string_field(j, "model", "registration", where);
    if (r.model != "rigid" && r.model != "affine" && r.model != "nonlinear")
      throw Error(fmt::format("field \"registration.model\": unknown model \"{}\"; expected \"rigid\", "
                              "\"affine\" or \"nonlinear\"",
                              r.model))
          .context(where);
  }
  if (j.contains("fractional_weights")) {
    if (!j.at("fractional_weights").is_boolean())
      throw Error("field \"registration.fractional_weights\": expected true or false").context(where);
    r.fractional_weights = j.at("fractional_weights").get<bool>();
  }
  if (j.contains("on_qc_flag")) {
    const std::string v = string_field(j, "on_qc_flag", "registration", where);
    if (v != "fail" && v != "continue")
      throw Error(
          fmt::format("field \"registration.on_qc_flag\": \"{}\"; expected \"fail\" or \"continue\"", v))
          .context(where);
    r.fail_on_qc_flag = v == "fail";
  }
  if (j.contains("atlas")) {
    const auto& a = j.at("atlas");
    const std::string field = "registration.atlas";
    if (!a.is_object())
      throw Error("field \"registration.atlas\": expected an object with \"image\", \"template\", ...")
          .context(where);
    check_keys(a, {"name", "image", "labels", "probability", "template", "threshold", "space"}, field, where);
    if (!a.contains("image") || !a.contains("template") || !a.contains("name"))
      throw Error("field \"registration.atlas\": \"name\", \"image\" and \"template\" are required (the "
                  "atlas label or 4D probability image and the template image subjects are registered to)")
          .context(where);
    r.atlas_name = string_field(a, "name", field, where);
    if (!is_label(r.atlas_name))
      throw Error(fmt::format("field \"registration.atlas.name\": \"{}\" must be letters and digits only (it "
                              "becomes the atlas- entity of output names)",
                              r.atlas_name))
          .context(where);
    r.atlas_image = string_field(a, "image", field, where);
    r.atlas_template = string_field(a, "template", field, where);
    if (a.contains("labels")) r.atlas_labels = string_field(a, "labels", field, where);
    if (a.contains("probability")) r.atlas_probability = string_field(a, "probability", field, where);
    if (a.contains("space")) r.atlas_space = string_field(a, "space", field, where);
    if (a.contains("threshold")) {
      if (!a.at("threshold").is_number())
        throw Error("field \"registration.atlas.threshold\": expected a number in (0, 1]").context(where);
      r.atlas_threshold = a.at("threshold").get<double>();
    }
  }
  return r;
}

io::Json registration_source(const RegistrationConfig& r) {
  io::Json j = {{"model", r.model},
                {"fractional_weights", r.fractional_weights},
                {"on_qc_flag", r.fail_on_qc_flag ? "fail" : "continue"}};
  if (!r.atlas_image.empty()) {
    io::Json a = {
        {"name", r.atlas_name}, {"image", r.atlas_image.string()}, {"template", r.atlas_template.string()}};
    if (!r.atlas_labels.empty()) a["labels"] = r.atlas_labels.string();
    if (!r.atlas_probability.empty()) a["probability"] = r.atlas_probability.string();
    if (!r.atlas_space.empty()) a["space"] = r.atlas_space;
    if (r.atlas_threshold) a["threshold"] = *r.atlas_threshold;
    j["atlas"] = a;
  }
  return j;
}

} // namespace

Config default_config() { return parse_config(io::Json::object(), "default configuration"); }

Config load_config(const std::filesystem::path& path) {
  if (path.empty()) return default_config();
  return parse_config(io::read_json(path), path.string());
}

Config parse_config(const io::Json& json, const std::string& where) {
  if (!json.is_object()) throw Error("the configuration must be a JSON object").context(where);
  static const std::vector<std::string> known = {"tasks", "modalities", "registration", "preprocess",
                                                 "glm",   "pet",        "group"};
  for (const auto& [key, value] : json.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw Error(fmt::format("unknown configuration key \"{}\"; known keys: {} (see docs/config.md)", key,
                              fmt::join(known, ", ")))
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
  if (auto it = json.find("registration"); it != json.end()) c.registration = parse_registration(*it, where);
  c.source = {{"tasks", c.tasks}, {"modalities", [&] {
                                     io::Json m = io::Json::array();
                                     if (c.process_bold) m.push_back("func");
                                     if (c.process_pet) m.push_back("pet");
                                     return m;
                                   }()}};
  // Only when given, so the digest (and the rerun skip) of configurations without it is unchanged.
  if (c.registration.enabled) c.source["registration"] = registration_source(c.registration);
  if (auto it = json.find("preprocess"); it != json.end()) {
    c.preprocess = parse_preprocess(*it, where);
    c.source["preprocess"] = preprocess_source(c.preprocess);
  }
  if (auto it = json.find("glm"); it != json.end()) {
    c.glm = parse_glm(*it, where);
    c.source["glm"] = glm_source(c.glm);
  }
  if (auto it = json.find("group"); it != json.end()) {
    c.group = parse_group(*it, where);
    c.source["group"] = group_source(c.group);
  }
  if (auto it = json.find("pet"); it != json.end()) {
    c.pet = parse_pet(*it, c.registration.enabled, where);
    c.source["pet"] = pet_source(c.pet);
  }
  return c;
}

} // namespace rewardpath::pipeline
