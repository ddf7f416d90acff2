// The simulated dataset as a whole: readable by the project's BIDS loader and by nibabel,
// deterministic for a seed at any thread count, subjects really posed, the SHAPS effect in the
// truth, PET ROI means following the true TACs.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "rewardpath/atlas/atlas.hpp"
#include "rewardpath/bids/dataset.hpp"
#include "rewardpath/bids/events.hpp"
#include "rewardpath/bids/metadata.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/simulate/mid.hpp"
#include "test_dataset_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace rs = rewardpath::simulate;
using rewardpath::Volume;
using rewardpath::io::Json;

Json truth_of(const fs::path& dir, const std::string& sub) {
  return rewardpath::io::read_json(dir / "truth" / sub / (sub + "_truth.json"));
}

Eigen::Matrix4d matrix_of(const Json& j) {
  Eigen::Matrix4d m;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      m(r, c) = j[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)].get<double>();
  return m;
}

Eigen::Matrix4d matrix_of(const rewardpath::Affine& a) {
  Eigen::Matrix4d m;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) m(r, c) = a[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
  return m;
}

// Trilinear sample at world point p (NaN outside).
double sample(const Volume& v, const Eigen::Vector3d& p, std::int64_t t = 0) {
  const Eigen::Vector4d q = matrix_of(v.grid().affine).inverse() * Eigen::Vector4d(p(0), p(1), p(2), 1.0);
  const double x = q(0), y = q(1), z = q(2);
  if (x < 0 || y < 0 || z < 0 || x > v.nx() - 1 || y > v.ny() - 1 || z > v.nz() - 1) return std::nan("");
  const auto x0 = std::min<std::int64_t>(static_cast<std::int64_t>(x), v.nx() - 2);
  const auto y0 = std::min<std::int64_t>(static_cast<std::int64_t>(y), v.ny() - 2);
  const auto z0 = std::min<std::int64_t>(static_cast<std::int64_t>(z), v.nz() - 2);
  const double fx = x - x0, fy = y - y0, fz = z - z0;
  double s = 0;
  for (int c = 0; c < 8; ++c) {
    const int a = c & 1, b = (c >> 1) & 1, d = (c >> 2) & 1;
    s += (a ? fx : 1 - fx) * (b ? fy : 1 - fy) * (d ? fz : 1 - fz) * v.at(x0 + a, y0 + b, z0 + d, t);
  }
  return s;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i] / n, mb += b[i] / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  return sab / std::sqrt(saa * sbb);
}

// --- the project's own BIDS loader ---------------------------------------------------------------

