// User atlases: the CIT168 atlas from ../shared/data as a label atlas and as a decoded
// max-probability atlas (expectations recomputed here from the files, and by nibabel), a synthetic
// 4D probabilistic atlas of overlapping Gaussian blobs with known answers, TSV variants, and the
// errors for bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "atlas_test_util.hpp"
#include "rewardpath/atlas/user_atlas.hpp"
#include "rewardpath/io/tsv.hpp"

using namespace rewardpath;
using namespace rewardpath::atlas;
using namespace rp_atlas_test;

namespace {

const std::string kSpace = "MNI152NLin2009cAsym";
fs::path cit_root() { return shared_data() / "atlases" / "cit168"; }
fs::path cit_p50() { return cit168_dir() / "CIT168_maxprob_labels_p50.nii.gz"; }
fs::path cit_p0() { return cit168_dir() / "CIT168_maxprob_labels_p0.nii.gz"; }
fs::path cit_prob() { return cit168_dir() / "CIT168_maxprob_prob.nii.gz"; }
fs::path cit_tsv() { return cit168_dir() / "CIT168_labels.tsv"; }
fs::path cit_template() { return cit_root() / "CIT168toMNI152-2009c_T1w_brain.nii.gz"; }

const RoiMeasure& measure_of(const std::vector<RoiMeasure>& ms, int index) {
  for (const auto& m : ms)
    if (m.index == index) return m;
  throw std::runtime_error("no measure for index " + std::to_string(index));
}

std::size_t column(const io::Table& t, const std::string& name) { return t.require_column(name); }

// ---- synthetic images -----------------------------------------------------------------------------

Grid small_grid() {
  Grid g;
  g.dims = {20, 20, 20};
  g.spacing_mm = {2, 2, 2};
  g.affine = identity_affine();
  for (int a = 0; a < 3; ++a) {
    g.affine[a][a] = 2.0;
    g.affine[a][3] = -20.0;
  }
  g.space = "MNI152NLin2009cAsym";
  return g;
}

struct Blob {
  double amplitude, sigma_vox;
  Vec3 centre_vox;
  double at(double i, double j, double k) const {
    const double d2 = (i - centre_vox[0]) * (i - centre_vox[0]) + (j - centre_vox[1]) * (j - centre_vox[1]) +
                      (k - centre_vox[2]) * (k - centre_vox[2]);
    return amplitude * std::exp(-d2 / (2 * sigma_vox * sigma_vox));
  }
};
// A (index 1) and B (index 2) overlap along x; C (index 3) lies below them in y.
const std::vector<Blob> kBlobs = {{0.9, 3.0, {6, 10, 10}}, {0.8, 3.0, {12, 10, 10}}, {0.6, 2.0, {10, 4, 10}}};

Volume blobs_4d() {
  Volume v(small_grid(), static_cast<std::int64_t>(kBlobs.size()), 0.0f);
  for (std::size_t r = 0; r < kBlobs.size(); ++r)
    for (std::int64_t k = 0; k < 20; ++k)
      for (std::int64_t j = 0; j < 20; ++j)
        for (std::int64_t i = 0; i < 20; ++i)
          v.at(i, j, k, static_cast<std::int64_t>(r)) = static_cast<float>(
              kBlobs[r].at(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)));
  return v;
}

const char* kBlobTsv = "index\tname\n1\tA_L\n2\tB_R\n3\tC\n";

fs::path write_volume(const TempDir& dir, const std::string& name, const Volume& v) {
  const fs::path p = dir / name;
  io::write_nifti(p, v);
  return p;
}

// Max-probability labels computed here, independently: argmax over volumes, first wins ties.
std::vector<int> expected_labels(const Volume& p, double threshold, const std::vector<int>& index_of_volume) {
  const auto nvox = static_cast<std::size_t>(p.voxels_per_volume());
  std::vector<int> out(nvox, 0);
  for (std::size_t v = 0; v < nvox; ++v) {
    int best = -1;
    double best_p = -1;
    for (std::int64_t t = 0; t < p.volumes(); ++t) {
      const double x = p.volume(t)[v];
      if (x > best_p) best_p = x, best = static_cast<int>(t);
    }
    if (best_p >= threshold) out[v] = index_of_volume[static_cast<std::size_t>(best)];
  }
  return out;
}

