#include <gtest/gtest.h>

#include <cstring>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/volume.hpp"

using namespace rewardpath;

TEST(Volume, IndexingIsNiftiOrder) {
  Grid g;
  g.dims = {4, 3, 2};
  Volume v(g, 5, 0.0f);
  EXPECT_EQ(v.size(), 4u * 3 * 2 * 5);
  v.at(1, 2, 1, 3) = 7.0f;
  // x fastest, then y, z, t
  EXPECT_EQ(v.data()[((3 * 2 + 1) * 3 + 2) * 4 + 1], 7.0f);
  EXPECT_EQ(v.volume(3)[(1 * 3 + 2) * 4 + 1], 7.0f);
  EXPECT_TRUE(v.is_4d());
}

TEST(Volume, RejectsBadGeometry) {
  Grid g;
  g.dims = {0, 3, 2};
  EXPECT_THROW(Volume(g, 1), Error);
  g.dims = {2, 2, 2};
  EXPECT_THROW(Volume(g, 0), Error);
  EXPECT_THROW(Volume(g, 2, FloatBuffer(7)), Error);
}

TEST(Grid, ToWorldAppliesAffine) {
  Grid g;
  g.affine = {{{-2, 0, 0, 90}, {0, 2, 0, -126}, {0, 0, 2, -72}, {0, 0, 0, 1}}};
  const auto w = g.to_world(45, 63, 36);
  EXPECT_DOUBLE_EQ(w[0], 0.0);
  EXPECT_DOUBLE_EQ(w[1], 0.0);
  EXPECT_DOUBLE_EQ(w[2], 0.0);
}

TEST(FloatBuffer, AdoptKeepsOffsetAndOwnership) {
  ByteStorage raw = ByteStorage::in_memory(16 + 3 * sizeof(float));
  const float vals[3] = {1.5f, -2.0f, 3.25f};
  std::memcpy(raw.data() + 16, vals, sizeof vals);
  auto b = FloatBuffer::adopt(std::move(raw), 16, 3);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b[2], 3.25f);
  auto c = b.clone();
  c[0] = 9.0f;
  EXPECT_EQ(b[0], 1.5f);
  EXPECT_THROW(FloatBuffer::adopt(ByteStorage::in_memory(8), 2, 1), Error);
}
