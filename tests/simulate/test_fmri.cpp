// The simulated fMRI has the properties it claims, measured by simple fits written here (not the
// simulator's code): the MID timing, the HRF, the temporal AR(1) coefficient of the noise in grey
// and white matter, task effects recoverable by least squares with the known design, and the
// head motion trajectory.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "rewardpath/bids/dataset.hpp"
#include "rewardpath/bids/events.hpp"
#include "rewardpath/bids/metadata.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
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

Volume truth_image(const fs::path& dir, const Json& truth, const std::string& key) {
  return rewardpath::io::read_nifti(dir / truth["func"]["files"][key].get<std::string>());
}

std::vector<rptest::EventRow> event_rows(const rewardpath::bids::Events& ev) {
  std::vector<rptest::EventRow> rows;
  for (std::size_t i = 0; i < ev.size(); ++i) rows.push_back({ev.onset[i], ev.duration[i], ev.trial_type[i]});
  return rows;
}

// --- MID timing and HRF -------------------------------------------------------------------------

TEST(MidSchedule, RealisticTimingAndHitRate) {
  double hits = 0, trials = 0;
  std::map<std::string, int> cues;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    rs::Rng rng(seed);
    const auto tr = rs::mid::schedule(600.0, rng);
    ASSERT_GE(tr.size(), 70u); // ~7.3 s per trial
    for (std::size_t i = 0; i < tr.size(); ++i) {
      const auto& t = tr[i];
      EXPECT_DOUBLE_EQ(t.cue_duration_s, 2.0);
      EXPECT_GE(t.delay_s, 1.5);
      EXPECT_LE(t.delay_s, 4.0);
      EXPECT_NEAR(t.target_onset_s, t.cue_onset_s + 2.0 + t.delay_s, 1e-9);
      EXPECT_GE(t.target_duration_s, 0.15);
      EXPECT_LE(t.target_duration_s, 0.5);
      EXPECT_EQ(t.hit, t.response_time_s <= t.target_duration_s);
      EXPECT_GT(t.feedback_onset_s, t.target_onset_s);
      EXPECT_NEAR(t.feedback_onset_s + t.feedback_duration_s, t.target_onset_s + 2.0, 1e-9);
      if (i > 0) {
        EXPECT_GE(t.cue_onset_s, tr[i - 1].feedback_onset_s + tr[i - 1].feedback_duration_s - 1e-9);
      }
      EXPECT_LE(t.target_onset_s + 2.0 + 10.0, 600.0);
      hits += t.hit;
      trials += 1;
      ++cues[t.cue];
    }
  }
  // The staircase (-20 ms after a hit, +40 ms after a miss) holds the hit rate near 2/3.
  EXPECT_NEAR(hits / trials, 2.0 / 3.0, 0.06);
  // Cues in shuffled blocks of 2 gain, 2 loss, 1 neutral.
  EXPECT_NEAR(cues["gain"] / trials, 0.4, 0.02);
  EXPECT_NEAR(cues["loss"] / trials, 0.4, 0.02);
  EXPECT_NEAR(cues["neutral"] / trials, 0.2, 0.02);
}

TEST(MidSchedule, HrfMatchesSpmCanonical) {
  const double dt = 0.05;
  const auto h = rptest::spm_hrf(dt);
  double peak_t = 0, peak = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    const double t = static_cast<double>(i) * dt;
    EXPECT_NEAR(rs::mid::canonical_hrf(t), h[i], 2e-4) << "t = " << t;
    if (h[i] > peak) peak = h[i], peak_t = t;
  }
  EXPECT_NEAR(peak_t, 5.0, 0.1); // mode of the double gamma (6 - 1) shifted by the undershoot
  EXPECT_NEAR(rs::mid::canonical_hrf_integral(32.0), 1.0, 1e-3);
  // Regressors: the simulator's exact boxcar integral vs this file's numerical convolution.
  const std::vector<rs::mid::Event> ev{{10.0, 4.5, "a"}, {30.0, 0.3, "a"}, {50.0, 2.0, "b"}};
  std::vector<double> times;
  for (int v = 0; v < 50; ++v) times.push_back(2.0 * v + 0.7);
  const auto mine = rs::mid::regressor(ev, "a", times);
  const auto ref = rptest::build_regressor({{10.0, 4.5, "a"}, {30.0, 0.3, "a"}, {50.0, 2.0, "b"}}, "a", 50,
                                           2.0, 0.7, 0.001);
  for (std::size_t i = 0; i < times.size(); ++i) EXPECT_NEAR(mine[i], ref[i], 2e-3) << "t = " << times[i];
  // A sustained event plateaus at 1.
  EXPECT_NEAR(rs::mid::regressor({{0.0, 200.0, "a"}}, "a", {100.0})[0], 1.0, 1e-9);
}