Volume label_volume(std::initializer_list<std::pair<std::array<std::int64_t, 3>, float>> voxels) {
  Volume v(small_grid(), 1, 0.0f);
  for (const auto& [ijk, value] : voxels) v.at(ijk[0], ijk[1], ijk[2]) = value;
  return v;
}

} // namespace

// ---- CIT168 as a label atlas ------------------------------------------------------------------------

class Cit168Labels : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    atlas_ = std::make_unique<UserAtlas>(load_label_atlas(cit_p50(), cit_tsv(), cit_template(), kSpace));
    file_ = std::make_unique<Volume>(io::read_nifti(cit_p50()));
  }
  static void TearDownTestSuite() {
    atlas_.reset();
    file_.reset();
  }
  static std::unique_ptr<UserAtlas> atlas_;
  static std::unique_ptr<Volume> file_;
};
std::unique_ptr<UserAtlas> Cit168Labels::atlas_;
std::unique_ptr<Volume> Cit168Labels::file_;

TEST_F(Cit168Labels, Has32RoisWithNamesAndHemispheres) {
  const Atlas& a = atlas_->atlas;
  ASSERT_EQ(a.rois.size(), 32u); // 16 structures, L and R; the "0 Unknown" row is background
  EXPECT_EQ(atlas_->kind, UserAtlasKind::label);
  EXPECT_EQ(a.name, "CIT168_maxprob_labels_p50");
  for (std::size_t r = 0; r < a.rois.size(); ++r) {
    EXPECT_EQ(a.rois[r].index, static_cast<int>(r) + 1);
    EXPECT_EQ(a.rois[r].hemisphere, r % 2 == 0 ? "L" : "R") << a.rois[r].name;
    EXPECT_FALSE(a.rois[r].has_reference());
  }
  const Roi* nacc = a.find("L Nucleus Accumbens");
  ASSERT_NE(nacc, nullptr);
  EXPECT_EQ(nacc->index, 5);
  EXPECT_EQ(nacc->structure, "Nucleus Accumbens");
  ASSERT_NE(a.find("R Nucleus Accumbens"), nullptr);
  const Roi* vta = a.find("R Ventral Tegmental Area");
  ASSERT_NE(vta, nullptr);
  EXPECT_EQ(vta->index, 22);
  EXPECT_EQ(vta->hemisphere, "R");
}

TEST_F(Cit168Labels, SpaceTemplateAndGridAreCarried) {
  EXPECT_EQ(atlas_->space(), kSpace);
  EXPECT_TRUE(atlas_->atlas.labels.grid().same_sampling(file_->grid()));
  EXPECT_EQ(atlas_->template_image, cit_template());
  EXPECT_FALSE(atlas_->probabilities.has_value());
  EXPECT_TRUE(atlas_->probability_map(5).empty());
  const Volume t = load_template(*atlas_);
  EXPECT_EQ(t.grid().dims, (std::array<std::int64_t, 3>{165, 198, 168}));
  EXPECT_EQ(t.grid().space, kSpace);
  // Labels are the file's values, voxel for voxel.
  for (std::size_t v = 0; v < file_->size(); ++v)
    ASSERT_EQ(atlas_->atlas.labels.data()[v], file_->data()[v]) << "voxel " << v;
}

TEST_F(Cit168Labels, VoxelCountsAndCentroidsMatchTheFile) {
  const auto ms = measure_rois(atlas_->atlas);
  for (const Roi& roi : atlas_->atlas.rois) {
    const Region expected =
        region_of(*file_, [&](float v, const Vec3&) { return std::lround(v) == roi.index; });
    const RoiMeasure& m = measure_of(ms, roi.index);
    EXPECT_EQ(m.voxels, expected.voxels) << roi.name;
    if (expected.voxels > 0) {
      EXPECT_LT(distance(m.centroid_mm, expected.centroid), 1e-6) << roi.name;
    }
  }
  // The facts in shared/notes/atlas.md (measured there from the same atlas).
  EXPECT_EQ(measure_of(ms, 21).voxels, 13);
  EXPECT_EQ(measure_of(ms, 22).voxels, 14);
  EXPECT_EQ(measure_of(ms, 5).voxels, 476);
  EXPECT_EQ(measure_of(ms, 6).voxels, 464);
  EXPECT_LT(distance(measure_of(ms, 5).centroid_mm, {-10.2, 8.1, -10.3}), 0.5);
  EXPECT_LT(distance(measure_of(ms, 6).centroid_mm, {9.5, 9.0, -9.9}), 0.5);
  EXPECT_LT(distance(measure_of(ms, 21).centroid_mm, {-4.2, -20.1, -16.2}), 0.5);
  EXPECT_LT(distance(measure_of(ms, 22).centroid_mm, {4.0, -20.0, -16.2}), 0.5);
}

