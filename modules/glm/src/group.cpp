// Group designs from participants.tsv (+ phenotype/*.tsv) and the group ROI table (see docs/group.md).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/design.hpp"
#include "rewardpath/glm/group.hpp"

namespace rewardpath::glm {
namespace {

using Eigen::Index;
using Eigen::MatrixXd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string with_sub(const std::string& id) {
  const std::string t = trim(id);
  return t.rfind("sub-", 0) == 0 ? t : "sub-" + t;
}

std::string name_of(const io::Table& t) {
  return t.source().empty() ? std::string("participants table") : t.source().filename().string();
}

bool valid_name(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  });
}

std::string sanitise(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

// A table indexed by participant_id.
struct Indexed {
  const io::Table* table = nullptr;
  std::map<std::string, std::size_t> row_of;
};

Indexed index_table(const io::Table& t) {
  Indexed ix;
  ix.table = &t;
  const std::size_t c = with_context(name_of(t), [&] { return t.require_column("participant_id"); });
  for (std::size_t r = 0; r < t.row_count(); ++r) {
    const std::string id = with_sub(t.cell(r, c));
    if (!ix.row_of.emplace(id, r).second)
      throw Error(name_of(t) + ": participant_id '" + id + "' appears twice (line " +
                  std::to_string(t.line_of_row(r)) + ")");
  }
  return ix;
}

// Where a needed column lives.
struct ColumnRef {
  const Indexed* ix = nullptr;
  std::size_t col = 0;
};

ColumnRef find_column(const std::vector<Indexed>& tables, const std::string& name, const std::string& role) {
  ColumnRef ref;
  std::vector<std::string> holders, names;
  for (const auto& ix : tables) {
    names.push_back(name_of(*ix.table));
    if (auto c = ix.table->find_column(name)) {
      if (!ref.ix) ref.ix = &ix, ref.col = *c;
      holders.push_back(name_of(*ix.table));
    }
  }
  if (holders.empty()) {
    std::string cols;
    for (const auto& ix : tables) cols += "; " + name_of(*ix.table) + ": " + join(ix.table->columns());
    throw Error(role + " column '" + name + "' not found in " + join(names) + " (columns" + cols + ")");
  }
  if (holders.size() > 1)
    throw Error(role + " column '" + name + "' appears in several tables (" + join(holders) +
                "); keep it in one");
  return ref;
}

std::string where(const ColumnRef& ref, std::size_t row) {
  return name_of(*ref.ix->table) + " line " + std::to_string(ref.ix->table->line_of_row(row));
}

} // namespace

