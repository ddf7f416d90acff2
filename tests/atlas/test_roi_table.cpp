// The ROI table: the shipped table parses; bad tables fail with errors that name the file, the line
// and the column, and say what was expected. Also resource locations and their errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "atlas_test_util.hpp"

using namespace rewardpath;
using namespace rewardpath::atlas;
using namespace rp_atlas_test;

namespace {

const std::string kHeader =
    "index\tname\tstructure\themisphere\tsource\tdefinition\tref_x\tref_y\tref_z\treference\t"
    "ref_tolerance_mm\tvolume_min_mm3\tvolume_max_mm3\tcitation\n";

std::string row(const std::string& index, const std::string& name, const std::string& hemi,
                const std::string& source, const std::string& definition, const std::string& ref_x = "0") {
  return index + "\t" + name + "\ttest structure\t" + hemi + "\t" + source + "\t" + definition + "\t" +
         ref_x + "\t0\t0\ttest reference\t5\t0\t1000000\ttest citation\n";
}

// A valid two-row table: amygdala from AAL and a small ellipsoid.
std::string good_rows() {
  return row("1", "Amygdala_L", "L", "AAL", "aal:41") +
         row("2", "Blob_R", "R", "coordinates", "ellipsoid:3,3,3@20,-60,20");
}

fs::path aal() { return templates_dir() / "aal.nii.gz"; }

// Builds a table from `text` and returns the error message of reading or building it.
std::string build_error(const TempDir& dir, const std::string& text) {
  const auto p = dir / "rois.tsv";
  write_text(p, text);
  return error_of([&] { build_reward_atlas(p, aal()); });
}

} // namespace

TEST(RoiTable, ShippedTableParses) {
  const std::vector<Roi> rois = read_roi_table(source_table());
  ASSERT_EQ(rois.size(), 18u);
  EXPECT_EQ(rois[0].name, "VTA_L");
  EXPECT_EQ(rois[0].source, "coordinates");
  for (const Roi& r : rois) {
    EXPECT_FALSE(r.citation.empty()) << r.name;
    EXPECT_FALSE(r.reference.empty()) << r.name;
    EXPECT_GT(r.volume_max_mm3, r.volume_min_mm3) << r.name;
    EXPECT_EQ(r.has_reference(), !r.name.starts_with("CerebellumRef")) << r.name;
  }
  const Roi& ofc = rois[6];
  EXPECT_EQ(ofc.name, "OFC_L");
  EXPECT_DOUBLE_EQ(ofc.ref_tolerance_mm, 20.0);
  EXPECT_TRUE(std::isnan(rois[16].reference_centroid_mm[0]));
}

TEST(RoiTable, SmallValidTableBuilds) {
  TempDir dir;
  const auto p = dir / "rois.tsv";
  write_text(p, kHeader + good_rows());
  const Atlas a = build_reward_atlas(p, aal());
  ASSERT_EQ(a.rois.size(), 2u);
  const auto m = measure_rois(a);
  EXPECT_EQ(m[0].voxels, 1733); // AAL Amygdala_L, measured with nibabel
  // A 3 mm sphere centred on grid points: the 123 voxel centres within 3 mm.
  EXPECT_EQ(m[1].voxels, 123);
  EXPECT_NEAR(m[1].centroid_mm[0], 20.0, 1e-9);
  EXPECT_NEAR(m[1].centroid_mm[1], -60.0, 1e-9);
  EXPECT_NEAR(m[1].centroid_mm[2], 20.0, 1e-9);
}

TEST(RoiTable, UnknownAalLabelNamesFileLineAndColumn) {
  TempDir dir;
  const std::string msg =
      build_error(dir, kHeader + good_rows() + row("3", "Nothing_L", "L", "AAL", "aal:999"));
  expect_mentions(msg, {(dir / "rois.tsv").string(), "line 4", "column \"definition\"",
                        "unknown AAL label 999", "labels 1..116"});
}

