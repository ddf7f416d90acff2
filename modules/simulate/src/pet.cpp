// PET kinetics for the simulator: frame schedule, arterial input, 1T/2T compartment models,
// [11C]raclopride-like regional truth and a counting-statistics noise model.
#include "rewardpath/simulate/pet.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "rewardpath/core/error.hpp"

namespace rewardpath::simulate::pet {
namespace {

constexpr double kLn2 = 0.69314718055994530942;

// Fine-grid step for the compartment-model convolution (s). The recursive convolution below is
// exact for a piecewise-linear input, so the only errors are the linear interpolation of the
// input between nodes and the trapezoid frame average, both O(dt^2): at 0.1 s, ~1e-4 of the value
// in the first seconds after arrival and < 3e-5 from 10 s after it (checked against an analytic
// convolution and RK4 in tests/simulate/test_pet_kinetics.cpp).
constexpr double kMaxStepS = 0.1;

std::string num(double v) { return io::format_number(v); }

// Convolution of a piecewise-linear input x (values at nodes t) with the kernel A e^(-a t):
// y(t) = int_0^t A e^(-a (t - s)) x(s) ds, exact at every node. Over a step of length h,
//   y1 = e^(-a h) y0 + A [x0 (I0 - I1) + x1 I1],
//   I0 = int_0^h e^(-a (h - u)) du, I1 = int_0^h e^(-a (h - u)) u / h du.
void add_exp_convolution(const std::vector<double>& t, const std::vector<double>& x, double amplitude,
                         double rate, std::vector<double>& out) {
  double y = 0.0;
  for (std::size_t n = 0; n + 1 < t.size(); ++n) {
    const double h = t[n + 1] - t[n];
    const double z = rate * h;
    const double e = std::exp(-z);
    double i0 = 0.0, i1 = 0.0;
    if (std::abs(z) < 1e-4) { // series: avoids cancellation (and covers rate == 0)
      i0 = h * (1.0 - z / 2.0 + z * z / 6.0);
      i1 = h * (0.5 - z / 6.0 + z * z / 24.0);
    } else {
      i0 = -std::expm1(-z) / rate;
      i1 = i0 - (1.0 - e * (1.0 + z)) / (rate * z);
    }
    y = e * y + amplitude * (x[n] * (i0 - i1) + x[n + 1] * i1);
    out[n + 1] += y;
  }
}

void validate(const Kinetics& k) {
  const bool ok = std::isfinite(k.K1) && std::isfinite(k.k2) && std::isfinite(k.k3) && std::isfinite(k.k4) &&
                  std::isfinite(k.vb) && k.K1 > 0.0 && k.k2 > 0.0 && k.k3 >= 0.0 && k.k4 >= 0.0 &&
                  k.vb >= 0.0 && k.vb < 1.0;
  if (!ok) {
    throw Error("invalid kinetics K1=" + num(k.K1) + " k2=" + num(k.k2) + " k3=" + num(k.k3) + " k4=" +
                num(k.k4) + " vb=" + num(k.vb) + "; expected K1 > 0, k2 > 0, k3 >= 0, k4 >= 0, 0 <= vb < 1");
  }
}

// Impulse response of C_T = C1 + C2 as a sum of exponentials: amplitude (1/min) and rate
// (1/min). One tissue (k3 == 0): K1 e^(-k2 t). Two tissues:
//   K1 / (a2 - a1) [(k3 + k4 - a1) e^(-a1 t) + (a2 - k3 - k4) e^(-a2 t)],
//   a1,2 = (k2 + k3 + k4 -+ sqrt((k2 + k3 + k4)^2 - 4 k2 k4)) / 2.
std::vector<std::array<double, 2>> impulse_response(const Kinetics& k) {
  if (k.k3 == 0.0) return {{k.K1, k.k2}};
  const double s = k.k2 + k.k3 + k.k4;
  const double root = std::sqrt(s * s - 4.0 * k.k2 * k.k4); // > 0 because k2 k3 > 0
  const double a1 = (s - root) / 2.0;
  const double a2 = (s + root) / 2.0;
  return {{k.K1 * (k.k3 + k.k4 - a1) / root, a1}, {k.K1 * (a2 - k.k3 - k.k4) / root, a2}};
}

struct Grid {
  std::vector<double> t; // s, starts at 0, includes every requested time
  std::vector<double> pet;
};

// Model on a grid from 0 through every time in `knots` (each of which becomes a node).
Grid solve_on_grid(const PlasmaInput& input, const Kinetics& k, std::vector<double> knots) {
  validate(k);
  knots.push_back(0.0);
  // The input's onset is a kink; making it a node keeps the piecewise-linear input exact there.
  if (input.delay_s > 0.0) knots.push_back(input.delay_s);
  std::sort(knots.begin(), knots.end());
  knots.erase(std::unique(knots.begin(), knots.end()), knots.end());

  Grid g;
  g.t.push_back(knots.front());
  for (std::size_t i = 1; i < knots.size(); ++i) {
    const double a = knots[i - 1], b = knots[i];
    const auto steps = static_cast<std::size_t>(std::ceil((b - a) / kMaxStepS));
    for (std::size_t s = 1; s < steps; ++s) g.t.push_back(a + (b - a) * static_cast<double>(s) / steps);
    g.t.push_back(b); // exact knot value, so frame bounds can be found by equality
  }
  std::vector<double> cp(g.t.size());
  for (std::size_t i = 0; i < g.t.size(); ++i) cp[i] = input.plasma(g.t[i]);
  std::vector<double> ct(g.t.size(), 0.0);
  for (const auto& [amplitude, rate] : impulse_response(k)) {
    add_exp_convolution(g.t, cp, amplitude / 60.0, rate / 60.0, ct); // per-minute -> per-second
  }
  g.pet.resize(g.t.size());
  for (std::size_t i = 0; i < g.t.size(); ++i) {
    g.pet[i] = (1.0 - k.vb) * ct[i] + k.vb * input.whole_blood(g.t[i]);
  }
  return g;
}

void validate(const FrameSchedule& frames) {
  if (frames.start_s.size() != frames.duration_s.size()) {
    throw Error("frame schedule has " + std::to_string(frames.start_s.size()) + " starts but " +
                std::to_string(frames.duration_s.size()) + " durations");
  }
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const double s = frames.start_s[i], d = frames.duration_s[i];
    if (!std::isfinite(s) || !std::isfinite(d) || s < 0.0 || d <= 0.0) {
      throw Error("frame " + std::to_string(i) + " has start " + num(s) + " s and duration " + num(d) +
                  " s; expected start >= 0 and duration > 0");
    }
  }
}

double hill(double t_min, double t50, double h) {
  if (t_min <= 0.0) return 0.0;
  const double x = std::pow(t_min / t50, h);
  return x / (1.0 + x);
}

} // namespace

