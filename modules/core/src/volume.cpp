#include "rewardpath/core/volume.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rewardpath/core/error.hpp"

namespace rewardpath {

Affine identity_affine() {
  Affine a{};
  for (int i = 0; i < 4; ++i) a[i][i] = 1.0;
  return a;
}

std::array<double, 3> Grid::to_world(double i, double j, double k) const {
  std::array<double, 3> w{};
  for (int r = 0; r < 3; ++r) w[r] = affine[r][0] * i + affine[r][1] * j + affine[r][2] * k + affine[r][3];
  return w;
}

bool Grid::same_sampling(const Grid& other, double tolerance_mm) const {
  if (dims != other.dims) return false;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      if (std::abs(affine[r][c] - other.affine[r][c]) > tolerance_mm) return false;
  return true;
}

FloatBuffer::FloatBuffer(std::size_t count)
    : storage_(ByteStorage::in_memory(count * sizeof(float))),
      data_(reinterpret_cast<float*>(storage_.data())), size_(count) {}

FloatBuffer::FloatBuffer(std::size_t count, float fill) : FloatBuffer(count) {
  std::fill_n(data_, size_, fill);
}

FloatBuffer FloatBuffer::adopt(ByteStorage storage, std::size_t byte_offset, std::size_t count) {
  if (byte_offset % alignof(float) != 0) throw Error("FloatBuffer::adopt: misaligned float offset");
  if (byte_offset + count * sizeof(float) > storage.size())
    throw Error("FloatBuffer::adopt: storage smaller than the floats it should hold");
  FloatBuffer b;
  b.storage_ = std::move(storage);
  b.data_ = reinterpret_cast<float*>(b.storage_.data() + byte_offset);
  b.size_ = count;
  return b;
}

FloatBuffer FloatBuffer::clone() const {
  FloatBuffer b(size_);
  if (size_) std::memcpy(b.data_, data_, size_ * sizeof(float));
  return b;
}

namespace {
std::size_t checked_count(const Grid& grid, std::int64_t volumes) {
  for (auto d : grid.dims)
    if (d < 1) throw Error("volume dimensions must be >= 1, got " + std::to_string(d));
  if (volumes < 1) throw Error("number of volumes must be >= 1, got " + std::to_string(volumes));
  return static_cast<std::size_t>(grid.voxel_count() * volumes);
}
} // namespace

Volume::Volume(Grid grid, std::int64_t volumes)
    : grid_(std::move(grid)), volumes_(volumes), data_(checked_count(grid_, volumes)) {}

Volume::Volume(Grid grid, std::int64_t volumes, float fill)
    : grid_(std::move(grid)), volumes_(volumes), data_(checked_count(grid_, volumes), fill) {}

Volume::Volume(Grid grid, std::int64_t volumes, FloatBuffer data)
    : grid_(std::move(grid)), volumes_(volumes), data_(std::move(data)) {
  if (data_.size() != checked_count(grid_, volumes_))
    throw Error("Volume: data holds " + std::to_string(data_.size()) + " values, geometry needs " +
                std::to_string(checked_count(grid_, volumes_)));
}

std::span<float> Volume::volume(std::int64_t t) {
  const auto n = static_cast<std::size_t>(voxels_per_volume());
  return {data_.data() + static_cast<std::size_t>(t) * n, n};
}

std::span<const float> Volume::volume(std::int64_t t) const {
  const auto n = static_cast<std::size_t>(voxels_per_volume());
  return {data_.data() + static_cast<std::size_t>(t) * n, n};
}

} // namespace rewardpath