GroupDesign make_group_design(const std::vector<io::Table>& tables, const GroupSpec& spec,
                              const std::vector<std::string>& subjects) {
  GroupDesign d;
  d.kind = spec.kind;
  d.covariates = spec.covariates;
  const bool two = spec.kind == GroupKind::two_sample;
  if (two) {
    if (spec.group_column.empty() || spec.level_a.empty() || spec.level_b.empty())
      throw Error("two_sample design needs group_column, level_a and level_b (e.g. group, patient, control)");
    if (spec.level_a == spec.level_b) throw Error("two_sample levels are both '" + spec.level_a + "'");
  }
  std::set<std::string> seen_cov;
  for (const auto& c : spec.covariates) {
    if (!valid_name(c))
      throw Error("covariate '" + c +
                  "' cannot be a design column name (letters, digits, '_', '.'; not starting "
                  "with a digit): rename the column");
    if (c == "intercept" || c == "participant_id" || (two && c == spec.group_column))
      throw Error("covariate '" + c + "' clashes with a design column");
    if (!seen_cov.insert(c).second) throw Error("covariate '" + c + "' listed twice");
  }
  const bool needs_table = two || !spec.covariates.empty();
  if (needs_table && tables.empty()) throw Error("group design needs participants.tsv for its columns");
  std::vector<Indexed> ix;
  for (const auto& t : tables) ix.push_back(index_table(t));
  for (const auto& t : tables) d.sources.push_back(t.source().string());

  // Subjects in data order.
  std::vector<std::string> ids;
  if (subjects.empty()) {
    if (tables.empty()) throw Error("group design: no subjects given and no participants.tsv");
    const io::Table& t = tables.front();
    const std::size_t c = t.require_column("participant_id");
    for (std::size_t r = 0; r < t.row_count(); ++r) ids.push_back(with_sub(t.cell(r, c)));
  } else {
    for (const auto& s : subjects) ids.push_back(with_sub(s));
  }
  {
    std::set<std::string> u;
    for (const auto& s : ids)
      if (!u.insert(s).second) throw Error("group design: subject '" + s + "' given twice");
  }

  ColumnRef gref;
  if (two) {
    gref = find_column(ix, spec.group_column, "group");
    std::set<std::string> levels;
    for (std::size_t r = 0; r < gref.ix->table->row_count(); ++r)
      if (!gref.ix->table->is_na(r, gref.col)) levels.insert(trim(gref.ix->table->cell(r, gref.col)));
    for (const auto* lv : {&spec.level_a, &spec.level_b})
      if (!levels.count(*lv))
        throw Error(name_of(*gref.ix->table) + ": column '" + spec.group_column + "' has no level '" + *lv +
                    "'; levels present: " + join(std::vector<std::string>(levels.begin(), levels.end())));
  }
  std::vector<ColumnRef> crefs;
  for (const auto& c : spec.covariates) crefs.push_back(find_column(ix, c, "covariate"));

  std::vector<double> group_code;
  std::vector<std::vector<double>> cov(spec.covariates.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string& id = ids[i];
    std::string reason;
    double code = 0.0;
    std::vector<double> vals(spec.covariates.size());
    if (two) {
      const auto it = gref.ix->row_of.find(id);
      if (it == gref.ix->row_of.end()) {
        reason = "not in " + name_of(*gref.ix->table);
      } else {
        const std::string v = trim(gref.ix->table->cell(it->second, gref.col));
        if (gref.ix->table->is_na(it->second, gref.col))
          reason = spec.group_column + " is n/a (" + where(gref, it->second) + ")";
        else if (v == spec.level_a)
          code = 0.5;
        else if (v == spec.level_b)
          code = -0.5;
        else
          reason = spec.group_column + " is '" + v + "', neither '" + spec.level_a + "' nor '" +
                   spec.level_b + "' (" + where(gref, it->second) + ")";
      }
    }
    for (std::size_t c = 0; c < crefs.size() && reason.empty(); ++c) {
      const ColumnRef& ref = crefs[c];
      const auto it = ref.ix->row_of.find(id);
      const std::string& name = spec.covariates[c];
      if (it == ref.ix->row_of.end()) {
        reason = name + ": not in " + name_of(*ref.ix->table);
      } else if (ref.ix->table->is_na(it->second, ref.col)) {
        reason = name + " is n/a (" + where(ref, it->second) + ")";
      } else if (auto v = io::parse_number(ref.ix->table->cell(it->second, ref.col))) {
        vals[c] = *v;
      } else {
        reason = name + " = '" + ref.ix->table->cell(it->second, ref.col) + "' is not a number (" +
                 where(ref, it->second) + ")";
      }
    }
    if (!reason.empty()) {
      d.excluded.push_back({id, reason});
      continue;
    }
    d.participants.push_back(id);
    d.rows.push_back(static_cast<std::int64_t>(i));
    group_code.push_back(code);
    for (std::size_t c = 0; c < vals.size(); ++c) cov[c].push_back(vals[c]);
  }

  d.columns.push_back("intercept");
  if (two) d.columns.push_back("group_" + sanitise(spec.level_a) + "_minus_" + sanitise(spec.level_b));
  for (const auto& c : spec.covariates) d.columns.push_back(c);
  const auto n = static_cast<Index>(d.participants.size());
  const auto k = static_cast<Index>(d.columns.size());
  if (n < k + 1) {
    std::string ex;
    for (const auto& e : d.excluded) ex += "; " + e.participant_id + ": " + e.reason;
    throw Error("group design: " + std::to_string(n) + " subject(s) remain but " + std::to_string(k) +
                " design column(s) (" + join(d.columns) + ") need at least " + std::to_string(k + 1) +
                (d.excluded.empty() ? std::string() : " (excluded" + ex + ")"));
  }
  d.matrix.resize(n, k);
  d.matrix.col(0).setOnes();
  Index col = 1;
  if (two) {
    for (Index i = 0; i < n; ++i) d.matrix(i, col) = group_code[static_cast<std::size_t>(i)];
    ++col;
  }
  for (std::size_t c = 0; c < cov.size(); ++c, ++col) {
    double mean = 0.0;
    for (double v : cov[c]) mean += v;
    mean /= static_cast<double>(n);
    d.covariate_means.push_back(mean);
    for (Index i = 0; i < n; ++i) d.matrix(i, col) = cov[c][static_cast<std::size_t>(i)] - mean;
  }
  if (two) {
    const auto na = std::count(group_code.begin(), group_code.end(), 0.5);
    if (na == 0 || na == static_cast<long>(n))
      throw Error("group design: no included subject in level '" + (na == 0 ? spec.level_a : spec.level_b) +
                  "' of column '" + spec.group_column + "'");
  }
  with_context("group design", [&] { check_full_rank(d.matrix, d.columns); });
  d.contrast = !spec.contrast.empty() ? spec.contrast : two ? d.columns[1] : "intercept";
  with_context("group design", [&] { parse_contrast(d.contrast, d.columns); });
  return d;
}

