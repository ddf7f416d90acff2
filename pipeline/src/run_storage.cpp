#include "rewardpath/pipeline/run_storage.hpp"

#include <spdlog/spdlog.h>

#include "rewardpath/core/storage.hpp"

namespace rewardpath::pipeline {

namespace {
double gib(std::int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }
std::int64_t working_bytes(const io::NiftiHeader& run) {
  const std::int64_t floats = run.voxels_per_volume() * run.volumes() * 4;
  return floats + floats / 4;
}
} // namespace

bool RunStorage::needs_scratch(const io::NiftiHeader& run) const {
  return memory_budget_bytes > 0 && working_bytes(run) > memory_budget_bytes;
}

io::ReadOptions RunStorage::for_run(const io::NiftiHeader& run) const {
  if (!needs_scratch(run)) return {};
  spdlog::warn("{}: the run needs ~{:.1f} GB in memory, more than the memory budget ({:.3g} GB): it is "
               "kept in a scratch file in {} instead (slower if memory is really short; nothing is left "
               "on disk; see --mem-gb and --scratch-dir)",
               run.path.filename().string(), gib(working_bytes(run)), gib(memory_budget_bytes),
               scratch_dir.string());
  if (is_memory_backed_dir(scratch_dir))
    spdlog::warn("{} is on a memory-backed file system (tmpfs): a scratch file there still uses memory; "
                 "point --scratch-dir at a disk",
                 scratch_dir.string());
  return {scratch_dir};
}

} // namespace rewardpath::pipeline
