// BIDS TSV tables and JSON sidecars: n/a, ragged rows, BOM, CRLF, and errors that name the file,
// the line or field, and what was expected.
#include <gtest/gtest.h>

#include <cmath>

#include "io_test_util.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/tsv.hpp"

using namespace rewardpath;
using namespace rewardpath::io;
using namespace rp_test;

TEST(Tsv, ReadsNumbersAndNa) {
  TempDir dir;
  const auto p = dir / "events.tsv";
  write_text(p, "onset\tduration\ttrial_type\n1.5\t2\tgain\nn/a\t0.5\tloss\n-3e2\tn/a\tneutral\n");
  const Table t = read_tsv(p);
  EXPECT_EQ(t.source(), p);
  ASSERT_EQ(t.columns(), (std::vector<std::string>{"onset", "duration", "trial_type"}));
  ASSERT_EQ(t.row_count(), 3u);
  const auto onset = t.numbers("onset");
  EXPECT_DOUBLE_EQ(onset[0], 1.5);
  EXPECT_TRUE(std::isnan(onset[1]));
  EXPECT_DOUBLE_EQ(onset[2], -300.0);
  EXPECT_TRUE(t.is_na(1, 0));
  EXPECT_FALSE(t.is_number(1, 0));
  EXPECT_TRUE(t.is_number(0, 1));
  EXPECT_EQ(t.cell(2, 2), "neutral");
}

TEST(Tsv, NonNumberNamesFileLineAndColumn) {
  TempDir dir;
  const auto p = dir / "events.tsv";
  write_text(p, "onset\tduration\n1\t2\n3\tlong\n");
  const Table t = read_tsv(p);
  expect_mentions(error_of([&] { t.numbers("duration"); }),
                  {p.string(), "line 3", "column \"duration\"", "\"long\"", "expected a number or n/a"});
  expect_mentions(error_of([&] { t.require_column("amplitude"); }),
                  {p.string(), "missing required column \"amplitude\"", "onset, duration"});
}

TEST(Tsv, RaggedRowNamesLine) {
  TempDir dir;
  const auto p = dir / "ragged.tsv";
  write_text(p, "a\tb\tc\n1\t2\t3\n4\t5\n6\t7\t8\n");
  expect_mentions(error_of([&] { read_tsv(p); }),
                  {p.string(), "line 3", "2 tab-separated values", "3 columns"});
  write_text(p, "a\tb\n1\t2\t3\n");
  expect_mentions(error_of([&] { read_tsv(p); }),
                  {p.string(), "line 2", "3 tab-separated values", "2 columns"});
}

TEST(Tsv, BomAndCrlf) {
  TempDir dir;
  const auto p = dir / "bom_crlf.tsv";
  write_text(p, "\xEF\xBB\xBFonset\tduration\r\n1\t2.5\r\n3\tn/a\r\n");
  const Table t = read_tsv(p);
  ASSERT_EQ(t.columns(), (std::vector<std::string>{"onset", "duration"})); // BOM gone
  EXPECT_EQ(t.cell(0, 1), "2.5");                                          // no trailing '\r'
  EXPECT_TRUE(t.is_na(1, 1));
  EXPECT_DOUBLE_EQ(t.numbers("duration")[0], 2.5);
  EXPECT_EQ(t.require_column("onset"), 0u);
}

TEST(Tsv, TrailingBlankLineAndNoFinalNewline) {
  TempDir dir;
  const auto p = dir / "t.tsv";
  write_text(p, "x\n1\n2\n\n");
  EXPECT_EQ(read_tsv(p).row_count(), 2u);
  write_text(p, "x\n1\n2");
  EXPECT_EQ(read_tsv(p).row_count(), 2u);
}

TEST(Tsv, EmptyOrMissingFile) {
  TempDir dir;
  const auto p = dir / "empty.tsv";
  write_text(p, "");
  expect_mentions(error_of([&] { read_tsv(p); }), {p.string(), "empty", "header row"});
  write_text(p, "\n1\n");
  expect_mentions(error_of([&] { read_tsv(p); }), {p.string(), "empty header row"});
  expect_mentions(error_of([&] { read_tsv(dir / "nope.tsv"); }),
                  {(dir / "nope.tsv").string(), "cannot open"});
}

