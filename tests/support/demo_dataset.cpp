#include "demo_dataset.hpp"

#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <random>

#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"

namespace rewardpath::testdata {
namespace fs = std::filesystem;

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw Error("cannot write " + path.string());
}

namespace {

Grid make_grid(const std::array<std::int64_t, 3>& dims, double voxel_mm) {
  Grid g;
  g.dims = dims;
  g.spacing_mm = {voxel_mm, voxel_mm, voxel_mm};
  g.affine = identity_affine();
  for (int i = 0; i < 3; ++i) {
    g.affine[i][i] = voxel_mm;
    g.affine[i][3] = -0.5 * voxel_mm * static_cast<double>(dims[i] - 1); // centred on the origin
  }
  g.affine[0][0] = -voxel_mm; // radiological-to-RAS flip, as scanners store it
  g.affine[0][3] = -g.affine[0][3];
  g.space = "scanner";
  return g;
}

// Ellipsoid "brain" with smooth intensity, 1 inside, 0 outside.
double brain_weight(const std::array<std::int64_t, 3>& d, std::int64_t i, std::int64_t j, std::int64_t k) {
  const double x =
      (static_cast<double>(i) - 0.5 * static_cast<double>(d[0] - 1)) / (0.42 * static_cast<double>(d[0]));
  const double y =
      (static_cast<double>(j) - 0.5 * static_cast<double>(d[1] - 1)) / (0.45 * static_cast<double>(d[1]));
  const double z =
      (static_cast<double>(k) - 0.5 * static_cast<double>(d[2] - 1)) / (0.45 * static_cast<double>(d[2]));
  const double r2 = x * x + y * y + z * z;
  return r2 < 1.0 ? 1.0 - 0.3 * r2 : 0.0;
}

} // namespace

Volume make_bold_run(const std::array<std::int64_t, 3>& dims, std::int64_t volumes, double tr_s,
                     std::uint32_t seed) {
  Volume v(make_grid(dims, 3.0), volumes);
  v.set_time_step_s(tr_s);
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  for (std::int64_t t = 0; t < volumes; ++t) {
    const double drift = 5.0 * std::sin(2.0 * M_PI * static_cast<double>(t) / static_cast<double>(volumes));
    for (std::int64_t k = 0; k < dims[2]; ++k)
      for (std::int64_t j = 0; j < dims[1]; ++j)
        for (std::int64_t i = 0; i < dims[0]; ++i) {
          const double w = brain_weight(dims, i, j, k);
          v.at(i, j, k, t) =
              static_cast<float>(std::round(w > 0 ? 1000.0 * w + drift + 10.0 * noise(rng) : 0.0));
        }
  }
  return v;
}

std::string mid_events_tsv(double run_duration_s, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kind(0, 2);
  std::uniform_real_distribution<double> jitter(2.0, 4.0), rt(0.18, 0.35);
  const char* cues[] = {"gain", "loss", "neutral"};
  std::string out = "onset\tduration\ttrial_type\tresponse_time\n";
  double t = 4.0;
  while (t + 10.0 < run_duration_s) {
    const char* cue = cues[kind(rng)];
    out += fmt::format("{:.3f}\t2.000\t{}_anticipation\t{:.3f}\n", t, cue, rt(rng));
    const double feedback = t + 2.0 + jitter(rng);
    out += fmt::format("{:.3f}\t2.000\t{}_outcome\tn/a\n", feedback, cue);
    t = feedback + 2.0 + jitter(rng);
  }
  return out;
}

void write_demo_dataset(const fs::path& root, const DemoOptions& o) {
  io::NiftiWriteOptions as_int16; // scanner-like storage
  as_int16.type = io::StoredType::int16;
  fs::create_directories(root);
  io::write_json(root / "dataset_description.json",
                 {{"Name", "rewardpath demo: monetary incentive delay + [11C]raclopride (synthetic)"},
                  {"BIDSVersion", "1.9.0"},
                  {"DatasetType", "raw"},
                  {"License", "CC0"},
                  {"Authors", {"rewardpath developers"}}});
  io::write_json(root / "task-mid_bold.json",
                 {{"TaskName", "mid"},
                  {"RepetitionTime", o.tr_s},
                  {"SliceTiming", [&] {
                     io::Json st = io::Json::array();
                     for (std::int64_t k = 0; k < o.bold_dims[2]; ++k)
                       st.push_back(o.tr_s * static_cast<double>((k * 2) % o.bold_dims[2]) /
                                    static_cast<double>(o.bold_dims[2]));
                     return st;
                   }()}});
  std::string participants = "participant_id\tage\tsex\tgroup\n";
  for (int s = 1; s <= o.subjects; ++s) {
    const std::string sub = fmt::format("sub-{:02d}", s);
    participants +=
        fmt::format("{}\t{}\t{}\t{}\n", sub, 24 + 3 * s, s % 2 ? "F" : "M", s % 2 ? "control" : "patient");
    const fs::path sdir = root / sub;
    const auto seed = o.seed * 1000 + static_cast<std::uint32_t>(s);

    Volume t1 = make_bold_run({o.bold_dims[0] * 2, o.bold_dims[1] * 2, o.bold_dims[2] * 2}, 1, 0.0, seed + 7);
    io::write_nifti(sdir / "anat" / (sub + "_T1w.nii.gz"), t1, as_int16);

    const Volume bold = make_bold_run(o.bold_dims, o.bold_volumes, o.tr_s, seed);
    const std::string stem = sub + "_task-mid_run-01";
    io::write_nifti(sdir / "func" / (stem + "_bold.nii.gz"), bold, as_int16);
    write_text(sdir / "func" / (stem + "_events.tsv"),
               mid_events_tsv(static_cast<double>(o.bold_volumes) * o.tr_s, seed));

    if (o.with_pet && s == 1) {
      const std::vector<double> dur = {15,  15,  15,  15,  30,  30,  60,  60,
                                       120, 120, 300, 300, 300, 600, 600, 600};
      std::vector<double> start;
      double t = 0;
      for (double d : dur) {
        start.push_back(t);
        t += d;
      }
      Volume pet(make_grid({o.bold_dims[0], o.bold_dims[1], o.bold_dims[2]}, 3.0),
                 static_cast<std::int64_t>(dur.size()));
      for (std::size_t f = 0; f < dur.size(); ++f) {
        const double mid = (start[f] + 0.5 * dur[f]) / 60.0;
        const double tac = 20000.0 * mid * std::exp(-mid / 12.0);
        for (std::int64_t k = 0; k < pet.nz(); ++k)
          for (std::int64_t j = 0; j < pet.ny(); ++j)
            for (std::int64_t i = 0; i < pet.nx(); ++i)
              pet.at(i, j, k, static_cast<std::int64_t>(f)) =
                  static_cast<float>(tac * brain_weight(o.bold_dims, i, j, k));
      }
      const std::string pstem = sub + "_trc-raclopride";
      io::write_nifti(sdir / "pet" / (pstem + "_pet.nii.gz"), pet);
      io::write_json(sdir / "pet" / (pstem + "_pet.json"), {{"TracerName", "raclopride"},
                                                            {"TracerRadionuclide", "C11"},
                                                            {"Units", "Bq/mL"},
                                                            {"FrameTimesStart", start},
                                                            {"FrameDuration", dur},
                                                            {"ImageDecayCorrected", true},
                                                            {"ImageDecayCorrectionTime", 0},
                                                            {"InjectedRadioactivity", 250},
                                                            {"InjectedRadioactivityUnits", "MBq"}});
    }
  }
  write_text(root / "participants.tsv", participants);
}

} // namespace rewardpath::testdata
