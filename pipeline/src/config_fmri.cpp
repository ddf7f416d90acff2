#include "config_fmri.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "rewardpath/core/error.hpp"

namespace rewardpath::pipeline {

namespace {

// Typed access to the fields of one configuration object; every error names the field and the file.
class Fields {
public:
  Fields(const io::Json& obj, std::string section, std::string where)
      : obj_(obj), section_(std::move(section)), where_(std::move(where)) {
    if (!obj_.is_object())
      throw Error(fmt::format("field \"{}\": expected an object (see docs/config.md)", section_))
          .context(where_);
  }
  void only(const std::vector<std::string>& known) const {
    for (const auto& [key, value] : obj_.items())
      if (std::find(known.begin(), known.end(), key) == known.end())
        throw Error(fmt::format("unknown key \"{}\" in \"{}\"; known keys: {} (see docs/config.md)", key,
                                section_, fmt::join(known, ", ")))
            .context(where_);
  }
  bool has(const std::string& key) const { return obj_.contains(key); }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(fmt::format("field \"{}.{}\": {}", section_, key, what)).context(where_);
  }
  void get(const std::string& key, bool& out) const {
    if (!has(key)) return;
    if (!obj_.at(key).is_boolean()) fail(key, "expected true or false, got " + obj_.at(key).dump());
    out = obj_.at(key).get<bool>();
  }
  void get(const std::string& key, double& out, double lo, double hi) const {
    if (!has(key)) return;
    const auto& v = obj_.at(key);
    if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi)
      fail(key, fmt::format("expected a number in [{}, {}], got {}", lo, hi, v.dump()));
    out = v.get<double>();
  }
  void get(const std::string& key, int& out, int lo, int hi) const {
    if (!has(key)) return;
    const auto& v = obj_.at(key);
    if (!v.is_number_integer() || v.get<int>() < lo || v.get<int>() > hi)
      fail(key, fmt::format("expected an integer in [{}, {}], got {}", lo, hi, v.dump()));
    out = v.get<int>();
  }
  void get(const std::string& key, std::string& out, const std::vector<std::string>& allowed) const {
    if (!has(key)) return;
    const auto& v = obj_.at(key);
    if (!v.is_string() || std::find(allowed.begin(), allowed.end(), v.get<std::string>()) == allowed.end())
      fail(key, fmt::format("expected one of {}, got {}", fmt::join(allowed, ", "), v.dump()));
    out = v.get<std::string>();
  }
  void get(const std::string& key, std::vector<std::string>& out) const {
    if (!has(key)) return;
    const auto& v = obj_.at(key);
    if (!v.is_array()) fail(key, "expected an array of strings, got " + v.dump());
    out.clear();
    for (const auto& e : v) {
      if (!e.is_string()) fail(key, "expected an array of strings, got " + v.dump());
      out.push_back(e.get<std::string>());
    }
  }
  const io::Json& at(const std::string& key) const { return obj_.at(key); }

private:
  const io::Json& obj_;
  std::string section_, where_;
};

bool is_label(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

const std::vector<std::string> kHrfModels{"spm",    "spm+derivative",    "spm+derivative+dispersion",
                                          "glover", "glover+derivative", "glover+derivative+dispersion",
                                          "fir"};

} // namespace

PreprocessConfig parse_preprocess(const io::Json& j, const std::string& where) {
  const Fields f(j, "preprocess", where);
  f.only({"realign", "slice_timing", "slice_time_ref", "smoothing_fwhm_mm", "high_pass_s", "global_signal"});
  PreprocessConfig c;
  c.enabled = true;
  f.get("realign", c.realign);
  f.get("slice_timing", c.slice_timing);
  f.get("slice_time_ref", c.slice_time_ref, 0.0, 1.0);
  f.get("smoothing_fwhm_mm", c.smoothing_fwhm_mm, 0.0, 30.0);
  f.get("high_pass_s", c.high_pass_s, 0.0, 1e6);
  f.get("global_signal", c.global_signal);
  return c;
}

io::Json preprocess_source(const PreprocessConfig& c) {
  return {{"realign", c.realign},
          {"slice_timing", c.slice_timing},
          {"slice_time_ref", c.slice_time_ref},
          {"smoothing_fwhm_mm", c.smoothing_fwhm_mm},
          {"high_pass_s", c.high_pass_s},
          {"global_signal", c.global_signal}};
}

