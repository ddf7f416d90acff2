#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "bids_test_util.hpp"
#include "rewardpath/bids/events.hpp"

namespace bids = rewardpath::bids;
namespace fs = std::filesystem;
using rp_test::error_of;
using rp_test::TempDir;

TEST(Events, ReadsTimingTrialTypesAndModulators) {
  TempDir d;
  const auto f = d.write("events.tsv", "onset\tduration\ttrial_type\tgain\tresponse_time\tnote\tempty_mod\n"
                                       "0.5\t2\tgain\t20\t1.25\tok\tn/a\n"
                                       "10\tn/a\tloss\t-5\tn/a\tlate\tn/a\n"
                                       "20.25\t0\tn/a\t0\t0.8\tn/a\tn/a\n"
                                       "30\t1.5\tgain\t12.5\t1\tok\tn/a\n");
  const auto ev = bids::read_events(f);
  EXPECT_EQ(ev.source, f);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev.onset, (std::vector<double>{0.5, 10, 20.25, 30}));
  EXPECT_EQ(ev.duration, (std::vector<double>{2, 0, 0, 1.5})); // n/a duration = impulse
  EXPECT_EQ(ev.trial_type, (std::vector<std::string>{"gain", "loss", "n/a", "gain"}));
  EXPECT_EQ(ev.trial_types(), (std::vector<std::string>{"gain", "loss"}));

  // "note" has text, so it is not a modulator; an all-n/a column still is (the model decides what to do).
  EXPECT_EQ(ev.modulator_names, (std::vector<std::string>{"gain", "response_time", "empty_mod"}));
  ASSERT_EQ(ev.modulators.size(), 3u);
  EXPECT_EQ(ev.modulators[0], (std::vector<double>{20, -5, 0, 12.5}));
  EXPECT_EQ(ev.modulators[1][0], 1.25);
  EXPECT_TRUE(std::isnan(ev.modulators[1][1]));
  EXPECT_EQ(ev.modulators[1][2], 0.8);
  for (double v : ev.modulators[2]) EXPECT_TRUE(std::isnan(v));
}

TEST(Events, WithoutTrialTypeAndWithoutRows) {
  TempDir d;
  const auto ev = bids::read_events(d.write("a_events.tsv", "onset\tduration\n1\t1\n2\t1\n"));
  EXPECT_EQ(ev.trial_type, (std::vector<std::string>{"", ""}));
  EXPECT_TRUE(ev.trial_types().empty());
  EXPECT_TRUE(ev.modulator_names.empty());

  const auto none = bids::read_events(d.write("b_events.tsv", "onset\tduration\ttrial_type\n"));
  EXPECT_EQ(none.size(), 0u);
  EXPECT_TRUE(none.trial_type.empty());
}

TEST(Events, MissingRequiredColumns) {
  TempDir d;
  const auto no_onset = d.write("no_onset_events.tsv", "start\tduration\n1\t1\n");
  std::string msg = error_of([&] { bids::read_events(no_onset); });
  EXPECT_CONTAINS(msg, no_onset.string());
  EXPECT_CONTAINS(msg, "missing required column \"onset\"");
  EXPECT_CONTAINS(msg, "the header has: start, duration");

  const auto no_duration = d.write("no_duration_events.tsv", "onset\ttrial_type\n1\tgain\n");
  msg = error_of([&] { bids::read_events(no_duration); });
  EXPECT_CONTAINS(msg, no_duration.string());
  EXPECT_CONTAINS(msg, "missing required column \"duration\"");
}

