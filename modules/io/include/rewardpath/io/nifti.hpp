#pragma once
// NIfTI-1 and NIfTI-2 images, .nii and .nii.gz.
//
// Reading is header first: read_nifti_header() decodes (through niftilib) and validates the
// header without touching voxel data, so a batch can check every input before heavy work.
// read_nifti() then decodes the voxels straight into the Volume's final float buffer (one decoded
// copy, converted in place); .nii.gz is inflated with libdeflate, .nii read with pread.
// See docs/io.md for the conventions (affine choice, units, scaling).
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "rewardpath/core/volume.hpp"

namespace rewardpath::io {

struct NiftiHeader {
  std::filesystem::path path;
  int version = 1; // 1 or 2
  bool gzipped = false;
  bool byte_swapped = false;                            // stored in the other byte order than this machine's
  int ndim = 0;                                         // dim[0]
  std::array<std::int64_t, 7> dim{1, 1, 1, 1, 1, 1, 1}; // dim[1..7]
  int datatype = 0;
  int bytes_per_voxel = 0;
  std::int64_t vox_offset = 0;
  double scl_slope = 0.0; // 0 (or non-finite) means "no scaling", as the standard says
  double scl_inter = 0.0;
  int qform_code = 0;
  int sform_code = 0;
  Affine qform = identity_affine(); // in millimetres
  Affine sform = identity_affine(); // in millimetres
  std::string affine_source;        // "sform", "qform" or "pixdim"
  Grid grid;                        // chosen affine, spacing in mm, space from the xform code
  double time_step_s = 0.0;         // pixdim[4] in seconds (0 if unknown / not time)
  std::string spatial_units;        // as stored: "mm", "m", "um" or "unknown"
  std::string time_units;           // as stored: "s", "ms", "us", "Hz", "ppm", "rad/s", "unknown"
  std::string description;          // descrip field

  std::int64_t voxels_per_volume() const { return dim[0] * dim[1] * dim[2]; }
  std::int64_t volumes() const { return dim[3]; }
  std::int64_t data_bytes() const { return voxels_per_volume() * volumes() * bytes_per_voxel; }
  std::string datatype_name() const;
  bool is_int16() const;            // stored as signed 16-bit integers (read_nifti_int16 can keep them so)
  std::string shape_string() const; // e.g. "64x64x36x300"
};

enum class Expect { any, volume3d, series4d };

// Reads and validates the header only. Throws rewardpath::Error naming the file, the field and
// what was expected.
NiftiHeader read_nifti_header(const std::filesystem::path& path, Expect expect = Expect::any);

// Where decoded voxels are kept: in memory (default), or, for a run larger than the memory
// budget, in an unlinked scratch file in `scratch_dir`, mapped in their place (ByteStorage; the
// kernel pages it, nothing is left on disk). Same values either way.
struct ReadOptions {
  std::filesystem::path scratch_dir;
};

// Reads the voxels of a validated header as float32 with scl_slope/scl_inter applied.
Volume read_nifti_voxels(const NiftiHeader& header, const ReadOptions& options = {});

inline Volume read_nifti(const std::filesystem::path& path, Expect expect = Expect::any) {
  return read_nifti_voxels(read_nifti_header(path, expect));
}

// The voxels of an int16 image as stored (machine byte order), without a float copy: half the
// memory of read_nifti_voxels, for consumers that convert as they read (glm::SeriesView). The value
// of raw sample r is float(double(r) * slope + inter), or float(r) when slope is 0 -- exactly the
// float read_nifti_voxels gives. Throws Error for any other stored type.
struct Int16Samples {
  const std::int16_t* data = nullptr;
  std::size_t count = 0;
  double slope = 0.0, inter = 0.0; // scl_slope, scl_inter; 0, 0 when the header does not scale
  ByteStorage storage;
};
Int16Samples read_nifti_int16(const NiftiHeader& header, const ReadOptions& options = {});

// Reads the volumes of a 4D image in time order, a block at a time, without holding the run:
// memory is the mapped compressed file plus one inflated gzip member (or, for single-member
// files, a few MB of zlib output). Members of our writer (docs/io.md, member index) are inflated
// in parallel, one member per thread at a time (at most 32 MiB). Values are those read_nifti gives (float,
// scaling applied).
class NiftiVolumeReader {
public:
  explicit NiftiVolumeReader(const NiftiHeader& header);
  ~NiftiVolumeReader();
  NiftiVolumeReader(const NiftiVolumeReader&) = delete;
  NiftiVolumeReader& operator=(const NiftiVolumeReader&) = delete;

  std::int64_t next_volume() const; // volumes read so far
  // Reads volumes next_volume() .. next_volume() + count - 1 into out (count x
  // voxels_per_volume floats, volume-major). Throws Error (naming the file) when count runs past
  // the last volume or the data are truncated or corrupt.
  void read(std::int64_t count, std::span<float> out);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

enum class StoredType { float32, int16, uint8, int32 };

struct NiftiWriteOptions {
  StoredType type = StoredType::float32;
  int gzip_level = 6; // for .nii.gz
  std::string description;
  std::string intent_name; // e.g. "t-stat"
};

// Writes .nii or .nii.gz (chosen by the file name) atomically. NIfTI-1 unless a dimension
// exceeds what NIfTI-1 can hold, then NIfTI-2. Integer types round and must fit their range.
void write_nifti(const std::filesystem::path& path, const Volume& volume,
                 const NiftiWriteOptions& options = {});

bool is_nifti_path(const std::filesystem::path& path);

} // namespace rewardpath::io
