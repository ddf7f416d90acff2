#include "rewardpath/bids/metadata.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <map>

#include "rewardpath/bids/entities.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::bids {

namespace {

void require_object(const io::Json& merged, const std::string& where) {
  if (!merged.is_object())
    throw Error(fmt::format("sidecar metadata must be a JSON object, found {}", merged.type_name()))
        .context(where);
}

std::optional<std::vector<double>> finite_array(const io::Json& j, const std::string& field,
                                                const std::string& where) {
  auto v = io::optional_number_array(j, field, where);
  if (v)
    for (std::size_t i = 0; i < v->size(); ++i)
      if (!std::isfinite((*v)[i]))
        throw Error(fmt::format("field \"{}\"[{}] is not finite", field, i)).context(where);
  return v;
}

std::string required_string(const io::Json& j, const std::string& field, const std::string& where,
                            const std::string& why) {
  auto v = io::optional_string(j, field, where);
  if (!v) throw Error(fmt::format("required field \"{}\" is missing; {}", field, why)).context(where);
  if (v->empty()) throw Error(fmt::format("field \"{}\" is empty; {}", field, why)).context(where);
  return *v;
}

// "C11", "11C", "[11C]", "C-11", "^11C" -> "C11"; anything else -> as given, upper-cased.
std::string normalise_radionuclide(const std::string& text) {
  std::string letters, digits;
  for (unsigned char c : text) {
    if (std::isalpha(c))
      letters += static_cast<char>(std::toupper(c));
    else if (std::isdigit(c))
      digits += static_cast<char>(c);
  }
  return letters + digits;
}

std::optional<double> half_life_s(const std::string& radionuclide) {
  static const std::map<std::string, double> table{
      {"C11", 1223.1}, {"F18", 6586.2}, {"O15", 122.24}, {"N13", 597.9}};
  auto it = table.find(normalise_radionuclide(radionuclide));
  if (it == table.end()) return std::nullopt;
  return it->second;
}

} // namespace

BoldMetadata bold_metadata(const io::Json& merged, const std::string& where,
                           std::optional<std::int64_t> slices) {
  require_object(merged, where);
  BoldMetadata m;
  const auto tr = io::optional_number(merged, "RepetitionTime", where);
  if (!tr)
    throw Error(
        "required field \"RepetitionTime\" is missing; BIDS requires it for BOLD images (seconds between "
        "volumes, e.g. 2.0): add it to the run's _bold.json or to a task-<label>_bold.json at the dataset "
        "root")
        .context(where);
  if (!std::isfinite(*tr) || *tr <= 0)
    throw Error(fmt::format("field \"RepetitionTime\" must be > 0 seconds, got {}", *tr)).context(where);
  // No BOLD sequence has a TR of minutes; such a value is milliseconds written where BIDS wants seconds.
  if (*tr > 100)
    throw Error(fmt::format("field \"RepetitionTime\" is {}: BIDS uses seconds, this looks like milliseconds "
                            "(did you mean {}?)",
                            *tr, *tr / 1000))
        .context(where);
  m.repetition_time_s = *tr;

  if (auto st = finite_array(merged, "SliceTiming", where)) {
    if (st->empty())
      throw Error("field \"SliceTiming\" is an empty array (give one time per slice or omit it)")
          .context(where);
    for (std::size_t i = 0; i < st->size(); ++i)
      if ((*st)[i] < 0 || (*st)[i] >= *tr)
        throw Error(
            fmt::format("field \"SliceTiming\"[{}] is {} s, outside [0, RepetitionTime = {} s); slice times "
                        "are seconds from the start of each volume",
                        i, (*st)[i], *tr))
            .context(where);
    if (slices && static_cast<std::int64_t>(st->size()) != *slices)
      throw Error(
          fmt::format("field \"SliceTiming\" has {} values but the image has {} slices; expected one time "
                      "per slice",
                      st->size(), *slices))
          .context(where);
    m.slice_timing_s = std::move(*st);
  }
  m.task_name = io::optional_string(merged, "TaskName", where).value_or("");
  return m;
}

std::vector<double> PetMetadata::frame_mid_times_s() const {
  std::vector<double> mid(frames());
  for (std::size_t i = 0; i < mid.size(); ++i) mid[i] = frame_times_start_s[i] + 0.5 * frame_duration_s[i];
  return mid;
}

