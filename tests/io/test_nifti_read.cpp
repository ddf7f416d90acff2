// read_nifti cross-checked against nibabel. The CTest fixture io.nibabel_reference runs
// tests/io/nibabel_reference.py at test time; it writes synthetic files (every datatype, both byte
// orders, scaling, qform-only, sform != qform, ms / metre units, NIfTI-2, .nii and .nii.gz) and
// reference.json with nibabel's readings of those and of real files shipped by Debian packages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"

#ifndef RP_IO_NIBABEL_DIR
#error "RP_IO_NIBABEL_DIR (the fixture's output directory) must be defined by tests/io/CMakeLists.txt"
#endif

using namespace rewardpath;
using namespace rewardpath::io;
using nlohmann::json;

namespace {

std::string reference_dir() {
  const char* env = std::getenv("RP_IO_NIBABEL_DIR");
  return env && *env ? env : RP_IO_NIBABEL_DIR;
}

const json& reference() {
  static const json ref = [] {
    const std::string path = reference_dir() + "/reference.json";
    std::ifstream in(path);
    if (!in)
      throw std::runtime_error(path + " is missing: run the fixture test io.nibabel_reference first "
                                      "(ctest adds it automatically)");
    return json::parse(in);
  }();
  return ref;
}

const json& entry(const std::string& name) {
  const json& files = reference().at("files");
  if (!files.contains(name)) throw std::runtime_error("reference.json has no entry for " + name);
  return files.at(name);
}

double spatial_scale(const std::string& units) { // nibabel's name -> factor to millimetres
  if (units == "meter") return 1000.0;
  if (units == "micron") return 0.001;
  return 1.0;
}

double time_scale(const std::string& units) { // nibabel's name -> factor to seconds
  if (units == "msec") return 1e-3;
  if (units == "usec") return 1e-6;
  return 1.0;
}

struct Sums {
  double sum = 0, sum_abs = 0, sum_sq = 0;
};
Sums sums_of(const Volume& v) {
  Sums s;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double x = v.data()[i];
    s.sum += x;
    s.sum_abs += std::abs(x);
    s.sum_sq += x * x;
  }
  return s;
}