TEST_F(Cit168Labels, WarnsExactlyAboutRoisAbsentFromTheImage) {
  std::vector<int> absent;
  for (int l = 1; l <= 32; ++l)
    if (region_of(*file_, [&](float v, const Vec3&) { return std::lround(v) == l; }).voxels == 0)
      absent.push_back(l);
  if (absent.empty()) {
    EXPECT_TRUE(atlas_->warnings.empty());
  } else {
    ASSERT_EQ(atlas_->warnings.size(), 1u);
    for (int l : absent) expect_mentions(atlas_->warnings[0], {std::to_string(l) + " ("});
  }
}

TEST_F(Cit168Labels, DescribeWorksWithoutReferences) {
  const io::Table t = describe(*atlas_);
  ASSERT_EQ(t.row_count(), 32u);
  const auto ms = measure_rois(atlas_->atlas);
  for (std::size_t r = 0; r < t.row_count(); ++r) {
    EXPECT_EQ(t.cell(r, column(t, "reference_distance_mm")), "n/a");
    EXPECT_EQ(t.cell(r, column(t, "prob_voxels")), "n/a");
    EXPECT_EQ(t.cell(r, column(t, "voxels")), std::to_string(ms[r].voxels));
  }
  EXPECT_EQ(t.cell(4, column(t, "name")), "L Nucleus Accumbens");
  EXPECT_EQ(t.cell(4, column(t, "centroid_x_mm")), "-10.2");
  EXPECT_EQ(t.cell(4, column(t, "source")), "CIT168_maxprob_labels_p50.nii.gz");
  // describe() on the plain Atlas works too (same first columns).
  EXPECT_EQ(describe(atlas_->atlas).row_count(), 32u);
}

// ---- CIT168 as a decoded max-probability atlas (PAQD: top label + its probability) --------------------

TEST(Cit168Maxprob, AtHalfItReproducesTheP50File) {
  const UserAtlas ua = load_maxprob_atlas(cit_p0(), cit_prob(), cit_tsv(), 0.5, cit_template(), kSpace);
  const Volume p50 = io::read_nifti(cit_p50()); // decoded independently (shared/data derived/)
  ASSERT_TRUE(ua.atlas.labels.grid().same_sampling(p50.grid()));
  std::size_t differ = 0;
  for (std::size_t v = 0; v < p50.size(); ++v) differ += ua.atlas.labels.data()[v] != p50.data()[v];
  EXPECT_EQ(differ, 0u);
  EXPECT_EQ(ua.kind, UserAtlasKind::maxprob);
  EXPECT_EQ(ua.space(), kSpace);
}