TEST(RoiTable, AalLabelOfTheOtherHemisphereIsAnError) {
  TempDir dir;
  const std::string msg = build_error(dir, kHeader + row("1", "Amygdala_L", "L", "AAL", "aal:42"));
  expect_mentions(msg, {"rois.tsv", "line 2", "column \"definition\"", "Amygdala_R", "hemisphere is L"});
}

TEST(RoiTable, MalformedDefinitionsNameFileLineAndColumn) {
  TempDir dir;
  const auto p = dir / "rois.tsv";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"aal:4x", "AAL label \"4x\" is not a positive integer"},
      {"aal:", "AAL label \"\" is not a positive integer"},
      {"aal:41+41", "listed twice"},
      {"aal:41;template=9..1", "LO <= HI"},
      {"aal:41;mask=gm", "unknown restriction"},
      {"ellipsoid:1,2@0,0,0", "semi-axes needs 3 comma-separated numbers, got 2"},
      {"ellipsoid:1,2,3", "no centre"},
      {"ellipsoid:1,0,3@0,0,0", "not positive"},
      {"ellipsoid:1,2,3@0,y,0", "centre \"y\" is not a number"},
      {"sphere:3@0,0,0", "unknown kind"},
  };
  for (const auto& [definition, why] : cases) {
    const std::string source = definition.starts_with("ellipsoid") ? "coordinates" : "AAL";
    write_text(p, kHeader + good_rows() + row("3", "Bad_L", "L", source, definition));
    const std::string msg = error_of([&] { read_roi_table(p); });
    expect_mentions(msg, {p.string(), "line 4", "column \"definition\"", "malformed definition", why,
                          "expected aal:N[+N...]"});
  }
}

TEST(RoiTable, DuplicateIndexAndNameAreErrors) {
  TempDir dir;
  const auto p = dir / "rois.tsv";
  write_text(p, kHeader + good_rows() + row("2", "Other_R", "R", "AAL", "aal:42"));
  expect_mentions(
      error_of([&] { read_roi_table(p); }),
      {p.string(), "line 4", "column \"index\"", "duplicate index 2", "already used on line 3 (Blob_R)"});
  write_text(p, kHeader + good_rows() + row("3", "Amygdala_L", "L", "AAL", "aal:42"));
  expect_mentions(error_of([&] { read_roi_table(p); }),
                  {p.string(), "line 4", "column \"name\"", "duplicate name Amygdala_L", "line 2"});
}

TEST(RoiTable, BadCellsNameTheirColumn) {
  TempDir dir;
  const auto p = dir / "rois.tsv";
  write_text(p, kHeader + row("0", "A_L", "L", "AAL", "aal:41"));
  expect_mentions(error_of([&] { read_roi_table(p); }), {"line 2", "column \"index\"", "integer 1..32767"});
  write_text(p, kHeader + row("1", "A_L", "left", "AAL", "aal:41"));
  expect_mentions(error_of([&] { read_roi_table(p); }),
                  {"line 2", "column \"hemisphere\"", "L, R or bilateral"});
  write_text(p, kHeader + row("1", "A_L", "L", "coordinates", "aal:41"));
  expect_mentions(error_of([&] { read_roi_table(p); }), {"line 2", "column \"source\"", "does not match"});
  write_text(p, kHeader + row("1", "A_L", "L", "AAL", "aal:41", "north"));
  expect_mentions(error_of([&] { read_roi_table(p); }),
                  {p.string(), "line 2", "column \"ref_x\"", "\"north\"", "expected a number or n/a"});
  write_text(p, kHeader + row("1", "A_L", "L", "AAL", "aal:41", "n/a"));
  expect_mentions(error_of([&] { read_roi_table(p); }), {"line 2", "all numbers or all n/a"});
  write_text(p, "index\tname\n1\tA_L\n");
  expect_mentions(error_of([&] { read_roi_table(p); }),
                  {p.string(), "missing required column \"structure\""});
  write_text(p, kHeader);
  expect_mentions(error_of([&] { read_roi_table(p); }), {p.string(), "no rows"});
}

