#pragma once
// Internal to modules/atlas: parsed ROI definitions and table rows with their source lines.
#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/atlas/atlas.hpp"

namespace rewardpath::atlas::detail {

struct Definition {
  enum class Kind { aal, ellipsoid };
  Kind kind = Kind::aal;
  // aal:N[+N...][;template=LO..HI]
  std::vector<int> aal_labels;
  bool template_restricted = false;
  double template_lo = 0.0;
  double template_hi = 0.0;
  // ellipsoid:A,B,C@X,Y,Z
  std::array<double, 3> semi_axes_mm{};
  std::array<double, 3> centre_mm{};
};

// Parses one definition. Throws Error saying what was seen and what the grammar expects (no file
// context: the caller adds file, line and column).
Definition parse_definition(const std::string& text);

struct TableRow {
  Roi roi;
  Definition definition;
  std::size_t line = 0; // 1-based line in the table file
};

std::vector<TableRow> read_roi_rows(const std::filesystem::path& tsv);

// "line 7, column "definition": <what>" with the file as context.
[[noreturn]] void throw_cell_error(const std::filesystem::path& file, std::size_t line,
                                   const std::string& column, const std::string& what);

} // namespace rewardpath::atlas::detail
