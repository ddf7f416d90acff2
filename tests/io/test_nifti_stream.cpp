// NiftiVolumeReader (volumes streamed in time order) gives exactly what read_nifti gives: .nii,
// multi-member .nii.gz from our writer, a single large gzip member (the zlib fallback), int16
// with scaling; bad requests and truncated files throw Error naming the file. Also read_nifti_int16.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"
#include "temp_dir.hpp"

namespace io = rewardpath::io;
namespace fs = std::filesystem;

namespace {
rewardpath::Volume random_run(std::array<std::int64_t, 3> dims, std::int64_t volumes, std::uint64_t seed) {
  rewardpath::Grid grid;
  grid.dims = dims;
  grid.spacing_mm = {2.0, 2.0, 3.0};
  rewardpath::Volume v(grid, volumes, 0.0f);
  v.set_time_step_s(2.0);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> z(100.0f, 20.0f);
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = std::round(z(rng));
  return v;
}

// Streams the file in blocks of `block` volumes and compares with read_nifti.
void expect_same_as_read(const fs::path& path, std::int64_t block) {
  const auto whole = io::read_nifti(path);
  const auto h = io::read_nifti_header(path);
  io::NiftiVolumeReader r(h);
  const auto nv = h.voxels_per_volume();
  std::vector<float> buf(static_cast<std::size_t>(block * nv));
  while (r.next_volume() < h.volumes()) {
    const auto t0 = r.next_volume();
    const auto c = std::min(block, h.volumes() - t0);
    r.read(c, buf);
    for (std::int64_t i = 0; i < c * nv; ++i)
      ASSERT_EQ(buf[static_cast<std::size_t>(i)], whole.data()[t0 * nv + i])
          << path << " value " << t0 * nv + i;
  }
  EXPECT_EQ(r.next_volume(), h.volumes());
  EXPECT_THROW(r.read(1, buf), rewardpath::Error);
}
} // namespace

TEST(NiftiStream, MatchesWholeReads) {
  rewardpath::testdata::TempDir dir("rp_io_stream");
  // 2.5 M voxels: more than one gzip member from our writer (2^21 voxels each).
  const auto v = random_run({30, 28, 20}, 150, 1);
  io::write_nifti(dir.path() / "f.nii", v);
  io::write_nifti(dir.path() / "f.nii.gz", v);
  io::NiftiWriteOptions o;
  o.type = io::StoredType::int16;
  io::write_nifti(dir.path() / "s.nii.gz", v, o);
  for (const char* name : {"f.nii", "f.nii.gz", "s.nii.gz"})
    for (std::int64_t block : {1, 7, 64}) expect_same_as_read(dir.path() / name, block);
}

TEST(NiftiStream, SingleLargeMemberUsesZlib) {
  rewardpath::testdata::TempDir dir("rp_io_stream");
  // 9.6 M float voxels (38 MB) in one gzip member: more than the reader inflates in one go.
  const auto v = random_run({40, 40, 30}, 200, 2);
  io::write_nifti(dir.path() / "raw.nii", v);
  std::ifstream in(dir.path() / "raw.nii", std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  gzFile gz = gzopen((dir.path() / "one.nii.gz").c_str(), "wb1");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(gz);
  expect_same_as_read(dir.path() / "one.nii.gz", 33);
}

TEST(NiftiStream, TruncatedFileThrowsNamingIt) {
  rewardpath::testdata::TempDir dir("rp_io_stream");
  const auto v = random_run({10, 10, 5}, 40, 3);
  const fs::path p = dir.path() / "t.nii.gz";
  io::write_nifti(p, v);
  const auto h = io::read_nifti_header(p);
  fs::resize_file(p, fs::file_size(p) * 2 / 3);
  io::NiftiVolumeReader r(h);
  std::vector<float> buf(static_cast<std::size_t>(40 * h.voxels_per_volume()));
  try {
    r.read(40, buf);
    FAIL() << "no error for a truncated file";
  } catch (const rewardpath::Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.nii.gz"), std::string::npos) << e.what();
  }
  io::NiftiVolumeReader r2(io::read_nifti_header(dir.path() / "t.nii.gz"));
  EXPECT_THROW(r2.read(41, buf), rewardpath::Error); // more volumes than the image has
}

// read_nifti_int16 on our writer's files (.nii, and .nii.gz in several members inflated in
// parallel): the stored samples are the floats read_nifti gives; other types are refused by name.
TEST(NiftiInt16, KeptAsStoredMatchesTheFloatRead) {
  rewardpath::testdata::TempDir dir("rp_io_int16");
  const auto v = random_run({30, 28, 20}, 150, 3); // 2.5 M voxels: several members
  io::NiftiWriteOptions o;
  o.type = io::StoredType::int16;
  io::write_nifti(dir.path() / "s.nii", v, o);
  io::write_nifti(dir.path() / "s.nii.gz", v, o);
  for (const char* name : {"s.nii", "s.nii.gz"}) {
    const auto h = io::read_nifti_header(dir.path() / name);
    ASSERT_TRUE(h.is_int16());
    const auto raw = io::read_nifti_int16(h);
    const auto whole = io::read_nifti(dir.path() / name);
    ASSERT_EQ(raw.count, whole.size());
    EXPECT_EQ(raw.slope, 0.0); // our writer stores slope 1, intercept 0: no scaling
    std::size_t differ = 0;
    for (std::size_t i = 0; i < raw.count; ++i) differ += static_cast<float>(raw.data[i]) != whole.data()[i];
    EXPECT_EQ(differ, 0u) << name;
  }
  io::write_nifti(dir.path() / "f.nii.gz", v);
  try {
    io::read_nifti_int16(io::read_nifti_header(dir.path() / "f.nii.gz"));
    FAIL() << "a float32 file was read as int16";
  } catch (const rewardpath::Error& e) {
    EXPECT_NE(std::string(e.what()).find("f.nii.gz"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not int16"), std::string::npos) << e.what();
  }
}

// A run decoded into a scratch file (ReadOptions::scratch_dir, for runs above the memory budget)
// holds exactly what the in-memory read holds, on every decoding path; the scratch file is
// unlinked, so the directory stays empty.
TEST(NiftiScratch, ScratchBackedReadEqualsTheInMemoryRead) {
  rewardpath::testdata::TempDir dir("rp_io_scratch");
  const auto v = random_run({30, 28, 20}, 60, 5);
  io::NiftiWriteOptions o16;
  o16.type = io::StoredType::int16;
  io::write_nifti(dir.path() / "f.nii", v);
  io::write_nifti(dir.path() / "f.nii.gz", v);
  io::write_nifti(dir.path() / "s.nii", v, o16);
  io::write_nifti(dir.path() / "s.nii.gz", v, o16);
  const fs::path scratch = dir.path() / "scratch";
  for (const char* name : {"f.nii", "f.nii.gz", "s.nii", "s.nii.gz"}) {
    const auto h = io::read_nifti_header(dir.path() / name);
    const auto memory = io::read_nifti_voxels(h);
    const auto mapped = io::read_nifti_voxels(h, {scratch});
    EXPECT_FALSE(memory.file_backed());
    EXPECT_TRUE(mapped.file_backed()) << name;
    ASSERT_EQ(mapped.size(), memory.size());
    EXPECT_EQ(std::memcmp(mapped.data(), memory.data(), memory.size() * sizeof(float)), 0) << name;
    EXPECT_TRUE(fs::is_empty(scratch)) << name;
  }
}
