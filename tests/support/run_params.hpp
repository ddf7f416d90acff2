#pragma once
// What the pipeline tests share: the parameters of a test run and a subject's outcome by label.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "rewardpath/pipeline/runner.hpp"

namespace rewardpath::test_support {

// Two threads, a small memory budget, no --force; `config` and `labels` optional.
inline pipeline::RunParams run_params(const std::filesystem::path& bids, const std::filesystem::path& out,
                                      const std::filesystem::path& config = {},
                                      std::vector<std::string> labels = {}, double mem_gb = 2.0) {
  pipeline::RunParams p;
  p.bids_dir = bids;
  p.out_dir = out;
  p.config_file = config;
  p.participant_labels = std::move(labels);
  p.threads = 2;
  p.mem_gb = mem_gb;
  p.command_line = "test";
  return p;
}

inline const pipeline::SubjectOutcome& outcome(const pipeline::RunSummary& s, const std::string& label) {
  for (const auto& o : s.subjects)
    if (o.label == label) return o;
  throw std::runtime_error("no subject " + label + " in the run summary");
}

} // namespace rewardpath::test_support