// --- AR(1) noise --------------------------------------------------------------------------------

// Expected lag-1 autocorrelation of OLS residuals (design X) of AR(1) noise with coefficient phi,
// as a ratio of expectations: tr(R A R S) / tr(R S), R = I - X (X'X)^-1 X', A = symmetric lag-1
// shift / 2, S = AR(1) correlation matrix. Accurate to O(1/n^2); accounts for the downward bias of
// the sample autocorrelation (~ -(1 + 3 phi) / n, and more from the drift regressors).
double expected_r1(const Eigen::MatrixXd& X, double phi) {
  const auto n = X.rows();
  Eigen::MatrixXd S(n, n), A = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j) S(i, j) = std::pow(phi, std::abs(static_cast<double>(i - j)));
  for (Eigen::Index i = 0; i + 1 < n; ++i) A(i, i + 1) = A(i + 1, i) = 0.5;
  const Eigen::MatrixXd R =
      Eigen::MatrixXd::Identity(n, n) - X * (X.transpose() * X).ldlt().solve(X.transpose());
  return (R * A * R * S).trace() / (R * S).trace();
}

double invert_expected_r1(const Eigen::MatrixXd& X, double r1) {
  double lo = -0.5, hi = 0.98;
  for (int i = 0; i < 50; ++i) {
    const double mid = 0.5 * (lo + hi);
    (expected_r1(X, mid) < r1 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

Eigen::MatrixXd drift_design(int n, double tr) {
  const Eigen::MatrixXd dct = rptest::dct_basis(n, tr, 128.0);
  Eigen::MatrixXd X(n, 2 + dct.cols());
  for (int t = 0; t < n; ++t) {
    X(t, 0) = 1.0;
    X(t, 1) = (t + 0.5) / n - 0.5;
  }
  X.rightCols(dct.cols()) = dct;
  return X;
}

TEST(FmriNoise, Ar1CoefficientMatchesTruthInGreyAndWhiteMatter) {
  const fs::path dir = rptest::still_dataset();
  for (const std::string sub : {"sub-01", "sub-02", "sub-03", "sub-04"}) {
    SCOPED_TRACE(sub);
    const Json truth = truth_of(dir, sub);
    const Volume bold = rewardpath::io::read_nifti(dir / truth["func"]["image"].get<std::string>());
    const Volume tissue = truth_image(dir, truth, "tissue_fractions"); // csf, gm, wm, scalp
    const Volume ar = truth_image(dir, truth, "ar1");
    const Volume effects = truth_image(dir, truth, "effects");
    const int n = static_cast<int>(bold.volumes());
    const double tr = truth["func"]["repetition_time_s"].get<double>();
    // Voxels without task effects: residuals of intercept + linear + DCT (128 s) drift.
    const Eigen::MatrixXd X = drift_design(n, tr);
    const Eigen::MatrixXd R =
        Eigen::MatrixXd::Identity(n, n) - X * (X.transpose() * X).ldlt().solve(X.transpose());
    const auto nv = static_cast<std::size_t>(bold.voxels_per_volume());
    struct Acc {
      double r1 = 0, r1sq = 0, phi = 0, count = 0;
    } gm, wm;
    Eigen::VectorXd y(n);
    for (std::size_t v = 0; v < nv; ++v) {
      const double fg = tissue.data()[nv + v], fw = tissue.data()[2 * nv + v];
      Acc* acc = fg >= 0.8 ? &gm : fw >= 0.95 ? &wm : nullptr;
      if (acc == nullptr) continue;
      bool active = false;
      for (std::int64_t r = 0; r < effects.volumes(); ++r) active |= effects.data()[r * nv + v] != 0.0f;
      if (active) continue;
      for (int t = 0; t < n; ++t) y(t) = bold.data()[static_cast<std::size_t>(t) * nv + v];
      const Eigen::VectorXd e = R * y;
      const double r1 = e.head(n - 1).dot(e.tail(n - 1)) / e.squaredNorm();
      acc->r1 += r1, acc->r1sq += r1 * r1, acc->phi += ar.data()[v], acc->count += 1;
    }
    ASSERT_GT(gm.count, 300);
    ASSERT_GT(wm.count, 300);
    for (auto [name, acc, tissue_phi] :
         {std::tuple{"GM", &gm, truth["func"]["noise"]["ar1"]["gm"].get<double>()},
          std::tuple{"WM", &wm, truth["func"]["noise"]["ar1"]["wm"].get<double>()}}) {
      const double mean_r1 = acc->r1 / acc->count;
      const double sd_r1 = std::sqrt(acc->r1sq / acc->count - mean_r1 * mean_r1);
      const double phi_hat = invert_expected_r1(X, mean_r1);
      const double phi_true = acc->phi / acc->count;
      // Tolerance 0.03: the per-voxel sd of r1 is ~0.1 (n = 100); even if the spatially smooth
      // noise (8 mm FWHM, 30% of the variance) made blocks of ~30 voxels move together, the mean
      // over >= 300 voxels has SE <= 0.1 / sqrt(10) ~ 0.03 / 1; measured errors are ~0.01.
      EXPECT_NEAR(phi_hat, phi_true, 0.03) << name << ": voxels " << acc->count << ", mean r1 " << mean_r1
                                           << " (sd " << sd_r1 << "), bias-corrected " << phi_hat;
      // The tissue's nominal coefficient (partial volume and the smooth spatial variation move the
      // voxel values around it).
      EXPECT_NEAR(phi_hat, tissue_phi, 0.06) << name;
      std::cout << sub << " " << name << ": voxels " << acc->count << ", raw mean r1 " << mean_r1
                << ", bias-corrected " << phi_hat << ", truth (voxels) " << phi_true << ", truth (tissue) "
                << tissue_phi << "\n";
    }
    EXPECT_GT(invert_expected_r1(X, gm.r1 / gm.count) - invert_expected_r1(X, wm.r1 / wm.count), 0.1);
  }
}

// --- task effects -------------------------------------------------------------------------------

// Per voxel: GLS with the known design (this file's HRF, slice times from the sidecar), drift
// (intercept, linear, DCT 128 s) and the voxel's true AR(1) coefficient (prewhitening); effects in
// percent of the intercept. ROI means are compared with the truth maps' ROI means; their standard
// errors include the spatial correlation of the noise (Gaussian, from the truth's parameters).
TEST(FmriEffects, RecoverableByLeastSquaresWithTheKnownDesign) {
  const fs::path dir = rptest::still_dataset();
  const auto ds = rewardpath::bids::discover(dir / "bids");
  const auto& names = rs::mid::regressor_names();
  const auto nr = static_cast<Eigen::Index>(names.size());
  double z2_sum = 0.0, z_count = 0.0, max_abs_z = 0.0;
  std::vector<std::pair<double, double>> pairs;               // (truth, estimate) per subject, ROI, regressor
  std::map<std::string, std::pair<double, double>> nacc_gain; // sum truth, sum estimate
  for (const auto& subject : ds.subjects) {
    const std::string sub = "sub-" + subject.label;
    SCOPED_TRACE(sub);
    ASSERT_EQ(subject.bold.size(), 1u);
    const auto& run = subject.bold[0];
    const Volume bold = rewardpath::io::read_nifti(run.image);
    const auto md = rewardpath::bids::bold_metadata(run.metadata, run.image.string(), bold.nz());
    const auto events = event_rows(rewardpath::bids::read_events(run.events));
    const Json truth = truth_of(dir, sub);
    const Volume labels = truth_image(dir, truth, "roi_labels");
    const Volume effects = truth_image(dir, truth, "effects");
    const Volume ar = truth_image(dir, truth, "ar1");
    const double smooth_fraction = truth["func"]["noise"]["smooth_fraction"].get<double>();
    const double smooth_sigma = truth["func"]["noise"]["smooth_fwhm_mm"].get<double>() / 2.3548;
    const int n = static_cast<int>(bold.volumes());
    const auto nv = static_cast<std::size_t>(bold.voxels_per_volume());
    const Eigen::MatrixXd drift = drift_design(n, md.repetition_time_s);
    // regressors with at least 2 events in this run (short runs may lack e.g. neutral misses)
    std::vector<Eigen::Index> used;
    for (Eigen::Index r = 0; r < nr; ++r) {
      const auto c = std::count_if(events.begin(), events.end(), [&](const auto& e) {
        return e.type == names[static_cast<std::size_t>(r)];
      });
      if (c >= 2) used.push_back(r);
    }
    const auto nu = static_cast<Eigen::Index>(used.size());
    std::vector<Eigen::MatrixXd> design(static_cast<std::size_t>(bold.nz()));
    for (std::int64_t k = 0; k < bold.nz(); ++k) {
      Eigen::MatrixXd X(n, nu + drift.cols());
      for (Eigen::Index u = 0; u < nu; ++u) {
        const auto x = rptest::build_regressor(
            events, names[static_cast<std::size_t>(used[static_cast<std::size_t>(u)])], n,
            md.repetition_time_s, md.slice_timing_s[static_cast<std::size_t>(k)]);
        for (int t = 0; t < n; ++t) X(t, u) = x[static_cast<std::size_t>(t)];
      }
      X.rightCols(drift.cols()) = drift;
      design[static_cast<std::size_t>(k)] = X;
    }
    struct VoxelFit {
      std::array<double, 3> pos;
      Eigen::VectorXd beta, se, truth;
    };
    std::map<int, std::vector<VoxelFit>> rois;
    Eigen::VectorXd y(n);
    for (std::int64_t k = 0; k < bold.nz(); ++k)
      for (std::int64_t j = 0; j < bold.ny(); ++j)
        for (std::int64_t i = 0; i < bold.nx(); ++i) {
          const std::size_t v = bold.index(i, j, k);
          const int label = static_cast<int>(labels.data()[v]);
          if (label == 0) continue;
          const double phi = ar.data()[v];
          for (int t = 0; t < n; ++t) y(t) = bold.data()[static_cast<std::size_t>(t) * nv + v];
          Eigen::MatrixXd X = design[static_cast<std::size_t>(k)];
          // prewhiten: row 0 scaled by sqrt(1 - phi^2), row t minus phi * row t-1
          Eigen::MatrixXd Xw(n, X.cols());
          Eigen::VectorXd yw(n);
          Xw.row(0) = std::sqrt(1 - phi * phi) * X.row(0);
          yw(0) = std::sqrt(1 - phi * phi) * y(0);
          for (int t = 1; t < n; ++t)
            Xw.row(t) = X.row(t) - phi * X.row(t - 1), yw(t) = y(t) - phi * y(t - 1);
          const Eigen::MatrixXd XtX = Xw.transpose() * Xw;
          const Eigen::MatrixXd inv = XtX.inverse();
          const Eigen::VectorXd b = inv * (Xw.transpose() * yw);
          const double s2 = (yw - Xw * b).squaredNorm() / (n - X.cols());
          const double b0 = b(nu); // intercept
          VoxelFit f;
          f.pos =
              bold.grid().to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
          f.beta = 100.0 * b.head(nu) / b0;
          f.se = (100.0 / b0) * (s2 * inv.diagonal().head(nu)).cwiseSqrt();
          f.truth.resize(nu);
          for (Eigen::Index u = 0; u < nu; ++u)
            f.truth(u) = effects.data()[static_cast<std::size_t>(used[static_cast<std::size_t>(u)]) * nv + v];
          rois[label].push_back(f);
        }
    for (const auto& [label, fits] : rois) {
      if (fits.size() < 3) continue;
      const double m = static_cast<double>(fits.size());
      for (Eigen::Index u = 0; u < nu; ++u) {
        const auto r = used[static_cast<std::size_t>(u)];
        double est = 0, tru = 0, var = 0;
        for (const auto& a : fits) {
          est += a.beta(u) / m;
          tru += a.truth(u) / m;
          for (const auto& b : fits) {
            double d2 = 0;
            for (int d = 0; d < 3; ++d) d2 += (a.pos[d] - b.pos[d]) * (a.pos[d] - b.pos[d]);
            const double rho =
                &a == &b ? 1.0 : smooth_fraction * std::exp(-d2 / (4 * smooth_sigma * smooth_sigma));
            var += rho * a.se(u) * b.se(u) / (m * m);
          }
        }
        const double z = (est - tru) / std::sqrt(var);
        z2_sum += z * z;
        z_count += 1;
        max_abs_z = std::max(max_abs_z, std::abs(z));
        EXPECT_LT(std::abs(z), 4.5) << "ROI " << label << " " << names[static_cast<std::size_t>(r)]
                                    << ": estimate " << est << "%, truth " << tru << "%, SE "
                                    << std::sqrt(var);
        pairs.emplace_back(tru, est);
        if ((label == 3 || label == 4) && r == 0) {
          nacc_gain[sub].first += tru / 2;
          nacc_gain[sub].second += est / 2;
        }
      }
    }
  }
  // z^2 averages ~1 when the estimates are unbiased and the standard errors right.
  const double mean_z2 = z2_sum / z_count;
  std::cout << "effects: " << z_count << " ROI x regressor estimates, mean z^2 " << mean_z2 << ", max |z| "
            << max_abs_z << "\n";
  EXPECT_GT(mean_z2, 0.5);
  EXPECT_LT(mean_z2, 1.6);
  // Estimates track the truth: slope of estimate on truth ~1 over all ROI x regressor pairs.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (auto [x, y] : pairs) sx += x, sy += y, sxx += x * x, sxy += x * y;
  const double np = static_cast<double>(pairs.size());
  const double slope = (np * sxy - sx * sy) / (np * sxx - sx * sx);
  std::cout << "slope of estimated on true ROI effects: " << slope << "\n";
  EXPECT_NEAR(slope, 1.0, 0.15);
  for (const auto& [sub, te] : nacc_gain)
    std::cout << sub << " NAcc gain anticipation: truth " << te.first << "%, estimate " << te.second << "%\n";
}

// --- head motion --------------------------------------------------------------------------------

// Rigid map of the truth's convention, written here: x -> R (x - c) + c + t, R = Rz Ry Rx.
Eigen::Matrix4d rigid(const std::array<double, 6>& q, const std::array<double, 3>& c) {
  const double cx = std::cos(q[3]), sx = std::sin(q[3]), cy = std::cos(q[4]), sy = std::sin(q[4]),
               cz = std::cos(q[5]), sz = std::sin(q[5]);
  const Eigen::Matrix3d Rx{{1, 0, 0}, {0, cx, -sx}, {0, sx, cx}}, Ry{{cy, 0, sy}, {0, 1, 0}, {-sy, 0, cy}},
      Rz{{cz, -sz, 0}, {sz, cz, 0}, {0, 0, 1}};
  const Eigen::Matrix3d R = Rz * Ry * Rx;
  const Eigen::Vector3d cc(c[0], c[1], c[2]);
  Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
  m.topLeftCorner<3, 3>() = R;
  m.topRightCorner<3, 1>() = cc - R * cc + Eigen::Vector3d(q[0], q[1], q[2]);
  return m;
}

// The volume that moved most is best predicted by volume 0 moved along the true trajectory: the
// sum of squared differences is smallest for the true transform, against no motion, the inverse,
// and the true transform perturbed by 0.5 mm or 0.5 degree about each axis.
TEST(FmriMotion, VolumesFollowTheTrueTrajectory) {
  const fs::path dir = rptest::moving_dataset();
  const Json truth = truth_of(dir, "sub-01");
  const auto& motion = truth["func"]["motion"];
  ASSERT_TRUE(motion["applied"].get<bool>());
  const Volume bold = rewardpath::io::read_nifti(dir / truth["func"]["image"].get<std::string>());
  const auto nv = static_cast<std::size_t>(bold.voxels_per_volume());
  const auto centre = motion["centre_mm"].get<std::array<double, 3>>();
  const auto& params = motion["parameters"];
  Eigen::Matrix4d A;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      A(r, c) = bold.grid().affine[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
  const Eigen::Matrix4d Ainv = A.inverse();
  // the volume whose brain moved most (displacement of a point 50 mm from the centre, roughly)
  std::int64_t worst = 1;
  double worst_shift = 0;
  for (std::int64_t t = 1; t < bold.volumes(); ++t) {
    const auto q = params[static_cast<std::size_t>(t)].get<std::array<double, 6>>();
    const double shift = std::hypot(q[0], q[1], q[2]) + 50.0 * std::hypot(q[3], q[4], q[5]);
    if (shift > worst_shift) worst_shift = shift, worst = t;
  }
  ASSERT_GT(worst_shift, 0.5); // the motion is there
  auto trilinear0 = [&](const Eigen::Vector3d& p) {
    const double x = p(0), y = p(1), z = p(2);
    if (x < 0 || y < 0 || z < 0 || x > bold.nx() - 1 || y > bold.ny() - 1 || z > bold.nz() - 1)
      return std::nan("");
    const auto x0 = std::min<std::int64_t>(static_cast<std::int64_t>(x), bold.nx() - 2);
    const auto y0 = std::min<std::int64_t>(static_cast<std::int64_t>(y), bold.ny() - 2);
    const auto z0 = std::min<std::int64_t>(static_cast<std::int64_t>(z), bold.nz() - 2);
    const double fx = x - x0, fy = y - y0, fz = z - z0;
    double s = 0;
    for (int c = 0; c < 8; ++c) {
      const int a = c & 1, b = (c >> 1) & 1, d = (c >> 2) & 1;
      s += (a ? fx : 1 - fx) * (b ? fy : 1 - fy) * (d ? fz : 1 - fz) * bold.at(x0 + a, y0 + b, z0 + d, 0);
    }
    return s;
  };
  // SSD between volume `worst` and volume 0 moved by `M` (content at p comes from M^-1 p).
  auto ssd = [&](const Eigen::Matrix4d& M) {
    const Eigen::Matrix4d to_vol0 = Ainv * M.inverse() * A;
    double s = 0;
    for (std::int64_t k = 3; k < bold.nz() - 3; ++k)
      for (std::int64_t j = 3; j < bold.ny() - 3; ++j)
        for (std::int64_t i = 3; i < bold.nx() - 3; ++i) {
          const double y = bold.data()[static_cast<std::size_t>(worst) * nv + bold.index(i, j, k)];
          if (bold.at(i, j, k, 0) < 300.0f) continue; // brain
          const Eigen::Vector4d p = to_vol0 * Eigen::Vector4d(static_cast<double>(i), static_cast<double>(j),
                                                              static_cast<double>(k), 1.0);
          const double pred = trilinear0(p.head<3>());
          if (!std::isnan(pred)) s += (y - pred) * (y - pred);
        }
    return s;
  };
  const auto q = params[static_cast<std::size_t>(worst)].get<std::array<double, 6>>();
  const Eigen::Matrix4d M = rigid(q, centre);
  const double best = ssd(M);
  std::vector<std::pair<std::string, Eigen::Matrix4d>> others{{"no motion", Eigen::Matrix4d::Identity()},
                                                              {"inverse", M.inverse()}};
  for (std::size_t p = 0; p < 6; ++p)
    for (double sign : {-1.0, 1.0}) {
      auto qp = q;
      qp[p] += sign * (p < 3 ? 0.5 : 0.5 * M_PI / 180.0);
      others.emplace_back(fmt::format("parameter {} {:+}", p, sign * 0.5), rigid(qp, centre));
    }
  std::cout << "volume " << worst << " (shift ~" << worst_shift << " mm): SSD true " << best;
  for (const auto& [name, other] : others) {
    const double s = ssd(other);
    std::cout << ", " << name << " " << s / best;
    EXPECT_GT(s, best) << name;
  }
  std::cout << "\n";
}

} // namespace
