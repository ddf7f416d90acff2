#pragma once
// Volume: a 3D or 4D float32 image in NIfTI voxel order (x fastest, then y, z, t), with the
// geometry that places it in world space. Every spatial object knows its space.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "rewardpath/core/storage.hpp"

namespace rewardpath {

// Row-major 4x4 matrix mapping voxel indices (i, j, k, 1) to world millimetres.
using Affine = std::array<std::array<double, 4>, 4>;
Affine identity_affine();

// The spatial sampling of an image: grid size, voxel size and its placement in a named space.
struct Grid {
  std::array<std::int64_t, 3> dims{1, 1, 1};
  std::array<double, 3> spacing_mm{1.0, 1.0, 1.0};
  Affine affine = identity_affine();
  // Name of the world space the affine maps into: "scanner", "aligned", "talairach", "MNI152",
  // "template", or a BIDS space label such as "MNI152NLin2009cAsym".
  std::string space = "scanner";

  std::int64_t voxel_count() const { return dims[0] * dims[1] * dims[2]; }
  // World coordinates (mm) of voxel (i, j, k).
  std::array<double, 3> to_world(double i, double j, double k) const;
  bool same_sampling(const Grid& other, double tolerance_mm = 1e-4) const;
};

// Contiguous float storage that can adopt a larger raw byte allocation, so a reader can decode
// into its final buffer in place (one decoded copy of a 4D run, never two). The bytes may live in
// a scratch file (ByteStorage::scratch_file) when a run is larger than the memory budget.
class FloatBuffer {
public:
  FloatBuffer() = default;
  explicit FloatBuffer(std::size_t count); // uninitialised
  FloatBuffer(std::size_t count, float fill);
  // Takes ownership of `storage`; the floats start `byte_offset` bytes in (a multiple of 4).
  static FloatBuffer adopt(ByteStorage storage, std::size_t byte_offset, std::size_t count);

  float* data() { return data_; }
  const float* data() const { return data_; }
  std::size_t size() const { return size_; }
  float& operator[](std::size_t i) { return data_[i]; }
  float operator[](std::size_t i) const { return data_[i]; }
  FloatBuffer clone() const; // in memory, whatever this one's storage
  bool file_backed() const { return storage_.file_backed(); }

private:
  ByteStorage storage_;
  float* data_ = nullptr;
  std::size_t size_ = 0;
};

class Volume {
public:
  Volume() = default;
  // Allocates (uninitialised) storage for `volumes` volumes on `grid`.
  Volume(Grid grid, std::int64_t volumes);
  Volume(Grid grid, std::int64_t volumes, float fill);
  Volume(Grid grid, std::int64_t volumes, FloatBuffer data);

  const Grid& grid() const { return grid_; }
  Grid& grid() { return grid_; }
  std::int64_t nx() const { return grid_.dims[0]; }
  std::int64_t ny() const { return grid_.dims[1]; }
  std::int64_t nz() const { return grid_.dims[2]; }
  std::int64_t volumes() const { return volumes_; }
  bool is_4d() const { return volumes_ > 1; }
  std::int64_t voxels_per_volume() const { return grid_.voxel_count(); }
  std::size_t size() const { return data_.size(); }

  // Seconds between volumes (the TR for BOLD); 0 when not a time series or unknown.
  double time_step_s() const { return time_step_s_; }
  void set_time_step_s(double s) { time_step_s_ = s; }
  // Units of the voxel values, e.g. "Bq/mL"; empty when unknown/arbitrary.
  const std::string& value_units() const { return value_units_; }
  void set_value_units(std::string u) { value_units_ = std::move(u); }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  bool file_backed() const { return data_.file_backed(); } // voxels kept in a scratch file
  std::span<float> volume(std::int64_t t);
  std::span<const float> volume(std::int64_t t) const;
  std::size_t index(std::int64_t i, std::int64_t j, std::int64_t k, std::int64_t t = 0) const {
    return static_cast<std::size_t>(((t * grid_.dims[2] + k) * grid_.dims[1] + j) * grid_.dims[0] + i);
  }
  float& at(std::int64_t i, std::int64_t j, std::int64_t k, std::int64_t t = 0) {
    return data_[index(i, j, k, t)];
  }
  float at(std::int64_t i, std::int64_t j, std::int64_t k, std::int64_t t = 0) const {
    return data_[index(i, j, k, t)];
  }

private:
  Grid grid_;
  std::int64_t volumes_ = 0;
  double time_step_s_ = 0.0;
  std::string value_units_;
  FloatBuffer data_;
};

} // namespace rewardpath
