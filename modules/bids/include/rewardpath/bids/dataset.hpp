#pragma once
// Dataset discovery: subjects, sessions, tasks, runs; sidecar metadata by the BIDS inheritance
// principle. Discovery never reads voxel data and never writes into the dataset.
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/bids/entities.hpp"
#include "rewardpath/io/json.hpp"

namespace rewardpath::bids {

struct BoldRun {
  std::filesystem::path image;  // *_bold.nii[.gz]
  std::filesystem::path events; // matching *_events.tsv, empty if none
  Entities entities;
  io::Json metadata = io::Json::object();      // merged sidecars, most specific last
  std::vector<std::filesystem::path> sidecars; // applied order, least specific first
};

struct PetRun {
  std::filesystem::path image; // *_pet.nii[.gz]
  Entities entities;
  io::Json metadata = io::Json::object();
  std::vector<std::filesystem::path> sidecars;
  std::vector<std::filesystem::path> blood; // matching *_blood.tsv (one per recording), may be empty
};

struct AnatImage {
  std::filesystem::path image; // *_T1w.nii[.gz]
  Entities entities;
};

struct Subject {
  std::string label;                 // without "sub-"
  std::vector<std::string> sessions; // without "ses-"; empty if the dataset has no sessions
  std::vector<BoldRun> bold;
  std::vector<PetRun> pet;
  std::vector<AnatImage> t1w;
};

struct Dataset {
  std::filesystem::path root;
  io::Json description = io::Json::object(); // dataset_description.json
  std::vector<Subject> subjects;             // sorted by label, digit runs by value (2 before 10)
  std::filesystem::path participants_tsv;    // empty if absent

  const Subject* find_subject(const std::string& label) const; // with or without "sub-"
};

// Scans a BIDS dataset (root is made absolute). Errors: root missing or not a directory, no
// dataset_description.json, invalid JSON in it. Files that are not BIDS-shaped are ignored (as the
// validator's .bidsignore would); sidecars that fail to parse are errors naming the file, as are data files
// whose sub-/ses- entities disagree with their folders, and two equally specific sidecars at one
// level. Runs are sorted by path; events are the most specific applicable *_events.tsv.
Dataset discover(const std::filesystem::path& root);

// Merged metadata for a data file: every *.json with the same suffix from the dataset root down
// to the file's directory whose entities are a subset of the file's, least specific first, later
// keys overriding earlier ones. `applied` receives the files used, in order.
io::Json inherited_metadata(const std::filesystem::path& root, const std::filesystem::path& data_file,
                            std::vector<std::filesystem::path>* applied = nullptr);

// Labels given on the command line ("01" or "sub-01") -> subject labels without "sub-". Empty
// input selects every subject. An unknown label is an error listing the labels that exist.
std::vector<std::string> select_participants(const Dataset& dataset, const std::vector<std::string>& labels);

} // namespace rewardpath::bids
