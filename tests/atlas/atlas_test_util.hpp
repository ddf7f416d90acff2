#pragma once
// Helpers for the modules/atlas tests: temporary directories, error-message checks, reading the
// third-party atlases (AAL, Harvard-Oxford cortical, CIT168) and computing centroids from them
// independently of the ROI table.
#include <gtest/gtest.h>

#include "temp_dir.hpp"
#include <unistd.h>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "rewardpath/atlas/atlas.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"

namespace rp_atlas_test {
namespace fs = std::filesystem;
using rewardpath::Volume;

struct TempDir : rewardpath::testdata::TempDir {
  TempDir() : rewardpath::testdata::TempDir("rp_atlas_test") {}
};

inline void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(static_cast<bool>(out)) << "cannot write " << p;
}

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

inline void expect_mentions(const std::string& message, std::initializer_list<std::string> parts) {
  for (const auto& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << "message lacks \"" << part << "\":\n  " << message;
}

inline fs::path shared_data() { return fs::path(RP_SHARED_DATA); }
inline fs::path cit168_dir() { return shared_data() / "atlases" / "cit168" / "derived"; }
inline fs::path templates_dir() { return rewardpath::atlas::mricron_templates_dir(); }
inline fs::path source_table() { return fs::path(RP_SOURCE_DIR) / "atlases" / "reward_rois.tsv"; }

using Vec3 = std::array<double, 3>;

inline double distance(const Vec3& a, const Vec3& b) {
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                   (a[2] - b[2]) * (a[2] - b[2]));
}

struct Region {
  std::int64_t voxels = 0;
  Vec3 centroid{};
};

// Centroid (world mm) and voxel count of the voxels of `image` for which keep(value, world) holds.
inline Region region_of(const Volume& image, const std::function<bool(float, const Vec3&)>& keep) {
  Region r;
  Vec3 sum{};
  for (std::int64_t k = 0; k < image.nz(); ++k)
    for (std::int64_t j = 0; j < image.ny(); ++j)
      for (std::int64_t i = 0; i < image.nx(); ++i) {
        const float v = image.at(i, j, k);
        if (v == 0.0f) continue;
        const Vec3 w =
            image.grid().to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
        if (!keep(v, w)) continue;
        ++r.voxels;
        for (std::size_t a = 0; a < 3; ++a) sum[a] += w[a];
      }
  for (std::size_t a = 0; a < 3; ++a)
    r.centroid[a] = r.voxels > 0 ? sum[a] / static_cast<double>(r.voxels) : std::nan("");
  return r;
}

// Index of the voxel of a 1 mm, axis-aligned grid at world position w (integers on these grids);
// -1 when outside.
inline std::int64_t voxel_at(const Volume& image, const Vec3& w) {
  std::array<std::int64_t, 3> ijk{};
  for (std::size_t a = 0; a < 3; ++a) {
    const double idx = (w[a] - image.grid().affine[a][3]) / image.grid().affine[a][a];
    ijk[a] = static_cast<std::int64_t>(std::lround(idx));
    if (ijk[a] < 0 || ijk[a] >= image.grid().dims[a]) return -1;
  }
  return static_cast<std::int64_t>(image.index(ijk[0], ijk[1], ijk[2]));
}

// Semi-axes and centre of an "ellipsoid:A,B,C@X,Y,Z" definition, parsed here (not by the library).
struct Ellipsoid {
  Vec3 semi{}, centre{};
  bool contains(const Vec3& w) const {
    double q = 0;
    for (std::size_t a = 0; a < 3; ++a) q += std::pow((w[a] - centre[a]) / semi[a], 2);
    return q <= 1.0 + 1e-9;
  }
};
inline Ellipsoid parse_ellipsoid(const std::string& definition) {
  Ellipsoid e;
  std::string s = definition.substr(definition.find(':') + 1);
  for (auto& c : s)
    if (c == ',' || c == '@') c = ' ';
  std::istringstream in(s);
  in >> e.semi[0] >> e.semi[1] >> e.semi[2] >> e.centre[0] >> e.centre[1] >> e.centre[2];
  EXPECT_TRUE(static_cast<bool>(in)) << "cannot parse " << definition;
  return e;
}

// AAL labels listed in an "aal:N+N...[;...]" definition, parsed here.
inline std::vector<int> parse_aal_labels(const std::string& definition) {
  std::vector<int> labels;
  std::string s = definition.substr(4, definition.find(';') == std::string::npos ? std::string::npos
                                                                                 : definition.find(';') - 4);
  for (auto& c : s)
    if (c == '+') c = ' ';
  std::istringstream in(s);
  int l = 0;
  while (in >> l) labels.push_back(l);
  return labels;
}

} // namespace rp_atlas_test
