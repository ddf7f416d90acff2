// The registration stage of `rewardpath run ... participant` on simulated subjects with known poses
// (docs/simulate.md): transform files, accuracy of the composed template -> BOLD/PET transforms,
// the atlas in BOLD space against the simulator's ROI labels, QC failure and rerun skipping.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "rewardpath/atlas/atlas.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/pipeline/config.hpp"
#include "rewardpath/pipeline/runner.hpp"
#include "rewardpath/registration/registration.hpp"
#include "rewardpath/simulate/simulate.hpp"
#include "run_params.hpp"

namespace fs = std::filesystem;
using namespace rewardpath;
using pipeline::SubjectStatus;

namespace {

fs::path g_root;

pipeline::RunParams params(const fs::path& bids, const fs::path& out, const fs::path& config) {
  return test_support::run_params(bids, out, config);
}
using test_support::outcome;

Affine affine_from_json(const io::Json& rows) {
  Affine a = identity_affine();
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      a[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)] = rows.at(r).at(c);
  return a;
}

std::array<double, 3> apply(const Affine& a, const std::array<double, 3>& p) {
  std::array<double, 3> q{};
  for (std::size_t r = 0; r < 3; ++r) q[r] = a[r][0] * p[0] + a[r][1] * p[1] + a[r][2] * p[2] + a[r][3];
  return q;
}

// The pose of the head in a temporal-mean image: the simulator moves the head per volume/frame
// (x -> R (x - c) + c + t, R = Rz Ry Rx, from the first volume's position); the mean image shows the
// average position (parameters averaged with each volume's share of the mean image: equal for BOLD;
// for PET frame duration x the frame's total activity, since the duration-weighted mean sums frames
// whose activity differs several-fold), so the truth for a mean image is that average motion after
// template_to_subject.
Affine mean_pose(const io::Json& modality, const std::vector<double>& weights) {
  const io::Json& m = modality.at("motion");
  const Affine truth = affine_from_json(modality.at("template_to_subject"));
  const io::Json& params = m.at("parameters");
  std::array<double, 6> q{};
  double wsum = 0;
  for (std::size_t v = 0; v < params.size(); ++v) {
    const double w = weights.empty() ? 1.0 : weights.at(v);
    for (std::size_t k = 0; k < 6; ++k) q[k] += w * params.at(v).at(k).get<double>();
    wsum += w;
  }
  for (auto& x : q) x /= wsum;
  const double cx = std::cos(q[3]), sx = std::sin(q[3]), cy = std::cos(q[4]), sy = std::sin(q[4]),
               cz = std::cos(q[5]), sz = std::sin(q[5]);
  const std::array<std::array<double, 3>, 3> R{{{cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx},
                                                {sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx},
                                                {-sy, cy * sx, cy * cx}}};
  const auto c = m.at("centre_mm").get<std::array<double, 3>>();
  Affine motion = identity_affine();
  for (std::size_t r = 0; r < 3; ++r) {
    double rc = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      motion[r][k] = R[r][k];
      rc += R[r][k] * c[k];
    }
    motion[r][3] = c[r] - rc + q[r];
  }
  Affine out = identity_affine();
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t k = 0; k < 4; ++k) {
      out[r][k] = 0;
      for (std::size_t j = 0; j < 4; ++j) out[r][k] += motion[r][j] * truth[j][k];
    }
  return out;
}

// The PET mean's weight per frame: frame duration x the frame's total activity (see mean_pose).
// `stem` is the PET run's path without the _pet.nii.gz / _pet.json suffix.
std::vector<double> pet_mean_weights(const fs::path& stem) {
  const io::Json pet_json = io::read_json(stem.string() + "_pet.json");
  const auto frame_durations = pet_json.at("FrameDuration").get<std::vector<double>>();
  std::vector<double> weights;
  const Volume frames = io::read_nifti(stem.string() + "_pet.nii.gz");
  for (std::int64_t f = 0; f < frames.volumes(); ++f) {
    double sum = 0;
    const float* d = frames.volume(f).data();
    for (std::int64_t v = 0; v < frames.voxels_per_volume(); ++v) sum += d[v];
    weights.push_back(sum * frame_durations.at(static_cast<std::size_t>(f)));
  }
  return weights;
}

