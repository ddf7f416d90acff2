// The "pet" configuration object (docs/config.md).
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "rewardpath/pipeline/pet_stage.hpp"
#include "rewardpath/core/error.hpp"

namespace rewardpath::pipeline {

namespace {

const std::vector<std::string> kModels = {"SRTM", "SRTM2", "MRTM", "MRTM2", "LoganRef", "BFSRTM"};
const std::vector<std::string> kPlasmaModels = {"1TCM", "2TCM", "LoganPlasma"};
const std::vector<std::string> kWeightings = {"uniform", "duration", "duration_decay", "inverse_variance"};

Error field_error(const std::string& key, const std::string& what, const std::string& where) {
  return std::move(Error(fmt::format("field \"pet.{}\": {}", key, what)).context(where));
}

bool boolean(const io::Json& j, const std::string& key, const std::string& where) {
  if (!j.at(key).is_boolean()) throw field_error(key, "expected true or false", where);
  return j.at(key).get<bool>();
}

double number(const io::Json& j, const std::string& key, double lo, double hi, const std::string& where) {
  const auto& v = j.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo || v.get<double>() > hi)
    throw field_error(key, fmt::format("expected a number in [{}, {}], got {}", lo, hi, v.dump()), where);
  return v.get<double>();
}

std::string one_of(const io::Json& j, const std::string& key, const std::vector<std::string>& allowed,
                   const std::string& where) {
  const auto& v = j.at(key);
  if (!v.is_string() || std::find(allowed.begin(), allowed.end(), v.get<std::string>()) == allowed.end())
    throw field_error(key, fmt::format("{}; expected one of {}", v.dump(), fmt::join(allowed, ", ")), where);
  return v.get<std::string>();
}

std::vector<std::string> strings(const io::Json& j, const std::string& key,
                                 const std::vector<std::string>* allowed, const std::string& where) {
  const auto& v = j.at(key);
  if (!v.is_array()) throw field_error(key, "expected an array of strings", where);
  std::vector<std::string> out;
  for (const auto& s : v) {
    if (!s.is_string()) throw field_error(key, "expected strings, got " + s.dump(), where);
    out.push_back(s.get<std::string>());
    if (allowed && std::find(allowed->begin(), allowed->end(), out.back()) == allowed->end())
      throw field_error(
          key, fmt::format("unknown \"{}\"; expected any of {}", out.back(), fmt::join(*allowed, ", ")),
          where);
  }
  return out;
}

} // namespace

PetConfig parse_pet(const io::Json& j, bool registration_enabled, const std::string& where) {
  if (!j.is_object())
    throw Error("field \"pet\": expected an object, e.g. {\"models\": [\"SRTM\", \"MRTM2\"]}").context(where);
  static const std::vector<std::string> known = {"realign",
                                                 "realign_reference_start_min",
                                                 "realign_first_frame_min",
                                                 "reference",
                                                 "targets",
                                                 "k2prime_regions",
                                                 "models",
                                                 "weighting",
                                                 "logan_tstar_min",
                                                 "srtm_sampling",
                                                 "voxel_maps",
                                                 "plasma_models",
                                                 "fit_delay",
                                                 "delay_min_s",
                                                 "delay_max_s"};
  for (const auto& [key, value] : j.items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw Error(fmt::format("unknown key \"{}\" in \"pet\"; known keys: {} (see docs/config.md)", key,
                              fmt::join(known, ", ")))
          .context(where);
  if (!registration_enabled)
    throw Error("field \"pet\": the PET stage needs the registration stage (the atlas in PET space gives the "
                "ROIs); add \"registration\": {} to the configuration")
        .context(where);
  PetConfig c;
  c.enabled = true;
  if (j.contains("realign")) c.realign = boolean(j, "realign", where);
  if (j.contains("realign_reference_start_min"))
    c.realign_reference_start_min = number(j, "realign_reference_start_min", 0, 1e4, where);
  if (j.contains("realign_first_frame_min"))
    c.realign_first_frame_min = number(j, "realign_first_frame_min", 0, 1e4, where);
  if (j.contains("reference")) {
    if (!j.at("reference").is_string() || j.at("reference").get<std::string>().empty())
      throw field_error("reference", "expected an atlas ROI name, e.g. \"CerebellumRef\"", where);
    c.reference = j.at("reference").get<std::string>();
  }
  if (j.contains("targets")) c.targets = strings(j, "targets", nullptr, where);
  if (j.contains("k2prime_regions")) c.k2prime_regions = strings(j, "k2prime_regions", nullptr, where);
  if (j.contains("models")) c.models = strings(j, "models", &kModels, where);
  if (j.contains("weighting")) c.weighting = one_of(j, "weighting", kWeightings, where);
  if (j.contains("logan_tstar_min")) c.logan_tstar_min = number(j, "logan_tstar_min", 0, 1e4, where);
  if (j.contains("srtm_sampling"))
    c.srtm_sampling = one_of(j, "srtm_sampling", {"frame_mean", "mid_time"}, where);
  if (j.contains("voxel_maps")) c.voxel_maps = boolean(j, "voxel_maps", where);
  if (j.contains("plasma_models")) c.plasma_models = strings(j, "plasma_models", &kPlasmaModels, where);
  if (j.contains("fit_delay")) c.fit_delay = boolean(j, "fit_delay", where);
  if (j.contains("delay_min_s")) c.delay_min_s = number(j, "delay_min_s", -600, 600, where);
  if (j.contains("delay_max_s")) c.delay_max_s = number(j, "delay_max_s", -600, 600, where);
  if (!(c.delay_min_s < c.delay_max_s))
    throw field_error("delay_max_s",
                      fmt::format("{} s must be above delay_min_s ({} s)", c.delay_max_s, c.delay_min_s),
                      where);
  return c;
}

io::Json pet_source(const PetConfig& c) {
  return {{"realign", c.realign},
          {"realign_reference_start_min", c.realign_reference_start_min},
          {"realign_first_frame_min", c.realign_first_frame_min},
          {"reference", c.reference},
          {"targets", c.targets},
          {"k2prime_regions", c.k2prime_regions},
          {"models", c.models},
          {"weighting", c.weighting},
          {"logan_tstar_min", c.logan_tstar_min},
          {"srtm_sampling", c.srtm_sampling},
          {"voxel_maps", c.voxel_maps},
          {"plasma_models", c.plasma_models},
          {"fit_delay", c.fit_delay},
          {"delay_min_s", c.delay_min_s},
          {"delay_max_s", c.delay_max_s}};
}

} // namespace rewardpath::pipeline
