// Registration benchmark: rewardpath's affine and nonlinear registration against the elastix
// command-line tool (Debian's elastix 5.0.1) on the same image pairs, side by side: wall time and
// target registration error (TRE) against the known transform.
//
// Pairs: fixed = a "subject" made from the Colin27 brain (mricron-data ch2bet) by a known affine
// pose (rotations up to 15 deg, translations up to 20 mm, scaling, shear), optionally followed by a
// smooth nonlinear warp (Gaussian bumps, up to ~5 mm), plus intensity scaling and noise; moving =
// the template itself. Both tools get the same images (elastix via NIfTI files written by
// io::write_nifti into a temporary directory; reading them is part of elastix's time, ours starts
// from memory). TRE: mean and max distance between the estimated and the true subject->template
// mapping over brain points of the subject (every 2nd voxel); for elastix's B-spline result the
// points are mapped with transformix.
//
//   bench_registration [--mm 1] [--threads 2] [--no-elastix] [--keep] [--set key=value ...]
// --set changes our Params (sampling_fraction, min_samples, step_mm, min_step_mm, rigid_levels,
// bspline_spacing_mm, bspline_levels, bspline_iterations=a,b, iterations=a,b,c, seed).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "reg_cases.hpp"
#include "rewardpath/core/error.hpp"

using namespace rp_reg_test;
namespace fs = std::filesystem;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<double> elastix_numbers(const std::string& text, const std::string& key) {
  const std::regex re("\\(" + key + " ([^)]*)\\)");
  std::smatch m;
  if (!std::regex_search(text, m, re)) throw rewardpath::Error("elastix output has no " + key);
  std::istringstream in(m[1].str());
  std::vector<double> v;
  double x;
  while (in >> x) v.push_back(x);
  return v;
}

// elastix's AffineTransform (LPS): x -> A (x - c) + c + t, as a RAS fixed->moving affine.
reg::Transform elastix_affine(const fs::path& parameters) {
  const std::string text = slurp(parameters);
  const auto p = elastix_numbers(text, "TransformParameters");
  const auto c = elastix_numbers(text, "CenterOfRotationPoint");
  if (p.size() != 12 || c.size() != 3) throw rewardpath::Error("unexpected elastix affine parameters");
  Affine lps = rewardpath::identity_affine();
  for (int i = 0; i < 3; ++i) {
    double ac = 0;
    for (int j = 0; j < 3; ++j) {
      lps[i][j] = p[static_cast<std::size_t>(3 * i + j)];
      ac += lps[i][j] * c[static_cast<std::size_t>(j)];
    }
    lps[i][3] = p[static_cast<std::size_t>(9 + i)] + c[static_cast<std::size_t>(i)] - ac;
  }
  reg::Transform t;
  t.matrix = lps;
  const double s[4] = {-1, -1, 1, 1};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) t.matrix[i][j] = s[i] * lps[i][j] * s[j];
  return t;
}

std::vector<double> list(const std::string& s) {
  std::vector<double> v;
  std::stringstream in(s);
  std::string tok;
  while (std::getline(in, tok, ',')) v.push_back(std::stod(tok));
  return v;
}

void apply_setting(reg::Params& p, const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos) throw rewardpath::Error("--set expects key=value, got '" + kv + "'");
  const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
  auto ints = [&] {
    std::vector<int> r;
    for (double x : list(v)) r.push_back(static_cast<int>(x));
    return r;
  };
  if (k == "sampling_fraction")
    p.sampling_fraction = std::stod(v);
  else if (k == "min_samples")
    p.min_samples = std::stoi(v);
  else if (k == "step_mm")
    p.step_mm = std::stod(v);
  else if (k == "min_step_mm")
    p.min_step_mm = std::stod(v);
  else if (k == "rigid_levels")
    p.rigid_levels = std::stoi(v);
  else if (k == "bspline_spacing_mm")
    p.bspline_spacing_mm = std::stod(v);
  else if (k == "bspline_levels")
    p.bspline_levels = std::stoi(v);
  else if (k == "bspline_iterations")
    p.bspline_iterations = ints();
  else if (k == "iterations")
    p.iterations = ints();
  else if (k == "shrink_factors")
    p.shrink_factors = list(v);
  else if (k == "smoothing_sigmas_mm")
    p.smoothing_sigmas_mm = list(v);
  else if (k == "histogram_bins")
    p.histogram_bins = std::stoi(v);
  else if (k == "seed")
    p.seed = static_cast<std::uint64_t>(std::stoll(v));
  else
    throw rewardpath::Error("--set: unknown parameter '" + k + "'");
}