TEST(RoiTable, OverlappingRoisAreErrors) {
  TempDir dir;
  // Two AAL ROIs sharing a label.
  expect_mentions(build_error(dir, kHeader + row("1", "A_L", "L", "AAL", "aal:41") +
                                       row("2", "B_L", "L", "AAL", "aal:37+41")),
                  {"rois.tsv", "A_L (line 2)", "B_L (line 3)", "overlap in 1733 voxel(s)"});
  // Two ellipsoids.
  expect_mentions(build_error(dir, kHeader +
                                       row("1", "A_R", "R", "coordinates", "ellipsoid:3,3,3@20,-60,20") +
                                       row("2", "B_R", "R", "coordinates", "ellipsoid:3,3,3@22,-60,20")),
                  {"A_R (line 2)", "B_R (line 3)", "overlap"});
}

TEST(RoiTable, EmptyRoiIsAnError) {
  TempDir dir;
  expect_mentions(
      build_error(dir, kHeader + row("1", "Far_R", "R", "coordinates", "ellipsoid:2,2,2@500,0,0")),
      {"rois.tsv", "line 2", "Far_R", "has no voxels"});
}

TEST(RoiTable, TemplateRestrictionNeedsATemplateOnTheSameGrid) {
  TempDir dir;
  const auto p = dir / "rois.tsv";
  write_text(p, kHeader + row("1", "Cb_L", "L", "AAL", "aal:91;template=1..100"));
  Grid g;
  g.dims = {10, 10, 10};
  const auto small = dir / "small.nii.gz";
  io::write_nifti(small, Volume(g, 1, 1.0f));
  expect_mentions(error_of([&] { build_reward_atlas(p, aal(), small); }),
                  {small.string(), "does not sample the AAL image's grid"});
  // With the real template, the restriction keeps a part of the label only.
  const Atlas a = build_reward_atlas(p, aal(), templates_dir() / "ch2bet.nii.gz");
  const auto m = measure_rois(a);
  EXPECT_GT(m[0].voxels, 10000);
  EXPECT_LT(m[0].voxels, 20667); // AAL Cerebelum_Crus1_L has 20667 voxels
}

TEST(RoiTable, DefaultAtlasDirFollowsTheEnvironment) {
  ::unsetenv("REWARDPATH_ATLAS_DIR");
  EXPECT_EQ(default_atlas_dir(), fs::path(RP_SOURCE_DIR) / "atlases");
  EXPECT_TRUE(fs::exists(default_atlas_dir() / "reward_rois.tsv"));
  ::setenv("REWARDPATH_ATLAS_DIR", "/somewhere/atlases", 1);
  EXPECT_EQ(default_atlas_dir(), fs::path("/somewhere/atlases"));
  expect_mentions(error_of([] { build_reward_atlas(); }),
                  {"/somewhere/atlases/reward_rois.tsv", "does not exist", "REWARDPATH_ATLAS_DIR"});
  ::unsetenv("REWARDPATH_ATLAS_DIR");
}

TEST(RoiTable, MissingMricronDataSaysHowToInstallIt) {
  ::unsetenv("REWARDPATH_MRICRON_DIR");
  EXPECT_EQ(mricron_templates_dir(), fs::path("/usr/share/mricron/templates"));
  TempDir dir;
  ::setenv("REWARDPATH_MRICRON_DIR", dir.path().c_str(), 1);
  EXPECT_EQ(mricron_templates_dir(), dir.path());
  const std::string msg = error_of([] { load_template(); });
  expect_mentions(msg, {(dir / "ch2bet.nii.gz").string(), "is missing", "mricron-data", "scripts/setup.sh",
                        "REWARDPATH_MRICRON_DIR"});
  expect_mentions(error_of([] { build_reward_atlas(); }), {"aal.nii.gz", "mricron-data"});
  ::unsetenv("REWARDPATH_MRICRON_DIR");
}
