// The ROI table (atlases/reward_rois.tsv) and the definition grammar.
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <optional>
#include <string_view>

#include "internal.hpp"
#include "rewardpath/core/error.hpp"

namespace rewardpath::atlas {
namespace detail {
namespace {

constexpr const char* kGrammar =
    "expected aal:N[+N...], aal:N[+N...];template=LO..HI or ellipsoid:A,B,C@X,Y,Z";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t p = s.find(sep, start);
    parts.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return parts;
}

[[noreturn]] void malformed(const std::string& text, const std::string& why) {
  throw Error(fmt::format("malformed definition \"{}\": {}; {}", text, why, kGrammar));
}

std::optional<int> parse_positive_int(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < 1) return std::nullopt;
  return v;
}

std::array<double, 3> parse_triple(const std::string& text, std::string_view s, const char* what) {
  const auto parts = split(s, ',');
  if (parts.size() != 3)
    malformed(text, fmt::format("{} needs 3 comma-separated numbers, got {}", what, parts.size()));
  std::array<double, 3> v{};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto x = io::parse_number(parts[i]);
    if (!x) malformed(text, fmt::format("{} \"{}\" is not a number", what, std::string(trim(parts[i]))));
    v[i] = *x;
  }
  return v;
}

} // namespace

Definition parse_definition(const std::string& text) {
  const std::string_view s = trim(text);
  Definition d;
  if (s.starts_with("aal:")) {
    d.kind = Definition::Kind::aal;
    std::string_view body = s.substr(4);
    const std::size_t semi = body.find(';');
    if (semi != std::string_view::npos) {
      const std::string_view mod = trim(body.substr(semi + 1));
      body = body.substr(0, semi);
      if (!mod.starts_with("template="))
        malformed(text, fmt::format("unknown restriction \"{}\" (only template=LO..HI)", std::string(mod)));
      const std::string_view range = mod.substr(9);
      const std::size_t dots = range.find("..");
      if (dots == std::string_view::npos)
        malformed(text, fmt::format("template range \"{}\" is not LO..HI", std::string(range)));
      const auto lo = io::parse_number(range.substr(0, dots));
      const auto hi = io::parse_number(range.substr(dots + 2));
      if (!lo || !hi || *lo > *hi)
        malformed(text, fmt::format("template range \"{}\" is not LO..HI with numbers LO <= HI",
                                    std::string(range)));
      d.template_restricted = true;
      d.template_lo = *lo;
      d.template_hi = *hi;
    }
    for (std::string_view part : split(body, '+')) {
      const auto label = parse_positive_int(part);
      if (!label)
        malformed(text, fmt::format("AAL label \"{}\" is not a positive integer", std::string(trim(part))));
      for (int existing : d.aal_labels)
        if (existing == *label) malformed(text, fmt::format("AAL label {} is listed twice", *label));
      d.aal_labels.push_back(*label);
    }
    return d;
  }
  if (s.starts_with("ellipsoid:")) {
    d.kind = Definition::Kind::ellipsoid;
    const std::string_view body = s.substr(10);
    const std::size_t at = body.find('@');
    if (at == std::string_view::npos) malformed(text, "the ellipsoid has no centre (\"@X,Y,Z\")");
    d.semi_axes_mm = parse_triple(text, body.substr(0, at), "semi-axes");
    d.centre_mm = parse_triple(text, body.substr(at + 1), "centre");
    for (double a : d.semi_axes_mm)
      if (!(a > 0.0)) malformed(text, fmt::format("semi-axis {} mm is not positive", a));
    return d;
  }
  malformed(text, "unknown kind");
}

void throw_cell_error(const std::filesystem::path& file, std::size_t line, const std::string& column,
                      const std::string& what) {
  throw Error(fmt::format("line {}, column \"{}\": {}", line, column, what)).context(file.string());
}