int run(const std::string& cmd) { return std::system(cmd.c_str()); }

struct Row {
  std::string pair, method, model;
  double seconds = 0;
  Tre tre;
  std::string note;
};

void print(const std::vector<Row>& rows) {
  std::printf("\n%-26s %-10s %-17s %9s %12s %11s  %s\n", "pair", "method", "model", "time (s)", "TRE mean mm",
              "TRE max mm", "note");
  for (const auto& r : rows)
    std::printf("%-26s %-10s %-17s %9.2f %12.3f %11.3f  %s\n", r.pair.c_str(), r.method.c_str(),
                r.model.c_str(), r.seconds, r.tre.mean, r.tre.max, r.note.c_str());
}

} // namespace

int main(int argc, char** argv) {
  double mm = 1.0;
  int threads = 2;
  bool with_elastix = true, keep = false;
  std::vector<std::string> sets;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mm" && i + 1 < argc)
      mm = std::atof(argv[++i]);
    else if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--no-elastix")
      with_elastix = false;
    else if (a == "--keep")
      keep = true;
    else if (a == "--set" && i + 1 < argc)
      sets.push_back(argv[++i]);
    else {
      std::fprintf(stderr, "usage: bench_registration [--mm 1] [--threads 2] [--no-elastix] [--keep] "
                           "[--set key=value ...]\n");
      return 2;
    }
  }
  try {
    const fs::path bench_dir = RP_BENCH_DIR;
    const fs::path tmp = fs::temp_directory_path() / ("rp_bench_registration_" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    const Volume t1 = load_ch2bet();
    const Volume tmpl =
        mm == 1.0 ? rewardpath::resample(t1, t1.grid()) : rewardpath::resample(t1, iso_grid(t1.grid(), mm));
    std::printf("template: ch2bet at %.1f mm (%lldx%lldx%lld), threads %d, elastix %s\n", mm,
                static_cast<long long>(tmpl.nx()), static_cast<long long>(tmpl.ny()),
                static_cast<long long>(tmpl.nz()), threads, with_elastix ? "on" : "off");
    const fs::path moving_nii = tmp / "moving.nii";
    if (with_elastix) rewardpath::io::write_nifti(moving_nii, tmpl);

    const Pose pose{-15, 5, -10, -20, -15, 18, 0.92, 1.06, 0.95, -0.05, {0, -18, 18}, "pose"};
    struct PairSpec {
      std::string name;
      bool warp;
    };
    std::vector<Row> rows;
    for (const PairSpec& spec : {PairSpec{"affine pose", false}, PairSpec{"affine pose + 5 mm warp", true}}) {
      const Case c = make_case(t1, pose, mm, spec.warp, 7);
      std::printf("%s: subject %lldx%lldx%lld, %zu TRE points\n", spec.name.c_str(),
                  static_cast<long long>(c.subject.nx()), static_cast<long long>(c.subject.ny()),
                  static_cast<long long>(c.subject.nz()), c.points.size());
      const Tre none = tre(reg::Transform{}, c.truth, c.points);
      rows.push_back({spec.name, "-", "identity", 0.0, none, "misalignment before registration"});
      for (const reg::Model model : spec.warp
                                        ? std::vector<reg::Model>{reg::Model::affine, reg::Model::nonlinear}
                                        : std::vector<reg::Model>{reg::Model::affine}) {
        reg::Params p;
        p.model = model;
        p.threads = threads;
        for (const auto& kv : sets) apply_setting(p, kv);
        const reg::Result r = reg::register_images(c.subject, tmpl, p);
        char note[128];
        std::snprintf(note, sizeof note, "MI %.3f, mask Dice %.3f%s", r.qc.final_metric, r.qc.mask_dice,
                      r.qc.flagged ? ", FLAGGED" : "");
        rows.push_back({spec.name, "rewardpath", reg::to_string(model), r.seconds,
                        tre(r.transform, c.truth, c.points), note});
      }
      if (!with_elastix) continue;

      const fs::path dir = tmp / (spec.warp ? "warp" : "affine");
      fs::create_directories(dir);
      const fs::path fixed_nii = dir / "fixed.nii";
      rewardpath::io::write_nifti(fixed_nii, c.subject);
      const std::string base = "elastix -f " + fixed_nii.string() + " -m " + moving_nii.string() +
                               " -threads " + std::to_string(threads) + " -p " +
                               (bench_dir / "elastix_affine.txt").string();
      // affine
      {
        const fs::path out = dir / "elastix_affine";
        fs::create_directories(out);
        const double t0 = now();
        const int rc = run(base + " -out " + out.string() + " > " + (out / "stdout.txt").string() + " 2>&1");
        const double secs = now() - t0;
        if (rc != 0) throw rewardpath::Error("elastix failed, see " + (out / "elastix.log").string());
        rows.push_back({spec.name, "elastix", "affine", secs,
                        tre(elastix_affine(out / "TransformParameters.0.txt"), c.truth, c.points),
                        "AdvancedMattesMI, ASGD, 4096 samples/iter"});
      }
      if (!spec.warp) continue;
      // affine + B-spline, points mapped with transformix
      {
        const fs::path out = dir / "elastix_bspline";
        fs::create_directories(out);
        const double t0 = now();
        const int rc = run(base + " -p " + (bench_dir / "elastix_bspline.txt").string() + " -out " +
                           out.string() + " > " + (out / "stdout.txt").string() + " 2>&1");
        const double secs = now() - t0;
        if (rc != 0) throw rewardpath::Error("elastix failed, see " + (out / "elastix.log").string());
        const fs::path pts = out / "points.txt";
        {
          std::ofstream f(pts);
          f << "point\n" << c.points.size() << "\n";
          char buf[96];
          for (const auto& p : c.points) {
            std::snprintf(buf, sizeof buf, "%.6f %.6f %.6f\n", -p[0], -p[1], p[2]); // LPS
            f << buf;
          }
        }
        const fs::path tout = out / "transformix";
        fs::create_directories(tout);
        if (run("transformix -def " + pts.string() + " -out " + tout.string() + " -tp " +
                (out / "TransformParameters.1.txt").string() + " > " + (tout / "stdout.txt").string() +
                " 2>&1") != 0)
          throw rewardpath::Error("transformix failed, see " + (tout / "transformix.log").string());
        std::ifstream in(tout / "outputpoints.txt");
        std::string line;
        std::size_t i = 0;
        Tre e;
        const std::regex re("OutputPoint = \\[ *([-0-9.eE+]+) +([-0-9.eE+]+) +([-0-9.eE+]+) *\\]");
        while (std::getline(in, line)) {
          std::smatch m;
          if (!std::regex_search(line, m, re) || i >= c.points.size()) continue;
          const Point est{-std::stod(m[1]), -std::stod(m[2]), std::stod(m[3])};
          const Point truth = c.truth.apply(c.points[i++]);
          const double d = std::sqrt((est[0] - truth[0]) * (est[0] - truth[0]) +
                                     (est[1] - truth[1]) * (est[1] - truth[1]) +
                                     (est[2] - truth[2]) * (est[2] - truth[2]));
          e.mean += d;
          e.max = std::max(e.max, d);
        }
        if (i != c.points.size())
          throw rewardpath::Error("transformix mapped " + std::to_string(i) + " of " +
                                  std::to_string(c.points.size()) + " points");
        e.mean /= static_cast<double>(i);
        rows.push_back({spec.name, "elastix", "affine+bspline", secs, e, "20 mm grid, 4096 samples/iter"});
      }
    }
    print(rows);
    if (keep)
      std::printf("\nelastix files kept in %s\n", tmp.c_str());
    else
      fs::remove_all(tmp);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_registration: %s\n", e.what());
    return 1;
  }
  return 0;
}