TEST(Cit168Maxprob, LowerThresholdGrowsVtaAndKeepsWeights) {
  const UserAtlas ua = load_maxprob_atlas(cit_p0(), cit_prob(), cit_tsv(), 0.25, cit_template(), kSpace);
  const Volume top = io::read_nifti(cit_p0());
  const Volume prob = io::read_nifti(cit_prob());
  const auto ms = measure_rois(ua.atlas);
  for (int l : {5, 6, 21, 22}) {
    std::int64_t expected = 0, any = 0;
    for (std::size_t v = 0; v < top.size(); ++v)
      if (std::lround(top.data()[v]) == l) {
        ++any;
        expected += prob.data()[v] >= 0.25f;
      }
    EXPECT_EQ(measure_of(ms, l).voxels, expected) << "label " << l;
    if (l >= 21) {
      EXPECT_GT(expected, 14) << "VTA at p >= 0.25 is larger than at p > 0.5";
    }
    // Fractional weights: the top-label probability where the label is on top, 0 elsewhere.
    const auto w = ua.probability_map(l);
    ASSERT_EQ(w.size(), top.size());
    std::int64_t nonzero = 0;
    for (std::size_t v = 0; v < top.size(); ++v) {
      const float want = std::lround(top.data()[v]) == l ? prob.data()[v] : 0.0f;
      ASSERT_EQ(w[v], want) << "label " << l << " voxel " << v;
      nonzero += w[v] > 0.0f;
    }
    const io::Table t = describe(ua);
    EXPECT_EQ(t.cell(static_cast<std::size_t>(l - 1), column(t, "prob_voxels")), std::to_string(nonzero));
    EXPECT_LE(nonzero, any);
  }
}

TEST(Cit168Maxprob, NibabelAgrees) {
  const std::string python = RP_SYSTEM_PYTHON;
  if (python.empty() || python.find("NOTFOUND") != std::string::npos) GTEST_SKIP() << "no system python";
  TempDir dir;
  const auto script = dir / "count.py";
  write_text(script, "import sys, nibabel as nib, numpy as np\n"
                     "top = nib.load(sys.argv[1]); lab = np.asarray(top.dataobj).astype(int)\n"
                     "p = np.asarray(nib.load(sys.argv[2]).dataobj)\n"
                     "for l in (5, 6, 21, 22):\n"
                     "  m = (lab == l) & (p >= 0.25)\n"
                     "  c = nib.affines.apply_affine(top.affine, np.argwhere(m)).mean(axis=0)\n"
                     "  print(l, int(m.sum()), *[f'{x:.4f}' for x in c])\n");
  const auto out = dir / "nibabel.txt";
  const std::string cmd = python + " " + script.string() + " " + cit_p0().string() + " " +
                          cit_prob().string() + " > " + out.string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "nibabel failed, see " << out;
  const UserAtlas ua = load_user_atlas({.image = cit_p0(),
                                        .labels_tsv = cit_tsv(),
                                        .probability_image = cit_prob(),
                                        .template_image = cit_template(),
                                        .threshold = 0.25,
                                        .space = kSpace});
  const auto ms = measure_rois(ua.atlas);
  std::ifstream in(out);
  int rows = 0, label = 0;
  std::int64_t n = 0;
  Vec3 c{};
  while (in >> label >> n >> c[0] >> c[1] >> c[2]) {
    ++rows;
    EXPECT_EQ(measure_of(ms, label).voxels, n) << "label " << label;
    EXPECT_LT(distance(measure_of(ms, label).centroid_mm, c), 1e-3) << "label " << label;
  }
  EXPECT_EQ(rows, 4);
}

// ---- synthetic 4D probabilistic atlas -------------------------------------------------------------------

