#pragma once
// Where a stage's files go: BIDS Derivatives names (bids::derivative_path), every file written
// atomically and recorded for the subject's provenance, a JSON sidecar beside the TSVs and images
// that have one. One home for "name it, write it, record it" so no stage re-derives it.
#include <filesystem>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "rewardpath/bids/derivatives.hpp"
#include "rewardpath/bids/entities.hpp"
#include "rewardpath/core/volume.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::pipeline {

using ExtraEntities = std::map<std::string, std::string>;

// The JSON sidecar of a TSV or NIfTI file: X.tsv -> X.json, X.nii.gz -> X.json.
std::filesystem::path sidecar_path(const std::filesystem::path& file);

// Appends `more` (a stage's or a writer's files) to `to`.
inline void append(std::vector<std::filesystem::path>& to, std::vector<std::filesystem::path> more) {
  to.insert(to.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
}

class OutputWriter {
public:
  OutputWriter(std::filesystem::path out_dir, bids::Entities source)
      : out_dir_(std::move(out_dir)), source_(std::move(source)) {}

  // The path of an output, not recorded (e.g. to name it in another file's sidecar).
  std::filesystem::path path(bids::Output kind, const ExtraEntities& extra = {}) const {
    return bids::derivative_path(out_dir_, source_, kind, extra);
  }
  // The path, recorded as an output: for files the caller writes itself (e.g. concurrently).
  std::filesystem::path claim(bids::Output kind, const ExtraEntities& extra = {});

  std::filesystem::path json(bids::Output kind, const ExtraEntities& extra, const io::Json& value);
  std::filesystem::path tsv(bids::Output kind, const ExtraEntities& extra, const io::Table& table);
  std::filesystem::path tsv(bids::Output kind, const ExtraEntities& extra, const io::Table& table,
                            const io::Json& sidecar);
  std::filesystem::path nifti(bids::Output kind, const ExtraEntities& extra, const Volume& image,
                              const io::NiftiWriteOptions& options = {});
  std::filesystem::path nifti(bids::Output kind, const ExtraEntities& extra, const Volume& image,
                              const io::NiftiWriteOptions& options, const io::Json& sidecar);

  void record(const std::filesystem::path& written) { outputs_.push_back(written); }
  const std::filesystem::path& out_dir() const { return out_dir_; }
  std::vector<std::filesystem::path> take_outputs() { return std::move(outputs_); }

private:
  std::filesystem::path out_dir_;
  bids::Entities source_;
  std::vector<std::filesystem::path> outputs_;
};

} // namespace rewardpath::pipeline