TEST(Events, BadValuesNameFileLineAndColumn) {
  TempDir d;
  const auto text_onset = d.write("x_events.tsv", "onset\tduration\n1\t1\n2.5s\t1\n");
  std::string msg = error_of([&] { bids::read_events(text_onset); });
  EXPECT_CONTAINS(msg, text_onset.string());
  EXPECT_CONTAINS(msg, "line 3, column \"onset\": \"2.5s\" is not a number");
  EXPECT_CONTAINS(msg, "seconds");

  const auto na_onset = d.write("y_events.tsv", "onset\tduration\nn/a\t1\n");
  msg = error_of([&] { bids::read_events(na_onset); });
  EXPECT_CONTAINS(msg, "line 2, column \"onset\": onset is n/a");

  const auto negative = d.write("z_events.tsv", "onset\tduration\n1\t1\n5\t-0.5\n");
  msg = error_of([&] { bids::read_events(negative); });
  EXPECT_CONTAINS(msg, negative.string());
  EXPECT_CONTAINS(msg, "line 3, column \"duration\": duration -0.5 s is negative");

  const auto text_duration = d.write("w_events.tsv", "onset\tduration\n1\tlong\n");
  msg = error_of([&] { bids::read_events(text_duration); });
  EXPECT_CONTAINS(msg, "line 2, column \"duration\": \"long\" is not a number");

  const auto infinite = d.write("v_events.tsv", "onset\tduration\ninf\t1\n");
  msg = error_of([&] { bids::read_events(infinite); });
  EXPECT_CONTAINS(msg, "line 2, column \"onset\"");
}

TEST(Events, FitToTheRun) {
  TempDir d;
  const auto f = d.write("run_events.tsv", "onset\tduration\n-2\t4\n0\t1\n95\t10\n");
  const auto ev = bids::read_events(f);
  // Starts inside a 100 s run and ends after it: allowed (the response is truncated).
  EXPECT_NO_THROW(bids::check_events_fit_run(ev, 100.0));

  std::string msg = error_of([&] { bids::check_events_fit_run(ev, 95.0); }); // starts exactly at the end
  EXPECT_CONTAINS(msg, f.string());
  EXPECT_CONTAINS(msg, "line 4: onset 95 s is at or after the end of the run (95 s");

  const auto early = d.write("early_events.tsv", "onset\tduration\n-150\t1\n");
  msg = error_of([&] { bids::check_events_fit_run(bids::read_events(early), 100.0); });
  EXPECT_CONTAINS(msg, "line 2: onset -150 s");

  msg = error_of([&] { bids::check_events_fit_run(ev, 0.0); });
  EXPECT_CONTAINS(msg, "run duration must be > 0");
}

// Tom et al. (2007) mixed gambles, sub-01 run-01: 86 trials every 4-8 s, 3 s each, one trial_type, with
// parametric gain/loss columns (parametric loss is n/a throughout in this copy).
TEST(Events, RealMixedGambles) {
  const fs::path f = rp_test::kSharedData /
                     "events/mixed_gambles_ds005/sub-01/func/sub-01_task-mixedgamblestask_run-01_events.tsv";
  const auto ev = bids::read_events(f);
  ASSERT_EQ(ev.size(), 86u);
  EXPECT_EQ(ev.onset.front(), 0.0);
  EXPECT_EQ(ev.onset[1], 4.0);
  EXPECT_EQ(ev.onset.back(), 474.0);
  for (double dur : ev.duration) EXPECT_EQ(dur, 3.0);
  EXPECT_EQ(ev.trial_types(), (std::vector<std::string>{"parametric gain"}));
  EXPECT_EQ(ev.modulator_names,
            (std::vector<std::string>{"parametric gain", "distance from indifference", "parametric loss",
                                      "gain", "loss", "PTval", "respnum", "respcat", "response_time"}));
  EXPECT_DOUBLE_EQ(ev.modulators[0][0], -0.139); // parametric gain
  EXPECT_EQ(ev.modulators[3][0], 20);            // gain ($)
  EXPECT_EQ(ev.modulators[4][0], 15);            // loss ($)
  EXPECT_DOUBLE_EQ(ev.modulators[8][1], 1.793);  // response_time
  for (double v : ev.modulators[2]) EXPECT_TRUE(std::isnan(v));

  // 240 volumes x TR 2 s = 480 s: every trial fits. Cut the run to 400 s and the trial at 402 s (line 72)
  // does not.
  EXPECT_NO_THROW(bids::check_events_fit_run(ev, 480.0));
  const std::string msg = error_of([&] { bids::check_events_fit_run(ev, 400.0); });
  EXPECT_CONTAINS(msg, "line 72: onset 402 s");
}