GlmConfig parse_glm(const io::Json& j, const std::string& where) {
  const Fields f(j, "glm", where);
  f.only({"hrf", "fir_delays", "drift", "high_pass_s", "drift_order", "slice_time_ref", "conditions",
          "modulators", "confounds", "noise_model", "ar_order", "signal_scaling", "contrasts", "voxelwise",
          "template_resolution_mm"});
  GlmConfig c;
  c.enabled = true;
  f.get("hrf", c.hrf, kHrfModels);
  if (f.has("fir_delays")) {
    const auto& v = f.at("fir_delays");
    if (!v.is_array() || v.empty()) f.fail("fir_delays", "expected a non-empty array of delays in scans");
    c.fir_delays.clear();
    for (const auto& d : v) {
      if (!d.is_number_integer() || d.get<int>() < 0 || d.get<int>() > 100)
        f.fail("fir_delays", "expected integer delays in scans, 0..100, got " + v.dump());
      c.fir_delays.push_back(d.get<int>());
    }
  }
  f.get("drift", c.drift, {"cosine", "polynomial", "none"});
  f.get("high_pass_s", c.high_pass_s, 1.0, 1e6);
  f.get("drift_order", c.drift_order, 0, 10);
  if (f.has("slice_time_ref")) f.get("slice_time_ref", c.slice_time_ref, 0.0, 1.0);
  f.get("conditions", c.conditions);
  if (f.has("modulators")) {
    const auto& v = f.at("modulators");
    if (!v.is_array())
      f.fail("modulators", "expected an array of {\"condition\": ..., \"column\": ...} objects");
    for (const auto& m : v) {
      if (!m.is_object() || !m.contains("condition") || !m.contains("column") ||
          !m.at("condition").is_string() || !m.at("column").is_string() || m.size() != 2)
        f.fail("modulators", "each entry must be {\"condition\": \"<trial_type>\", \"column\": \"<events "
                             "column>\"}, got " +
                                 m.dump());
      c.modulators.push_back({m.at("condition").get<std::string>(), m.at("column").get<std::string>()});
    }
  }
  f.get("confounds", c.confounds);
  f.get("noise_model", c.noise_model, {"ols", "ar1", "arp"});
  f.get("ar_order", c.ar_order, 1, 8);
  f.get("signal_scaling", c.signal_scaling);
  f.get("voxelwise", c.voxelwise);
  f.get("template_resolution_mm", c.template_resolution_mm, 1.0, 8.0);
  if (!f.has("contrasts"))
    f.fail("contrasts", "required: at least one contrast, e.g. [{\"name\": "
                        "\"gainVsNeutral\", \"expression\": \"gain_anticipation - "
                        "neutral_anticipation\"}]");
  const auto& cs = f.at("contrasts");
  if (!cs.is_array() || cs.empty()) f.fail("contrasts", "expected a non-empty array of contrasts");
  for (const auto& e : cs) {
    ContrastConfig cc;
    if (!e.is_object() || !e.contains("name") || !e.at("name").is_string())
      f.fail("contrasts", "each contrast needs a \"name\" (letters and digits), got " + e.dump());
    cc.name = e.at("name").get<std::string>();
    if (!is_label(cc.name))
      f.fail("contrasts", fmt::format("contrast name \"{}\" must be letters and digits only (it becomes the "
                                      "contrast- entity of output names)",
                                      cc.name));
    for (const auto& [key, value] : e.items())
      if (key != "name" && key != "expression" && key != "rows")
        f.fail("contrasts",
               fmt::format("contrast \"{}\": unknown key \"{}\" (name, expression for a t contrast, "
                           "rows for an F contrast)",
                           cc.name, key));
    if (e.contains("expression") == e.contains("rows"))
      f.fail("contrasts",
             fmt::format("contrast \"{}\": give either \"expression\" (t) or \"rows\" (F)", cc.name));
    if (e.contains("expression")) {
      if (!e.at("expression").is_string()) f.fail("contrasts", "\"expression\" must be a string");
      cc.expressions.push_back(e.at("expression").get<std::string>());
    } else {
      const auto& rows = e.at("rows");
      if (!rows.is_array() || rows.empty())
        f.fail("contrasts", "\"rows\" must be a non-empty array of strings");
      for (const auto& r : rows) {
        if (!r.is_string()) f.fail("contrasts", "\"rows\" must be a non-empty array of strings");
        cc.expressions.push_back(r.get<std::string>());
      }
    }
    for (const auto& other : c.contrasts)
      if (other.name == cc.name)
        f.fail("contrasts", fmt::format("contrast name \"{}\" is used twice", cc.name));
    c.contrasts.push_back(std::move(cc));
  }
  return c;
}

