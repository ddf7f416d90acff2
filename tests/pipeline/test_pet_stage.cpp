// The PET stage of `rewardpath run ... participant` on simulated [11C]raclopride subjects with known
// BP_ND and inter-frame motion (docs/simulate.md): output names, the TAC table, BP_ND per model
// against the truth, realignment against the simulated motion, the voxel maps against the ROI
// fits, and bad inputs failing only their subject with a message naming the file and the field.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/bids/dataset.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/pet_stage.hpp"
#include "rewardpath/pipeline/runner.hpp"
#include "rewardpath/simulate/simulate.hpp"
#include "run_params.hpp"

namespace fs = std::filesystem;
using namespace rewardpath;
using pipeline::SubjectStatus;

namespace {

fs::path g_root;

pipeline::RunParams params(const fs::path& bids, const fs::path& out, const fs::path& config,
                           std::vector<std::string> labels = {}) {
  return test_support::run_params(bids, out, config, std::move(labels));
}
using test_support::outcome;

using Mat = std::array<std::array<double, 4>, 4>;

// x -> R (x - c) + c + t, R = Rz Ry Rx: the simulator's convention and the motion TSV's.
Mat rigid(const std::array<double, 6>& q, const std::array<double, 3>& c) {
  const double cx = std::cos(q[3]), sx = std::sin(q[3]), cy = std::cos(q[4]), sy = std::sin(q[4]),
               cz = std::cos(q[5]), sz = std::sin(q[5]);
  const double R[3][3] = {{cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx},
                          {sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx},
                          {-sy, cy * sx, cy * cx}};
  Mat m{};
  for (int r = 0; r < 3; ++r) {
    double rc = 0;
    for (int k = 0; k < 3; ++k) {
      m[r][k] = R[r][k];
      rc += R[r][k] * c[k];
    }
    m[r][3] = c[r] - rc + q[r];
  }
  m[3][3] = 1;
  return m;
}

std::array<double, 3> xform(const Mat& m, const std::array<double, 3>& p) {
  std::array<double, 3> q{};
  for (int r = 0; r < 3; ++r) q[r] = m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2] + m[r][3];
  return q;
}

// Inverse of a rigid map: R^T (y - t').
Mat inverse_rigid(const Mat& m) {
  Mat o{};
  for (int r = 0; r < 3; ++r) {
    for (int k = 0; k < 3; ++k) o[r][k] = m[k][r];
    o[r][3] = -(m[0][r] * m[0][3] + m[1][r] * m[1][3] + m[2][r] * m[2][3]);
  }
  o[3][3] = 1;
  return o;
}

std::map<std::string, double> row_of(const io::Table& t, const std::string& region) {
  std::map<std::string, double> out;
  const auto rc = t.require_column("region");
  for (std::size_t r = 0; r < t.row_count(); ++r) {
    if (t.cell(r, rc) != region) continue;
    for (std::size_t c = 0; c < t.columns().size(); ++c)
      if (t.is_number(r, c) || t.is_na(r, c)) out[t.columns()[c]] = t.number(r, c);
  }
  if (out.empty()) throw std::runtime_error("no region " + region + " in " + t.source().string());
  return out;
}

class PetStage : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    g_root = fs::temp_directory_path() / ("rp_petstage_" + std::to_string(::getpid()));
    fs::remove_all(g_root);
    simulate::Options o;
    o.subjects = 2;
    o.seed = 17;
    o.func = false;
    o.size = simulate::Size::small;
    simulate::simulate_dataset(g_root / "sim", o);
  }
  static void TearDownTestSuite() { fs::remove_all(g_root); }
};

} // namespace

