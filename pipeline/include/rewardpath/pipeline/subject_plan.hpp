#pragma once
// Header-first validation of one subject's inputs, done single-threaded before any voxel is read.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rewardpath/bids/dataset.hpp"
#include "rewardpath/bids/events.hpp"
#include "rewardpath/bids/metadata.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/pipeline/config.hpp"

namespace rewardpath::pipeline {

struct BoldInput {
  bids::BoldRun run;
  io::NiftiHeader header;
  bids::BoldMetadata metadata;
  std::optional<bids::Events> events;
};

struct PetInput {
  bids::PetRun run;
  io::NiftiHeader header;
  bids::PetMetadata metadata;
};

struct SubjectPlan {
  std::string label;
  std::vector<BoldInput> bold;
  std::vector<PetInput> pet;
  std::vector<io::NiftiHeader> t1w;
  std::vector<bids::AnatImage> t1w_images;   // same order as t1w (names and entities)
  std::vector<std::filesystem::path> inputs; // every file read, for provenance
  std::int64_t memory_bytes = 0;             // peak working memory estimate
};

// Throws rewardpath::Error naming the file, the field and what was expected.
SubjectPlan plan_subject(const bids::Subject& subject, const Config& config);

} // namespace rewardpath::pipeline