TEST(Tsv, WriteRoundTripAndNumberFormat) {
  TempDir dir;
  Table t({"roi", "beta"});
  t.add_row({"NAcc_L", format_number(0.1)});
  t.add_row({"VTA", format_number(std::nan(""))});
  t.add_row({"vmPFC", format_number(-1.25e-7)});
  EXPECT_THROW(t.add_row({"too", "many", "cells"}), Error);
  write_tsv(dir / "out.tsv", t);
  const Table back = read_tsv(dir / "out.tsv");
  EXPECT_EQ(back.cell(0, 1), "0.1");
  EXPECT_TRUE(back.is_na(1, 1));
  EXPECT_DOUBLE_EQ(back.number(2, 1), -1.25e-7);
  EXPECT_EQ(parse_number("2.5x"), std::nullopt);
  EXPECT_EQ(parse_number("+4"), 4.0);
  EXPECT_EQ(parse_number(""), std::nullopt);
}

TEST(Json, InvalidJsonNamesFile) {
  TempDir dir;
  const auto p = dir / "sub-01_task-mid_bold.json";
  write_text(p, "{\n  \"RepetitionTime\": 2.0,\n  \"TaskName\": \"mid\"\n  \"SliceTiming\": [0, 1]\n}\n");
  expect_mentions(error_of([&] { read_json(p); }), {p.string(), "invalid JSON", "line 4"});
  expect_mentions(error_of([&] { read_json(dir / "missing.json"); }),
                  {(dir / "missing.json").string(), "cannot open"});
}

// 100 000 '[' (a hostile or broken file) is a clear error naming the file, not a stack overflow;
// 64 levels are still read.
TEST(Json, DeepNestingIsAnErrorNotACrash) {
  TempDir dir;
  const auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  write_text(dir / "ok.json", nested(64));
  EXPECT_NO_THROW(read_json(dir / "ok.json"));
  for (const int depth : {65, 100000}) {
    const auto p = dir / ("deep" + std::to_string(depth) + ".json");
    write_text(p, nested(depth));
    expect_mentions(error_of([&] { read_json(p); }), {p.string(), "nested deeper than 64"});
  }
  const std::string objects = [] {
    std::string s;
    for (int i = 0; i < 70; ++i) s += "{\"a\":";
    return s + "1" + std::string(70, '}');
  }();
  write_text(dir / "deep_object.json", objects);
  expect_mentions(error_of([&] { read_json(dir / "deep_object.json"); }),
                  {"deep_object.json", "nested deeper"});
}

TEST(Json, BomIsAccepted) {
  TempDir dir;
  const auto p = dir / "bom.json";
  write_text(p, "\xEF\xBB\xBF{\"RepetitionTime\": 2}\r\n");
  EXPECT_DOUBLE_EQ(required_number(read_json(p), "RepetitionTime", p.string()), 2.0);
}

TEST(Json, FieldAccessTypeErrors) {
  const Json j = Json::parse(R"({"RepetitionTime": "2s", "TaskName": 3, "SliceTiming": [0, "x"],
                                 "Null": null, "EchoTime": 0.03})");
  const std::string where = "sub-01_bold.json";
  expect_mentions(error_of([&] { optional_number(j, "RepetitionTime", where); }),
                  {where, "field \"RepetitionTime\"", "expected a number", "found string \"2s\""});
  expect_mentions(error_of([&] { optional_string(j, "TaskName", where); }),
                  {where, "field \"TaskName\"", "expected a string", "number 3"});
  expect_mentions(error_of([&] { optional_number_array(j, "SliceTiming", where); }),
                  {where, "\"SliceTiming\"[1]", "expected a number", "string \"x\""});
  expect_mentions(error_of([&] { required_number(j, "FlipAngle", where); }),
                  {where, "required field \"FlipAngle\" is missing"});
  EXPECT_EQ(optional_number(j, "Null", where), std::nullopt);
  EXPECT_EQ(optional_number(j, "Missing", where), std::nullopt);
  EXPECT_DOUBLE_EQ(*optional_number(j, "EchoTime", where), 0.03);
}

TEST(Json, WriteIsAtomicAndReadable) {
  TempDir dir;
  const auto p = dir / "sub" / "desc.json";
  write_json(p, Json{{"Name", "rewardpath"}, {"Values", {1, 2.5}}});
  const Json back = read_json(p);
  EXPECT_EQ(back.at("Name"), "rewardpath");
  EXPECT_EQ(*optional_number_array(back, "Values", p.string()), (std::vector<double>{1, 2.5}));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir / "sub")) ++entries;
  EXPECT_EQ(entries, 1u);
}
