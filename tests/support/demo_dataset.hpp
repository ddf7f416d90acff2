#pragma once
// A small BIDS dataset with fMRI (MID-like task) and PET, for the demo and the pipeline tests,
// until the simulator (modules/simulate) replaces it. Deterministic for a seed.
#include <cstdint>
#include <filesystem>
#include <string>

#include "rewardpath/core/volume.hpp"

namespace rewardpath::testdata {

struct DemoOptions {
  int subjects = 3;
  std::array<std::int64_t, 3> bold_dims{20, 24, 12};
  std::int64_t bold_volumes = 80;
  double tr_s = 2.0;
  bool with_pet = true; // sub-01 also gets a PET study
  std::uint32_t seed = 1;
};

// Writes dataset_description.json, participants.tsv, a root-level task-mid_bold.json (inherited by
// every run), and per subject anat/T1w, func/bold + events, and for sub-01 pet/ with blood data.
void write_demo_dataset(const std::filesystem::path& root, const DemoOptions& options = {});

// Pieces, for tests that build odd datasets.
Volume make_bold_run(const std::array<std::int64_t, 3>& dims, std::int64_t volumes, double tr_s,
                     std::uint32_t seed);
std::string mid_events_tsv(double run_duration_s, std::uint32_t seed);
void write_text(const std::filesystem::path& path, const std::string& text);

} // namespace rewardpath::testdata
