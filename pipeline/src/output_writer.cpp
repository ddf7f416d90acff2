#include "output_writer.hpp"

namespace rewardpath::pipeline {
namespace fs = std::filesystem;

fs::path sidecar_path(const fs::path& file) {
  fs::path p = file;
  if (p.extension() == ".gz") p.replace_extension();
  p.replace_extension(".json");
  return p;
}

fs::path OutputWriter::claim(bids::Output kind, const ExtraEntities& extra) {
  fs::path p = path(kind, extra);
  record(p);
  return p;
}

fs::path OutputWriter::json(bids::Output kind, const ExtraEntities& extra, const io::Json& value) {
  const fs::path p = path(kind, extra);
  io::write_json(p, value);
  record(p);
  return p;
}

fs::path OutputWriter::tsv(bids::Output kind, const ExtraEntities& extra, const io::Table& table) {
  const fs::path p = path(kind, extra);
  io::write_tsv(p, table);
  record(p);
  return p;
}

fs::path OutputWriter::tsv(bids::Output kind, const ExtraEntities& extra, const io::Table& table,
                           const io::Json& sidecar) {
  const fs::path p = tsv(kind, extra, table);
  io::write_json(sidecar_path(p), sidecar);
  record(sidecar_path(p));
  return p;
}

fs::path OutputWriter::nifti(bids::Output kind, const ExtraEntities& extra, const Volume& image,
                             const io::NiftiWriteOptions& options) {
  const fs::path p = path(kind, extra);
  io::write_nifti(p, image, options);
  record(p);
  return p;
}

fs::path OutputWriter::nifti(bids::Output kind, const ExtraEntities& extra, const Volume& image,
                             const io::NiftiWriteOptions& options, const io::Json& sidecar) {
  const fs::path p = nifti(kind, extra, image, options);
  io::write_json(sidecar_path(p), sidecar);
  record(sidecar_path(p));
  return p;
}

} // namespace rewardpath::pipeline