// configs/raclopride-srtm.json on two simulated subjects.
TEST_F(PetStage, RacloprideConfigTacsModelsMapsAndMotion) {
  const fs::path config = fs::path(RP_SOURCE_DIR) / "configs/raclopride-srtm.json";
  ASSERT_NO_THROW(pipeline::load_config(config));
  const auto t0 = std::chrono::steady_clock::now();
  const auto summary = pipeline::run_participant_level(params(g_root / "sim/bids", g_root / "out", config));
  std::printf("participant level, 2 subjects: %.1f s (sub-01 %.1f s, sub-02 %.1f s)\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              summary.subjects.at(0).seconds, summary.subjects.at(1).seconds);
  for (const auto& s : summary.subjects) ASSERT_EQ(s.status, SubjectStatus::completed) << s.error;

  for (const std::string sub : {"01", "02"}) {
    const std::string s = "sub-" + sub, pet = s + "_trc-raclopride";
    const auto& o = outcome(summary, sub);
    const auto listed = [&](const std::string& rel) {
      const fs::path f = g_root / "out" / s / "pet" / (pet + rel);
      EXPECT_TRUE(fs::exists(f)) << f;
      EXPECT_NE(std::find(o.outputs.begin(), o.outputs.end(), f), o.outputs.end()) << f << " not in outputs";
      return f;
    };
    listed("_desc-realignedmean_pet.nii.gz");
    const auto motion_tsv = listed("_desc-motion_timeseries.tsv");
    listed("_desc-motion_timeseries.json");
    const auto tacs_tsv = listed("_space-pet_atlas-reward_tacs.tsv");
    listed("_space-pet_atlas-reward_tacs.json");
    listed("_space-pet_atlas-reward_desc-fits_tacs.tsv");
    std::map<std::string, io::Table> bp;
    for (const std::string m : {"SRTM", "MRTM2", "LoganRef"}) {
      bp[m] = io::read_tsv(listed("_space-pet_atlas-reward_model-" + m + "_bp.tsv"));
      listed("_space-pet_atlas-reward_model-" + m + "_bp.json");
    }
    std::map<std::string, Volume> maps;
    for (const std::string m : {"BFSRTM", "MRTM2"})
      for (const std::string meas : {"BPnd", "R1"})
        maps[m + meas] = io::read_nifti(listed("_space-pet_model-" + m + "_meas-" + meas + "_mimap.nii.gz"));

    const io::Json truth = io::read_json(g_root / "sim/truth" / s / (s + "_truth.json"));
    const io::Json& tp = truth.at("pet");

    // TAC table: 25 frames, times in seconds, every ROI column; striatum well above the reference late.
    const io::Table tacs = io::read_tsv(tacs_tsv);
    ASSERT_EQ(tacs.row_count(), 25u);
    EXPECT_EQ(tacs.columns()[0], "frame_start");
    EXPECT_EQ(tacs.columns()[1], "frame_end");
    EXPECT_DOUBLE_EQ(tacs.number(24, 1), 3600.0);
    for (const std::string c : {"Putamen_L", "Putamen_R", "Caudate_L", "NAcc_L", "CerebellumRef_L",
                                "CerebellumRef", "Putamen", "Caudate", "NAcc"})
      EXPECT_TRUE(tacs.find_column(c)) << c;
    const auto put = tacs.numbers("Putamen"), ref = tacs.numbers("CerebellumRef");
    for (std::size_t f = 0; f < 25; ++f) {
      EXPECT_TRUE(std::isfinite(put[f]) && std::isfinite(ref[f])) << f;
      if (tacs.number(f, 0) >= 1200) {
        EXPECT_GT(ref[f], 0.0);
        EXPECT_GT(put[f] / ref[f], 1.8) << "frame " << f; // truth DVR 4 after PVE and blood: ~2.5-3
      }
    }
    const io::Json side = io::read_json(tacs_tsv.parent_path() / (pet + "_space-pet_atlas-reward_tacs.json"));
    EXPECT_EQ(side.at("Units"), "Bq/mL");
    EXPECT_GT(side.at("Regions").at("Putamen").at("Voxels").get<int>(), 100);

    // BP_ND vs truth. Expected low, from two documented effects (docs/pet.md, Pipeline stage): the
    // simulator's blood volume (-13..-17% for the reference models, tests/pet) and the partial volume
    // of 4 mm voxels with a 6 mm PSF (docs/simulate.md: putamen ROI mean ~0.76 of its true TAC late,
    // reference 0.93), which scales DVR by ~0.76/0.93: predicted putamen BP_ND
    // (1 + 0.85 BP) 0.76/0.93 - 1 (1.83 at BP 2.9). Smaller ROIs lose more (NAcc most).
    for (const std::string roi : {"Putamen", "Caudate", "NAcc"}) {
      const double t =
          0.5 * (tp.at("bp_nd").at(roi + "_L").get<double>() + tp.at("bp_nd").at(roi + "_R").get<double>());
      for (const auto& [model, table] : bp) {
        const auto r = row_of(table, roi);
        const double rel = r.at("bp_nd") / t - 1.0;
        std::printf("sub-%s %-8s truth %.2f %-8s BP_ND %.3f (%+.1f%%) R1 %.3f SE %.3f\n", sub.c_str(),
                    roi.c_str(), t, model.c_str(), r.at("bp_nd"), 100 * rel, r.at("r1"), r.at("bp_nd_se"));
        EXPECT_EQ(r.at("failed"), 0.0) << roi << " " << model;
        EXPECT_LT(rel, -0.15) << roi << " " << model;
        EXPECT_GT(rel, roi == "NAcc" ? -0.65 : -0.50) << roi << " " << model;
        if (roi == "Putamen") {
          const double predicted = (1 + 0.85 * t) * 0.76 / 0.93 - 1;
          EXPECT_NEAR(r.at("bp_nd"), predicted, 0.15 * predicted) << model;
        }
        // The models agree with each other on the same TACs.
        EXPECT_NEAR(r.at("bp_nd"), row_of(bp["SRTM"], roi).at("bp_nd"), 0.06 * t) << roi << " " << model;
      }
    }

    // Realignment vs the simulated motion. Frame f's true pose is M_f (head at the first frame ->
    // frame f); ours T_f (reference mean -> frame f). Both must agree on the motion between any
    // registered frame and the last: T_f T_last^-1 = M_f M_last^-1, compared over points of a
    // 60 mm cube about the FOV centre (the brain).
    const io::Table mt = io::read_tsv(motion_tsv);
    const io::Json mside = io::read_json(motion_tsv.parent_path() / (pet + "_desc-motion_timeseries.json"));
    const auto c = mside.at("FovCentreMm").get<std::array<double, 3>>();
    const auto tc = tp.at("motion").at("centre_mm").get<std::array<double, 3>>();
    const io::Json& tparams = tp.at("motion").at("parameters");
    ASSERT_EQ(mt.row_count(), tparams.size());
    const std::size_t last = mt.row_count() - 1;
    const auto ours = [&](std::size_t f) {
      std::array<double, 6> q{};
      for (std::size_t k = 0; k < 6; ++k)
        q[k] = mt.number(f, mt.require_column(std::array<const char*, 6>{"trans_x", "trans_y", "trans_z",
                                                                         "rot_x", "rot_y", "rot_z"}[k]));
      return rigid(q, c);
    };
    const auto true_m = [&](std::size_t f) { return rigid(tparams.at(f).get<std::array<double, 6>>(), tc); };
    double worst = 0, mean_err = 0, mean_motion = 0;
    int n = 0;
    for (std::size_t f = 0; f < mt.row_count(); ++f) {
      if (mt.number(f, mt.require_column("realigned")) != 1.0) continue;
      const Mat a = ours(f), ai = inverse_rigid(ours(last)), b = true_m(f), bi = inverse_rigid(true_m(last));
      double e = 0, mv = 0;
      int np = 0;
      for (double dx : {-30.0, 30.0})
        for (double dy : {-30.0, 30.0})
          for (double dz : {-30.0, 30.0}) {
            const std::array<double, 3> p{tc[0] + dx, tc[1] + dy, tc[2] + dz};
            const auto pa = xform(a, xform(ai, p)), pb = xform(b, xform(bi, p));
            e += std::hypot(pa[0] - pb[0], pa[1] - pb[1], pa[2] - pb[2]);
            mv += std::hypot(pb[0] - p[0], pb[1] - p[1], pb[2] - p[2]);
            ++np;
          }
      e /= np;
      mv /= np;
      worst = std::max(worst, e);
      mean_err += e;
      mean_motion += mv;
      ++n;
    }
    std::printf(
        "sub-%s realignment: %d frames, motion relative to the last frame %.2f mm (mean), error %.3f mm "
        "mean, %.3f mm worst\n",
        sub.c_str(), n, mean_motion / n, mean_err / n, worst);
    EXPECT_GE(n, 15);
    EXPECT_LT(mean_err / n, 0.3);
    EXPECT_LT(worst, 0.8);

    // Voxel maps averaged over the putamen (atlas in PET space) vs the ROI fits.
    const Volume labels =
        io::read_nifti(g_root / "out" / s / "pet" / (pet + "_space-pet_atlas-reward_dseg.nii.gz"));
    const auto roi_mean = [&](const Volume& v, std::vector<int> idx) {
      double sum = 0;
      int cnt = 0;
      for (std::int64_t i = 0; i < v.voxels_per_volume(); ++i) {
        const int l = static_cast<int>(std::lround(labels.data()[i]));
        if (std::find(idx.begin(), idx.end(), l) != idx.end() && std::isfinite(v.data()[i])) {
          sum += v.data()[i];
          ++cnt;
        }
      }
      return sum / cnt;
    };
    const double bf = roi_mean(maps["BFSRTMBPnd"], {15, 16}), m2 = roi_mean(maps["MRTM2BPnd"], {15, 16});
    const double srtm_roi = row_of(bp["SRTM"], "Putamen").at("bp_nd");
    const double m2_roi = row_of(bp["MRTM2"], "Putamen").at("bp_nd");
    std::printf(
        "sub-%s putamen voxel means: BF-SRTM %.3f (ROI SRTM %.3f), MRTM2 %.3f (ROI MRTM2 %.3f); R1 %.3f\n",
        sub.c_str(), bf, srtm_roi, m2, m2_roi, roi_mean(maps["BFSRTMR1"], {15, 16}));
    EXPECT_NEAR(bf, srtm_roi, 0.08 * srtm_roi);
    EXPECT_NEAR(m2, m2_roi, 0.08 * m2_roi);
    EXPECT_NEAR(roi_mean(maps["MRTM2R1"], {15, 16}), row_of(bp["MRTM2"], "Putamen").at("r1"), 0.1);
  }
}

// Bad inputs: each fails its subject with rewardpath::Error text naming the file and the field; in a
// two-subject run the other subject completes.
TEST_F(PetStage, BadInputsFailOnlyTheirSubject) {
  const fs::path sim_bids = g_root / "sim/bids";
  const std::string stem = "sub-02/pet/sub-02_trc-raclopride_pet";
  const auto variant = [&](const std::string& name, const auto& edit) {
    const fs::path bids = g_root / ("bad_" + name);
    fs::remove_all(bids);
    fs::copy(sim_bids, bids, fs::copy_options::recursive);
    edit(bids);
    return bids;
  };
  const auto edit_json = [&](const fs::path& bids, const auto& f) {
    const fs::path p = bids / (stem + ".json");
    io::Json j = io::read_json(p);
    f(j);
    io::write_json(p, j);
  };
  io::write_json(g_root / "bad.json", {{"modalities", {"pet"}},
                                       {"registration", io::Json::object()},
                                       {"pet", {{"targets", {"Putamen"}}, {"voxel_maps", false}}}});
  const auto fails = [&](const fs::path& bids, const std::vector<std::string>& words,
                         const fs::path& config) -> const pipeline::RunSummary {
    const auto summary =
        pipeline::run_participant_level(params(bids, bids.string() + "_out", config, {"02"}));
    const auto& o = outcome(summary, "02");
    EXPECT_EQ(o.status, SubjectStatus::failed) << bids;
    std::printf("%s: %s\n", bids.filename().c_str(), o.error.c_str());
    for (const auto& w : words) EXPECT_NE(o.error.find(w), std::string::npos) << w << " not in: " << o.error;
    return summary;
  };
  fails(variant("overlap",
                [&](const fs::path& b) {
                  edit_json(b, [](io::Json& j) {
                    j["FrameTimesStart"][5] = j["FrameTimesStart"][4].get<double>() + 5;
                  });
                }),
        {"sub-02_trc-raclopride_pet", "frames overlap", "frame 5"}, g_root / "bad.json");
  fails(variant("unsorted",
                [&](const fs::path& b) {
                  edit_json(
                      b, [](io::Json& j) { std::swap(j["FrameTimesStart"][10], j["FrameTimesStart"][11]); });
                }),
        {"sub-02_trc-raclopride_pet", "FrameTimesStart"}, g_root / "bad.json");
  fails(variant("count",
                [&](const fs::path& b) {
                  edit_json(b, [](io::Json& j) {
                    j["FrameTimesStart"].erase(24);
                    j["FrameDuration"].erase(24);
                  });
                }),
        {"sub-02_trc-raclopride_pet", "24"}, g_root / "bad.json");
  fails(variant("units", [&](const fs::path& b) { edit_json(b, [](io::Json& j) { j.erase("Units"); }); }),
        {"sub-02_trc-raclopride_pet", "Units"}, g_root / "bad.json");
  fails(variant("nan",
                [&](const fs::path& b) {
                  const fs::path p = b / (stem + ".nii.gz");
                  Volume v = io::read_nifti(p);
                  v.volume(20)[v.voxels_per_volume() / 2] = std::nanf("");
                  io::write_nifti(p, v);
                }),
        {"sub-02_trc-raclopride_pet.nii.gz", "frame 20", "NaN"}, g_root / "bad.json");

  // No activity after 30 min (e.g. frames in the wrong units/zeroed): the reference TAC is 0. Both
  // subjects run; only sub-02 fails. Realignment off (a zero frame cannot be registered).
  const fs::path zero = variant("zeroref", [&](const fs::path& b) {
    const fs::path p = b / (stem + ".nii.gz");
    Volume v = io::read_nifti(p);
    for (std::int64_t f = 19; f < v.volumes(); ++f)
      for (auto& x : v.volume(f)) x = 0.0f;
    io::write_nifti(p, v);
  });
  io::write_json(g_root / "bad_norealign.json", {{"modalities", {"pet"}},
                                                 {"registration", io::Json::object()},
                                                 {"pet",
                                                  {{"realign", false},
                                                   {"targets", {"Putamen"}},
                                                   {"voxel_maps", false},
                                                   {"plasma_models", {"1TCM", "LoganPlasma"}}}}});
  const auto summary =
      pipeline::run_participant_level(params(zero, zero.string() + "_out", g_root / "bad_norealign.json"));
  EXPECT_EQ(outcome(summary, "01").status, SubjectStatus::completed) << outcome(summary, "01").error;
  // sub-01 (intact) also ran the plasma-input models on its _blood.tsv: the reference region is one
  // tissue in the simulator, V_T = K1/k2, lowered by the reference's partial volume (~0.93).
  const fs::path s1 = zero.string() + "_out/sub-01/pet/sub-01_trc-raclopride_space-pet_atlas-reward_model-";
  const io::Json truth = io::read_json(g_root / "sim/truth/sub-01/sub-01_truth.json");
  const auto& kin = truth.at("pet").at("kinetics").at("CerebellumRef_L");
  const double vt = kin.at("K1").get<double>() / kin.at("k2").get<double>();
  for (const std::string m : {"1TCM", "LoganPlasma"}) {
    const auto r = row_of(io::read_tsv(s1.string() + m + "_bp.tsv"), "CerebellumRef");
    std::printf("sub-01 %s reference V_T %.3f (truth K1/k2 %.3f, %+.1f%%), delay %.0f s\n", m.c_str(),
                r.at("vt"), vt, 100 * (r.at("vt") / vt - 1), r.at("delay_s"));
    EXPECT_EQ(r.at("failed"), 0.0);
    EXPECT_NEAR(r.at("vt"), 0.93 * vt, 0.1 * vt) << m;
  }
  const auto& o = outcome(summary, "02");
  ASSERT_EQ(o.status, SubjectStatus::failed);
  std::printf("zeroref: %s\n", o.error.c_str());
  for (const std::string w :
       {"sub-02", "sub-02_trc-raclopride_pet.nii.gz", "CerebellumRef", "TAC", "frame 19"})
    EXPECT_NE(o.error.find(w), std::string::npos) << w;

  // Configuration errors name the field.
  EXPECT_THROW(pipeline::parse_config({{"pet", io::Json::object()}}, "c.json"), Error); // no registration
  try {
    pipeline::parse_config({{"registration", io::Json::object()}, {"pet", {{"models", {"SRTM3"}}}}},
                           "c.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pet.models"), std::string::npos) << e.what();
  }
}

