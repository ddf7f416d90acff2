#include "rewardpath/bids/entities.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

namespace rewardpath::bids {

namespace {

bool is_alnum(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

// ".nii.gz", ".json": one or more dot-separated alphanumeric parts.
bool is_extension(std::string_view ext) {
  if (ext.empty() || ext.front() != '.') return false;
  std::size_t start = 1;
  while (true) {
    const std::size_t dot = ext.find('.', start);
    if (!is_alnum(ext.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

} // namespace

std::string Entities::get(const std::string& key, const std::string& fallback) const {
  auto it = values.find(key);
  return it == values.end() ? fallback : it->second;
}

bool Entities::is_subset_of(const Entities& other) const {
  return std::all_of(values.begin(), values.end(), [&](const auto& kv) {
    auto it = other.values.find(kv.first);
    return it != other.values.end() && it->second == kv.second;
  });
}

std::optional<Entities> parse_filename(const std::string& filename) {
  // A name, not a path; hidden files (.DS_Store, ._foo) are never BIDS files.
  if (filename.empty() || filename.front() == '.' || filename.find('/') != std::string::npos)
    return std::nullopt;
  const std::size_t dot = filename.find('.');
  if (dot == std::string::npos) return std::nullopt; // BIDS files always have an extension
  Entities e;
  e.extension = filename.substr(dot);
  if (!is_extension(e.extension)) return std::nullopt;

  const auto parts = split(std::string_view(filename).substr(0, dot), '_');
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::size_t dash = parts[i].find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    const std::string_view key = parts[i].substr(0, dash);
    const std::string_view label = parts[i].substr(dash + 1);
    if (!is_alnum(key) || !is_alnum(label)) return std::nullopt;
    // A repeated key ("sub-01_sub-02_bold") is ambiguous, so not BIDS-shaped.
    if (!e.values.emplace(std::string(key), std::string(label)).second) return std::nullopt;
  }
  if (!is_alnum(parts.back())) return std::nullopt;
  e.suffix = std::string(parts.back());
  return e;
}

} // namespace rewardpath::bids