// Compares everything nibabel reports about `name` with what read_nifti reads.
void cross_check(const std::string& name) {
  SCOPED_TRACE(name);
  const json& ref = entry(name);
  const std::string path = ref.at("path");
  const NiftiHeader h = read_nifti_header(path);
  const Volume v = read_nifti_voxels(h);

  // shape
  const auto shape = ref.at("shape").get<std::vector<std::int64_t>>();
  ASSERT_GE(shape.size(), 3u);
  EXPECT_EQ(v.nx(), shape[0]);
  EXPECT_EQ(v.ny(), shape[1]);
  EXPECT_EQ(v.nz(), shape[2]);
  EXPECT_EQ(v.volumes(), shape.size() > 3 ? shape[3] : 1);
  EXPECT_EQ(h.version, ref.at("class") == "Nifti2Image" ? 2 : 1);
  EXPECT_EQ(h.byte_swapped, ref.at("endianness") == ">"); // this machine is little-endian
  EXPECT_EQ(h.datatype_name(), [&] {
    std::string d = ref.at("dtype");
    for (auto& c : d) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return d;
  }());

  // voxel sizes and time step, converted by us to mm and s; nibabel reports them as stored
  const auto units = ref.at("xyzt_units").get<std::vector<std::string>>();
  const double to_mm = spatial_scale(units.at(0));
  const auto zooms = ref.at("zooms").get<std::vector<double>>();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(h.grid.spacing_mm[i], zooms[i] * to_mm, 1e-5 * zooms[i] * to_mm);
  if (shape.size() > 3) {
    EXPECT_NEAR(v.time_step_s(), zooms[3] * time_scale(units.at(1)), 1e-9);
  }

  // affine: nibabel's img.affine (sform if sform_code > 0, else qform if qform_code > 0)
  const int sform_code = ref.at("sform_code"), qform_code = ref.at("qform_code");
  EXPECT_EQ(h.sform_code, sform_code);
  EXPECT_EQ(h.qform_code, qform_code);
  const auto affine = ref.at("affine").get<std::vector<std::vector<double>>>();
  if (sform_code > 0 || qform_code > 0) {
    EXPECT_EQ(h.affine_source, sform_code > 0 ? "sform" : "qform");
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) {
        const double expected = affine[r][c] * (r < 3 ? to_mm : 1.0);
        EXPECT_NEAR(v.grid().affine[r][c], expected, 1e-5 * std::max(1.0, std::abs(expected)))
            << "affine[" << r << "][" << c << "]";
      }
  } else {
    // No xform: nibabel falls back to Analyze's centred, x-flipped "base affine"; we follow the
    // NIfTI standard's method 1 (diag(pixdim), no offset). The voxel sizes must agree.
    EXPECT_EQ(h.affine_source, "pixdim");
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(v.grid().affine[i][i], std::abs(affine[i][i]) * to_mm, 1e-6);
      EXPECT_EQ(v.grid().affine[i][3], 0.0);
    }
  }

  // voxel values: float32 storage against nibabel's float64
  const Sums s = sums_of(v);
  const double ref_sum = ref.at("sum"), ref_abs = ref.at("sum_abs"), ref_sq = ref.at("sum_sq");
  EXPECT_NEAR(s.sum, ref_sum, 1e-6 * std::max(std::abs(ref_sum), ref_abs) + 1e-30) << "sum of voxel values";
  EXPECT_NEAR(s.sum_abs, ref_abs, 1e-6 * ref_abs + 1e-30) << "sum of |voxel values|";
  EXPECT_NEAR(s.sum_sq, ref_sq, 1e-6 * ref_sq + 1e-30) << "sum of squared voxel values";
  for (const auto& sample : ref.at("samples")) {
    const auto i = sample[0].get<std::int64_t>(), j = sample[1].get<std::int64_t>(),
               k = sample[2].get<std::int64_t>(), t = sample[3].get<std::int64_t>();
    const double expected = sample[4];
    EXPECT_NEAR(v.at(i, j, k, t), expected, 1e-6 * std::abs(expected) + 1e-36)
        << "voxel (" << i << "," << j << "," << k << "," << t << ")";
  }

  // int16 kept as stored (read_nifti_int16): each raw sample, scaled as documented, is bit for bit
  // the float read_nifti_voxels gives (byte-swapped and scaled files included).
  if (h.is_int16()) {
    const auto raw = rewardpath::io::read_nifti_int16(h);
    ASSERT_EQ(raw.count, v.size());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < raw.count; ++i) {
      const double r = raw.data[i];
      const float value = static_cast<float>(raw.slope != 0.0 ? r * raw.slope + raw.inter : r);
      differ += value != v.data()[i];
    }
    EXPECT_EQ(differ, 0u) << "int16 samples whose scaled value differs from read_nifti's";
  } else {
    EXPECT_THROW(rewardpath::io::read_nifti_int16(h), rewardpath::Error);
  }
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

} // namespace

// The file names are the contract with nibabel_reference.py (a missing entry fails the test).
class NibabelRealFile : public ::testing::TestWithParam<std::string> {};
TEST_P(NibabelRealFile, MatchesNibabel) { cross_check(GetParam()); }
INSTANTIATE_TEST_SUITE_P(Files, NibabelRealFile,
                         ::testing::Values("example4d.nii.gz", "example_nifti2.nii.gz", "functional.nii",
                                           "anatomical.nii", "nipy_functional.nii.gz", "ch2bet.nii.gz",
                                           "ch2.nii.gz", "aal.nii.gz"),
                         test_name);

class NibabelDatatype : public ::testing::TestWithParam<std::string> {};
TEST_P(NibabelDatatype, MatchesNibabel) {
  const std::string dt = GetParam();
  cross_check("dt_" + dt + ".nii");
  cross_check("dt_" + dt + ".nii.gz");
  if (dt != "uint8" && dt != "int8") cross_check("be_" + dt + ".nii");
}
INSTANTIATE_TEST_SUITE_P(Types, NibabelDatatype,
                         ::testing::Values("uint8", "int8", "int16", "uint16", "int32", "uint32", "int64",
                                           "uint64", "float32", "float64"),
                         test_name);