TEST(Dataset, ReadableByTheBidsLoader) {
  const fs::path dir = rptest::moving_dataset();
  const auto ds = rewardpath::bids::discover(dir / "bids");
  ASSERT_EQ(ds.subjects.size(), 2u);
  EXPECT_FALSE(ds.participants_tsv.empty());
  EXPECT_EQ(ds.description["DatasetType"], "raw");
  const auto participants = rewardpath::io::read_tsv(ds.participants_tsv);
  for (const char* c : {"participant_id", "age", "sex", "group", "shaps"})
    EXPECT_TRUE(participants.find_column(c)) << c;
  const std::set<std::string> expected_types(rs::mid::regressor_names().begin(),
                                             rs::mid::regressor_names().end());
  for (const auto& s : ds.subjects) {
    SCOPED_TRACE(s.label);
    ASSERT_EQ(s.t1w.size(), 1u);
    ASSERT_EQ(s.bold.size(), 1u);
    ASSERT_EQ(s.pet.size(), 1u);
    const auto& run = s.bold[0];
    EXPECT_EQ(run.entities.get("task"), "mid");
    ASSERT_FALSE(run.events.empty());
    const auto header = rewardpath::io::read_nifti_header(run.image, rewardpath::io::Expect::series4d);
    EXPECT_EQ(header.datatype, 4); // NIFTI_TYPE_INT16: scanner-like storage
    const auto md = rewardpath::bids::bold_metadata(run.metadata, run.image.string(), header.dim[2]);
    EXPECT_DOUBLE_EQ(md.repetition_time_s, 2.0);
    EXPECT_EQ(md.task_name, "mid");
    EXPECT_EQ(md.slice_timing_s.size(), static_cast<std::size_t>(header.dim[2]));
    EXPECT_NEAR(header.time_step_s, md.repetition_time_s, 1e-6);
    const auto ev = rewardpath::bids::read_events(run.events);
    EXPECT_NO_THROW(rewardpath::bids::check_events_fit_run(ev, md.repetition_time_s * header.volumes()));
    const auto types = ev.trial_types();
    for (const auto& t : types) EXPECT_TRUE(expected_types.count(t)) << t;
    EXPECT_GE(types.size(), 8u);
    EXPECT_NE(std::find(ev.modulator_names.begin(), ev.modulator_names.end(), "response_time"),
              ev.modulator_names.end());

    const auto& pet = s.pet[0];
    EXPECT_EQ(pet.entities.get("trc"), "raclopride");
    const auto ph = rewardpath::io::read_nifti_header(pet.image, rewardpath::io::Expect::series4d);
    EXPECT_EQ(ph.datatype, 16); // NIFTI_TYPE_FLOAT32
    const auto pm = rewardpath::bids::pet_metadata(pet.metadata, pet.image.string(), ph.volumes());
    EXPECT_EQ(pm.units, "Bq/mL");
    EXPECT_EQ(pm.tracer_name, "raclopride");
    EXPECT_TRUE(pm.decay_corrected.value_or(false));
    ASSERT_TRUE(pm.tracer_half_life_s.has_value());
    EXPECT_NEAR(*pm.tracer_half_life_s, 1223.0, 5.0);
    EXPECT_GE(pm.frame_times_start_s.back() + pm.frame_duration_s.back(), 3600.0);
    ASSERT_EQ(pet.blood.size(), 1u);
    const auto blood = rewardpath::bids::read_blood(pet.blood[0]);
    EXPECT_GT(blood.time_s.size(), 20u);
    EXPECT_EQ(blood.plasma_units, "Bq/mL");
    for (std::size_t i = 0; i < blood.time_s.size(); ++i) {
      EXPECT_GE(blood.metabolite_parent_fraction[i], 0.0);
      EXPECT_LE(blood.metabolite_parent_fraction[i], 1.0);
    }
  }
}

// --- nibabel ---------------------------------------------------------------------------------------

TEST(Dataset, NiftiFilesReadableByNibabel) {
  const fs::path dir = rptest::moving_dataset();
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().string().ends_with(".nii.gz")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 14u); // per subject: T1w, BOLD, PET, and the truth maps
  const fs::path script = dir.parent_path() / ("nibabel_read_" + std::to_string(::getpid()) + ".py");
  const fs::path out = dir.parent_path() / ("nibabel_read_" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream py(script);
    py << "import json, sys\nimport numpy as np, nibabel as nib\nres = {}\n"
          "for f in sys.argv[2:]:\n"
          "    im = nib.load(f)\n"
          "    d = np.asarray(im.dataobj, dtype=np.float64)\n"
          "    res[f] = {'shape': list(im.shape), 'affine': im.affine.tolist(), 'dtype': "
          "str(im.get_data_dtype()),\n"
          "              'sum': float(d.sum()), 'max': float(d.max())}\n"
          "json.dump(res, open(sys.argv[1], 'w'))\n";
  }
  std::string cmd = std::string(RP_SYSTEM_PYTHON) + " '" + script.string() + "' '" + out.string() + "'";
  for (const auto& f : files) cmd += " '" + f.string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const Json res = rewardpath::io::read_json(out);
  fs::remove(script);
  fs::remove(out);
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const Json& r = res.at(f.string());
    const Volume v = rewardpath::io::read_nifti(f);
    std::vector<std::int64_t> shape{v.nx(), v.ny(), v.nz()};
    if (v.volumes() > 1) shape.push_back(v.volumes());
    EXPECT_EQ(r["shape"].get<std::vector<std::int64_t>>(), shape);
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 4; ++j)
        EXPECT_NEAR(r["affine"][i][j].get<double>(), v.grid().affine[i][j], 1e-4);
    double sum = 0, mx = -1e30;
    for (std::size_t i = 0; i < v.size(); ++i)
      sum += v.data()[i], mx = std::max(mx, static_cast<double>(v.data()[i]));
    EXPECT_NEAR(r["sum"].get<double>(), sum, 1e-6 * std::max(1.0, std::abs(sum)));
    EXPECT_NEAR(r["max"].get<double>(), mx, 1e-4 * std::max(1.0, std::abs(mx)));
  }
}

// --- the pose -------------------------------------------------------------------------------------

