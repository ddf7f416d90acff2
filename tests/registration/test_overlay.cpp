// The QC figure: a PNG of the right size that libpng-compatible readers accept.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "reg_cases.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"

using namespace rp_reg_test;
namespace fs = std::filesystem;

TEST(Overlay, WritesAPngOfThreeSlices) {
  const Volume t1 = load_ch2bet();
  const Volume tmpl = rewardpath::resample(t1, iso_grid(t1.grid(), 2.0));
  const Case c = make_case(t1, {8, -6, 10, 10, -5, 8}, 2.0);
  reg::Params p;
  p.model = reg::Model::rigid;
  p.threads = 2;
  const reg::Result r = reg::register_images(c.subject, tmpl, p);
  const Volume registered = reg::apply_transform(tmpl, c.subject.grid(), r.transform);
  const fs::path dir = fs::temp_directory_path() / ("rp_reg_overlay_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path png = dir / "sub-01_desc-registration_overlay.png";
  reg::write_overlay_png(png, c.subject, registered, 1.0);
  std::ifstream in(png, std::ios::binary);
  std::vector<unsigned char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(b.size(), 1000u);
  const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  EXPECT_TRUE(std::equal(sig, sig + 8, b.begin()));
  auto be32 = [&](std::size_t o) { return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]; };
  // IHDR: width = sagittal (y extent) + coronal + axial (x extents) + 2 gaps of 4 px, at 1 mm
  const int width = be32(16), height = be32(20);
  EXPECT_EQ(width, 216 + 180 + 180 + 8);
  EXPECT_EQ(height, 216);
  EXPECT_EQ(b[24], 8); // bit depth
  EXPECT_EQ(b[25], 2); // RGB
  if (const char* keep = std::getenv("RP_KEEP_OVERLAY"))
    fs::copy_file(png, keep, fs::copy_options::overwrite_existing);
  fs::remove_all(dir);
  // grids must match
  EXPECT_THROW(reg::write_overlay_png(png, c.subject, tmpl), rewardpath::Error);
}