std::vector<double> FrameSchedule::mid_s() const {
  std::vector<double> mid(size());
  for (std::size_t i = 0; i < size(); ++i) mid[i] = start_s[i] + duration_s[i] / 2.0;
  return mid;
}

FrameSchedule raclopride_schedule(double total_min) {
  if (!std::isfinite(total_min) || total_min < 60.0 || total_min > 90.0) {
    throw Error("raclopride_schedule: scan length " + num(total_min) + " min; expected 60 to 90 min");
  }
  // Short frames while the input peaks and the tissue curves rise, 5-min frames once they change
  // slowly: a typical [11C]raclopride protocol (e.g. 6x10, 3x20, 2x30, 2x60, 2x150, 10x300 s).
  std::vector<double> durations;
  for (const auto& [count, d] :
       std::array<std::pair<int, double>, 5>{{{6, 10.0}, {3, 20.0}, {2, 30.0}, {2, 60.0}, {2, 150.0}}}) {
    durations.insert(durations.end(), static_cast<std::size_t>(count), d);
  }
  const double total_s = std::round(total_min * 60.0 * 1000.0) / 1000.0; // ms resolution
  double used = 600.0;
  while (total_s - used >= 300.0) {
    durations.push_back(300.0);
    used += 300.0;
  }
  const double rest = total_s - used;
  if (rest >= 150.0) {
    durations.push_back(rest);
  } else if (rest > 0.0) {
    durations.back() += rest;
  }
  FrameSchedule f;
  double t = 0.0;
  for (double d : durations) {
    f.start_s.push_back(t);
    f.duration_s.push_back(d);
    t += d;
  }
  return f;
}

