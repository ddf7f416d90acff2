#pragma once
// BIDS tabular files: UTF-8, tab-separated, a header row, "n/a" for missing values.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace rewardpath::io {

class Table {
public:
  Table() = default;
  explicit Table(std::vector<std::string> columns) : columns_(std::move(columns)) {}

  const std::filesystem::path& source() const { return source_; }
  const std::vector<std::string>& columns() const { return columns_; }
  std::size_t row_count() const { return rows_.size(); }
  const std::vector<std::string>& row(std::size_t r) const { return rows_.at(r); }

  std::optional<std::size_t> find_column(const std::string& name) const;
  // Index of a column that must exist; the error lists the columns that do.
  std::size_t require_column(const std::string& name) const;

  const std::string& cell(std::size_t row, std::size_t col) const { return rows_.at(row).at(col); }
  bool is_na(std::size_t row, std::size_t col) const;
  std::size_t line_of_row(std::size_t row) const; // for messages: the row's line in the file
  // The cell as a number; "n/a" gives NaN. Errors name the file, line and column.
  double number(std::size_t row, std::size_t col) const;
  bool is_number(std::size_t row, std::size_t col) const;
  std::vector<double> numbers(const std::string& column) const;

  void add_row(std::vector<std::string> cells); // must have one cell per column

  friend Table read_tsv(const std::filesystem::path& path);

private:
  std::filesystem::path source_;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::size_t> row_lines_; // 1-based line of each row in the source (blank lines skipped)
};

Table read_tsv(const std::filesystem::path& path);
std::string to_tsv_text(const Table& table);
void write_tsv(const std::filesystem::path& path, const Table& table); // atomic

// Shortest round-trip text for a number; NaN becomes "n/a".
std::string format_number(double value);
// Parses a whole string as a finite number (surrounding spaces allowed, no other text); nullopt
// otherwise, including for "nan" and "inf".
std::optional<double> parse_number(std::string_view text);

} // namespace rewardpath::io