GroupDesign make_group_design(const std::filesystem::path& bids_root, const GroupSpec& spec,
                              const std::vector<std::string>& subjects) {
  std::vector<io::Table> tables;
  const auto participants = bids_root / "participants.tsv";
  const bool needs_table = spec.kind == GroupKind::two_sample || !spec.covariates.empty();
  if (std::filesystem::exists(participants)) {
    tables.push_back(io::read_tsv(participants));
  } else if (needs_table) {
    throw Error(participants.string() + ": not found; the group design needs its columns (" +
                (spec.kind == GroupKind::two_sample ? spec.group_column : join(spec.covariates)) + ")");
  }
  if (!tables.empty() && std::filesystem::is_directory(bids_root / "phenotype")) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(bids_root / "phenotype"))
      if (e.path().extension() == ".tsv") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) tables.push_back(io::read_tsv(f));
  }
  if (!needs_table && !subjects.empty()) tables.clear(); // nothing to look up
  return make_group_design(tables, spec, subjects);
}

Eigen::MatrixXd select_rows(const GroupDesign& design, const Eigen::Ref<const Eigen::MatrixXd>& y) {
  MatrixXd out(static_cast<Index>(design.rows.size()), y.cols());
  for (std::size_t i = 0; i < design.rows.size(); ++i) {
    if (design.rows[i] >= y.rows())
      throw Error("select_rows: data has " + std::to_string(y.rows()) + " rows, the design refers to row " +
                  std::to_string(design.rows[i]));
    out.row(static_cast<Index>(i)) = y.row(design.rows[i]);
  }
  return out;
}

Eigen::MatrixXd paired_differences(const Eigen::Ref<const Eigen::MatrixXd>& first,
                                   const Eigen::Ref<const Eigen::MatrixXd>& second) {
  if (first.rows() != second.rows() || first.cols() != second.cols())
    throw Error("paired data: first is " + std::to_string(first.rows()) + "x" + std::to_string(first.cols()) +
                ", second " + std::to_string(second.rows()) + "x" + std::to_string(second.cols()));
  return first - second;
}

GroupRoiTable group_roi_table(const GroupDesign& design, const Eigen::Ref<const Eigen::MatrixXd>& values,
                              const std::vector<std::string>& roi_names,
                              const std::vector<std::string>& contrasts, const GroupTestParams& params) {
  if (static_cast<Index>(roi_names.size()) != values.cols())
    throw Error("group ROI table: " + std::to_string(values.cols()) + " ROI columns but " +
                std::to_string(roi_names.size()) + " names");
  GroupRoiTable out;
  out.design = design;
  out.params = params;
  const std::vector<std::string> list =
      contrasts.empty() ? std::vector<std::string>{design.contrast} : contrasts;
  for (const auto& expr : list) {
    const GroupResult r = group_test(design, values, {expr}, params);
    // A covariate's slope: weight 1 on one covariate column and 0 elsewhere.
    const Eigen::VectorXd w = r.weights.row(0).transpose();
    bool covariate = false;
    for (const auto& c : design.covariates) {
      const auto it = std::find(design.columns.begin(), design.columns.end(), c);
      const Index j = it - design.columns.begin();
      Eigen::VectorXd unit = Eigen::VectorXd::Zero(w.size());
      unit(j) = 1.0;
      if (w == unit) covariate = true;
    }
    for (Index v = 0; v < values.cols(); ++v) {
      GroupRoiRow row;
      row.roi = roi_names[static_cast<std::size_t>(v)];
      row.contrast = expr;
      row.n = r.n(v);
      row.effect = r.effect(0, v);
      row.se = r.se(v);
      row.t = r.stat(v);
      row.dof = r.dof(v);
      row.p = r.p(v);
      row.z = r.z(v);
      row.p_fdr = r.p_fdr(v);
      row.p_fwe = r.p_fwe(v);
      row.covariate = covariate;
      row.r = covariate ? row.t / std::sqrt(row.t * row.t + row.dof) : kNaN;
      out.rows.push_back(row);
    }
    out.permutation.push_back(r.permutation);
  }
  return out;
}