double PlasmaInput::total_plasma(double t_s) const {
  const double tp = (t_s - delay_s) / 60.0;
  if (!(tp > 0.0)) return 0.0;
  const double kbq =
      (a1 * tp - a2 - a3) * std::exp(-l1 * tp) + a2 * std::exp(-l2 * tp) + a3 * std::exp(-l3 * tp);
  return std::max(kbq, 0.0) * 1000.0 * injected_mbq / 250.0;
}

double PlasmaInput::parent_fraction(double t_s) const {
  return std::clamp(1.0 - metabolite_max * hill(t_s / 60.0, metabolite_t50_min, metabolite_hill), 0.0, 1.0);
}

double PlasmaInput::plasma(double t_s) const { return parent_fraction(t_s) * total_plasma(t_s); }

double PlasmaInput::whole_blood(double t_s) const { return blood_plasma_ratio * total_plasma(t_s); }

// Default [11C]raclopride-like input (per 250 MBq, decay-corrected):
// * Shape: Feng et al. 1993 model 2 (fitted to FDG: A1 = 851.1, A2 = 21.9, A3 = 20.8,
//   l1 = 4.134, l2 = 0.119, l3 = 0.0104 1/min). We keep its fast bolus phase (l1 = 4/min, so the
//   peak is ~0.3 min after arrival; with a 36 s arrival delay the plasma peak is at ~0.9 min) and
//   choose A1 = 640 kBq/mL/min, A2 = 28, A3 = 7 kBq/mL, l2 = 0.25, l3 = 0.005 1/min so that:
//   - the total-plasma peak is ~80 kBq/mL (a fast arm-vein bolus of 250 MBq);
//   - parent plasma falls to ~2 kBq/mL by 60 min, close to dose / distribution volume of
//     raclopride (1.5 L/kg, Movin-Osswald et al. 1992 Clin Pharmacokinet 22:152) and a
//     parent-plasma clearance of ~15-20 L/h (11.7 +- 5 L/h in Narendran et al. 2004, JPET).
// * Parent fraction: Hill-type 1 - 0.6 t^2 / (20^2 + t^2) (t in min): 0.88 at 10 min, 0.58 at
//   30 min, 0.46 at 60 min, in the range reported for [11C]raclopride (moderate metabolism to
//   polar metabolites that do not enter brain).
// * Whole blood = 0.9 x total plasma (blood/plasma ratio slightly below 1).
PlasmaInput raclopride_input(double injected_mbq, Rng* rng) {
  if (!std::isfinite(injected_mbq) || injected_mbq <= 0.0) {
    throw Error("raclopride_input: injected activity " + num(injected_mbq) + " MBq; expected > 0");
  }
  PlasmaInput in;
  in.injected_mbq = injected_mbq;
  if (rng != nullptr) {
    in.delay_s += rng->uniform(-6.0, 6.0);
    in.a1 *= rng->uniform(0.9, 1.1);
    in.a2 *= rng->uniform(0.9, 1.1);
    in.a3 *= rng->uniform(0.9, 1.1);
    in.metabolite_t50_min *= rng->uniform(0.85, 1.15);
  }
  return in;
}

std::vector<double> tissue_tac(const PlasmaInput& input, const Kinetics& k, const FrameSchedule& frames) {
  validate(frames);
  if (frames.size() == 0) return {};
  std::vector<double> knots;
  knots.reserve(2 * frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    knots.push_back(frames.start_s[i]);
    knots.push_back(frames.start_s[i] + frames.duration_s[i]);
  }
  const Grid g = solve_on_grid(input, k, knots);
  std::vector<double> tac(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const double a = frames.start_s[i], b = frames.start_s[i] + frames.duration_s[i];
    auto ia = static_cast<std::size_t>(std::lower_bound(g.t.begin(), g.t.end(), a) - g.t.begin());
    auto ib = static_cast<std::size_t>(std::lower_bound(g.t.begin(), g.t.end(), b) - g.t.begin());
    double area = 0.0;
    for (std::size_t n = ia; n < ib; ++n) area += 0.5 * (g.pet[n] + g.pet[n + 1]) * (g.t[n + 1] - g.t[n]);
    tac[i] = area / (g.t[ib] - g.t[ia]);
  }
  return tac;
}

