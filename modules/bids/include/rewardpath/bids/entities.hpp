#pragma once
// BIDS file names: key-value entities, a suffix and an extension, e.g.
// "sub-01_ses-1_task-mid_run-01_bold.nii.gz" -> {sub:01, ses:1, task:mid, run:01}, "bold", ".nii.gz".
#include <map>
#include <optional>
#include <string>

namespace rewardpath::bids {

struct Entities {
  std::map<std::string, std::string> values; // key -> label, e.g. "task" -> "mid"
  std::string suffix;                        // e.g. "bold"
  std::string extension;                     // with the dot(s), e.g. ".nii.gz"

  bool has(const std::string& key) const { return values.count(key) != 0; }
  std::string get(const std::string& key, const std::string& fallback = "") const;
  // True when every entity of *this also appears, with the same label, in `other`
  // (the test of the BIDS inheritance principle).
  bool is_subset_of(const Entities& other) const;
};

// Parses a file name (not a path). Returns nullopt when the name is not BIDS-shaped.
std::optional<Entities> parse_filename(const std::string& filename);

} // namespace rewardpath::bids
