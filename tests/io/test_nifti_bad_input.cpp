// Bad NIfTI input: every rejection names the file and the field (or what was expected). The files
// are built in a temporary directory from nifti1.h header structs or by corrupting good files.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io_test_util.hpp"

extern "C" {
#include <nifti2_io.h> // swap_nifti_header
}
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"

using namespace rewardpath;
using namespace rewardpath::io;
using namespace rp_test;

namespace {

// A small image with incompressible-ish content, written by our writer (multi-member .nii.gz).
Volume noise_volume(std::int64_t n = 32, std::int64_t t = 1) {
  Grid g;
  g.dims = {n, n, n};
  Volume v(g, t);
  std::uint32_t s = 12345;
  for (std::size_t i = 0; i < v.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    v.data()[i] = static_cast<float>(s >> 8) * 1e-3f;
  }
  return v;
}

std::string header_error(const fs::path& p, Expect e = Expect::any) {
  return error_of([&] { read_nifti_header(p, e); });
}
std::string read_error(const fs::path& p, Expect e = Expect::any) {
  return error_of([&] { read_nifti(p, e); });
}

} // namespace

TEST(NiftiBadInput, TruncatedHeaderNii) {
  TempDir dir;
  auto bytes = nifti_bytes(make_header({8, 8, 8}));
  bytes.resize(200);
  const auto p = dir / "cut_header.nii";
  write_bytes(p, bytes);
  expect_mentions(header_error(p), {p.string(), "truncated", "200 bytes", "348"});
}

TEST(NiftiBadInput, TruncatedHeaderNiiGz) {
  TempDir dir;
  auto bytes = nifti_bytes(make_header({8, 8, 8}));
  bytes.resize(200);
  const auto p = dir / "cut_header.nii.gz";
  write_bytes(p, gzip_bytes(bytes));
  expect_mentions(header_error(p), {p.string(), "truncated", "200 bytes", "348"});
}

TEST(NiftiBadInput, EmptyFile) {
  TempDir dir;
  const auto p = dir / "empty.nii";
  write_bytes(p, {});
  expect_mentions(header_error(p), {p.string(), "truncated", "0 bytes"});
}

TEST(NiftiBadInput, TruncatedDataNiiIsCaughtByTheHeaderCheck) {
  TempDir dir;
  const auto p = write_nifti_file(dir / "cut_data.nii", make_header({8, 8, 8}), 1000); // needs 2048
  expect_mentions(header_error(p), {p.string(), "truncated", "8x8x8", "2048 bytes", "1352 bytes"});
}

TEST(NiftiBadInput, TruncatedDataNiiGz) {
  TempDir dir;
  // A valid gzip stream that holds less voxel data than the header announces.
  const auto p = write_nifti_file(dir / "cut_data.nii.gz", make_header({8, 8, 8}), 1000);
  EXPECT_NO_THROW(read_nifti_header(p)); // unknowable before decompressing
  expect_mentions(read_error(p),
                  {p.string(), "truncated", "8x8x8", "2048 bytes", "decompressed file has 1352"});
}

TEST(NiftiBadInput, TruncatedCompressedStream) {
  TempDir dir;
  const auto good = dir / "good.nii";
  write_nifti(good, noise_volume());
  for (const bool single : {false, true}) {
    SCOPED_TRACE(single ? "single member (gzip -6)" : "multi-member (our writer)");
    const auto p = dir / (single ? "cut_single.nii.gz" : "cut_multi.nii.gz");
    if (single)
      write_bytes(p, gzip_bytes(read_bytes(good)));
    else
      write_nifti(p, noise_volume());
    auto bytes = read_bytes(p);
    bytes.resize(bytes.size() / 2);
    write_bytes(p, bytes);
    expect_mentions(read_error(p), {p.string(), "truncated gzip data"});
  }
}