std::vector<double> tissue_curve(const PlasmaInput& input, const Kinetics& k,
                                 const std::vector<double>& times_s) {
  for (double t : times_s) {
    if (!std::isfinite(t) || t < 0.0) throw Error("tissue_curve: time " + num(t) + " s; expected >= 0");
  }
  if (times_s.empty()) return {};
  const Grid g = solve_on_grid(input, k, times_s);
  std::vector<double> out(times_s.size());
  for (std::size_t i = 0; i < times_s.size(); ++i) {
    const auto n =
        static_cast<std::size_t>(std::lower_bound(g.t.begin(), g.t.end(), times_s[i]) - g.t.begin());
    out[i] = g.pet[n];
  }
  return out;
}

// Regional truth. Reference (cerebellum, one tissue): K1 = 0.10 mL/cm3/min, k2 = 0.25/min, so
// V_ND = K1/k2 = 0.40 mL/cm3 (cerebellar V_T of [11C]raclopride 0.41 +- 0.07, Narendran et al.
// 2004). Every other region keeps K1/k2 = 0.40 (R1 = K1/K1' up to 1.15 in striatum), with
// k4 = 0.15/min and k3 = BP_ND * k4 (raclopride's fast, reversible D2 binding: k3 ~ 0.3-0.5,
// k4 ~ 0.1-0.2 1/min in striatum, Farde et al. 1989 JCBFM 9:696). BP_ND: putamen 3.0,
// caudate 2.5, NAcc 2.0 (striatal [11C]raclopride BP_ND 2-3.5), VTA/midbrain 0.5, amygdala 0.4,
// hippocampus 0.3, OFC 0.25, vmPFC 0.2, background grey matter 0.15 (extrastriatal values of
// Freiburghaus et al. 2021, NeuroImage 226:117523 and earlier reports); white matter one tissue
// with lower K1. Blood volume: 0.04 (deep grey), 0.045 (cortex), 0.05 (cerebellum), 0.03 (WM).
std::vector<RegionTruth> raclopride_truth(Rng* rng) { return raclopride_truth(rng, 1.0); }

std::vector<RegionTruth> raclopride_truth(Rng* rng, double blood_volume_scale) {
  if (!std::isfinite(blood_volume_scale) || blood_volume_scale < 0.0 || blood_volume_scale > 10.0) {
    throw Error("raclopride_truth: blood volume scale " + num(blood_volume_scale) + "; expected 0 to 10");
  }
  constexpr double kRefK1 = 0.10, kVnd = 0.40, kK4 = 0.15;
  struct Spec {
    const char* name;
    double r1; // K1 / K1_reference
    double bp; // BP_ND (0: one tissue)
    double vb;
    bool bilateral;
  };
  static constexpr std::array<Spec, 11> specs{{
      {"VTA", 1.00, 0.5, 0.04, true},
      {"NAcc", 1.10, 2.0, 0.04, true},
      {"vmPFC", 1.05, 0.2, 0.045, true},
      {"OFC", 1.05, 0.25, 0.045, true},
      {"Amygdala", 1.00, 0.4, 0.04, true},
      {"Hippocampus", 1.00, 0.3, 0.04, true},
      {"Caudate", 1.10, 2.5, 0.04, true},
      {"Putamen", 1.15, 3.0, 0.04, true},
      {"CerebellumRef", 1.00, 0.0, 0.05, true},
      {"background_gm", 1.00, 0.15, 0.045, false},
      {"background_wm", 0.50, 0.0, 0.03, false},
  }};
  // Subject variation: a global perfusion factor on K1 (and k2, keeping V_ND) and an independent
  // factor on each target's BP_ND (via k3), both uniform.
  const double flow = rng != nullptr ? rng->uniform(0.9, 1.1) : 1.0;
  std::vector<RegionTruth> truth;
  for (const Spec& s : specs) {
    const std::vector<std::string> sides =
        s.bilateral ? std::vector<std::string>{"_L", "_R"} : std::vector<std::string>{""};
    for (const std::string& side : sides) {
      RegionTruth r;
      r.roi = std::string(s.name) + side;
      r.kinetics.K1 = kRefK1 * s.r1 * flow;
      r.kinetics.k2 = r.kinetics.K1 / kVnd;
      r.kinetics.vb = s.vb * blood_volume_scale;
      if (s.bp > 0.0) {
        const double bp = s.bp * (rng != nullptr ? rng->uniform(0.9, 1.1) : 1.0);
        r.kinetics.k4 = kK4;
        r.kinetics.k3 = bp * kK4;
        r.bp_nd = r.kinetics.k3 / r.kinetics.k4;
      }
      truth.push_back(std::move(r));
    }
  }
  return truth;
}

