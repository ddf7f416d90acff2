// write_nifti: round trips through our reader, and through nibabel (Debian's /usr/bin/python3
// run with std::system), so files we write are readable by the tools labs use.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io_test_util.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"

using namespace rewardpath;
using namespace rewardpath::io;
using namespace rp_test;

namespace {

// A rotated, x-flipped, anisotropic affine (representable as a qform too).
Affine oblique_affine() {
  const double a = 0.2, b = -0.1;
  const double sx = 2.0, sy = 2.5, sz = 3.0;
  Affine m = identity_affine();
  const double r[3][3] = {{std::cos(a), -std::sin(a) * std::cos(b), std::sin(a) * std::sin(b)},
                          {std::sin(a), std::cos(a) * std::cos(b), -std::cos(a) * std::sin(b)},
                          {0.0, std::sin(b), std::cos(b)}};
  const double s[3] = {-sx, sy, sz};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m[i][j] = r[i][j] * s[j];
  m[0][3] = 91.5;
  m[1][3] = -126.25;
  m[2][3] = -72.0;
  return m;
}

Volume make_volume(std::array<std::int64_t, 3> dims, std::int64_t t, float scale, float offset) {
  Grid g;
  g.dims = dims;
  g.spacing_mm = {2.0, 2.5, 3.0};
  g.affine = oblique_affine();
  g.space = "MNI152NLin2009cAsym";
  Volume v(g, t);
  std::uint32_t s = 987654u;
  for (std::size_t i = 0; i < v.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    v.data()[i] = offset + scale * static_cast<float>((s >> 9) % 1000u) / 1000.0f;
  }
  if (t > 1) v.set_time_step_s(2.5);
  return v;
}

NiftiWriteOptions options(StoredType type, int gzip_level = 6, std::string description = "") {
  NiftiWriteOptions o;
  o.type = type;
  o.gzip_level = gzip_level;
  o.description = std::move(description);
  return o;
}

void expect_same_geometry(const Volume& a, const Volume& b, double tol = 1e-4) {
  EXPECT_EQ(a.grid().dims, b.grid().dims);
  EXPECT_EQ(a.volumes(), b.volumes());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(a.grid().spacing_mm[i], b.grid().spacing_mm[i], 1e-6);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      EXPECT_NEAR(a.grid().affine[r][c], b.grid().affine[r][c], tol) << r << "," << c;
  EXPECT_NEAR(a.time_step_s(), b.time_step_s(), 1e-6);
}

} // namespace

TEST(NiftiWrite, Float32RoundTripIsExact) {
  TempDir dir;
  for (const char* name : {"f3d.nii", "f3d.nii.gz", "f4d.nii", "f4d.nii.gz"}) {
    SCOPED_TRACE(name);
    const bool four = std::string(name).starts_with("f4d");
    const Volume v = make_volume({13, 11, 7}, four ? 5 : 1, 1234.5f, -300.0f);
    write_nifti(dir / name, v);
    const NiftiHeader h = read_nifti_header(dir / name);
    EXPECT_EQ(h.datatype_name(), "FLOAT32");
    EXPECT_EQ(h.version, 1);
    EXPECT_EQ(h.sform_code, 4); // MNI152... -> NIFTI_XFORM_MNI_152
    EXPECT_EQ(h.qform_code, 4);
    EXPECT_EQ(h.grid.space, "MNI152");
    EXPECT_EQ(h.spatial_units, "mm");
    EXPECT_EQ(h.time_units, "s");
    // the qform (quaternion) encodes the same rigid + zoom + flip affine
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) EXPECT_NEAR(h.qform[r][c], h.sform[r][c], 1e-4);
    const Volume back = read_nifti_voxels(h);
    expect_same_geometry(back, v);
    for (std::size_t i = 0; i < v.size(); ++i) ASSERT_EQ(back.data()[i], v.data()[i]) << i;
  }
}

TEST(NiftiWrite, IntegerTypesRoundToNearest) {
  TempDir dir;
  Grid g;
  g.dims = {4, 2, 1};
  Volume v(g, 1);
  const float in[8] = {0.0f, 1.4f, -2.6f, 2.5f, 3.5f, 100.49f, -0.4f, 7.0f};
  std::copy(std::begin(in), std::end(in), v.data());
  const float rounded[8] = {0, 1, -3, 2, 4, 100, 0, 7}; // round half to even
  for (auto [type, name] :
       {std::pair{StoredType::int16, "i16.nii.gz"}, std::pair{StoredType::int32, "i32.nii"}}) {
    SCOPED_TRACE(name);
    write_nifti(dir / name, v, options(type));
    const Volume back = read_nifti(dir / name);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(back.data()[i], rounded[i]) << i;
  }
  Volume u(g, 1);
  const float uin[8] = {0.0f, 255.0f, 254.6f, 1.5f, 12.0f, 0.4f, 99.9f, 128.0f};
  std::copy(std::begin(uin), std::end(uin), u.data());
  write_nifti(dir / "u8.nii", u, options(StoredType::uint8));
  const auto h = read_nifti_header(dir / "u8.nii");
  EXPECT_EQ(h.datatype_name(), "UINT8");
  EXPECT_EQ(fs::file_size(dir / "u8.nii"), 352u + 8u);
  const Volume back = read_nifti_voxels(h);
  const float uexp[8] = {0, 255, 255, 2, 12, 0, 100, 128};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(back.data()[i], uexp[i]) << i;
}