io::Json glm_source(const GlmConfig& c) {
  io::Json contrasts = io::Json::array();
  for (const auto& cc : c.contrasts) {
    if (cc.expressions.size() == 1)
      contrasts.push_back({{"name", cc.name}, {"expression", cc.expressions.front()}});
    else
      contrasts.push_back({{"name", cc.name}, {"rows", cc.expressions}});
  }
  io::Json mods = io::Json::array();
  for (const auto& m : c.modulators) mods.push_back({{"condition", m.condition}, {"column", m.column}});
  io::Json j = {{"hrf", c.hrf},
                {"drift", c.drift},
                {"high_pass_s", c.high_pass_s},
                {"drift_order", c.drift_order},
                {"conditions", c.conditions},
                {"modulators", mods},
                {"confounds", c.confounds},
                {"noise_model", c.noise_model},
                {"ar_order", c.ar_order},
                {"signal_scaling", c.signal_scaling},
                {"contrasts", contrasts},
                {"voxelwise", c.voxelwise},
                {"template_resolution_mm", c.template_resolution_mm}};
  if (c.hrf == "fir") j["fir_delays"] = c.fir_delays;
  if (c.slice_time_ref >= 0) j["slice_time_ref"] = c.slice_time_ref;
  return j;
}

GroupConfig parse_group(const io::Json& j, const std::string& where) {
  const Fields f(j, "group", where);
  f.only({"analyses", "contrasts", "permutations", "seed", "tail", "voxelwise"});
  GroupConfig c;
  c.enabled = true;
  f.get("contrasts", c.contrasts);
  f.get("permutations", c.permutations, 0, 1000000);
  if (f.has("seed")) {
    if (!f.at("seed").is_number_unsigned()) f.fail("seed", "expected a non-negative integer");
    c.seed = f.at("seed").get<std::uint64_t>();
  }
  f.get("tail", c.tail, {"two_sided", "greater", "less"});
  f.get("voxelwise", c.voxelwise);
  if (f.has("analyses")) {
    const auto& as = f.at("analyses");
    if (!as.is_array()) f.fail("analyses", "expected an array of analyses");
    for (const auto& a : as) {
      const Fields g(a, "group.analyses[]", where);
      g.only({"name", "kind", "group_column", "levels", "covariates", "contrast", "pair"});
      GroupAnalysisConfig ac;
      if (!g.has("name") || !g.at("name").is_string()) g.fail("name", "required: letters and digits");
      ac.name = g.at("name").get<std::string>();
      if (!is_label(ac.name))
        g.fail("name",
               fmt::format("\"{}\" must be letters and digits only (the desc- entity of outputs)", ac.name));
      g.get("kind", ac.kind, {"one_sample", "two_sample", "paired"});
      if (g.has("group_column")) {
        if (!g.at("group_column").is_string()) g.fail("group_column", "expected a column name");
        ac.group_column = g.at("group_column").get<std::string>();
      }
      g.get("levels", ac.levels);
      g.get("covariates", ac.covariates);
      g.get("pair", ac.pair);
      if (g.has("contrast")) {
        if (!g.at("contrast").is_string()) g.fail("contrast", "expected an expression over the group design");
        ac.contrast = g.at("contrast").get<std::string>();
      }
      if (ac.kind == "two_sample" && (ac.group_column.empty() || ac.levels.size() != 2))
        g.fail("levels", fmt::format("analysis \"{}\": a two_sample analysis needs \"group_column\" and two "
                                     "\"levels\", e.g. [\"patient\", \"control\"]",
                                     ac.name));
      if (ac.kind == "paired" && ac.pair.size() != 2)
        g.fail("pair", fmt::format("analysis \"{}\": a paired analysis needs \"pair\": two first-level "
                                   "contrasts, e.g. [\"gainAnticipation\", \"lossAnticipation\"]",
                                   ac.name));
      if (ac.kind != "paired" && !ac.pair.empty())
        g.fail("pair", fmt::format("analysis \"{}\": \"pair\" is for paired analyses", ac.name));
      for (const auto& other : c.analyses)
        if (other.name == ac.name) g.fail("name", fmt::format("analysis name \"{}\" is used twice", ac.name));
      c.analyses.push_back(std::move(ac));
    }
  }
  return c;
}

io::Json group_source(const GroupConfig& c) {
  io::Json analyses = io::Json::array();
  for (const auto& a : c.analyses) {
    io::Json j = {{"name", a.name}, {"kind", a.kind}, {"covariates", a.covariates}};
    if (!a.group_column.empty()) j["group_column"] = a.group_column;
    if (!a.levels.empty()) j["levels"] = a.levels;
    if (!a.contrast.empty()) j["contrast"] = a.contrast;
    if (!a.pair.empty()) j["pair"] = a.pair;
    analyses.push_back(j);
  }
  return {{"analyses", analyses}, {"contrasts", c.contrasts}, {"permutations", c.permutations},
          {"seed", c.seed},       {"tail", c.tail},           {"voxelwise", c.voxelwise}};
}

} // namespace rewardpath::pipeline