TEST(NiftiBadInput, CorruptGzipLeavesInputUntouched) {
  TempDir dir;
  const auto good = dir / "good.nii";
  write_nifti(good, noise_volume(64)); // 1 MB: the flip lies beyond zlib's read-ahead of the header
  for (const bool single : {false, true}) {
    SCOPED_TRACE(single ? "single member (gzip -6)" : "multi-member (our writer)");
    const auto p = dir / (single ? "flipped_single.nii.gz" : "flipped_multi.nii.gz");
    if (single)
      write_bytes(p, gzip_bytes(read_bytes(good)));
    else
      write_nifti(p, noise_volume(64));
    auto bytes = read_bytes(p);
    for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 16; ++i) bytes[i] ^= 0x5a;
    write_bytes(p, bytes);
    const auto size_before = fs::file_size(p);
    const auto mtime_before = fs::last_write_time(p);
    const std::string msg = read_error(p);
    // (the multi-member case inflates to 2 extra bytes: caught by the CRC check of the fallback)
    expect_mentions(msg, {p.string(), "corrupt", "gzip data"});
    EXPECT_NO_THROW(read_nifti_header(p)); // caught while inflating the voxels
    EXPECT_EQ(msg.find(p.string()), msg.rfind(p.string())) << "file named twice: " << msg;
    EXPECT_EQ(fs::file_size(p), size_before);
    EXPECT_EQ(fs::last_write_time(p), mtime_before);
    EXPECT_EQ(read_bytes(p), bytes);
  }
}

TEST(NiftiBadInput, CorruptGzipInTheHeader) {
  TempDir dir;
  const auto p = dir / "flipped_header.nii.gz";
  auto bytes = gzip_bytes(nifti_bytes(make_header({8, 8, 8})));
  for (std::size_t i = 12; i < 40; ++i) bytes[i] ^= 0xff;
  write_bytes(p, bytes);
  const auto msg = read_error(p);
  expect_mentions(msg, {p.string()});
  EXPECT_TRUE(msg.find("corrupt") != std::string::npos || msg.find("sizeof_hdr") != std::string::npos) << msg;
}

TEST(NiftiBadInput, WrongMagic) {
  TempDir dir;
  auto h = make_header({8, 8, 8});
  std::memcpy(h.magic, "abc\0", 4);
  const auto p = write_nifti_file(dir / "magic.nii", h);
  expect_mentions(header_error(p), {p.string(), "magic", "n+1"});
  std::memcpy(h.magic, "ni1\0", 4);
  write_nifti_file(p, h);
  expect_mentions(header_error(p), {p.string(), "magic", "ni1", ".hdr/.img"});
}

TEST(NiftiBadInput, SizeofHdrGarbage) {
  TempDir dir;
  auto h = make_header({8, 8, 8});
  h.sizeof_hdr = 1234;
  const auto p = write_nifti_file(dir / "sizeof.nii", h);
  expect_mentions(header_error(p), {p.string(), "sizeof_hdr is 1234", "348", "540"});
  // Something that is not a NIfTI file at all.
  const auto text = dir / "text.nii";
  write_text(text, std::string(600, 'x'));
  expect_mentions(header_error(text), {text.string(), "sizeof_hdr", "expected 348"});
}

TEST(NiftiBadInput, DimsDisagreeWithFileSize) {
  TempDir dir;
  auto h = make_header({8, 8, 8});
  const auto p = dir / "dims.nii";
  write_bytes(p, nifti_bytes(h)); // 8x8x8 float32
  h.dim[1] = 100;                 // header now claims 100x8x8
  auto bytes = read_bytes(p);
  std::memcpy(bytes.data(), &h, sizeof h);
  write_bytes(p, bytes);
  expect_mentions(header_error(p), {p.string(), "dims 100x8x8", "25600 bytes", "2400 bytes"});
  // Same in a .nii.gz (found while decompressing).
  const auto gz = dir / "dims.nii.gz";
  write_bytes(gz, gzip_bytes(bytes));
  expect_mentions(read_error(gz), {gz.string(), "dims 100x8x8", "decompressed file has 2400"});
}

TEST(NiftiBadInput, AbsurdDimsInGzipAreRejectedBeforeAllocating) {
  TempDir dir;
  // 32767^3 float32 = 140 TB announced by a tiny .nii.gz
  const auto p = write_nifti_file(dir / "huge.nii.gz", make_header({32767, 32767, 32767}), 2048);
  expect_mentions(header_error(p), {p.string(), "dims 32767x32767x32767", "more than a gzip file of"});
}

TEST(NiftiBadInput, Nifti2DimsThatOverflow) {
  TempDir dir;
  nifti_2_header h;
  std::memset(&h, 0, sizeof h);
  h.sizeof_hdr = 540;
  std::memcpy(h.magic, "n+2\0\r\n\032\n", 8);
  h.dim[0] = 4;
  h.dim[1] = h.dim[2] = h.dim[3] = std::int64_t{1} << 20;
  h.dim[4] = std::int64_t{1} << 10; // 2^70 voxels
  h.dim[5] = h.dim[6] = h.dim[7] = 1;
  h.datatype = NIFTI_TYPE_FLOAT32;
  h.bitpix = 32;
  for (double& d : h.pixdim) d = 1.0;
  h.vox_offset = 544;
  h.scl_slope = 1.0;
  std::vector<std::uint8_t> bytes(544 + 64, 0);
  std::memcpy(bytes.data(), &h, sizeof h);
  for (const char* name : {"overflow.nii", "overflow.nii.gz"}) {
    SCOPED_TRACE(name);
    const auto p = dir / name;
    write_bytes(p, std::string(name).ends_with(".gz") ? gzip_bytes(bytes) : bytes);
    expect_mentions(header_error(p),
                    {p.string(), "dims 1048576x1048576x1048576x1024", "more than 2^63 bytes"});
  }
}