struct Tre {
  double mean = 0, max = 0;
};

// Target registration error over template brain points (ch2bet > 0, every 4th voxel per axis):
// estimated template -> subject world (the inverse of the file's subject -> template map) against
// the simulator's true template_to_subject.
Tre tre(const Volume& brain, const registration::Transform& subject_to_template, const Affine& truth) {
  const registration::Transform est = registration::invert_linear(subject_to_template);
  const auto& d = brain.grid().dims;
  Tre t;
  std::int64_t n = 0;
  for (std::int64_t k = 0; k < d[2]; k += 4)
    for (std::int64_t j = 0; j < d[1]; j += 4)
      for (std::int64_t i = 0; i < d[0]; i += 4) {
        if (brain.data()[i + d[0] * (j + d[1] * k)] <= 0) continue;
        const auto p =
            brain.grid().to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
        const auto a = est.apply(p);
        const auto b = apply(truth, p);
        const double e = std::hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
        t.mean += e;
        t.max = std::max(t.max, e);
        ++n;
      }
  t.mean /= static_cast<double>(n);
  return t;
}

// Majority label per voxel from fractional weights (4D, volume r = ROI indices[r]): the ROI with
// the largest fraction, when it beats the background fraction (1 - sum) — how the simulator labels
// its voxels (majority of ~1 mm sub-samples), so the comparison is like with like.
std::vector<int> majority(const Volume& weights, const std::vector<int>& indices) {
  const auto n = static_cast<std::size_t>(weights.voxels_per_volume());
  std::vector<int> out(n, 0);
  for (std::size_t v = 0; v < n; ++v) {
    double sum = 0, best = 0;
    int label = 0;
    for (std::size_t r = 0; r < indices.size(); ++r) {
      const double w = weights.data()[r * n + v];
      sum += w;
      if (w > best) best = w, label = indices[r];
    }
    out[v] = best > 1.0 - sum ? label : 0;
  }
  return out;
}

double dice(const std::vector<int>& a, const Volume& truth, int label) {
  std::int64_t both = 0, na = 0, nb = 0;
  for (std::size_t v = 0; v < a.size(); ++v) {
    const bool x = a[v] == label, y = std::lround(truth.data()[v]) == label;
    both += x && y;
    na += x;
    nb += y;
  }
  return na + nb ? 2.0 * static_cast<double>(both) / static_cast<double>(na + nb) : 0.0;
}

std::vector<int> labels_of(const Volume& v) {
  std::vector<int> out(static_cast<std::size_t>(v.voxels_per_volume()));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int>(std::lround(v.data()[i]));
  return out;
}

class RegistrationStage : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    g_root = fs::temp_directory_path() / ("rp_regstage_" + std::to_string(::getpid()));
    fs::remove_all(g_root);
    simulate::Options o;
    o.subjects = 2;
    o.seed = 11;
    o.size = simulate::Size::small;
    simulate::simulate_dataset(g_root / "sim", o);
  }
  static void TearDownTestSuite() { fs::remove_all(g_root); }
};

} // namespace