TEST(ProbabilisticAtlas, MaxProbabilityLabellingOfOverlappingBlobs) {
  TempDir dir;
  const Volume p = blobs_4d();
  const fs::path nii = write_volume(dir, "blobs_probseg.nii.gz", p);
  write_text(dir / "blobs.tsv", kBlobTsv);
  const UserAtlas ua = load_probabilistic_atlas(nii, dir / "blobs.tsv", 0.3);
  ASSERT_EQ(ua.atlas.rois.size(), 3u);
  EXPECT_EQ(ua.kind, UserAtlasKind::probabilistic);
  EXPECT_EQ(ua.space(), "MNI152"); // no space given: the header's xform code
  const Volume& l = ua.atlas.labels;
  EXPECT_FALSE(l.is_4d());
  // Hand-derived: the A/B boundary on the line y = z = 10 lies at x = (108 + 18 ln(0.9/0.8)) / 12 = 9.18.
  EXPECT_EQ(l.at(6, 10, 10), 1.0f);
  EXPECT_EQ(l.at(9, 10, 10), 1.0f);  // pA 0.546 > pB 0.485
  EXPECT_EQ(l.at(10, 10, 10), 2.0f); // pA 0.370 < pB 0.641
  EXPECT_EQ(l.at(12, 10, 10), 2.0f);
  EXPECT_EQ(l.at(10, 4, 10), 3.0f); // C's peak 0.6 beats A 0.9 e^-1.44 = 0.21 and B 0.8 e^-0.72 = 0.39
  EXPECT_EQ(l.at(0, 10, 10), 0.0f); // pA = 0.9 e^-2 = 0.122 < 0.3
  EXPECT_EQ(l.at(19, 19, 19), 0.0f);
  // Every voxel as computed here.
  const auto expected = expected_labels(p, 0.3, {1, 2, 3});
  for (std::size_t v = 0; v < expected.size(); ++v)
    ASSERT_EQ(static_cast<int>(l.data()[v]), expected[v]) << "voxel " << v;
  // The probability maps are kept.
  ASSERT_TRUE(ua.probabilities.has_value());
  for (int r = 0; r < 3; ++r) {
    const auto w = ua.probability_map(r + 1);
    const auto in = p.volume(r);
    ASSERT_EQ(w.size(), in.size());
    for (std::size_t v = 0; v < w.size(); ++v) ASSERT_EQ(w[v], in[v]);
  }
  EXPECT_TRUE(ua.warnings.empty());
  // describe(): p > 0 extent, expected volume and peak.
  const io::Table t = describe(ua);
  double sum_a = 0;
  for (float x : p.volume(0)) sum_a += x;
  EXPECT_EQ(t.cell(0, column(t, "max_probability")), "0.900");
  EXPECT_NEAR(std::stod(t.cell(0, column(t, "prob_volume_mm3"))), sum_a * 8.0, 1.0);
}

TEST(ProbabilisticAtlas, ThresholdDecidesWhichVoxelsAreLabelled) {
  TempDir dir;
  const Volume p = blobs_4d();
  const fs::path nii = write_volume(dir, "blobs.nii.gz", p);
  write_text(dir / "blobs.tsv", kBlobTsv);
  const UserAtlas low = load_probabilistic_atlas(nii, dir / "blobs.tsv", 0.1);
  EXPECT_EQ(low.atlas.labels.at(0, 10, 10), 1.0f); // 0.122 >= 0.1
  std::int64_t n_low = 0, n_high = 0;
  const UserAtlas high = load_probabilistic_atlas(nii, dir / "blobs.tsv", 0.5);
  for (std::size_t v = 0; v < low.atlas.labels.size(); ++v) {
    n_low += low.atlas.labels.data()[v] != 0.0f;
    n_high += high.atlas.labels.data()[v] != 0.0f;
    if (high.atlas.labels.data()[v] != 0.0f) {
      ASSERT_EQ(high.atlas.labels.data()[v], low.atlas.labels.data()[v]);
    }
  }
  EXPECT_GT(n_low, n_high);
  const auto e = expected_labels(p, 0.5, {1, 2, 3});
  for (std::size_t v = 0; v < e.size(); ++v) ASSERT_EQ(static_cast<int>(high.atlas.labels.data()[v]), e[v]);
  // Only A peaks above 0.85: B and C are kept, empty, with a warning.
  const UserAtlas top = load_probabilistic_atlas(nii, dir / "blobs.tsv", 0.85);
  const auto ms = measure_rois(top.atlas);
  EXPECT_GT(ms[0].voxels, 0);
  EXPECT_EQ(ms[1].voxels, 0);
  EXPECT_EQ(ms[2].voxels, 0);
  ASSERT_EQ(top.warnings.size(), 1u);
  expect_mentions(top.warnings[0], {"2 (B_R)", "3 (C)", "0.85"});
  // Threshold 1 is allowed; nothing reaches it here.
  EXPECT_EQ(load_probabilistic_atlas(nii, dir / "blobs.tsv", 1.0).warnings.size(), 1u);
}

