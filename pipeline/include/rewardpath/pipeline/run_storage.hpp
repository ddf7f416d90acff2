#pragma once
// Where the stages decode a subject's 4D runs: in memory, or, for a run whose working copy would
// not fit the memory budget (--mem-gb), in a scratch file mapped in its place (io::ReadOptions,
// core/storage.hpp). Such a subject still runs: the kernel pages the run to disk instead of the
// process failing for want of memory. Slower when memory is really short; same results.
#include <cstdint>
#include <filesystem>

#include "rewardpath/io/nifti.hpp"

namespace rewardpath::pipeline {

struct RunStorage {
  std::int64_t memory_budget_bytes = 0; // 0: no limit (always in memory)
  std::filesystem::path scratch_dir;    // where scratch files go (--scratch-dir, else the output directory)

  // A run's working copy is its float voxels plus a quarter (as SubjectPlan::memory_bytes counts).
  bool needs_scratch(const io::NiftiHeader& run) const;
  // How to read `run`; logs once per call when it goes to a scratch file.
  io::ReadOptions for_run(const io::NiftiHeader& run) const;
};

} // namespace rewardpath::pipeline