TEST_F(RegistrationStage, SimulatedSubjectsAtlasInBoldAndPetSpaceRerunSkips) {
  io::write_json(g_root / "config.json",
                 {{"registration", {{"model", "affine"}, {"fractional_weights", true}}}});
  const auto p = params(g_root / "sim/bids", g_root / "out", g_root / "config.json");
  const auto t0 = std::chrono::steady_clock::now();
  const auto summary = pipeline::run_participant_level(p);
  const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(summary.subjects.size(), 2u);
  for (const auto& s : summary.subjects) ASSERT_EQ(s.status, SubjectStatus::completed) << s.error;
  std::printf("participant level, 2 subjects: %.1f s (sub-01 %.1f s, sub-02 %.1f s)\n", run_s,
              summary.subjects[0].seconds, summary.subjects[1].seconds);

  const Volume brain = atlas::load_template();
  const atlas::Atlas reward = atlas::build_reward_atlas();
  std::vector<int> indices;
  for (const auto& r : reward.rois) indices.push_back(r.index);
  const fs::path out = g_root / "out";
  for (const std::string sub : {"01", "02"}) {
    const auto& o = outcome(summary, sub);
    const auto listed = [&](const std::string& rel) {
      const fs::path f = out / ("sub-" + sub) / rel;
      EXPECT_TRUE(fs::exists(f)) << f;
      EXPECT_NE(std::find(o.outputs.begin(), o.outputs.end(), f), o.outputs.end()) << f << " not in outputs";
      return f;
    };
    const std::string s = "sub-" + sub;
    const std::string bold = s + "_task-mid_run-01", pet = s + "_trc-raclopride";
    const auto t1_xfm = listed("xfm/" + s + "_from-MNIColin27_to-T1w_mode-image_xfm.txt");
    listed("xfm/" + s + "_from-T1w_to-MNIColin27_mode-image_xfm.txt");
    listed("xfm/" + bold + "_from-T1w_to-bold_mode-image_xfm.txt");
    const auto bold_xfm = listed("xfm/" + bold + "_from-MNIColin27_to-bold_mode-image_xfm.txt");
    listed("xfm/" + pet + "_from-T1w_to-pet_mode-image_xfm.txt");
    const auto pet_xfm = listed("xfm/" + pet + "_from-MNIColin27_to-pet_mode-image_xfm.txt");
    const auto dseg = listed("func/" + bold + "_space-bold_atlas-reward_dseg.nii.gz");
    listed("func/" + bold + "_space-bold_atlas-reward_dseg.tsv");
    const auto probseg = listed("func/" + bold + "_space-bold_atlas-reward_probseg.nii.gz");
    listed("pet/" + pet + "_space-pet_atlas-reward_dseg.nii.gz");
    const auto pet_probseg = listed("pet/" + pet + "_space-pet_atlas-reward_probseg.nii.gz");
    listed("figures/" + s + "_space-T1w_desc-registration_overlay.png");
    listed("figures/" + bold + "_space-bold_desc-registration_overlay.png");
    listed("figures/" + pet + "_space-pet_desc-registration_overlay.png");
    const auto qc_path = listed(s + "_desc-registration_qc.json");

    const io::Json qc = io::read_json(qc_path);
    EXPECT_FALSE(qc.at("Flagged").get<bool>());
    ASSERT_EQ(qc.at("Registrations").size(), 3u);
    for (const auto& r : qc.at("Registrations")) {
      EXPECT_FALSE(r.at("Flagged").get<bool>()) << r.dump();
      std::printf("sub-%s %-22s MI %.3f (initial %.3f) mask Dice %.3f, %.2f s\n", sub.c_str(),
                  r.at("Registration").get<std::string>().c_str(), r.at("FinalMetric").get<double>(),
                  r.at("InitialMetric").get<double>(), r.at("MaskDice").get<double>(),
                  r.at("Seconds").get<double>());
    }

    // Transforms read back (ITK text) and match the truth within 1 mm mean TRE over the brain.
    const io::Json truth = io::read_json(g_root / "sim/truth" / s / (s + "_truth.json"));
    const Tre t_t1 = tre(brain, registration::read_transform(t1_xfm),
                         affine_from_json(truth["anat"]["template_to_subject"]));
    const auto pet_weights = pet_mean_weights(g_root / "sim/bids" / s / "pet" / pet);
    const auto bold_xfm_read = registration::read_transform(bold_xfm);
    const auto pet_xfm_read = registration::read_transform(pet_xfm);
    const Tre t_bold = tre(brain, bold_xfm_read, mean_pose(truth["func"], {}));
    const Tre t_pet = tre(brain, pet_xfm_read, mean_pose(truth["pet"], pet_weights));
    const Tre t_bold0 = tre(brain, bold_xfm_read, affine_from_json(truth["func"]["template_to_subject"]));
    const Tre t_pet0 = tre(brain, pet_xfm_read, affine_from_json(truth["pet"]["template_to_subject"]));
    std::printf("sub-%s TRE mean (max) mm: T1w %.3f (%.3f), bold %.3f (%.3f), pet %.3f (%.3f); vs the first "
                "volume's pose: bold %.3f, pet %.3f\n",
                sub.c_str(), t_t1.mean, t_t1.max, t_bold.mean, t_bold.max, t_pet.mean, t_pet.max,
                t_bold0.mean, t_pet0.mean);
    EXPECT_LT(t_t1.mean, 1.0);
    EXPECT_LT(t_bold.mean, 1.0);
    EXPECT_LT(t_pet.mean, 1.0);
    EXPECT_LT(t_bold.max, 2.0);
    EXPECT_LT(t_pet.max, 2.0);

    // Atlas in BOLD space vs the simulator's majority ROI labels (3 mm voxels). Like with like: the
    // majority label of our fractional weights; the nearest-neighbour dseg (one point per voxel) is
    // printed beside it, and the majority label through the TRUE transform gives the ceiling.
    const Volume truth_labels = io::read_nifti(g_root / "sim/truth" / s / (bold + "_roilabels.nii.gz"));
    const Volume weights = io::read_nifti(probseg);
    ASSERT_EQ(weights.volumes(), static_cast<std::int64_t>(indices.size()));
    const auto ours = majority(weights, indices);
    const auto nn = labels_of(io::read_nifti(dseg));
    registration::Transform true_xfm;
    true_xfm.matrix = invert(affine_from_json(truth["func"]["template_to_subject"]));
    const auto true_w =
        registration::warp_labels_fractional(reward.labels, indices, truth_labels.grid(), true_xfm);
    Volume true_stack(truth_labels.grid(), static_cast<std::int64_t>(indices.size()), 0.0f);
    for (std::size_t r = 0; r < true_w.size(); ++r)
      std::copy_n(true_w[r].data(), truth_labels.voxels_per_volume(),
                  true_stack.data() + r * static_cast<std::size_t>(truth_labels.voxels_per_volume()));
    const auto ceiling = majority(true_stack, indices);
    for (const std::string roi :
         {"Amygdala_L", "Amygdala_R", "Hippocampus_L", "Hippocampus_R", "Putamen_L", "Putamen_R"}) {
      const int idx = reward.find(roi)->index;
      const double d = dice(ours, truth_labels, idx);
      std::printf("sub-%s %-14s Dice majority %.3f  nearest %.3f  true-transform ceiling %.3f\n", sub.c_str(),
                  roi.c_str(), d, dice(nn, truth_labels, idx), dice(ceiling, truth_labels, idx));
      EXPECT_GE(d, 0.8) << roi;
    }
    // PET space: the same check against the PET ROI labels (4 mm voxels), putamen only (the PET ROI).
    const Volume pet_truth = io::read_nifti(g_root / "sim/truth" / s / (pet + "_roilabels.nii.gz"));
    const auto pet_ours = majority(io::read_nifti(pet_probseg), indices);
    for (const std::string roi : {"Putamen_L", "Putamen_R"}) {
      const double d = dice(pet_ours, pet_truth, reward.find(roi)->index);
      std::printf("sub-%s PET %-10s Dice majority %.3f\n", sub.c_str(), roi.c_str(), d);
      EXPECT_GE(d, 0.8) << roi;
    }
  }

  // Rerun: every recorded output is current, so both subjects are skipped.
  const auto t1 = std::chrono::steady_clock::now();
  const auto again = pipeline::run_participant_level(p);
  for (const auto& s : again.subjects) EXPECT_EQ(s.status, SubjectStatus::up_to_date) << s.label;
  std::printf("rerun: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
}

TEST_F(RegistrationStage, NoiseT1wIsFlaggedAndFailsOnlyThatSubject) {
  const fs::path bids = g_root / "broken_bids";
  fs::remove_all(bids);
  fs::copy(g_root / "sim/bids", bids, fs::copy_options::recursive);
  const fs::path t1 = bids / "sub-02/anat/sub-02_T1w.nii.gz";
  Volume noise = io::read_nifti(t1);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 1000.0f);
  for (std::int64_t i = 0; i < noise.voxels_per_volume(); ++i) noise.data()[i] = std::round(u(rng));
  io::write_nifti(t1, noise, {io::StoredType::int16, 6, "", ""});

  io::write_json(g_root / "config_func.json",
                 {{"modalities", {"func"}}, {"registration", io::Json::object()}});
  const auto summary =
      pipeline::run_participant_level(params(bids, g_root / "out_broken", g_root / "config_func.json"));
  EXPECT_EQ(summary.exit_code(), 1);
  EXPECT_EQ(outcome(summary, "01").status, SubjectStatus::completed) << outcome(summary, "01").error;
  const auto& bad = outcome(summary, "02");
  ASSERT_EQ(bad.status, SubjectStatus::failed);
  std::printf("sub-02 error: %s\n", bad.error.c_str());
  EXPECT_NE(bad.error.find("sub-02"), std::string::npos);
  EXPECT_NE(bad.error.find("T1w"), std::string::npos);
  EXPECT_NE(bad.error.find("registration QC flagged"), std::string::npos);
  // The QC record of the failed subject says why, and it is not marked complete.
  const io::Json qc = io::read_json(g_root / "out_broken/sub-02/sub-02_desc-registration_qc.json");
  EXPECT_TRUE(qc.at("Flagged").get<bool>());
  EXPECT_FALSE(fs::exists(g_root / "out_broken/sub-02/sub-02_desc-provenance.json"));
  EXPECT_NE(summary.to_text().find("FAILED"), std::string::npos);
}

