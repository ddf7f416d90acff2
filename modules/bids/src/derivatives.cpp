#include "rewardpath/bids/derivatives.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <string_view>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/provenance.hpp"

namespace rewardpath::bids {

namespace fs = std::filesystem;

namespace {

// Where an output goes: the run's own datatype folder, a fixed one, the subject folder or the output root.
enum class Place { datatype, source_datatype, subject, root };

struct Pattern {
  Output kind;
  std::string_view name;
  Place place;
  std::string_view datatype; // for Place::datatype
  std::string_view suffix;   // empty: the name ends with its last entity
  std::string_view extension;
  std::vector<std::pair<std::string_view, std::string_view>> fixed; // e.g. desc-confounds
  std::vector<std::string_view> required;                           // extra entities that must be given
  std::vector<std::string_view> optional;                           // extra entities that may be given
};

// The one table of output names. `extension` for xfm is a pseudo-entity: transforms come as .txt (ITK
// affine), .h5 (composite) or .nii.gz (displacement field).
const std::vector<Pattern>& patterns() {
  // clang-format off
  static const std::vector<Pattern> table{
      // kind                 name              place                   folder  suffix        extension
      //  fixed entities               required extras         optional extras
      {Output::mean_bold,      "mean_bold",      Place::datatype,        "func", "bold",       ".nii.gz",
       {{"desc", "mean"}},             {},                     {"space", "res"}},
      {Output::bold_summary,   "bold_summary",   Place::datatype,        "func", "bold",       ".json",
       {{"desc", "summary"}},          {},                     {}},
      {Output::confounds,      "confounds",      Place::datatype,        "func", "timeseries", ".tsv",
       {{"desc", "confounds"}},        {},                     {}},
      {Output::roi_timeseries, "roi_timeseries", Place::datatype,        "func", "timeseries", ".tsv",
       {},                             {"atlas"},              {"space", "desc"}},
      {Output::statmap,        "statmap",        Place::datatype,        "func", "statmap",    ".nii.gz",
       {},                             {"contrast", "stat"},   {"space", "res", "model", "desc"}},
      {Output::roi_table,      "roi_table",      Place::datatype,        "func", "roistats",   ".tsv",
       {},                             {"atlas", "contrast"},  {"space", "model", "stat", "desc"}},
      {Output::dseg,           "dseg",           Place::source_datatype, "",     "dseg",       ".nii.gz",
       {},                             {"atlas"},              {"space", "res", "desc"}},
      {Output::xfm,            "xfm",            Place::datatype,        "xfm",  "xfm",        ".txt",
       {{"mode", "image"}},            {"from", "to"},         {"mode", "desc", "extension"}},
      {Output::tacs,           "tacs",           Place::datatype,        "pet",  "tacs",       ".tsv",
       {},                             {"atlas"},              {"space", "desc"}},
      {Output::bp_table,       "bp_table",       Place::datatype,        "pet",  "bp",         ".tsv",
       {},                             {"atlas", "model"},     {"space", "desc"}},
      {Output::bp_map,         "bp_map",         Place::datatype,        "pet",  "mimap",      ".nii.gz",
       {{"meas", "BPnd"}},             {"model"},              {"space", "res", "meas", "desc"}},
      {Output::mean_pet,       "mean_pet",       Place::datatype,        "pet",  "pet",        ".nii.gz",
       {{"desc", "mean"}},             {},                     {"space", "res"}},
      {Output::pet_summary,    "pet_summary",    Place::datatype,        "pet",  "pet",        ".json",
       {{"desc", "summary"}},          {},                     {}},
      {Output::provenance,     "provenance",     Place::subject,         "",     "",           ".json",
       {{"desc", "provenance"}},       {},                     {}},
      {Output::report,         "report",         Place::root,            "",     "",           ".html",
       {},                             {},                     {}},
      {Output::dseg_table,     "dseg_table",     Place::source_datatype, "",     "dseg",       ".tsv",
       {},                             {"atlas"},              {"space", "res", "desc"}},
      {Output::probseg,        "probseg",        Place::source_datatype, "",     "probseg",    ".nii.gz",
       {},                             {"atlas"},              {"space", "res", "desc"}},
      {Output::registration_qc, "registration_qc", Place::subject,       "",     "qc",         ".json",
       {{"desc", "registration"}},     {},                     {}},
      {Output::registration_figure, "registration_figure", Place::datatype, "figures", "overlay", ".png",
       {{"desc", "registration"}},     {"space"},              {}},
      {Output::mean_pet_realigned, "mean_pet_realigned", Place::datatype, "pet", "pet",    ".nii.gz",
       {{"desc", "realignedmean"}},    {},                     {}},
      {Output::pet_motion,     "pet_motion",     Place::datatype,        "pet",  "timeseries", ".tsv",
       {{"desc", "motion"}},           {},                     {}},
      {Output::design_matrix,  "design_matrix",  Place::datatype,        "func", "design",     ".tsv",
       {{"desc", "glm"}},              {},                     {}},
      {Output::glm_summary,    "glm_summary",    Place::datatype,        "func", "statmap",    ".json",
       {{"desc", "glm"}},              {},                     {"space"}},
  };
  // clang-format on
  return table;
}

// BIDS entity order: raw-data entities, then derivatives-specific ones; desc always last.
constexpr std::array<std::string_view, 36> kOrder{
    "sub",   "ses",   "sample", "task",      "acq",   "ce",    "trc",      "stain", "rec",
    "dir",   "run",   "mod",    "echo",      "flip",  "inv",   "mt",       "part",  "proc",
    "hemi",  "space", "split",  "recording", "chunk", "atlas", "roi",      "res",   "den",
    "label", "from",  "to",     "mode",      "model", "meas",  "contrast", "stat",  "desc"};

// Unknown entities (a dataset's own) go after the known ones but before desc, alphabetically among
// themselves.
double rank(const std::string& key) {
  for (std::size_t i = 0; i < kOrder.size(); ++i)
    if (kOrder[i] == key) return static_cast<double>(i);
  return static_cast<double>(kOrder.size()) - 1.5;
}

bool is_label(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

bool contains(const std::vector<std::string_view>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string file_url(const fs::path& p) {
  fs::path abs = fs::absolute(p).lexically_normal();
  if (!abs.has_filename() && abs.has_parent_path() && abs != abs.root_path()) abs = abs.parent_path();
  std::string url = "file://";
  for (unsigned char c : abs.generic_string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~')
      url += static_cast<char>(c);
    else
      url += fmt::format("%{:02X}", c); // spaces and the like, so the URL stays a URL
  }
  return url;
}

} // namespace

fs::path derivative_path(const fs::path& out_root, const Entities& source, Output kind,
                         const std::map<std::string, std::string>& extra) {
  const auto& table = patterns();
  const auto it = std::find_if(table.begin(), table.end(), [&](const Pattern& p) { return p.kind == kind; });
  if (it == table.end())
    throw Error(fmt::format("no output name pattern for output kind {}", static_cast<int>(kind)));
  const Pattern& p = *it;
  const std::string what = fmt::format("output name for {}", p.name);

  const std::string sub = source.get("sub");
  if (!is_label(sub))
    throw Error("the source file has no sub- entity; derivatives are named after a subject's input")
        .context(what);
  for (const auto& req : p.required)
    if (!extra.count(std::string(req)))
      throw Error(fmt::format("entity \"{}\" is required (needs: {})", req, fmt::join(p.required, ", ")))
          .context(what);
  for (const auto& [key, value] : extra) {
    if (!contains(p.required, key) && !contains(p.optional, key)) {
      std::vector<std::string_view> allowed = p.required;
      allowed.insert(allowed.end(), p.optional.begin(), p.optional.end());
      throw Error(
          fmt::format("entity \"{}\" is not used for this output (allowed: {})", key,
                      allowed.empty() ? std::string("none") : fmt::format("{}", fmt::join(allowed, ", "))))
          .context(what);
    }
    if (key == "extension") {
      if (value.size() < 2 || value.front() != '.')
        throw Error(fmt::format("extension \"{}\" must start with a dot, e.g. \".h5\"", value)).context(what);
    } else if (!is_label(value)) {
      throw Error(fmt::format("entity \"{}\" has label \"{}\"; BIDS labels are letters and digits only (e.g. "
                              "\"gainVsNeutral\")",
                              key, value))
          .context(what);
    }
  }

  // Run-level outputs keep every source entity; subject-level ones keep only sub.
  std::map<std::string, std::string> ents;
  if (p.place == Place::subject || p.place == Place::root)
    ents["sub"] = sub;
  else
    ents = source.values;
  for (const auto& [k, v] : p.fixed) ents[std::string(k)] = std::string(v);
  std::string extension(p.extension);
  for (const auto& [k, v] : extra) {
    if (k == "extension")
      extension = v;
    else
      ents[k] = v;
  }

  if (p.place == Place::root) return out_root / fmt::format("sub-{}{}", sub, extension);

  std::vector<std::pair<std::string, std::string>> ordered(ents.begin(), ents.end());
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
  std::vector<std::string> parts;
  for (const auto& [k, v] : ordered) parts.push_back(k + "-" + v);
  if (!p.suffix.empty()) parts.emplace_back(p.suffix);
  const std::string filename = fmt::format("{}{}", fmt::join(parts, "_"), extension);

  fs::path dir = out_root / ("sub-" + sub);
  if (p.place == Place::subject) return dir / filename;
  if (source.has("ses")) dir /= "ses-" + source.get("ses");
  std::string datatype(p.datatype);
  if (p.place == Place::source_datatype)
    datatype = source.suffix == "pet" ? "pet" : source.suffix == "T1w" ? "anat" : "func";
  return dir / datatype / filename;
}

io::Json derivatives_description(const fs::path& source_dataset) {
  io::Json d = io::Json::object();
  d["Name"] = "rewardpath";
  d["BIDSVersion"] = "1.9.0";
  d["DatasetType"] = "derivative";
  d["GeneratedBy"] = io::Json::array({{{"Name", "rewardpath"}, {"Version", version()}}});
  d["SourceDatasets"] = io::Json::array({{{"URL", file_url(source_dataset)}}});
  return d;
}

} // namespace rewardpath::bids