TEST(ProbabilisticAtlas, VolumesFollowAscendingIndexNotRowOrder) {
  TempDir dir;
  const fs::path nii = write_volume(dir, "blobs.nii.gz", blobs_4d());
  write_text(dir / "blobs.tsv", "index\tname\n30\tC\n10\tA_L\n20\tB_R\n");
  const UserAtlas ua = load_probabilistic_atlas(nii, dir / "blobs.tsv", 0.3);
  EXPECT_EQ(ua.atlas.rois[0].name, "A_L");
  EXPECT_EQ(ua.atlas.rois[0].index, 10);
  EXPECT_EQ(ua.atlas.labels.at(6, 10, 10), 10.0f);
  EXPECT_EQ(ua.atlas.labels.at(10, 4, 10), 30.0f);
}

// ---- TSV variants and discovery -------------------------------------------------------------------------

TEST(LabelAtlasTsv, AcceptsCommonVariants) {
  TempDir dir;
  const fs::path nii = write_volume(
      dir, "tpl-MNI152NLin6Asym_atlas-demo_dseg.nii.gz",
      label_volume({{{1, 1, 1}, 1.0f}, {{2, 2, 2}, 2.0f}, {{3, 3, 3}, 3.0f}, {{4, 4, 4}, 4.0f}}));
  // Byte-order mark, CRLF, capitalised header, "Label" for the name, a hemisphere column, extra
  // columns; the BIDS sidecar beside the image is found without being named.
  write_text(
      dir / "tpl-MNI152NLin6Asym_atlas-demo_dseg.tsv",
      "\xEF\xBB\xBFIndex\tLabel\tHemisphere\tcolor\r\n0\tBackground\tn/a\t#000000\r\n1\tLeft-Putamen\tleft\t#"
      "ff0000\r\n2\tPutamen_R\tR\t#00ff00\r\n3\tlh.caudate\tn/"
      "a\t#0000ff\r\n4\tBrainstem\tbilateral\t#ffffff\r\n");
  const UserAtlas ua = load_label_atlas(nii, {});
  ASSERT_EQ(ua.atlas.rois.size(), 4u);
  EXPECT_EQ(ua.atlas.name, "demo");
  EXPECT_EQ(ua.space(), "MNI152NLin6Asym");
  EXPECT_EQ(ua.atlas.rois[0].hemisphere, "L");
  EXPECT_EQ(ua.atlas.rois[0].structure, "Putamen");
  EXPECT_EQ(ua.atlas.rois[1].hemisphere, "R");
  EXPECT_EQ(ua.atlas.rois[1].structure, "Putamen");
  EXPECT_EQ(ua.atlas.rois[2].hemisphere, "L"); // from the name: the column says n/a
  EXPECT_EQ(ua.atlas.rois[2].structure, "caudate");
  EXPECT_EQ(ua.atlas.rois[3].hemisphere, "bilateral");
  EXPECT_TRUE(ua.warnings.empty());
}

TEST(LabelAtlasTsv, RowsWithoutVoxelsAreKeptWithAWarning) {
  TempDir dir;
  const fs::path nii = write_volume(dir, "a.nii.gz", label_volume({{{1, 1, 1}, 1.0f}}));
  write_text(dir / "a.tsv", "index\tname\n1\tOne\n9\tNine\n");
  const UserAtlas ua = load_label_atlas(nii, dir / "a.tsv");
  ASSERT_EQ(ua.atlas.rois.size(), 2u);
  EXPECT_EQ(measure_rois(ua.atlas)[1].voxels, 0);
  ASSERT_EQ(ua.warnings.size(), 1u);
  expect_mentions(ua.warnings[0], {"9 (Nine)", "a.tsv", "kept"});
}

// ---- errors ---------------------------------------------------------------------------------------------