// The two PET stage calls pass values: realignment returns the frames (and, realigned, the mean),
// and the model stage takes the atlas labels it is given (no _dseg.nii.gz exists in its output
// directory): the TAC table holds the means of exactly those voxels, a pair pooled voxel-weighted.
TEST_F(PetStage, StagesPassFramesAndLabelsAsValues) {
  pipeline::Config config = pipeline::load_config(fs::path(RP_SOURCE_DIR) / "configs/raclopride-srtm.json");
  config.pet.realign = false; // the frames as read (realignment is covered above)
  config.pet.voxel_maps = false;
  config.pet.reference = "Ref";
  config.pet.targets = {"Hot_L", "Hot"};
  config.pet.k2prime_regions = {"Hot"};
  const bids::Dataset dataset = bids::discover(g_root / "sim/bids");
  const pipeline::SubjectPlan plan = pipeline::plan_subject(*dataset.find_subject("01"), config);
  ASSERT_EQ(plan.pet.size(), 1u);
  const fs::path out = g_root / "values";
  const pipeline::PetRealignResult realigned = pipeline::run_pet_realign_stage(plan, config.pet, out);
  ASSERT_EQ(realigned.frames.size(), 1u);
  ASSERT_EQ(realigned.realigned_means.size(), 1u);
  EXPECT_EQ(realigned.realigned_means[0].size(), 0u); // no realignment, no realigned mean
  const Volume& frames = realigned.frames[0];
  ASSERT_EQ(frames.volumes(), plan.pet[0].header.volumes());

  // Labels by hand on the frame grid: the 40 hottest voxels of the last frame alternate between
  // Hot_L (1) and Hot_R (2); the next 200 are the reference (3).
  const auto nvox = static_cast<std::size_t>(frames.voxels_per_volume());
  const float* last = frames.volume(frames.volumes() - 1).data();
  std::vector<std::size_t> order(nvox);
  for (std::size_t i = 0; i < nvox; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return last[a] > last[b]; });
  Volume labels(frames.grid(), 1, 0.0f);
  for (std::size_t k = 0; k < 240; ++k)
    labels.data()[order[k]] = k < 40 ? static_cast<float>(1 + k % 2) : 3.0f;
  std::vector<atlas::Roi> rois(3);
  for (int k = 0; k < 3; ++k) {
    rois[static_cast<std::size_t>(k)].index = k + 1;
    rois[static_cast<std::size_t>(k)].name =
        std::vector<std::string>{"Hot_L", "Hot_R", "Ref"}[static_cast<std::size_t>(k)];
  }
  std::vector<Volume> run_labels;
  run_labels.push_back(std::move(labels));
  const auto written =
      pipeline::run_pet_model_stage(plan, config.pet, realigned, run_labels, rois, "hand", out);

  const fs::path dir = out / "sub-01" / "pet";
  EXPECT_FALSE(fs::exists(dir / "sub-01_trc-raclopride_space-pet_atlas-hand_dseg.nii.gz"));
  const fs::path tacs_tsv = dir / "sub-01_trc-raclopride_space-pet_atlas-hand_tacs.tsv";
  ASSERT_TRUE(fs::exists(tacs_tsv));
  EXPECT_NE(std::find(written.begin(), written.end(), tacs_tsv), written.end());
  const io::Table tacs = io::read_tsv(tacs_tsv);
  EXPECT_EQ(tacs.columns(),
            (std::vector<std::string>{"frame_start", "frame_end", "Hot_L", "Hot_R", "Ref", "Hot"}));
  ASSERT_EQ(tacs.row_count(), static_cast<std::size_t>(frames.volumes()));
  for (std::size_t f = 0; f < tacs.row_count(); ++f) {
    const float* d = frames.volume(static_cast<std::int64_t>(f)).data();
    double hot_l = 0, hot = 0, ref = 0;
    for (std::size_t k = 0; k < 240; ++k) {
      const double x = d[order[k]];
      (k < 40 ? hot : ref) += x;
      if (k < 40 && k % 2 == 0) hot_l += x;
    }
    EXPECT_NEAR(tacs.number(f, 2), hot_l / 20.0, 1e-9 * std::abs(hot_l / 20.0)) << "frame " << f;
    EXPECT_NEAR(tacs.number(f, 4), ref / 200.0, 1e-9 * std::abs(ref / 200.0)) << "frame " << f;
    EXPECT_NEAR(tacs.number(f, 5), hot / 40.0, 1e-9 * std::abs(hot / 40.0)) << "frame " << f;
  }
  // The models ran on those regions: one row per target, fitted.
  for (const std::string m : {"SRTM", "MRTM2", "LoganRef"}) {
    const io::Table bp =
        io::read_tsv(dir / ("sub-01_trc-raclopride_space-pet_atlas-hand_model-" + m + "_bp.tsv"));
    ASSERT_EQ(bp.row_count(), 2u) << m;
    EXPECT_EQ(bp.cell(1, bp.require_column("region")), "Hot");
    EXPECT_EQ(bp.cell(1, bp.require_column("voxels")), "40");
    EXPECT_EQ(bp.cell(1, bp.require_column("failed")), "0")
        << m << ": " << bp.cell(1, bp.require_column("message"));
  }
  // One label image per PET run, or an error.
  EXPECT_THROW(pipeline::run_pet_model_stage(plan, config.pet, realigned, {}, rois, "hand", out), Error);
}