TEST(Dataset, SubjectsArePosedRelativeToTheTemplate) {
  const fs::path dir = rptest::still_dataset();
  const fs::path templates = rewardpath::atlas::mricron_templates_dir();
  const Volume brain = rewardpath::io::read_nifti(templates / "ch2bet.nii.gz");
  const Volume head = rewardpath::io::read_nifti(templates / "ch2.nii.gz");
  // Template brain centroid (world mm) and a lattice of brain points with their intensities.
  Eigen::Vector3d centroid = Eigen::Vector3d::Zero();
  double count = 0;
  std::vector<Eigen::Vector3d> points;
  std::vector<double> t1_values, brain_values;
  for (std::int64_t k = 0; k < brain.nz(); ++k)
    for (std::int64_t j = 0; j < brain.ny(); ++j)
      for (std::int64_t i = 0; i < brain.nx(); ++i) {
        if (brain.at(i, j, k) <= 0) continue;
        const auto w =
            brain.grid().to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
        centroid += Eigen::Vector3d(w[0], w[1], w[2]);
        count += 1;
        if (i % 4 == 0 && j % 4 == 0 && k % 4 == 0) {
          points.emplace_back(w[0], w[1], w[2]);
          t1_values.push_back(head.at(i, j, k));
          brain_values.push_back(brain.at(i, j, k));
        }
      }
  centroid /= count;
  for (const std::string sub : {"sub-01", "sub-02", "sub-03", "sub-04"}) {
    SCOPED_TRACE(sub);
    const Json truth = truth_of(dir, sub);
    const Eigen::Matrix4d P = matrix_of(truth["anat"]["template_to_subject"]);
    // the pose is substantial: rotation and translation both well away from identity
    const Eigen::Matrix3d L = P.topLeftCorner<3, 3>();
    EXPECT_GT((L - Eigen::Matrix3d::Identity()).norm(), 0.03);
    EXPECT_GT((P.topRightCorner<3, 1>()).norm(), 1.5);
    // 1. The true brain mask's centroid (subject world) is the pose applied to the template's.
    const Volume mask = rewardpath::io::read_nifti(dir / truth["anat"]["brain_mask"].get<std::string>());
    Eigen::Vector3d mc = Eigen::Vector3d::Zero();
    double mn = 0;
    for (std::int64_t k = 0; k < mask.nz(); ++k)
      for (std::int64_t j = 0; j < mask.ny(); ++j)
        for (std::int64_t i = 0; i < mask.nx(); ++i)
          if (mask.at(i, j, k) > 0.5f) {
            const auto w =
                mask.grid().to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
            mc += Eigen::Vector3d(w[0], w[1], w[2]);
            mn += 1;
          }
    mc /= mn;
    const Eigen::Vector3d expected = (P * centroid.homogeneous()).head<3>();
    EXPECT_LT((mc - expected).norm(), 0.5)
        << "mask centroid " << mc.transpose() << ", expected " << expected.transpose();
    // 2. The T1w image holds the template warped by the pose: its values at P(p) correlate with the
    // template's at p; at p itself (no pose) they do not.
    const Volume t1 = rewardpath::io::read_nifti(dir / truth["anat"]["image"].get<std::string>());
    std::vector<double> at_pose, tmpl, at_identity, tmpl2;
    for (std::size_t n = 0; n < points.size(); ++n) {
      const double a = sample(t1, (P * points[n].homogeneous()).head<3>());
      const double b = sample(t1, points[n]);
      if (!std::isnan(a)) at_pose.push_back(a), tmpl.push_back(t1_values[n]);
      if (!std::isnan(b)) at_identity.push_back(b), tmpl2.push_back(t1_values[n]);
    }
    const double r_pose = pearson(at_pose, tmpl), r_identity = pearson(at_identity, tmpl2);
    EXPECT_GT(r_pose, 0.9);
    EXPECT_LT(r_identity, 0.75);
    // 3. The BOLD run (EPI contrast: CSF > GM > WM, the reverse of T1) through its own pose.
    const Eigen::Matrix4d F = matrix_of(truth["func"]["template_to_subject"]);
    const Volume bold = rewardpath::io::read_nifti(dir / truth["func"]["image"].get<std::string>());
    std::vector<double> epi, tb, epi2, tb2;
    for (std::size_t n = 0; n < points.size(); ++n) {
      const double a = sample(bold, (F * points[n].homogeneous()).head<3>());
      const double b = sample(bold, points[n]);
      if (!std::isnan(a)) epi.push_back(a), tb.push_back(brain_values[n]);
      if (!std::isnan(b)) epi2.push_back(b), tb2.push_back(brain_values[n]);
    }
    // Weaker than for the T1w: 3 mm voxels, coil field and frontal dropout.
    const double r_bold = pearson(epi, tb), r_bold_identity = pearson(epi2, tb2);
    EXPECT_LT(r_bold, -0.35);
    EXPECT_LT(r_bold, r_bold_identity - 0.2);
    std::cout << sub << ": mask centroid error " << (mc - expected).norm() << " mm, T1w r " << r_pose
              << " (without the pose " << r_identity << "), BOLD r " << r_bold << " (without the pose "
              << r_bold_identity << ")\n";
  }
}

