#include "rewardpath/io/tsv.hpp"

#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "rewardpath/core/atomic_file.hpp"
#include "rewardpath/core/error.hpp"

namespace rewardpath::io {

namespace {
std::vector<std::string> split_tabs(std::string_view line) {
  std::vector<std::string> cells;
  std::size_t start = 0;
  while (true) {
    const std::size_t tab = line.find('\t', start);
    cells.emplace_back(
        line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return cells;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}
} // namespace

std::optional<double> parse_number(std::string_view text) {
  text = trim(text);
  if (text.size() > 1 && text.front() == '+' && text[1] != '-' && text[1] != '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string format_number(double value) {
  if (std::isnan(value)) return "n/a";
  return fmt::format("{}", value);
}

std::optional<std::size_t> Table::find_column(const std::string& name) const {
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i] == name) return i;
  return std::nullopt;
}

std::size_t Table::require_column(const std::string& name) const {
  if (auto i = find_column(name)) return *i;
  std::string have;
  for (const auto& c : columns_) have += (have.empty() ? "" : ", ") + c;
  throw Error(fmt::format("missing required column \"{}\"; the header has: {}", name, have))
      .context(source_.string());
}

bool Table::is_na(std::size_t row, std::size_t col) const { return trim(cell(row, col)) == "n/a"; }

std::size_t Table::line_of_row(std::size_t row) const {
  return row < row_lines_.size() ? row_lines_[row] : row + 2;
}

bool Table::is_number(std::size_t row, std::size_t col) const {
  return parse_number(cell(row, col)).has_value();
}

double Table::number(std::size_t row, std::size_t col) const {
  const std::string& c = cell(row, col);
  if (trim(c) == "n/a") return std::nan("");
  if (auto v = parse_number(c)) return *v;
  throw Error(fmt::format("line {}, column \"{}\": \"{}\" is not a number (expected a number or n/a)",
                          line_of_row(row), columns_.at(col), c))
      .context(source_.string());
}

std::vector<double> Table::numbers(const std::string& column) const {
  const std::size_t c = require_column(column);
  std::vector<double> out(rows_.size());
  for (std::size_t r = 0; r < rows_.size(); ++r) out[r] = number(r, c);
  return out;
}

void Table::add_row(std::vector<std::string> cells) {
  if (cells.size() != columns_.size())
    throw Error(fmt::format("row has {} cells, the table has {} columns", cells.size(), columns_.size()));
  rows_.push_back(std::move(cells));
  row_lines_.push_back(rows_.size() + 1);
}

Table read_tsv(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open file").context(path.string());
  Table t;
  t.source_ = path;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3); // UTF-8 BOM
    if (line_no == 1) {
      if (line.empty())
        throw Error("empty header row; a BIDS TSV file starts with column names").context(path.string());
      t.columns_ = split_tabs(line);
      for (auto& c : t.columns_) c = std::string(trim(c));
      continue;
    }
    if (line.empty()) continue; // tolerate blank lines (common at end of file)
    auto cells = split_tabs(line);
    if (cells.size() != t.columns_.size())
      throw Error(fmt::format("line {} has {} tab-separated values, the header has {} columns", line_no,
                              cells.size(), t.columns_.size()))
          .context(path.string());
    t.rows_.push_back(std::move(cells));
    t.row_lines_.push_back(line_no);
  }
  if (line_no == 0)
    throw Error("file is empty; a BIDS TSV file starts with a header row").context(path.string());
  return t;
}

std::string to_tsv_text(const Table& table) {
  std::string out;
  for (std::size_t i = 0; i < table.columns().size(); ++i) out += (i ? "\t" : "") + table.columns()[i];
  out += '\n';
  for (std::size_t r = 0; r < table.row_count(); ++r) {
    const auto& row = table.row(r);
    for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "\t" : "") + row[i];
    out += '\n';
  }
  return out;
}

void write_tsv(const std::filesystem::path& path, const Table& table) {
  write_file_atomic(path, to_tsv_text(table));
}

} // namespace rewardpath::io