TEST(NiftiBadInput, BadDims) {
  TempDir dir;
  struct Case {
    int index;
    short value;
    std::string expect;
  };
  for (const Case& c : {Case{0, 0, "dim[0] is 0"}, Case{0, 9, "dim[0] is 9"}, Case{0, -2, "dim[0] is -2"},
                        Case{2, 0, "dim[2] is 0"}, Case{3, -3, "dim[3] is -3"}}) {
    SCOPED_TRACE(c.expect);
    auto h = make_header({8, 8, 8});
    h.dim[c.index] = c.value;
    const auto p = write_nifti_file(dir / "baddim.nii", h, 2048);
    expect_mentions(header_error(p), {p.string(), c.expect, "expected"});
  }
  auto h = make_header({4, 4, 4, 1, 2}, NIFTI_TYPE_UINT8, 8);
  const auto p = write_nifti_file(dir / "five.nii", h);
  expect_mentions(header_error(p), {p.string(), "5 dimensions", "4x4x4x1x2", "3D images and 4D"});
}

TEST(NiftiBadInput, BadVoxelSizes) {
  TempDir dir;
  struct Case {
    int index;
    float value;
    std::string shown;
  };
  for (const Case& c :
       {Case{1, 0.0f, "pixdim[1] (voxel size) is 0"}, Case{2, -1.5f, "pixdim[2] (voxel size) is -1.5"},
        Case{3, std::numeric_limits<float>::quiet_NaN(), "pixdim[3] (voxel size) is nan"},
        Case{1, std::numeric_limits<float>::infinity(), "pixdim[1] (voxel size) is inf"}}) {
    SCOPED_TRACE(c.shown);
    auto h = make_header({8, 8, 8});
    h.pixdim[c.index] = c.value;
    const auto p = write_nifti_file(dir / "pixdim.nii", h);
    expect_mentions(header_error(p), {p.string(), c.shown, "expected a finite size > 0"});
  }
}

TEST(NiftiBadInput, NanOrSingularSform) {
  TempDir dir;
  auto h = make_header({8, 8, 8});
  h.srow_y[1] = std::numeric_limits<float>::quiet_NaN();
  auto p = write_nifti_file(dir / "nan_sform.nii", h);
  expect_mentions(header_error(p), {p.string(), "sform", "[1][1]", "not finite", "expected a finite"});

  h = make_header({8, 8, 8});
  h.srow_z[2] = 0.0f; // third column zero: singular
  p = write_nifti_file(dir / "singular_sform.nii", h);
  expect_mentions(header_error(p), {p.string(), "sform", "singular", "expected an invertible"});

  // A bad sform is not an error when sform_code is 0 (the qform, or pixdim, is used instead).
  h.sform_code = 0;
  write_nifti_file(p, h);
  EXPECT_EQ(read_nifti_header(p).affine_source, "pixdim");
}

TEST(NiftiBadInput, UnsupportedDatatypes) {
  TempDir dir;
  struct Case {
    short datatype, bitpix;
    std::string shown;
  };
  for (const Case& c :
       {Case{NIFTI_TYPE_COMPLEX64, 64, "datatype is 32 (COMPLEX64)"},
        Case{NIFTI_TYPE_RGB24, 24, "datatype is 128 (RGB24)"},
        Case{NIFTI_TYPE_FLOAT128, 128, "datatype is 1536"}, Case{9999, 32, "datatype is 9999"}}) {
    SCOPED_TRACE(c.shown);
    const auto p = write_nifti_file(dir / "dtype.nii", make_header({4, 4, 4}, c.datatype, c.bitpix));
    expect_mentions(header_error(p), {p.string(), c.shown, "expected a real-valued type", "float32"});
  }
}