TEST(NiftiWrite, OutOfRangeValueIsRejectedAndNothingIsWritten) {
  TempDir dir;
  Grid g;
  g.dims = {3, 1, 1};
  Volume v(g, 1, 1.0f);
  v.data()[1] = 40000.0f;
  const auto p = dir / "range.nii";
  std::string msg = error_of([&] { write_nifti(p, v, options(StoredType::int16)); });
  expect_mentions(msg, {p.string(), "value 40000", "[-32768, 32767]"});
  EXPECT_EQ(msg.find(p.string()), msg.rfind(p.string())) << "file named twice: " << msg;
  EXPECT_FALSE(fs::exists(p));
  v.data()[1] = -1.0f;
  msg = error_of([&] { write_nifti(dir / "neg.nii.gz", v, options(StoredType::uint8)); });
  expect_mentions(msg, {(dir / "neg.nii.gz").string(), "value -1", "[0, 255]"});
  v.data()[1] = std::nanf("");
  msg = error_of([&] { write_nifti(dir / "nan.nii", v, options(StoredType::int16)); });
  expect_mentions(msg, {(dir / "nan.nii").string(), "value nan"});
  EXPECT_TRUE(fs::is_empty(dir.path())) << "temporary files left behind";
}

TEST(NiftiWrite, GzipIsMultiMemberAndOverwriteIsAtomic) {
  TempDir dir;
  const Volume v = make_volume({64, 64, 36}, 20, 10.0f, 1000.0f); // 2.9 M voxels
  const auto p = dir / "bold.nii.gz";
  write_nifti(p, v, options(StoredType::float32, 1, "first"));
  write_nifti(p, v, options(StoredType::float32, 6, "second run"));
  const GzipLayout layout = gzip_layout(read_bytes(p));
  EXPECT_GE(layout.members, 3); // header + 2 members of 2^21 voxels
  EXPECT_EQ(layout.uncompressed, 352u + v.size() * 4);
  const NiftiHeader h = read_nifti_header(p, Expect::series4d);
  EXPECT_EQ(h.description, "second run");
  const Volume back = read_nifti_voxels(h);
  for (std::size_t i = 0; i < v.size(); i += 997) ASSERT_EQ(back.data()[i], v.data()[i]);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u) << "temporary files left behind";
}

TEST(NiftiWrite, LargeDimensionUsesNifti2) {
  TempDir dir;
  Grid g;
  g.dims = {40000, 2, 1};
  Volume v(g, 1, 3.0f);
  v.at(39999, 1, 0) = -5.0f;
  write_nifti(dir / "wide.nii", v);
  const NiftiHeader h = read_nifti_header(dir / "wide.nii");
  EXPECT_EQ(h.version, 2);
  EXPECT_EQ(h.vox_offset, 544);
  const Volume back = read_nifti_voxels(h);
  EXPECT_EQ(back.at(39999, 1, 0), -5.0f);
  EXPECT_EQ(back.at(0, 0, 0), 3.0f);
}

TEST(NiftiWrite, RejectsBadNames) {
  TempDir dir;
  Grid g;
  Volume v(g, 1, 0.0f);
  const auto p = dir / "out.img";
  expect_mentions(error_of([&] { write_nifti(p, v); }), {p.string(), ".nii or .nii.gz"});
}

// ---------------------------------------------------------------------------------------------
// Our writer -> nibabel.

namespace {

constexpr const char* kNibabelReader = R"PY(
import json, sys
import numpy as np
import nibabel as nib
out = {}
for path in sys.argv[2:]:
    img = nib.load(path)
    h = img.header
    x = img.get_fdata(dtype=np.float64)
    out[path] = {
        "class": type(img).__name__,
        "shape": list(img.shape),
        "dtype": h.get_data_dtype().name,
        "zooms": [float(z) for z in h.get_zooms()],
        "units": list(h.get_xyzt_units()),
        "affine": img.affine.tolist(),
        "qform": h.get_qform().tolist(),
        "codes": [int(h["sform_code"]), int(h["qform_code"])],
        "descrip": h["descrip"].item().decode(),
        "sum": float(x.sum()),
        "data": x.reshape(-1, order="F").tolist() if x.size <= 100000 else None,
    }
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
)PY";