// A subject without a T1w: each BOLD/PET mean is registered directly to the template (ch2, with its
// head), `registration.model` affine. Measured (seed 23, ~3 s for the subject): completes, not
// flagged (BOLD MI -0.63, mask Dice 0.87; PET MI -0.59, mask Dice 0.88); TRE mean (max) vs the
// run's mean pose: BOLD 0.37 (0.75) mm, PET 0.60 (1.18) mm; BOLD Dice (majority of the fractional
// weights vs the simulator's labels): amygdala 0.91/0.91, hippocampus 0.93/0.94, putamen
// 0.95/0.94; PET putamen 0.90/0.92. Seeds 5, 11, 42: BOLD TRE 0.16-0.37 (max <= 0.98) mm, PET
// 0.38-0.56 mm, BOLD Dice 0.91-0.98, PET putamen 0.92-0.95. The limits below leave ~2x margin on
// TRE and ~0.05 on Dice.
TEST_F(RegistrationStage, NoT1wRegistersMeansDirectlyToTemplate) {
  const fs::path root = g_root / "not1";
  simulate::Options o;
  o.subjects = 1;
  o.seed = 23;
  o.size = simulate::Size::small;
  simulate::simulate_dataset(root / "sim", o);
  fs::remove_all(root / "sim/bids/sub-01/anat");
  io::write_json(root / "config.json",
                 {{"registration", {{"model", "affine"}, {"fractional_weights", true}}}});
  const auto t0 = std::chrono::steady_clock::now();
  const auto summary =
      pipeline::run_participant_level(params(root / "sim/bids", root / "out", root / "config.json"));
  const auto& o1 = outcome(summary, "01");
  std::printf("no-T1w subject: %.1f s, status %d %s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              static_cast<int>(o1.status), o1.error.c_str());
  ASSERT_EQ(o1.status, SubjectStatus::completed) << o1.error;

  const fs::path sub_out = root / "out/sub-01";
  const std::string bold = "sub-01_task-mid_run-01", pet = "sub-01_trc-raclopride";
  const auto listed = [&](const std::string& rel) {
    const fs::path f = sub_out / rel;
    EXPECT_TRUE(fs::exists(f)) << f;
    EXPECT_NE(std::find(o1.outputs.begin(), o1.outputs.end(), f), o1.outputs.end()) << f << " not in outputs";
    return f;
  };
  const auto bold_xfm = listed("xfm/" + bold + "_from-MNIColin27_to-bold_mode-image_xfm.txt");
  const auto pet_xfm = listed("xfm/" + pet + "_from-MNIColin27_to-pet_mode-image_xfm.txt");
  const auto probseg = listed("func/" + bold + "_space-bold_atlas-reward_probseg.nii.gz");
  const auto pet_probseg = listed("pet/" + pet + "_space-pet_atlas-reward_probseg.nii.gz");
  listed("func/" + bold + "_space-bold_atlas-reward_dseg.nii.gz");
  listed("figures/" + bold + "_space-bold_desc-registration_overlay.png");
  // No T1w: no T1w transforms and no T1w figure.
  for (const auto& e : fs::recursive_directory_iterator(sub_out))
    EXPECT_EQ(e.path().filename().string().find("T1w"), std::string::npos) << e.path();
  const io::Json qc = io::read_json(listed("sub-01_desc-registration_qc.json"));
  EXPECT_FALSE(qc.at("Flagged").get<bool>()) << qc.dump();
  ASSERT_EQ(qc.at("Registrations").size(), 2u);
  for (const auto& r : qc.at("Registrations")) {
    EXPECT_FALSE(r.at("Flagged").get<bool>()) << r.dump();
    EXPECT_EQ(r.at("Moving").get<std::string>(), "MNIColin27");
    std::printf("%-22s MI %.3f (initial %.3f) mask Dice %.3f, %.2f s\n",
                r.at("Registration").get<std::string>().c_str(), r.at("FinalMetric").get<double>(),
                r.at("InitialMetric").get<double>(), r.at("MaskDice").get<double>(),
                r.at("Seconds").get<double>());
  }

  const Volume brain = atlas::load_template();
  const atlas::Atlas reward = atlas::build_reward_atlas();
  std::vector<int> indices;
  for (const auto& r : reward.rois) indices.push_back(r.index);
  const io::Json truth = io::read_json(root / "sim/truth/sub-01/sub-01_truth.json");
  const Tre t_bold = tre(brain, registration::read_transform(bold_xfm), mean_pose(truth["func"], {}));
  const Tre t_pet = tre(brain, registration::read_transform(pet_xfm),
                        mean_pose(truth["pet"], pet_mean_weights(root / "sim/bids/sub-01/pet" / pet)));
  std::printf("no-T1w TRE mean (max) mm: bold %.3f (%.3f), pet %.3f (%.3f)\n", t_bold.mean, t_bold.max,
              t_pet.mean, t_pet.max);
  EXPECT_LT(t_bold.mean, 0.75);
  EXPECT_LT(t_bold.max, 1.5);
  EXPECT_LT(t_pet.mean, 1.2);
  EXPECT_LT(t_pet.max, 2.5);
  const Volume truth_labels = io::read_nifti(root / "sim/truth/sub-01" / (bold + "_roilabels.nii.gz"));
  const auto ours = majority(io::read_nifti(probseg), indices);
  for (const std::string roi :
       {"Amygdala_L", "Amygdala_R", "Hippocampus_L", "Hippocampus_R", "Putamen_L", "Putamen_R"}) {
    const double d = dice(ours, truth_labels, reward.find(roi)->index);
    std::printf("no-T1w bold %-14s Dice majority %.3f\n", roi.c_str(), d);
    EXPECT_GE(d, 0.85) << roi;
  }
  const Volume pet_truth = io::read_nifti(root / "sim/truth/sub-01" / (pet + "_roilabels.nii.gz"));
  const auto pet_ours = majority(io::read_nifti(pet_probseg), indices);
  for (const std::string roi : {"Putamen_L", "Putamen_R"}) {
    const double d = dice(pet_ours, pet_truth, reward.find(roi)->index);
    std::printf("no-T1w pet %-10s Dice majority %.3f\n", roi.c_str(), d);
    EXPECT_GE(d, 0.85) << roi;
  }
}

TEST(RegistrationConfig, KeysAreCheckedAndRecorded) {
  const auto c = pipeline::parse_config(
      io::Json{
          {"registration", {{"model", "rigid"}, {"fractional_weights", true}, {"on_qc_flag", "continue"}}}},
      "test");
  EXPECT_TRUE(c.registration.enabled);
  EXPECT_EQ(c.registration.model, registration::Model::rigid);
  EXPECT_TRUE(c.registration.fractional_weights);
  EXPECT_EQ(c.registration.on_qc_flag, pipeline::OnQcFlag::proceed);
  EXPECT_EQ(c.source["registration"]["model"], "rigid");
  EXPECT_FALSE(pipeline::default_config().registration.enabled);
  EXPECT_FALSE(pipeline::default_config().source.contains("registration"));
  for (const io::Json& bad :
       {io::Json{{"registration", {{"modle", "rigid"}}}}, io::Json{{"registration", {{"model", "syn"}}}},
        io::Json{{"registration", {{"atlas", {{"image", "a.nii.gz"}}}}}},
        io::Json{{"registration", {{"atlas", {{"name", "my-atlas"}, {"image", "a"}, {"template", "t"}}}}}},
        io::Json{{"registration", {{"on_qc_flag", "ignore"}}}}})
    EXPECT_THROW(pipeline::parse_config(bad, "test"), Error) << bad.dump();
}