PetMetadata pet_metadata(const io::Json& merged, const std::string& where,
                         std::optional<std::int64_t> frames) {
  require_object(merged, where);
  PetMetadata m;
  auto required_frames = [&](const char* field) {
    auto v = finite_array(merged, field, where);
    if (!v)
      throw Error(
          fmt::format("required field \"{}\" is missing; BIDS-PET requires FrameTimesStart and FrameDuration "
                      "(seconds, one value per frame)",
                      field))
          .context(where);
    if (v->empty())
      throw Error(fmt::format("field \"{}\" is empty; expected one value per frame", field)).context(where);
    return std::move(*v);
  };
  std::vector<double> starts = required_frames("FrameTimesStart");
  std::vector<double> durations = required_frames("FrameDuration");
  if (starts.size() != durations.size())
    throw Error(
        fmt::format("FrameTimesStart has {} values but FrameDuration has {}; expected one of each per frame",
                    starts.size(), durations.size()))
        .context(where);
  const std::size_t n = starts.size();
  if (frames && static_cast<std::int64_t>(n) != *frames)
    throw Error(
        fmt::format("the sidecar lists {} frames (FrameTimesStart/FrameDuration) but the image has {}; "
                    "expected one entry per frame",
                    n, *frames))
        .context(where);
  for (std::size_t i = 0; i < n; ++i)
    if (durations[i] <= 0)
      throw Error(
          fmt::format("field \"FrameDuration\"[{}] is {} s; frame durations must be > 0", i, durations[i]))
          .context(where);
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const double s0 = starts[i], s1 = starts[i + 1], end = s0 + durations[i];
    if (s1 <= s0)
      throw Error(
          fmt::format("field \"FrameTimesStart\" is not sorted: frame {} starts at {} s, frame {} at {} s; "
                      "frames must be in increasing time order",
                      i, s0, i + 1, s1))
          .context(where);
    if (end > s1 + 1e-3) {
      // A common conversion slip writes each frame's end time (= next start) where its duration belongs.
      bool looks_like_ends = n > 2;
      for (std::size_t k = 0; k + 1 < n && looks_like_ends; ++k)
        looks_like_ends = std::abs(durations[k] - starts[k + 1]) < 1e-3;
      throw Error(
          fmt::format("frames overlap: frame {} starts at {} s and lasts {} s (ends at {} s) but frame {} "
                      "starts at {} s{}",
                      i, s0, durations[i], end, i + 1, s1,
                      looks_like_ends ? "; FrameDuration looks like frame end times (each value equals the "
                                        "next FrameTimesStart); durations are end minus start"
                                      : ""))
          .context(where);
    }
  }
  m.frame_times_start_s = std::move(starts);
  m.frame_duration_s = std::move(durations);

  m.units = required_string(merged, "Units", where, "BIDS-PET requires the image's units, e.g. \"Bq/mL\"");
  m.tracer_name = required_string(merged, "TracerName", where,
                                  "BIDS-PET requires the tracer's name, e.g. \"raclopride\"");
  if (auto it = merged.find("ImageDecayCorrected"); it != merged.end() && !it->is_null()) {
    if (!it->is_boolean())
      throw Error(fmt::format("field \"ImageDecayCorrected\": expected true or false, found {} {}",
                              it->type_name(), it->dump()))
          .context(where);
    m.decay_corrected = it->get<bool>();
  }
  m.decay_correction_time_s = io::optional_number(merged, "ImageDecayCorrectionTime", where);
  m.injected_radioactivity = io::optional_number(merged, "InjectedRadioactivity", where);
  m.injected_radioactivity_units =
      io::optional_string(merged, "InjectedRadioactivityUnits", where).value_or("");
  if (auto nuclide = io::optional_string(merged, "TracerRadionuclide", where))
    m.tracer_half_life_s = half_life_s(*nuclide);
  return m;
}

BloodData read_blood(const std::filesystem::path& tsv) {
  const io::Table t = io::read_tsv(tsv);
  BloodData b;
  b.source = tsv;
  const std::size_t time_col = t.require_column("time");
  for (std::size_t r = 0; r < t.row_count(); ++r) {
    const double v = t.number(r, time_col);
    if (!std::isfinite(v))
      throw Error(fmt::format("line {}, column \"time\": \"{}\" is not a time (expected seconds; n/a is not "
                              "allowed here)",
                              r + 2, t.cell(r, time_col)))
          .context(tsv.string());
    if (!b.time_s.empty() && v < b.time_s.back())
      throw Error(
          fmt::format("line {}, column \"time\": {} s comes after {} s; samples must be in time order", r + 2,
                      v, b.time_s.back()))
          .context(tsv.string());
    b.time_s.push_back(v);
  }
  bool any = false;
  for (auto [name, out] : {std::pair{"plasma_radioactivity", &b.plasma_radioactivity},
                           std::pair{"whole_blood_radioactivity", &b.whole_blood_radioactivity},
                           std::pair{"metabolite_parent_fraction", &b.metabolite_parent_fraction}}) {
    if (!t.find_column(name)) continue;
    *out = t.numbers(name);
    any = true;
  }
  if (!any)
    throw Error(
        "none of the columns plasma_radioactivity, whole_blood_radioactivity, metabolite_parent_fraction is "
        "present; a BIDS-PET blood file needs at least one")
        .context(tsv.string());

  // The sidecar describing this file's columns sits next to it: same name, .json.
  const std::string name = tsv.filename().string();
  const auto sidecar = tsv.parent_path() / (name.substr(0, name.find('.')) + ".json");
  std::error_code ec;
  if (std::filesystem::exists(sidecar, ec)) {
    const io::Json j = io::read_json(sidecar);
    if (!j.is_object()) throw Error("a sidecar must hold a JSON object").context(sidecar.string());
    auto units_of = [&](const std::string& column) -> std::string {
      auto it = j.find(column);
      if (it == j.end() || !it->is_object()) return "";
      return io::optional_string(*it, "Units", fmt::format("{}: column \"{}\"", sidecar.string(), column))
          .value_or("");
    };
    const std::string time_units = units_of("time");
    if (!time_units.empty() && time_units != "s")
      throw Error(fmt::format("column \"time\" has Units \"{}\"; BIDS-PET blood times are in seconds (\"s\")",
                              time_units))
          .context(sidecar.string());
    b.plasma_units = units_of("plasma_radioactivity");
    b.whole_blood_units = units_of("whole_blood_radioactivity");
  }
  return b;
}

} // namespace rewardpath::bids