// ds005012 MID: BIDS onset/duration are n/a by design; the timing is in CUE_/PROBE_/FEEDBACK_ columns.
TEST(Events, RealMidNeedsItsOwnTimingColumns) {
  const fs::path f =
      rp_test::kSharedData / "events/mid_ds005012/sub-38/ses-1/func/sub-38_ses-1_task-mid_run-01_events.tsv";
  const std::string msg = error_of([&] { bids::read_events(f); });
  EXPECT_CONTAINS(msg, f.string());
  EXPECT_CONTAINS(msg, "line 2, column \"onset\": onset is n/a");
  EXPECT_CONTAINS(msg, "CUE_ONSET, FIXATION_ONSET, PROBE_ONSET, FEEDBACK_ONSET");

  const std::string missing = error_of([&] {
    bids::read_events(f, {"CUE_ONSET", "CUE_DURATION", "CONDITION"});
  });
  EXPECT_CONTAINS(missing, "missing required column \"CONDITION\" (the condition of each event)");

  const bids::EventColumns cue{"CUE_ONSET", "CUE_DURATION", "TRIAL_TYPE"};
  const auto ev = bids::read_events(f, cue);
  ASSERT_EQ(ev.size(), 50u);
  EXPECT_EQ(ev.onset.front(), 0.02);
  EXPECT_EQ(ev.onset.back(), 306.975);
  EXPECT_EQ(ev.duration.front(), 2.0);
  EXPECT_EQ(ev.trial_type.front(), "SmallGain");
  EXPECT_EQ(ev.trial_types(),
            (std::vector<std::string>{"LargeGain", "LargeLoss", "NoMoneyStake", "SmallGain", "SmallLoss"}));
  for (const auto& type : ev.trial_types())
    EXPECT_EQ(std::count(ev.trial_type.begin(), ev.trial_type.end(), type), 10) << type;
  // Text columns (TRIAL_RESULT, RESULT_REASON), the chosen timing and the n/a onset/duration are not
  // modulators.
  EXPECT_EQ(ev.modulator_names,
            (std::vector<std::string>{"FIXATION_ONSET", "FIXATION_DURATION", "PROBE_ONSET", "PROBE_DURATION",
                                      "FEEDBACK_ONSET", "FEEDBACK_DURATION", "PROBE_HIT", "PROBE_MRT"}));
  EXPECT_EQ(ev.modulators[6].back(), 0);       // PROBE_HIT of the last trial
  EXPECT_EQ(ev.modulators[4].back(), 313.324); // FEEDBACK_ONSET of the last trial
  // 407 volumes x TR 0.8 s (NOTES.md, bold.json)
  EXPECT_NO_THROW(bids::check_events_fit_run(ev, 407 * 0.8));
}

// Every one of the 240 real MID runs reads with the cue columns and fits its 325.6 s run.
TEST(Events, AllRealMidRunsFitTheirRuns) {
  const fs::path root = rp_test::kSharedData / "events/mid_ds005012";
  const bids::EventColumns cue{"CUE_ONSET", "CUE_DURATION", "TRIAL_TYPE"};
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (name.find("_events.tsv") == std::string::npos ||
        e.path().string().find("derivatives") != std::string::npos)
      continue;
    const auto ev = bids::read_events(e.path(), cue);
    EXPECT_EQ(ev.size(), 50u) << e.path();
    EXPECT_EQ(ev.trial_types().size(), 5u) << e.path();
    EXPECT_NO_THROW(bids::check_events_fit_run(ev, 407 * 0.8)) << e.path();
    ++files;
  }
  EXPECT_EQ(files, 240u);
}