TEST(UserAtlasErrors, TsvProblemsNameFileLineAndColumn) {
  TempDir dir;
  const fs::path nii = write_volume(dir, "a.nii.gz", label_volume({{{1, 1, 1}, 1.0f}, {{2, 2, 2}, 2.0f}}));
  const auto with_tsv = [&](const std::string& text) {
    write_text(dir / "a.tsv", text);
    return error_of([&] { load_label_atlas(nii, dir / "a.tsv"); });
  };
  expect_mentions(with_tsv("index\tregion_label\n1\tOne\n2\tTwo\n"),
                  {"a.tsv", "line 1", "missing column \"name\"", "region_label"});
  expect_mentions(with_tsv("name\n1\n"), {"a.tsv", "missing column \"index\""});
  expect_mentions(with_tsv("index\tname\n1\tOne\n1\tTwo\n"),
                  {"a.tsv", "line 3", "column \"index\"", "duplicate index 1", "line 2"});
  expect_mentions(with_tsv("index\tname\n1\tOne\n2.5\tTwo\n"), {"a.tsv", "line 3", "\"index\"", "\"2.5\""});
  expect_mentions(with_tsv("index\tname\n1\tOne\nabc\tTwo\n"), {"line 3", "\"abc\" is not a label index"});
  expect_mentions(with_tsv("index\tname\n-1\tOne\n2\tTwo\n"), {"line 2", "\"-1\""});
  expect_mentions(with_tsv("index\tname\n1\tOne\n2\tOne\n"), {"line 3", "column \"name\"", "duplicate name"});
  expect_mentions(with_tsv("index\tname\n1\tOne\n2\tn/a\n"), {"line 3", "empty name"});
  expect_mentions(with_tsv("index\tname\themisphere\n1\tOne\tup\n2\tTwo\tL\n"),
                  {"line 2", "column \"hemisphere\"", "\"up\""});
  expect_mentions(with_tsv("index\tname\n0\tBackground\n"), {"no ROI rows"});
  // Labels in the image without a row: an error naming them.
  expect_mentions(with_tsv("index\tname\n1\tOne\n"), {"a.nii.gz", "2 (1 voxels)", "no row in a.tsv"});
}

TEST(UserAtlasErrors, MissingTsvSaysHowToPassOne) {
  TempDir dir;
  const fs::path nii = write_volume(dir, "a.nii.gz", label_volume({{{1, 1, 1}, 1.0f}}));
  expect_mentions(error_of([&] { load_label_atlas(nii, {}); }), {"a.tsv", "--atlas-labels"});
}

TEST(UserAtlasErrors, NonIntegerLabelsAreAnError) {
  TempDir dir;
  const fs::path nii = write_volume(dir, "a.nii.gz", label_volume({{{1, 1, 1}, 1.0f}, {{3, 4, 5}, 2.5f}}));
  write_text(dir / "a.tsv", "index\tname\n1\tOne\n2\tTwo\n");
  expect_mentions(error_of([&] { load_label_atlas(nii, dir / "a.tsv"); }),
                  {"a.nii.gz", "voxel (3, 4, 5) holds 2.5", "integers", "nearest neighbour"});
  const fs::path neg = write_volume(dir, "neg.nii.gz", label_volume({{{1, 1, 1}, -1.0f}}));
  expect_mentions(error_of([&] { load_label_atlas(neg, dir / "a.tsv"); }), {"holds -1"});
}

TEST(UserAtlasErrors, DimensionalityMismatches) {
  TempDir dir;
  const fs::path four = write_volume(dir, "p.nii.gz", blobs_4d());
  const fs::path three = write_volume(dir, "l.nii.gz", label_volume({{{1, 1, 1}, 1.0f}}));
  write_text(dir / "p.tsv", kBlobTsv);
  const auto spec = [&](const fs::path& image, std::optional<double> threshold) {
    UserAtlasSpec s;
    s.image = image;
    s.labels_tsv = dir / "p.tsv";
    s.threshold = threshold;
    return s;
  };
  expect_mentions(error_of([&] { load_label_atlas(four, dir / "p.tsv"); }),
                  {"p.nii.gz", "3D", "20x20x20x3", "threshold"});
  expect_mentions(error_of([&] { load_probabilistic_atlas(three, dir / "p.tsv", 0.5); }),
                  {"l.nii.gz", "4D", "20x20x20"});
  expect_mentions(error_of([&] { load_maxprob_atlas(four, three, dir / "p.tsv", 0.5); }),
                  {"3D", "20x20x20x3"});
  expect_mentions(error_of([&] { load_user_atlas(spec(three, 0.5)); }), {"threshold", "3D label image"});
  // load_user_atlas picks the kind from the header.
  EXPECT_EQ(load_user_atlas(spec(four, std::nullopt)).kind, UserAtlasKind::probabilistic);
  EXPECT_EQ(load_user_atlas(spec(four, std::nullopt)).threshold, 0.5);
}