// --- determinism ------------------------------------------------------------------------------------

std::map<std::string, std::string> read_tree(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    files[e.path().lexically_relative(root).generic_string()] = ss.str();
  }
  return files;
}

TEST(Dataset, DeterministicForASeedAtAnyThreadCount) {
  const fs::path base =
      fs::current_path() / "simulate_test_data" / ("determinism-" + std::to_string(::getpid()));
  fs::remove_all(base);
  auto o = rptest::small_options(1, 5, true, true);
  rs::simulate_dataset(base / "a", o);
  {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    rs::simulate_dataset(base / "b", o);
  }
  o.seed = 6;
  rs::simulate_dataset(base / "c", o);
  const auto a = read_tree(base / "a"), b = read_tree(base / "b"), c = read_tree(base / "c");
  ASSERT_GT(a.size(), 20u);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, bytes] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(bytes == b.at(name)) << name << " differs between two runs with the same seed";
  }
  const std::string bold = "bids/sub-01/func/sub-01_task-mid_run-01_bold.nii.gz";
  const std::string pet = "bids/sub-01/pet/sub-01_trc-raclopride_pet.nii.gz";
  EXPECT_NE(a.at(bold), c.at(bold));
  EXPECT_NE(a.at(pet), c.at(pet));
  EXPECT_NE(a.at("bids/sub-01/func/sub-01_task-mid_run-01_events.tsv"),
            c.at("bids/sub-01/func/sub-01_task-mid_run-01_events.tsv"));
  fs::remove_all(base);
}

