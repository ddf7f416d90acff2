#include "rewardpath/bids/events.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <optional>
#include <set>

#include "rewardpath/core/error.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::bids {

namespace {

bool is_na(std::string_view cell) {
  while (!cell.empty() && cell.front() == ' ') cell.remove_prefix(1);
  while (!cell.empty() && cell.back() == ' ') cell.remove_suffix(1);
  return cell == "n/a";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// When onset is n/a throughout, the timing usually sits in dataset-specific columns; name them.
std::string onset_hint(const io::Table& t, std::size_t onset_col) {
  for (std::size_t r = 0; r < t.row_count(); ++r)
    if (!is_na(t.cell(r, onset_col))) return "";
  std::vector<std::string> candidates;
  for (std::size_t c = 0; c < t.columns().size(); ++c)
    if (c != onset_col && lower(t.columns()[c]).find("onset") != std::string::npos)
      candidates.push_back(t.columns()[c]);
  if (candidates.empty()) return "";
  return fmt::format(
      "; every onset in this file is n/a and it has other timing columns ({}): choose them with "
      "EventColumns, e.g. {{.onset = \"{}\", .duration = ...}}",
      fmt::join(candidates, ", "), candidates.front());
}

double parse_seconds(const io::Table& t, std::size_t r, std::size_t c, const char* expected) {
  const std::string& cell = t.cell(r, c);
  const auto v = io::parse_number(cell);
  if (!v || !std::isfinite(*v))
    throw Error(fmt::format("line {}, column \"{}\": \"{}\" is not a number (expected {})", t.line_of_row(r),
                            t.columns()[c], cell, expected))
        .context(t.source().string());
  return *v;
}

std::size_t line_of(const Events& e, std::size_t i) { return i < e.line.size() ? e.line[i] : i + 2; }

std::string source_name(const Events& e) {
  return e.source.empty() ? std::string("events") : e.source.string();
}

} // namespace

std::vector<std::string> Events::trial_types() const {
  std::set<std::string> distinct;
  for (const auto& t : trial_type)
    if (!t.empty() && !is_na(t)) distinct.insert(t);
  return {distinct.begin(), distinct.end()};
}

Events read_events(const std::filesystem::path& path) { return read_events(path, EventColumns{}); }

Events read_events(const std::filesystem::path& path, const EventColumns& columns) {
  const io::Table t = io::read_tsv(path);
  auto require = [&](const std::string& name, const char* meaning) {
    if (auto c = t.find_column(name)) return *c;
    throw Error(fmt::format("missing required column \"{}\" ({}); the header has: {}", name, meaning,
                            fmt::join(t.columns(), ", ")))
        .context(path.string());
  };
  const std::size_t onset_col = require(columns.onset, "event onsets in seconds from the start of the run");
  const std::size_t duration_col =
      require(columns.duration, "event durations in seconds, 0 or n/a for impulses");
  // trial_type is optional in BIDS, but a column asked for by name must exist (no silently ignored option).
  const auto trial_col = columns.trial_type == "trial_type"
                             ? t.find_column(columns.trial_type)
                             : std::optional(require(columns.trial_type, "the condition of each event"));

  Events ev;
  ev.source = path;
  const std::size_t n = t.row_count();
  ev.onset.reserve(n);
  ev.duration.reserve(n);
  ev.trial_type.reserve(n);
  for (std::size_t r = 0; r < n; ++r) {
    if (is_na(t.cell(r, onset_col)))
      throw Error(
          fmt::format("line {}, column \"{}\": onset is n/a, but every event needs an onset in seconds{}",
                      t.line_of_row(r), columns.onset, onset_hint(t, onset_col)))
          .context(path.string());
    ev.onset.push_back(parse_seconds(t, r, onset_col, "the onset in seconds from the start of the run"));

    double d = 0.0; // n/a duration: an impulse event, as BIDS permits
    if (!is_na(t.cell(r, duration_col))) {
      d = parse_seconds(t, r, duration_col, "a duration in seconds, or n/a");
      if (d < 0)
        throw Error(
            fmt::format("line {}, column \"{}\": duration {} s is negative (expected >= 0; use 0 or n/a for "
                        "an impulse event)",
                        t.line_of_row(r), columns.duration, d))
            .context(path.string());
    }
    ev.duration.push_back(d);
    ev.line.push_back(t.line_of_row(r));
    ev.trial_type.push_back(trial_col ? t.cell(r, *trial_col) : std::string());
  }

  // Candidate modulators: numeric columns other than timing and condition (all-n/a columns stay, so a model
  // that asks for one gets "all n/a" from the GLM rather than "no such column").
  for (std::size_t c = 0; c < t.columns().size(); ++c) {
    const std::string& name = t.columns()[c];
    if (c == onset_col || c == duration_col || (trial_col && c == *trial_col) || name == "onset" ||
        name == "duration")
      continue;
    bool numeric = true;
    for (std::size_t r = 0; r < n && numeric; ++r) numeric = is_na(t.cell(r, c)) || t.is_number(r, c);
    if (!numeric) continue;
    std::vector<double> values(n);
    for (std::size_t r = 0; r < n; ++r) values[r] = t.number(r, c);
    ev.modulator_names.push_back(name);
    ev.modulators.push_back(std::move(values));
  }
  return ev;
}

void check_events_fit_run(const Events& events, double run_duration_s) {
  if (!(run_duration_s > 0) || !std::isfinite(run_duration_s))
    throw Error(fmt::format("run duration must be > 0 s (volumes x RepetitionTime), got {}", run_duration_s))
        .context(source_name(events));
  for (std::size_t i = 0; i < events.size(); ++i) {
    const double onset = events.onset[i];
    if (onset >= run_duration_s)
      throw Error(
          fmt::format("line {}: onset {} s is at or after the end of the run ({} s = volumes x "
                      "RepetitionTime); check that onsets are in seconds (not milliseconds or volumes) "
                      "and that this events file belongs to this run",
                      line_of(events, i), onset, run_duration_s))
          .context(source_name(events));
    if (onset < -run_duration_s)
      throw Error(
          fmt::format("line {}: onset {} s is earlier than minus the run's length ({} s); the timing is "
                      "clearly wrong (onsets count from the first volume's acquisition)",
                      line_of(events, i), onset, run_duration_s))
          .context(source_name(events));
  }
}

} // namespace rewardpath::bids