nlohmann::json read_with_nibabel(const TempDir& dir, const std::vector<fs::path>& files) {
  const auto script = dir / "nibabel_read.py";
  const auto result = dir / "nibabel_read.json";
  write_text(script, kNibabelReader);
  std::string cmd =
      std::string("'") + RP_SYSTEM_PYTHON + "' '" + script.string() + "' '" + result.string() + "'";
  for (const auto& f : files) cmd += " '" + f.string() + "'";
  cmd += " 2>'" + (dir / "nibabel_read.err").string() + "'";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    const auto err = read_bytes(dir / "nibabel_read.err");
    throw std::runtime_error("nibabel failed (" + std::to_string(rc) +
                             "): " + std::string(err.begin(), err.end()));
  }
  std::ifstream in(result);
  return nlohmann::json::parse(in);
}

} // namespace

TEST(NiftiWriteNibabel, NibabelReadsWhatWeWrite) {
  TempDir dir;
  struct Case {
    std::string name;
    StoredType type;
    std::string dtype;
    std::int64_t volumes;
  };
  const std::vector<Case> cases = {
      {"f32_3d.nii", StoredType::float32, "float32", 1}, {"f32_4d.nii.gz", StoredType::float32, "float32", 6},
      {"i16_4d.nii", StoredType::int16, "int16", 4},     {"i16_3d.nii.gz", StoredType::int16, "int16", 1},
      {"u8_3d.nii", StoredType::uint8, "uint8", 1},      {"u8_4d.nii.gz", StoredType::uint8, "uint8", 3},
      {"i32_3d.nii.gz", StoredType::int32, "int32", 1},
  };
  std::vector<fs::path> files;
  std::vector<Volume> written;
  for (const auto& c : cases) {
    const float scale = c.type == StoredType::uint8 ? 250.0f : 2000.0f;
    const float offset = c.type == StoredType::uint8 ? 0.0f : -700.0f;
    written.push_back(make_volume({9, 8, 7}, c.volumes, scale, offset));
    write_nifti(dir / c.name, written.back(), options(c.type, 6, "rp " + c.name));
    files.push_back(dir / c.name);
  }
  // A multi-member .nii.gz of realistic size (not compared voxel by voxel).
  const Volume big = make_volume({64, 64, 36}, 12, 10.0f, 1000.0f);
  write_nifti(dir / "big.nii.gz", big);
  files.push_back(dir / "big.nii.gz");

  const nlohmann::json nb = read_with_nibabel(dir, files);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    const auto& r = nb.at((dir / c.name).string());
    const Volume& v = written[i];
    EXPECT_EQ(r.at("class"), "Nifti1Image");
    EXPECT_EQ(r.at("dtype"), c.dtype);
    std::vector<std::int64_t> shape = {9, 8, 7};
    if (c.volumes > 1) shape.push_back(c.volumes);
    EXPECT_EQ(r.at("shape").get<std::vector<std::int64_t>>(), shape);
    const auto zooms = r.at("zooms").get<std::vector<double>>();
    EXPECT_NEAR(zooms[0], 2.0, 1e-6);
    EXPECT_NEAR(zooms[1], 2.5, 1e-6);
    EXPECT_NEAR(zooms[2], 3.0, 1e-6);
    if (c.volumes > 1) {
      EXPECT_NEAR(zooms.at(3), 2.5, 1e-6); // TR in seconds
    }
    EXPECT_EQ(r.at("units"), nlohmann::json::array({"mm", "sec"}));
    EXPECT_EQ(r.at("codes"), nlohmann::json::array({4, 4}));
    EXPECT_EQ(r.at("descrip"), "rp " + c.name);
    const auto affine = r.at("affine").get<std::vector<std::vector<double>>>();
    const auto qform = r.at("qform").get<std::vector<std::vector<double>>>();
    for (int row = 0; row < 4; ++row)
      for (int col = 0; col < 4; ++col) {
        EXPECT_NEAR(affine[row][col], v.grid().affine[row][col], 1e-4) << "affine " << row << "," << col;
        EXPECT_NEAR(qform[row][col], v.grid().affine[row][col], 1e-4) << "qform " << row << "," << col;
      }
    const auto data = r.at("data").get<std::vector<double>>();
    ASSERT_EQ(data.size(), v.size());
    for (std::size_t k = 0; k < v.size(); ++k) {
      const double expected = c.type == StoredType::float32 ? v.data()[k] : std::nearbyint(v.data()[k]);
      ASSERT_EQ(data[k], expected) << "voxel " << k;
    }
  }
  const auto& r = nb.at((dir / "big.nii.gz").string());
  EXPECT_EQ(r.at("shape"), nlohmann::json::array({64, 64, 36, 12}));
  double sum = 0;
  for (std::size_t k = 0; k < big.size(); ++k) sum += big.data()[k];
  EXPECT_NEAR(r.at("sum").get<double>(), sum, 1e-9 * std::abs(sum));
}
