#include "rewardpath/pet/frames.hpp"

#include <algorithm>
#include <cmath>

#include "grid.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::pet {

namespace {
std::string num(double v) { return io::format_number(v); }
} // namespace

std::vector<double> FrameTiming::mid_s() const {
  std::vector<double> m(size());
  for (std::size_t i = 0; i < size(); ++i) m[i] = start_s[i] + 0.5 * duration_s[i];
  return m;
}

std::vector<double> FrameTiming::end_s() const {
  std::vector<double> e(size());
  for (std::size_t i = 0; i < size(); ++i) e[i] = start_s[i] + duration_s[i];
  return e;
}

void validate(const FrameTiming& timing, const std::string& what) {
  if (timing.start_s.size() != timing.duration_s.size()) {
    throw Error(what + ": " + std::to_string(timing.start_s.size()) +
                " frame start times (FrameTimesStart) but " + std::to_string(timing.duration_s.size()) +
                " durations (FrameDuration); expected equal counts");
  }
  if (timing.size() == 0) throw Error(what + ": no frames (FrameTimesStart is empty)");
  for (std::size_t i = 0; i < timing.size(); ++i) {
    const double s = timing.start_s[i], d = timing.duration_s[i];
    if (!std::isfinite(s) || s < 0.0) {
      throw Error(what + ": FrameTimesStart[" + std::to_string(i) + "] = " + num(s) +
                  " s; expected finite >= 0");
    }
    if (!std::isfinite(d) || !(d > 0.0)) {
      throw Error(what + ": FrameDuration[" + std::to_string(i) + "] = " + num(d) +
                  " s; expected finite > 0");
    }
    if (i > 0) {
      const double prev_end = timing.start_s[i - 1] + timing.duration_s[i - 1];
      if (s < timing.start_s[i - 1]) {
        throw Error(what + ": frames are not sorted: FrameTimesStart[" + std::to_string(i) + "] = " + num(s) +
                    " s comes before FrameTimesStart[" + std::to_string(i - 1) +
                    "] = " + num(timing.start_s[i - 1]) + " s");
      }
      if (s + 1e-3 < prev_end) {
        throw Error(what + ": frame " + std::to_string(i) + " starts at " + num(s) + " s, before frame " +
                    std::to_string(i - 1) + " ends at " + num(prev_end) + " s (frames overlap)");
      }
    }
  }
}

FrameTiming frame_timing(const bids::PetMetadata& metadata) {
  FrameTiming t;
  t.start_s = metadata.frame_times_start_s;
  t.duration_s = metadata.frame_duration_s;
  t.half_life_s = metadata.tracer_half_life_s.value_or(std::numeric_limits<double>::quiet_NaN());
  t.decay_corrected = metadata.decay_corrected.value_or(true);
  validate(t, "PET frame timing");
  return t;
}

void validate_tac(const FrameTiming& timing, const std::vector<double>& tac, const std::string& what) {
  if (tac.size() != timing.size()) {
    throw Error(what + ": " + std::to_string(tac.size()) + " values but " + std::to_string(timing.size()) +
                " frames in the timing; expected one value per frame");
  }
  for (std::size_t i = 0; i < tac.size(); ++i) {
    if (!std::isfinite(tac[i])) {
      throw Error(what + ": frame " + std::to_string(i) + " is " + num(tac[i]) + "; expected a finite value");
    }
  }
}

void TacTable::add(const std::string& name, std::vector<double> tac) {
  validate_tac(timing, tac, "TAC '" + name + "'");
  if (std::find(names.begin(), names.end(), name) != names.end()) {
    throw Error("TAC table: region '" + name + "' added twice");
  }
  names.push_back(name);
  values.push_back(std::move(tac));
}

const std::vector<double>& TacTable::tac(const std::string& name) const {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return values[i];
  }
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  throw Error("TAC table has no region '" + name + "'; regions are: " + all);
}

std::vector<double> frame_weights(const FrameTiming& timing, const std::vector<double>& tac,
                                  const WeightParams& params) {
  validate(timing, "frame weights");
  const double half_life = std::isfinite(timing.half_life_s) ? timing.half_life_s : params.half_life_s;
  const bool needs_tac = params.scheme == Weighting::inverse_variance;
  if (needs_tac) validate_tac(timing, tac, "frame weights: TAC");
  if ((params.scheme == Weighting::duration_decay || needs_tac) && !(half_life > 0.0)) {
    throw Error("frame weights: half-life " + num(half_life) + " s; expected > 0");
  }
  const std::vector<double> mid = timing.mid_s();
  std::vector<double> w(timing.size(), 1.0);
  double cmax = 0.0;
  for (double c : tac) cmax = std::max(cmax, c);
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double d = timing.duration_s[i];
    const double decay = std::exp(-std::log(2.0) * mid[i] / half_life);
    switch (params.scheme) {
    case Weighting::uniform:
      w[i] = 1.0;
      break;
    case Weighting::duration:
      w[i] = d;
      break;
    case Weighting::duration_decay:
      w[i] = d * decay;
      break;
    case Weighting::inverse_variance: {
      if (!(cmax > 0.0))
        throw Error("frame weights: the TAC has no positive value; cannot weight by activity");
      w[i] = d * decay / std::max(tac[i], 0.01 * cmax);
      break;
    }
    }
  }
  const double wmax = *std::max_element(w.begin(), w.end());
  for (double& x : w) x /= wmax;
  return w;
}

std::vector<double> integrate_tac(const FrameTiming& timing, const std::vector<double>& tac,
                                  Integration method) {
  validate(timing);
  validate_tac(timing, tac, "integrate_tac");
  const std::size_t n = timing.size();
  const std::vector<double> mid = timing.mid_s();
  if (method == Integration::trapezoid_mids) {
    std::vector<double> x, y;
    detail::tac_curve(timing, tac, x, y);
    const std::vector<double> cum = detail::cumulative_integral(x, y);
    return std::vector<double>(cum.begin() + 1, cum.end()); // knot 0 is (t0, 0)
  }
  std::vector<double> out(n);
  double area = 0.0; // integral up to the start of frame i (minutes)
  for (std::size_t i = 0; i < n; ++i) {
    const double d = timing.duration_s[i] / 60.0;
    if (i > 0) {
      const double gap = (timing.start_s[i] - (timing.start_s[i - 1] + timing.duration_s[i - 1])) / 60.0;
      if (gap > 0.0) area += 0.5 * (tac[i - 1] + tac[i]) * gap;
    }
    // Slope of the frame means around frame i (per minute); 0 for a single frame.
    double slope = 0.0;
    if (n > 1) {
      const std::size_t a = i == 0 ? 0 : i - 1, b = i + 1 < n ? i + 1 : n - 1;
      slope = (tac[b] - tac[a]) / ((mid[b] - mid[a]) / 60.0);
    }
    out[i] = area + 0.5 * tac[i] * d - slope * d * d / 12.0;
    area += tac[i] * d;
  }
  return out;
}

} // namespace rewardpath::pet
