#pragma once
// `rewardpath simulate`: a BIDS dataset with known ground truth (fMRI MID task and
// [11C]raclopride-like PET), for tests, benchmarks and the demo.
//   OUT_DIR/bids/   the dataset the pipeline reads (valid BIDS)
//   OUT_DIR/truth/  ground truth beside it (JSON, NIfTI): effects per ROI, BP_ND per region and
//                   voxelwise, true transforms, active-voxel masks, noise parameters
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rewardpath::simulate {

enum class Size {
  small,   // for tests: seconds to make
  standard // 64x64x36 at ~3 mm, 300 volumes, TR 2 s: for benchmarks
};

struct Options {
  int subjects = 4;
  std::uint64_t seed = 1;
  bool func = true;
  bool pet = true;
  Size size = Size::small;
  bool motion = true; // head motion along a known rigid trajectory (fMRI) / between frames (PET)
  bool blood = true;  // write _blood.tsv (plasma input) for PET
};

struct Result {
  std::filesystem::path bids_dir;
  std::filesystem::path truth_dir;
  std::vector<std::string> subjects; // labels without "sub-"
  double seconds = 0.0;
};

// Deterministic for (options, seed) on any machine and at any thread count.
Result simulate_dataset(const std::filesystem::path& out_dir, const Options& options);

} // namespace rewardpath::simulate