TEST(Dataset, RefusesToOverwriteForeignData) {
  const fs::path base = fs::current_path() / "simulate_test_data" / ("foreign-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base / "bids");
  std::ofstream(base / "bids" / "precious.txt") << "not ours";
  auto o = rptest::small_options(1, 1, false, false);
  EXPECT_THROW(rs::simulate_dataset(base, o), rewardpath::Error);
  EXPECT_TRUE(fs::exists(base / "bids" / "precious.txt"));
  o.func = false;
  EXPECT_THROW(rs::simulate_dataset(base / "x", o), rewardpath::Error); // no modality
  fs::remove_all(base);
}

// --- participants and the SHAPS effect -------------------------------------------------------------

TEST(Dataset, ShapsSlopeIsInTheTruthAndTheEffectsFollowIt) {
  const fs::path dir = rptest::still_dataset();
  const Json dataset = rewardpath::io::read_json(dir / "truth" / "dataset.json");
  const double slope = dataset["shaps_effect"]["slope_percent_per_point"].get<double>();
  EXPECT_GT(slope, 0.0);
  const auto participants = rewardpath::io::read_tsv(dir / "bids" / "participants.tsv");
  const auto id = participants.require_column("participant_id"),
             shaps_col = participants.require_column("shaps"),
             group_col = participants.require_column("group");
  std::map<std::string, double> group_shaps, group_n;
  std::vector<double> xs, ys;
  for (std::size_t r = 0; r < participants.row_count(); ++r) {
    const std::string sub = participants.cell(r, id);
    SCOPED_TRACE(sub);
    const double shaps = participants.number(r, shaps_col);
    EXPECT_GE(shaps, 0);
    EXPECT_LE(shaps, 14);
    group_shaps[participants.cell(r, group_col)] += shaps;
    group_n[participants.cell(r, group_col)] += 1;
    const Json truth = truth_of(dir, sub);
    EXPECT_EQ(truth["shaps"].get<double>(), shaps);
    const auto& se = truth["func"]["shaps_effect"];
    EXPECT_EQ(se["slope_percent_per_point"].get<double>(), slope);
    for (const std::string structure : {"NAcc", "VTA"}) {
      const double expected =
          se["intercept"][structure].get<double>() - slope * shaps + se["deviation"][structure].get<double>();
      for (const std::string side : {"_L", "_R"}) {
        const double effect =
            truth["func"]["effects_percent"][structure + side]["gain_anticipation"].get<double>();
        EXPECT_NEAR(effect, expected, 1e-12) << structure + side;
        if (structure == "NAcc" && side == "_L") xs.push_back(shaps), ys.push_back(effect);
      }
      EXPECT_LT(std::abs(se["deviation"][structure].get<double>()),
                4 * dataset["shaps_effect"]["residual_sd_percent"].get<double>());
    }
  }
  EXPECT_EQ(group_n["patient"], 2);
  EXPECT_EQ(group_n["control"], 2);
  EXPECT_GT(group_shaps["patient"] / group_n["patient"], group_shaps["control"] / group_n["control"]);
  // Across subjects, more anhedonia, less NAcc gain anticipation.
  EXPECT_LT(pearson(xs, ys), 0.0);
}

// --- PET image ---------------------------------------------------------------------------------------

TEST(Dataset, PetRoiMeansFollowTheTrueTacs) {
  const fs::path dir = rptest::still_dataset();
  for (const std::string sub : {"sub-01", "sub-02"}) {
    SCOPED_TRACE(sub);
    const Json truth = truth_of(dir, sub);
    const Volume img = rewardpath::io::read_nifti(dir / truth["pet"]["image"].get<std::string>());
    const Volume labels =
        rewardpath::io::read_nifti(dir / truth["pet"]["files"]["roi_labels"].get<std::string>());
    const auto tacs = rewardpath::io::read_tsv(dir / truth["pet"]["files"]["tacs"].get<std::string>());
    const auto atlas_rois =
        rewardpath::atlas::read_roi_table(rewardpath::atlas::default_atlas_dir() / "reward_rois.tsv");
    const auto starts = tacs.numbers("frame_start");
    ASSERT_EQ(static_cast<std::int64_t>(starts.size()), img.volumes());
    const auto nv = static_cast<std::size_t>(img.voxels_per_volume());
    auto roi_mean = [&](const std::string& name) {
      int index = 0;
      for (const auto& r : atlas_rois)
        if (r.name == name) index = r.index;
      std::vector<double> m(static_cast<std::size_t>(img.volumes()), 0.0);
      double n = 0;
      for (std::size_t v = 0; v < nv; ++v)
        if (static_cast<int>(labels.data()[v]) == index) {
          n += 1;
          for (std::int64_t f = 0; f < img.volumes(); ++f)
            m[static_cast<std::size_t>(f)] += img.data()[f * nv + v];
        }
      for (auto& x : m) x /= n;
      return m;
    };
    std::map<std::string, double> late_ratio;
    for (const std::string roi : {"CerebellumRef_L", "CerebellumRef_R", "Putamen_L", "Putamen_R"}) {
      const auto measured = roi_mean(roi);
      const auto expected = tacs.numbers(roi);
      EXPECT_GT(pearson(measured, expected), 0.98) << roi;
      double m = 0, e = 0;
      for (std::size_t f = 0; f < starts.size(); ++f)
        if (starts[f] >= 1800) m += measured[f], e += expected[f];
      late_ratio[roi] = m / e;
      std::cout << sub << " " << roi << ": image / true TAC after 30 min " << m / e << "\n";
    }
    // The large reference region keeps its level; the putamen loses some to the PSF (spill-out)
    // but stays far above the reference.
    // (The reference's majority-label voxels still share ~10% of their volume with white matter and
    // CSF, and the PSF mixes in more: measured ~0.93.)
    for (const char* roi : {"CerebellumRef_L", "CerebellumRef_R"}) {
      EXPECT_GT(late_ratio[roi], 0.85) << roi;
      EXPECT_LT(late_ratio[roi], 1.02) << roi;
    }
    EXPECT_GT(late_ratio["Putamen_L"], 0.6);
    EXPECT_LT(late_ratio["Putamen_L"], 1.02);
    EXPECT_GT(late_ratio["Putamen_R"], 0.6);
    EXPECT_LT(late_ratio["Putamen_R"], 1.02);
  }
}

} // namespace