const RegionTruth& find_region(const std::vector<RegionTruth>& truth, const std::string& roi) {
  for (const RegionTruth& r : truth) {
    if (r.roi == roi) return r;
  }
  std::string names;
  for (const RegionTruth& r : truth) names += (names.empty() ? "" : ", ") + r.roi;
  throw Error("no PET truth for region '" + roi + "'; regions are: " + names);
}

std::vector<double> region_tac(const PlasmaInput& input, const RegionTruth& region,
                               const FrameSchedule& frames) {
  return with_context("PET region " + region.roi, [&] { return tissue_tac(input, region.kinetics, frames); });
}

double frame_noise_sd(double activity, double duration_s, double mid_time_s, double half_life_s,
                      double level) {
  if (!(duration_s > 0.0) || !(half_life_s > 0.0) || !(level >= 0.0) || !std::isfinite(mid_time_s) ||
      !std::isfinite(activity)) {
    throw Error("frame_noise_sd: duration " + num(duration_s) + " s, half-life " + num(half_life_s) +
                " s, level " + num(level) + ", mid time " + num(mid_time_s) + " s, activity " +
                num(activity) + "; expected duration > 0, half-life > 0, level >= 0 and finite values");
  }
  const double decay_correction = std::exp(kLn2 * mid_time_s / half_life_s);
  return level * std::sqrt(std::max(activity, 0.0) * decay_correction / duration_s);
}

std::vector<double> frame_noise_sds(const std::vector<double>& tac, const FrameSchedule& frames,
                                    double level) {
  validate(frames);
  if (tac.size() != frames.size()) {
    throw Error("frame_noise_sds: TAC has " + std::to_string(tac.size()) + " values for " +
                std::to_string(frames.size()) + " frames");
  }
  const std::vector<double> mid = frames.mid_s();
  std::vector<double> sd(tac.size());
  for (std::size_t i = 0; i < tac.size(); ++i) {
    sd[i] = frame_noise_sd(tac[i], frames.duration_s[i], mid[i], kC11HalfLifeS, level);
  }
  return sd;
}

BloodSamples blood_samples(const PlasmaInput& input, double total_s) {
  if (!std::isfinite(total_s) || total_s <= 0.0) {
    throw Error("blood_samples: scan length " + num(total_s) + " s; expected > 0");
  }
  std::vector<double> times;
  for (double t = 0.0; t <= std::min(120.0, total_s); t += 5.0) times.push_back(t);
  for (double m : {2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 70.0,
                   80.0, 90.0}) {
    if (m * 60.0 <= total_s) times.push_back(m * 60.0);
  }
  BloodSamples b;
  for (double t : times) {
    b.time_s.push_back(t);
    b.plasma_radioactivity.push_back(input.total_plasma(t));
    b.whole_blood_radioactivity.push_back(input.whole_blood(t));
    b.metabolite_parent_fraction.push_back(input.parent_fraction(t));
  }
  return b;
}

io::Table blood_table(const BloodSamples& samples) {
  const std::size_t n = samples.time_s.size();
  if (samples.plasma_radioactivity.size() != n || samples.whole_blood_radioactivity.size() != n ||
      samples.metabolite_parent_fraction.size() != n) {
    throw Error("blood_table: columns differ in length");
  }
  io::Table table(
      {"time", "plasma_radioactivity", "whole_blood_radioactivity", "metabolite_parent_fraction"});
  for (std::size_t i = 0; i < n; ++i) {
    table.add_row({io::format_number(samples.time_s[i]), io::format_number(samples.plasma_radioactivity[i]),
                   io::format_number(samples.whole_blood_radioactivity[i]),
                   io::format_number(samples.metabolite_parent_fraction[i])});
  }
  return table;
}

} // namespace rewardpath::simulate::pet