io::Table to_table(const GroupRoiTable& table) {
  io::Table t({"roi", "contrast", "n", "effect", "se", "t", "dof", "p", "z", "p_fdr", "p_fwe", "slope", "r"});
  using io::format_number;
  for (const auto& r : table.rows)
    t.add_row({r.roi, r.contrast, std::to_string(r.n), format_number(r.effect), format_number(r.se),
               format_number(r.t), format_number(r.dof), format_number(r.p), format_number(r.z),
               format_number(r.p_fdr), format_number(r.p_fwe), r.covariate ? format_number(r.effect) : "n/a",
               r.covariate ? format_number(r.r) : "n/a"});
  return t;
}

namespace {
const char* kind_name(GroupKind k) {
  switch (k) {
  case GroupKind::two_sample:
    return "two_sample";
  case GroupKind::paired:
    return "paired";
  case GroupKind::one_sample:
    break;
  }
  return "one_sample";
}
const char* scheme_name(PermutationScheme s) {
  switch (s) {
  case PermutationScheme::sign_flip:
    return "sign_flip";
  case PermutationScheme::permute:
    return "permute";
  case PermutationScheme::automatic:
    break;
  }
  return "automatic";
}
const char* tail_name(Tail t) {
  switch (t) {
  case Tail::greater:
    return "greater";
  case Tail::less:
    return "less";
  case Tail::two_sided:
    break;
  }
  return "two_sided";
}
// JSON has no NaN: null instead.
io::Json num(double v) { return std::isfinite(v) ? io::Json(v) : io::Json(nullptr); }
} // namespace

io::Json to_json(const GroupRoiTable& table) {
  const GroupDesign& d = table.design;
  io::Json j;
  j["Design"]["Kind"] = kind_name(d.kind);
  j["Design"]["Columns"] = d.columns;
  j["Design"]["Participants"] = d.participants;
  j["Design"]["DefaultContrast"] = d.contrast;
  j["Design"]["Sources"] = d.sources;
  io::Json means = io::Json::object();
  for (std::size_t c = 0; c < d.covariates.size(); ++c) means[d.covariates[c]] = num(d.covariate_means[c]);
  j["Design"]["CovariateMeans"] = means;
  io::Json ex = io::Json::array();
  for (const auto& e : d.excluded) ex.push_back({{"participant_id", e.participant_id}, {"reason", e.reason}});
  j["Design"]["Excluded"] = ex;
  j["Test"]["Tail"] = tail_name(table.params.tail);
  j["Test"]["Permutations"] = table.params.permutations;
  j["Test"]["Seed"] = table.params.seed;
  io::Json perms = io::Json::array();
  for (const auto& p : table.permutation)
    perms.push_back({{"Count", p.count},
                     {"Exact", p.exact},
                     {"Scheme", scheme_name(p.scheme)},
                     {"FreedmanLane", p.freedman_lane},
                     {"Alpha", p.alpha},
                     {"FWEThreshold", num(p.fwe_threshold)}});
  j["Test"]["PermutationByContrast"] = perms;
  io::Json rows = io::Json::array();
  for (const auto& r : table.rows) {
    io::Json o = {{"roi", r.roi},
                  {"contrast", r.contrast},
                  {"n", r.n},
                  {"effect", num(r.effect)},
                  {"se", num(r.se)},
                  {"t", num(r.t)},
                  {"dof", num(r.dof)},
                  {"p", num(r.p)},
                  {"z", num(r.z)},
                  {"p_fdr", num(r.p_fdr)},
                  {"p_fwe", num(r.p_fwe)}};
    if (r.covariate) o["slope"] = num(r.effect), o["r"] = num(r.r);
    rows.push_back(o);
  }
  j["Rows"] = rows;
  return j;
}

void write_group_roi_table(const GroupRoiTable& table, const std::filesystem::path& tsv) {
  io::write_tsv(tsv, to_table(table));
  auto json = tsv;
  json.replace_extension(".json");
  io::write_json(json, to_json(table));
}

} // namespace rewardpath::glm