TEST(UserAtlasErrors, ProbabilitiesOutsideZeroOne) {
  TempDir dir;
  write_text(dir / "p.tsv", kBlobTsv);
  Volume high = blobs_4d();
  high.at(2, 3, 4, 1) = 1.2f;
  expect_mentions(
      error_of([&] { load_probabilistic_atlas(write_volume(dir, "h.nii.gz", high), dir / "p.tsv", 0.5); }),
      {"h.nii.gz", "volume 1 (B_R)", "voxel (2, 3, 4) holds 1.2", "[0, 1]"});
  Volume negative = blobs_4d();
  negative.at(0, 0, 0, 2) = -0.1f;
  expect_mentions(error_of([&] {
                    load_probabilistic_atlas(write_volume(dir, "n.nii.gz", negative), dir / "p.tsv", 0.5);
                  }),
                  {"volume 2 (C)", "holds -0.1"});
  Volume percent = blobs_4d();
  for (float& x : std::span<float>(percent.data(), percent.size())) x *= 100.0f;
  expect_mentions(error_of([&] {
                    load_probabilistic_atlas(write_volume(dir, "pc.nii.gz", percent), dir / "p.tsv", 0.5);
                  }),
                  {"percentages", "divide the image by 100"});
}

TEST(UserAtlasErrors, ThresholdOutsideZeroOne) {
  TempDir dir;
  const fs::path nii = write_volume(dir, "p.nii.gz", blobs_4d());
  write_text(dir / "p.tsv", kBlobTsv);
  for (double t : {0.0, -0.2, 1.5, std::nan("")})
    expect_mentions(error_of([&] { load_probabilistic_atlas(nii, dir / "p.tsv", t); }),
                    {"threshold", "(0, 1]"});
  expect_mentions(error_of([&] { load_maxprob_atlas(cit_p0(), cit_prob(), cit_tsv(), 0.0); }), {"(0, 1]"});
}

TEST(UserAtlasErrors, VolumeCountMustMatchTsv) {
  TempDir dir;
  const fs::path nii = write_volume(dir, "p.nii.gz", blobs_4d());
  write_text(dir / "p.tsv", "index\tname\n0\tBackground\n1\tA\n2\tB\n");
  expect_mentions(error_of([&] { load_probabilistic_atlas(nii, dir / "p.tsv", 0.5); }),
                  {"p.nii.gz", "3 volumes", "2 ROI rows"});
}

TEST(UserAtlasErrors, TemplateMustCoverTheAtlas) {
  TempDir dir;
  const fs::path nii = write_volume(dir, "a.nii.gz", label_volume({{{1, 1, 1}, 1.0f}}));
  write_text(dir / "a.tsv", "index\tname\n1\tOne\n");
  Grid far = small_grid();
  far.affine[0][3] = 500.0; // 500 mm away
  const fs::path tpl = write_volume(dir, "far.nii.gz", Volume(far, 1, 1.0f));
  expect_mentions(error_of([&] { load_label_atlas(nii, dir / "a.tsv", tpl); }),
                  {"far.nii.gz", "field of view", "same space"});
  expect_mentions(error_of([&] { load_label_atlas(nii, dir / "a.tsv", dir / "missing.nii.gz"); }),
                  {"missing.nii.gz"});
  const fs::path tpl4 = write_volume(dir, "t4.nii.gz", blobs_4d());
  expect_mentions(error_of([&] { load_label_atlas(nii, dir / "a.tsv", tpl4); }), {"t4.nii.gz", "3D"});
  // Without a template, load_template says how to give one.
  expect_mentions(error_of([&] { load_template(load_label_atlas(nii, dir / "a.tsv")); }),
                  {"--atlas-template"});
}

TEST(UserAtlasErrors, MaxprobLabelAndProbabilityGridsMustAgree) {
  TempDir dir;
  Grid other = small_grid();
  other.dims = {10, 10, 10};
  const fs::path prob = write_volume(dir, "prob.nii.gz", Volume(other, 1, 0.5f));
  expect_mentions(error_of([&] { load_maxprob_atlas(cit_p0(), prob, cit_tsv(), 0.5); }),
                  {"prob.nii.gz", "different grids"});
}
