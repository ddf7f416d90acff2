#include "rewardpath/simulate/mid.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "rewardpath/core/error.hpp"

namespace rewardpath::simulate::mid {
namespace {

// Regularised lower incomplete gamma P(a, x) for integer a: 1 - e^-x sum_{k<a} x^k / k!.
double gamma_p_int(int a, double x) {
  if (x <= 0.0) return 0.0;
  double term = 1.0, sum = 1.0;
  for (int k = 1; k < a; ++k) {
    term *= x / k;
    sum += term;
  }
  return 1.0 - std::exp(-x) * sum;
}

// Gamma density with integer shape a and unit scale.
double gamma_pdf_int(int a, double x) {
  if (x <= 0.0) return 0.0;
  return std::exp((a - 1) * std::log(x) - x - std::lgamma(static_cast<double>(a)));
}

std::string fixed3(double v) { return fmt::format("{:.3f}", v); }

// Times are whole milliseconds, so events.tsv (3 decimals) holds exactly what the simulation used.
double ms(double s) { return std::round(s * 1000.0) / 1000.0; }

} // namespace

double canonical_hrf(double t) { return (gamma_pdf_int(6, t) - gamma_pdf_int(16, t) / 6.0) / (5.0 / 6.0); }

double canonical_hrf_integral(double t) {
  return (gamma_p_int(6, t) - gamma_p_int(16, t) / 6.0) / (5.0 / 6.0);
}

std::vector<Trial> schedule(double run_duration_s, Rng& rng) {
  if (run_duration_s < 30.0) throw Error(fmt::format("a MID run needs >= 30 s, got {} s", run_duration_s));
  std::vector<Trial> trials;
  std::vector<std::string> block;
  double t = 0.5 * rng.integer(2, 6); // first cue 1-3 s into the run
  double target_duration = 0.26;
  while (true) {
    Trial tr;
    tr.cue_onset_s = t;
    tr.delay_s = 1.5 + 0.5 * rng.integer(0, 5);
    tr.target_onset_s = t + tr.cue_duration_s + tr.delay_s;
    tr.target_duration_s = ms(target_duration);
    if (tr.target_onset_s + 2.0 + 10.0 > run_duration_s) break;
    if (block.empty()) {
      block = {"gain", "gain", "loss", "loss", "neutral"};
      for (std::size_t i = block.size() - 1; i > 0; --i) // Fisher-Yates
        std::swap(block[i], block[static_cast<std::size_t>(rng.integer(0, static_cast<int>(i)))]);
    }
    tr.cue = block.back();
    block.pop_back();
    tr.response_time_s = ms(std::max(0.12, rng.normal(0.27, 0.045)));
    tr.hit = tr.response_time_s <= tr.target_duration_s;
    // Feedback follows the later of the target's end and the response, and lasts until 2 s after
    // target onset (as in ds005012, where target + feedback take 2 s).
    tr.feedback_onset_s =
        ms(tr.target_onset_s + std::min(std::max(tr.target_duration_s, tr.response_time_s), 0.5) + 0.05);
    tr.feedback_duration_s = ms(tr.target_onset_s + 2.0 - tr.feedback_onset_s);
    target_duration = std::clamp(target_duration + (tr.hit ? -0.02 : 0.04), 0.15, 0.5);
    trials.push_back(tr);
    t = ms(tr.feedback_onset_s + tr.feedback_duration_s + 0.5 * rng.integer(0, 2));
  }
  return trials;
}

std::vector<Event> events(const std::vector<Trial>& trials) {
  std::vector<Event> ev;
  for (const auto& tr : trials) {
    ev.push_back({tr.cue_onset_s, tr.cue_duration_s + tr.delay_s, tr.cue + "_anticipation"});
    Event probe{tr.target_onset_s, tr.target_duration_s, "probe"};
    probe.response_time_s = tr.response_time_s;
    ev.push_back(probe);
    ev.push_back({tr.feedback_onset_s, tr.feedback_duration_s, tr.cue + (tr.hit ? "_hit" : "_miss")});
  }
  std::stable_sort(ev.begin(), ev.end(),
                   [](const Event& a, const Event& b) { return a.onset_s < b.onset_s; });
  return ev;
}

const std::vector<std::string>& regressor_names() {
  static const std::vector<std::string> names = {"gain_anticipation",
                                                 "loss_anticipation",
                                                 "neutral_anticipation",
                                                 "probe",
                                                 "gain_hit",
                                                 "gain_miss",
                                                 "loss_hit",
                                                 "loss_miss",
                                                 "neutral_hit",
                                                 "neutral_miss"};
  return names;
}

io::Table events_table(const std::vector<Trial>& trials) {
  io::Table t({"onset", "duration", "trial_type", "response_time", "cue", "outcome"});
  for (const auto& tr : trials) {
    const std::string outcome = tr.hit ? "hit" : "miss";
    t.add_row({fixed3(tr.cue_onset_s), fixed3(tr.cue_duration_s + tr.delay_s), tr.cue + "_anticipation",
               "n/a", tr.cue, "n/a"});
    t.add_row({fixed3(tr.target_onset_s), fixed3(tr.target_duration_s), "probe", fixed3(tr.response_time_s),
               tr.cue, outcome});
    t.add_row({fixed3(tr.feedback_onset_s), fixed3(tr.feedback_duration_s), tr.cue + "_" + outcome, "n/a",
               tr.cue, outcome});
  }
  return t;
}

std::vector<double> regressor(const std::vector<Event>& events, const std::string& trial_type,
                              const std::vector<double>& times) {
  std::vector<double> x(times.size(), 0.0);
  for (const auto& e : events) {
    if (e.trial_type != trial_type) continue;
    for (std::size_t n = 0; n < times.size(); ++n) {
      const double a = times[n] - e.onset_s;
      if (a <= 0.0 || a - e.duration_s > 80.0) continue; // before the event / response over (< 1e-20)
      x[n] += e.duration_s > 0.0 ? canonical_hrf_integral(a) - canonical_hrf_integral(a - e.duration_s)
                                 : canonical_hrf(a);
    }
  }
  return x;
}

std::vector<double> interleaved_slice_timing(int slices, double tr) {
  std::vector<double> st(static_cast<std::size_t>(slices));
  int order = 0;
  for (int start = 0; start < 2; ++start)
    for (int k = start; k < slices; k += 2) st[static_cast<std::size_t>(k)] = tr * order++ / slices;
  return st;
}

} // namespace rewardpath::simulate::mid