class NibabelSynthetic : public ::testing::TestWithParam<std::string> {};
TEST_P(NibabelSynthetic, MatchesNibabel) { cross_check(GetParam()); }
INSTANTIATE_TEST_SUITE_P(Files, NibabelSynthetic,
                         ::testing::Values("be_int16.nii.gz", "be_float32.nii.gz", "be_float64.nii.gz",
                                           "scaled_auto_int16.nii.gz", "scaled_uint8.nii",
                                           "scaled_be_int16.nii", "slope_zero.nii", "slope_nan.nii",
                                           "qform_only.nii", "qform_only.nii.gz", "sform_ne_qform.nii",
                                           "no_xform.nii", "tr_ms.nii", "units_m.nii", "nifti2.nii",
                                           "nifti2.nii.gz", "nifti2_be_int32.nii"),
                         test_name);

// Conventions spelled out on specific files, beyond "same as nibabel".
TEST(NibabelConventions, TimeInMillisecondsBecomesSeconds) {
  const auto h = read_nifti_header(entry("tr_ms.nii").at("path").get<std::string>());
  EXPECT_EQ(h.time_units, "ms");
  EXPECT_DOUBLE_EQ(h.time_step_s, 2.0); // pixdim[4] = 2000 ms
}

TEST(NibabelConventions, MetresBecomeMillimetres) {
  const auto h = read_nifti_header(entry("units_m.nii").at("path").get<std::string>());
  EXPECT_EQ(h.spatial_units, "m");
  EXPECT_NEAR(h.grid.spacing_mm[0], 2.0, 1e-6);
  EXPECT_NEAR(h.grid.spacing_mm[1], 2.5, 1e-6);
  EXPECT_NEAR(h.grid.spacing_mm[2], 3.0, 1e-6);
  EXPECT_NEAR(h.grid.affine[0][3], -90.0, 1e-4); // offsets scaled too
  EXPECT_DOUBLE_EQ(h.time_step_s, 1.5);
}

TEST(NibabelConventions, AffineChoice) {
  EXPECT_EQ(read_nifti_header(entry("qform_only.nii").at("path").get<std::string>()).affine_source, "qform");
  const auto both = read_nifti_header(entry("sform_ne_qform.nii").at("path").get<std::string>());
  EXPECT_EQ(both.affine_source, "sform");
  EXPECT_EQ(both.grid.space, "MNI152"); // sform_code 4
  EXPECT_GT(std::abs(both.sform[0][3] - both.qform[0][3]), 1.0);
  EXPECT_EQ(read_nifti_header(entry("no_xform.nii").at("path").get<std::string>()).affine_source, "pixdim");
}

TEST(NibabelConventions, ScalingFields) {
  const auto scaled = read_nifti_header(entry("scaled_uint8.nii").at("path").get<std::string>());
  EXPECT_DOUBLE_EQ(scaled.scl_slope, 2.5);
  EXPECT_DOUBLE_EQ(scaled.scl_inter, -100.0);
  for (const char* name : {"slope_zero.nii", "slope_nan.nii"}) {
    const auto h = read_nifti_header(entry(name).at("path").get<std::string>());
    EXPECT_EQ(h.scl_slope, 0.0) << name; // 0 / NaN slope: no scaling, intercept ignored
    EXPECT_EQ(h.scl_inter, 0.0) << name;
  }
}

TEST(NibabelConventions, RealFileDetails) {
  const auto ex = read_nifti_header(entry("example4d.nii.gz").at("path").get<std::string>());
  EXPECT_EQ(ex.vox_offset, 416); // carries a header extension, skipped
  EXPECT_TRUE(ex.gzipped);
  const auto anat = read_nifti_header(entry("anatomical.nii").at("path").get<std::string>());
  EXPECT_TRUE(anat.byte_swapped);
  const auto ch2 = read_nifti_header(entry("ch2bet.nii.gz").at("path").get<std::string>(), Expect::volume3d);
  EXPECT_EQ(ch2.grid.space, "MNI152");
  EXPECT_EQ(ch2.shape_string(), "181x217x181");
  EXPECT_EQ(ch2.spatial_units, "unknown"); // taken as mm
  const auto n2 =
      read_nifti_header(entry("example_nifti2.nii.gz").at("path").get<std::string>(), Expect::series4d);
  EXPECT_EQ(n2.version, 2);
}
