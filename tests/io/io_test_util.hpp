#pragma once
// Helpers shared by the modules/io tests: a per-test temporary directory, raw file bytes, gzip,
// hand-built NIfTI-1 headers (from niftilib's nifti1.h struct) and error-message checks.
#include <gtest/gtest.h>

#include "temp_dir.hpp"
#include <unistd.h>
#include <zlib.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
#include <nifti1.h>
}

#include "rewardpath/core/error.hpp"

namespace rp_test {
namespace fs = std::filesystem;

struct TempDir : rewardpath::testdata::TempDir {
  TempDir() : rewardpath::testdata::TempDir("rp_io_test") {}
};

inline std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("test: cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("test: cannot write " + p.string());
}

inline void write_text(const fs::path& p, const std::string& text) {
  write_bytes(p, std::vector<std::uint8_t>(text.begin(), text.end()));
}

// zlib deflate of in[0, n) at `level`; window_bits as deflateInit2 takes them (-15: raw deflate,
// 15 + 16: one gzip member).
inline std::vector<std::uint8_t> zlib_deflate(const std::uint8_t* in, std::size_t n, int level,
                                              int window_bits) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("test: deflateInit2");
  std::vector<std::uint8_t> out(deflateBound(&z, static_cast<uLong>(n)) + 64);
  z.next_in = const_cast<Bytef*>(in);
  z.avail_in = static_cast<uInt>(n);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("test: deflate");
  out.resize(z.total_out);
  return out;
}

// One gzip member (zlib, level 6), as `gzip -6` writes it.
inline std::vector<std::uint8_t> gzip_bytes(const std::vector<std::uint8_t>& in) {
  return zlib_deflate(in.data(), in.size(), 6, 15 + 16);
}

// Number of gzip members in a file and the total uncompressed size.
struct GzipLayout {
  int members = 0;
  std::size_t uncompressed = 0;
};
inline GzipLayout gzip_layout(const std::vector<std::uint8_t>& in) {
  GzipLayout g;
  std::size_t pos = 0;
  std::vector<std::uint8_t> sink(1 << 16);
  while (pos < in.size()) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) throw std::runtime_error("test: inflateInit2");
    z.next_in = const_cast<Bytef*>(in.data() + pos);
    z.avail_in = static_cast<uInt>(in.size() - pos);
    int rc = Z_OK;
    while (rc == Z_OK) {
      z.next_out = sink.data();
      z.avail_out = static_cast<uInt>(sink.size());
      rc = inflate(&z, Z_NO_FLUSH);
    }
    const bool ok = rc == Z_STREAM_END;
    pos += z.total_in;
    g.uncompressed += z.total_out;
    inflateEnd(&z);
    if (!ok) throw std::runtime_error("test: bad gzip member");
    ++g.members;
  }
  return g;
}

// A valid little-endian NIfTI-1 header for a single .nii file: 2 mm voxels, sform = scaled identity
// (code 1), qform code 0, vox_offset 352, units mm / s.
inline nifti_1_header make_header(std::initializer_list<int> dims, short datatype = NIFTI_TYPE_FLOAT32,
                                  short bitpix = 32) {
  nifti_1_header h;
  std::memset(&h, 0, sizeof h);
  h.sizeof_hdr = 348;
  h.dim[0] = static_cast<short>(dims.size());
  int i = 1;
  for (int d : dims) h.dim[i++] = static_cast<short>(d);
  for (; i < 8; ++i) h.dim[i] = 1;
  h.datatype = datatype;
  h.bitpix = bitpix;
  h.pixdim[0] = 1.0f;
  for (int k = 1; k < 8; ++k) h.pixdim[k] = k <= 3 ? 2.0f : 1.0f;
  h.vox_offset = 352.0f;
  h.scl_slope = 1.0f;
  h.xyzt_units = NIFTI_UNITS_MM | NIFTI_UNITS_SEC;
  h.sform_code = NIFTI_XFORM_SCANNER_ANAT;
  h.srow_x[0] = 2.0f;
  h.srow_y[1] = 2.0f;
  h.srow_z[2] = 2.0f;
  h.srow_x[3] = -10.0f;
  std::memcpy(h.magic, "n+1\0", 4);
  return h;
}

inline std::int64_t voxel_count(const nifti_1_header& h) {
  std::int64_t n = 1;
  for (int i = 1; i <= h.dim[0]; ++i) n *= h.dim[i];
  return n;
}

// Header + 4-byte extension flag + `data_bytes` bytes of voxel data (a ramp), .nii.gz when the
// name says so. data_bytes < 0 means "as many as the header announces".
inline std::vector<std::uint8_t> nifti_bytes(const nifti_1_header& h, std::int64_t data_bytes = -1) {
  if (data_bytes < 0) data_bytes = voxel_count(h) * (h.bitpix / 8);
  std::vector<std::uint8_t> bytes(352 + static_cast<std::size_t>(data_bytes), 0);
  std::memcpy(bytes.data(), &h, sizeof h);
  for (std::int64_t i = 0; i < data_bytes; ++i)
    bytes[352 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i * 7);
  return bytes;
}

inline fs::path write_nifti_file(const fs::path& p, const nifti_1_header& h, std::int64_t data_bytes = -1) {
  auto bytes = nifti_bytes(h, data_bytes);
  if (p.string().ends_with(".gz")) bytes = gzip_bytes(bytes);
  write_bytes(p, bytes);
  return p;
}

// The message of the rewardpath::Error thrown by f, or a marker that fails the checks.
template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const rewardpath::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not a rewardpath::Error> ") + e.what();
  }
  return "<no exception>";
}

// Asserts that `message` contains each of `parts` (file name, field, what was expected, ...).
// RP_IO_PRINT_MESSAGES=1 prints every checked message, to review their wording.
inline void expect_mentions(const std::string& message, std::initializer_list<std::string> parts) {
  if (const char* show = std::getenv("RP_IO_PRINT_MESSAGES"); show && *show == '1')
    std::fprintf(stderr, "[message] %s\n", message.c_str());
  for (const auto& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << "message lacks \"" << part << "\":\n  " << message;
}

} // namespace rp_test