std::vector<TableRow> read_roi_rows(const std::filesystem::path& tsv) {
  const io::Table t = io::read_tsv(tsv);
  auto col = [&](const char* name) { return t.require_column(name); };
  const std::size_t c_index = col("index"), c_name = col("name"), c_structure = col("structure"),
                    c_hemi = col("hemisphere"), c_source = col("source"), c_def = col("definition"),
                    c_rx = col("ref_x"), c_ry = col("ref_y"), c_rz = col("ref_z"), c_ref = col("reference"),
                    c_vmin = col("volume_min_mm3"), c_vmax = col("volume_max_mm3"), c_cite = col("citation");
  const std::optional<std::size_t> c_tol = t.find_column("ref_tolerance_mm");
  if (t.row_count() == 0) throw Error("the ROI table has no rows").context(tsv.string());

  std::vector<TableRow> rows;
  std::map<int, std::size_t> index_row;        // index -> position in rows
  std::map<std::string, std::size_t> name_row; // name -> position in rows
  for (std::size_t r = 0; r < t.row_count(); ++r) {
    TableRow row;
    row.line = t.line_of_row(r);
    Roi& roi = row.roi;
    const auto fail = [&](std::size_t c, const std::string& what) {
      throw_cell_error(tsv, row.line, t.columns()[c], what);
    };
    const std::string& index_text = t.cell(r, c_index);
    const auto index = parse_positive_int(index_text);
    if (!index || *index > 32767)
      fail(c_index, fmt::format("\"{}\" is not a label index (expected an integer 1..32767)", index_text));
    roi.index = index.value();
    if (auto it = index_row.find(roi.index); it != index_row.end())
      fail(c_index, fmt::format("duplicate index {}: already used on line {} ({})", roi.index,
                                rows[it->second].line, rows[it->second].roi.name));

    roi.name = std::string(trim(t.cell(r, c_name)));
    if (roi.name.empty() || roi.name == "n/a" || roi.name.find_first_of(" \t") != std::string::npos)
      fail(c_name,
           fmt::format("\"{}\" is not an ROI name (expected a non-empty name without spaces)", roi.name));
    if (auto it = name_row.find(roi.name); it != name_row.end())
      fail(c_name,
           fmt::format("duplicate name {}: already used on line {}", roi.name, rows[it->second].line));

    roi.structure = std::string(trim(t.cell(r, c_structure)));
    roi.hemisphere = std::string(trim(t.cell(r, c_hemi)));
    if (roi.hemisphere != "L" && roi.hemisphere != "R" && roi.hemisphere != "bilateral")
      fail(c_hemi, fmt::format("\"{}\" is not a hemisphere (expected L, R or bilateral)", roi.hemisphere));

    roi.definition = std::string(trim(t.cell(r, c_def)));
    try {
      row.definition = parse_definition(roi.definition);
    } catch (const Error& e) {
      fail(c_def, e.message());
    }
    roi.source = std::string(trim(t.cell(r, c_source)));
    const bool is_aal = row.definition.kind == Definition::Kind::aal;
    if (roi.source != "AAL" && roi.source != "coordinates")
      fail(c_source, fmt::format("\"{}\" is not a source (expected AAL or coordinates)", roi.source));
    if ((roi.source == "AAL") != is_aal)
      fail(c_source, fmt::format("source \"{}\" does not match the definition \"{}\" (aal: needs AAL, "
                                 "ellipsoid: needs coordinates)",
                                 roi.source, roi.definition));

    const std::array<std::size_t, 3> c_ref_xyz{c_rx, c_ry, c_rz};
    int missing = 0;
    for (std::size_t a = 0; a < 3; ++a) {
      roi.reference_centroid_mm[a] = t.number(r, c_ref_xyz[a]); // n/a -> NaN; text -> error with line
      if (std::isnan(roi.reference_centroid_mm[a])) ++missing;
    }
    if (missing != 0 && missing != 3) fail(c_rx, "ref_x, ref_y and ref_z must be all numbers or all n/a");
    roi.reference = std::string(trim(t.cell(r, c_ref)));
    if (c_tol) {
      const double tol = t.number(r, *c_tol);
      if (std::isnan(tol)) {
        if (missing == 0) fail(*c_tol, "n/a, but the ROI has a reference centroid (expected mm > 0)");
      } else if (!(tol > 0.0)) {
        fail(*c_tol, fmt::format("{} is not a tolerance (expected mm > 0)", tol));
      } else {
        roi.ref_tolerance_mm = tol;
      }
    }
    roi.volume_min_mm3 = t.number(r, c_vmin);
    roi.volume_max_mm3 = t.number(r, c_vmax);
    if (!(roi.volume_min_mm3 >= 0.0)) fail(c_vmin, "expected a volume >= 0 mm3");
    if (!(roi.volume_max_mm3 >= roi.volume_min_mm3))
      fail(c_vmax, fmt::format("{} is below volume_min_mm3 {}", roi.volume_max_mm3, roi.volume_min_mm3));
    roi.citation = std::string(trim(t.cell(r, c_cite)));

    index_row[roi.index] = rows.size();
    name_row[roi.name] = rows.size();
    rows.push_back(std::move(row));
  }
  return rows;
}

} // namespace detail

bool Roi::has_reference() const {
  for (double v : reference_centroid_mm)
    if (!std::isfinite(v)) return false;
  return true;
}

std::vector<Roi> read_roi_table(const std::filesystem::path& tsv) {
  std::vector<Roi> rois;
  for (auto& row : detail::read_roi_rows(tsv)) rois.push_back(std::move(row.roi));
  return rois;
}

} // namespace rewardpath::atlas