TEST(NiftiBadInput, BitpixDisagreesWithDatatype) {
  TempDir dir;
  const auto p = write_nifti_file(dir / "bitpix.nii", make_header({4, 4, 4}, NIFTI_TYPE_FLOAT32, 16), 256);
  expect_mentions(header_error(p), {p.string(), "bitpix is 16", "32 bits"});
}

TEST(NiftiBadInput, VoxOffsetInsideTheHeader) {
  TempDir dir;
  auto h = make_header({4, 4, 4});
  h.vox_offset = 100.0f;
  const auto p = write_nifti_file(dir / "offset.nii", h);
  expect_mentions(header_error(p), {p.string(), "vox_offset is 100", "expected >= 348"});
}

TEST(NiftiBadInput, NonFiniteInterceptWithSlope) {
  TempDir dir;
  auto h = make_header({4, 4, 4});
  h.scl_slope = 2.0f;
  h.scl_inter = std::numeric_limits<float>::infinity();
  const auto p = write_nifti_file(dir / "inter.nii", h);
  expect_mentions(header_error(p), {p.string(), "scl_inter is inf", "expected a finite intercept"});
}

TEST(NiftiBadInput, ByteSwappedHeaderStillNamesTheField) {
  TempDir dir;
  auto h = make_header({8, 8, 8});
  h.pixdim[2] = -2.0f;
  swap_nifti_header(&h, 1); // niftilib: store big-endian
  const auto p = write_nifti_file(dir / "swapped.nii", h, 2048);
  expect_mentions(header_error(p), {p.string(), "pixdim[2] (voxel size) is -2"});
}

TEST(NiftiBadInput, ExpectVolume3dGets4d) {
  TempDir dir;
  const auto p = write_nifti_file(dir / "four.nii", make_header({4, 4, 4, 5}));
  expect_mentions(header_error(p, Expect::volume3d),
                  {p.string(), "expected a 3D image", "4D image of 5 volumes", "4x4x4x5"});
  EXPECT_NO_THROW(read_nifti_header(p, Expect::series4d));
}

TEST(NiftiBadInput, ExpectSeries4dGets3d) {
  TempDir dir;
  const auto p = write_nifti_file(dir / "three.nii.gz", make_header({4, 4, 4}));
  expect_mentions(header_error(p, Expect::series4d),
                  {p.string(), "expected a 4D time series", "3D image (4x4x4)"});
  // A 4D header with a single volume is a 3D image too.
  const auto one = write_nifti_file(dir / "one.nii", make_header({4, 4, 4, 1}));
  expect_mentions(header_error(one, Expect::series4d), {one.string(), "expected a 4D time series"});
  EXPECT_NO_THROW(read_nifti(one, Expect::volume3d));
}

TEST(NiftiBadInput, NonexistentFile) {
  TempDir dir;
  const auto p = dir / "missing.nii.gz";
  expect_mentions(header_error(p), {p.string(), "does not exist"});
  fs::create_directories(dir / "dir.nii");
  expect_mentions(header_error(dir / "dir.nii"), {(dir / "dir.nii").string(), "not a regular file"});
}

TEST(NiftiBadInput, WrongExtension) {
  TempDir dir;
  for (const char* name : {"image.img", "image.hdr", "image.nii.bz2", "image.gz", "image"}) {
    SCOPED_TRACE(name);
    const auto p = write_nifti_file(dir / name, make_header({4, 4, 4}));
    expect_mentions(header_error(p), {p.string(), "expected the extension .nii or .nii.gz"});
  }
}

TEST(NiftiBadInput, GzNameButUncompressedIsReadAsIs) {
  // zlib-based tools (niftilib, FSL) read such files; so do we.
  TempDir dir;
  const auto p = write_nifti_file(dir / "plain.nii", make_header({4, 4, 4}));
  fs::rename(p, dir / "plain.nii.gz");
  const Volume v = read_nifti(dir / "plain.nii.gz");
  EXPECT_EQ(v.size(), 64u);
}

TEST(NiftiBadInput, GzStreamLongerThanTheImageIsRead) {
  // Legal (trailing bytes after the voxels): takes the zlib fallback, which still checks the CRC.
  TempDir dir;
  const auto h = make_header({8, 8, 8}, NIFTI_TYPE_UINT8, 8);
  const auto p = write_nifti_file(dir / "longer.nii.gz", h, 512 + 100);
  const Volume v = read_nifti(p);
  ASSERT_EQ(v.size(), 512u);
  for (std::size_t i = 0; i < v.size(); ++i)
    ASSERT_EQ(v.data()[i], static_cast<float>(static_cast<std::uint8_t>(i * 7))) << i;
}
