#include "rewardpath/bids/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>
#include <string_view>
#include <system_error>

#include "rewardpath/core/error.hpp"

namespace rewardpath::bids {

namespace fs = std::filesystem;

namespace {

struct BidsFile {
  fs::path path;
  Entities entities;
};

// Absolute and without "." / ".." or a trailing separator, so that paths compare and relate reliably.
fs::path normalized(const fs::path& p) {
  fs::path n = fs::absolute(p).lexically_normal();
  if (!n.has_filename() && n.has_parent_path() && n != n.root_path()) n = n.parent_path();
  return n;
}

// Orders "2" before "10" (digit runs compare by value) so sub-2 sorts before sub-10 and run-2 before
// run-10; equal-valued names ("01" vs "1") fall back to plain text order to keep the order total.
bool natural_less(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i])) != 0;
    const bool db = std::isdigit(static_cast<unsigned char>(b[j])) != 0;
    if (da && db) {
      std::size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
      std::string_view na = a.substr(i, ei - i), nb = b.substr(j, ej - j);
      while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  if ((a.size() - i) != (b.size() - j)) return (a.size() - i) < (b.size() - j);
  return a < b;
}

bool is_hidden(const fs::path& p) { return !p.filename().empty() && p.filename().string().front() == '.'; }

// Entries of `dir` (sorted, hidden ones skipped); an unreadable folder is an error naming it.
std::vector<fs::directory_entry> list_dir(const fs::path& dir) {
  std::vector<fs::directory_entry> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw Error(fmt::format("cannot list folder: {}", ec.message())).context(dir.string());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) throw Error(fmt::format("cannot list folder: {}", ec.message())).context(dir.string());
    if (!is_hidden(it->path())) out.push_back(*it);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& x, const auto& y) { return natural_less(x.path().string(), y.path().string()); });
  return out;
}

bool is_dir(const fs::directory_entry& e) {
  std::error_code ec;
  return e.is_directory(ec);
}

// Non-directory entries, including dangling symlinks (an un-fetched git-annex image is still a run; reading
// it later fails with the file's name rather than the run silently disappearing).
bool is_file_like(const fs::directory_entry& e) {
  std::error_code ec;
  return !e.is_directory(ec) && (e.is_regular_file(ec) || e.is_symlink(ec));
}

// BIDS-shaped files directly inside `dir`; names that are not BIDS-shaped are ignored, as .bidsignore would.
std::vector<BidsFile> bids_files(const fs::path& dir) {
  std::vector<BidsFile> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : list_dir(dir)) {
    if (!is_file_like(e)) continue;
    if (auto ent = parse_filename(e.path().filename().string())) out.push_back({e.path(), std::move(*ent)});
  }
  return out;
}

bool is_nifti(const Entities& e) { return e.extension == ".nii" || e.extension == ".nii.gz"; }

// Files with `suffix` + `extension` that apply to `data` under the inheritance principle, from the dataset
// root down to the data file's folder, least specific first. At one level, more entities = more specific; two
// applicable files with the same number of entities at one level are ambiguous (BIDS forbids it).
std::vector<fs::path> applicable_files(const fs::path& root, const fs::path& data_file, const Entities& data,
                                       const std::string& suffix, const std::string& extension) {
  const fs::path rel = data_file.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..")
    throw Error(fmt::format("the file is not inside the dataset root {}", root.string()))
        .context(data_file.string());

  std::vector<fs::path> levels{root};
  for (const auto& part : rel.parent_path()) levels.push_back(levels.back() / part);

  std::vector<fs::path> out;
  for (const auto& level : levels) {
    std::vector<BidsFile> found;
    for (auto& f : bids_files(level))
      if (f.entities.suffix == suffix && f.entities.extension == extension && f.path != data_file &&
          f.entities.is_subset_of(data))
        found.push_back(std::move(f));
    std::stable_sort(found.begin(), found.end(), [](const BidsFile& a, const BidsFile& b) {
      return a.entities.values.size() < b.entities.values.size();
    });
    for (std::size_t i = 0; i + 1 < found.size(); ++i)
      if (found[i].entities.values.size() == found[i + 1].entities.values.size())
        throw Error(
            fmt::format("two {} files apply equally to this file at the same folder level: {} and {}; BIDS "
                        "needs one of them to be more specific (more entities) or removed",
                        extension, found[i].path.filename().string(), found[i + 1].path.filename().string()))
            .context(data_file.string());
    for (auto& f : found) out.push_back(std::move(f.path));
  }
  return out;
}

io::Json merged_json(const std::vector<fs::path>& files) {
  io::Json merged = io::Json::object();
  for (const auto& f : files) {
    const io::Json j = io::read_json(f);
    if (!j.is_object())
      throw Error(fmt::format("a sidecar must hold a JSON object ({{...}}), found {}", j.type_name()))
          .context(f.string());
    // Shallow, key by key: a more specific sidecar replaces whole fields (BIDS inheritance), it does not
    // merge inside them.
    for (auto it = j.begin(); it != j.end(); ++it) merged[it.key()] = it.value();
  }
  return merged;
}

// A data file's name must agree with the folders it sits in, or outputs of two sessions would collide.
void check_placement(const BidsFile& f, const std::string& subject, const std::string& session) {
  const std::string sub = f.entities.get("sub");
  if (sub != subject)
    throw Error(sub.empty()
                    ? fmt::format("the name has no sub- entity but the file is in folder sub-{}; BIDS data "
                                  "file names start with sub-{}",
                                  subject, subject)
                    : fmt::format("the name says sub-{} but the file is in folder sub-{}; rename or move it",
                                  sub, subject))
        .context(f.path.string());
  const std::string ses = f.entities.get("ses");
  if (ses == session) return;
  if (session.empty())
    throw Error(fmt::format("the name says ses-{} but the file is not inside a ses-{} folder", ses, ses))
        .context(f.path.string());
  throw Error(ses.empty()
                  ? fmt::format("the file is in folder ses-{} but its name lacks ses-{}", session, session)
                  : fmt::format("the name says ses-{} but the file is in folder ses-{}", ses, session))
      .context(f.path.string());
}

void scan_datatypes(const fs::path& root, const fs::path& dir, const std::string& session, Subject& s) {
  for (auto& f : bids_files(dir / "func")) {
    if (f.entities.suffix != "bold" || !is_nifti(f.entities)) continue;
    check_placement(f, s.label, session);
    BoldRun run;
    run.image = f.path;
    run.entities = f.entities;
    const auto events = applicable_files(root, f.path, f.entities, "events", ".tsv");
    if (!events.empty()) run.events = events.back(); // TSV files do not merge: the most specific one applies
    run.sidecars = applicable_files(root, f.path, f.entities, "bold", ".json");
    run.metadata = merged_json(run.sidecars);
    s.bold.push_back(std::move(run));
  }
  const auto pet_files = bids_files(dir / "pet");
  for (const auto& f : pet_files) {
    if (f.entities.suffix != "pet" || !is_nifti(f.entities)) continue;
    check_placement(f, s.label, session);
    PetRun run;
    run.image = f.path;
    run.entities = f.entities;
    run.sidecars = applicable_files(root, f.path, f.entities, "pet", ".json");
    run.metadata = merged_json(run.sidecars);
    // One blood file per recording (autosampler, manual); recording- is not part of the image's name.
    for (const auto& b : pet_files) {
      if (b.entities.suffix != "blood" || b.entities.extension != ".tsv") continue;
      Entities without_recording = b.entities;
      without_recording.values.erase("recording");
      if (without_recording.is_subset_of(f.entities)) run.blood.push_back(b.path);
    }
    s.pet.push_back(std::move(run));
  }
  for (auto& f : bids_files(dir / "anat")) {
    if (f.entities.suffix != "T1w" || !is_nifti(f.entities)) continue;
    check_placement(f, s.label, session);
    s.t1w.push_back({f.path, f.entities});
  }
}

std::string strip_sub(const std::string& label) {
  return label.starts_with("sub-") ? label.substr(4) : label;
}

bool is_entity_dir(const fs::directory_entry& e, std::string_view prefix) {
  const std::string name = e.path().filename().string();
  if (!is_dir(e) || !name.starts_with(prefix) || name.size() == prefix.size()) return false;
  return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0; });
}

[[noreturn]] void throw_missing_description(const fs::path& root) {
  std::string hint;
  const std::string name = root.filename().string();
  if (name.starts_with("sub-") || name.starts_with("ses-") || name == "func" || name == "pet" ||
      name == "anat") {
    hint = "this looks like a folder inside a dataset; pass the dataset's top folder instead";
    for (fs::path p = root.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
      if (std::error_code ec; fs::exists(p / "dataset_description.json", ec)) {
        hint = fmt::format(
            "this looks like a folder inside a dataset; pass the dataset's top folder ({}) instead",
            p.string());
        break;
      }
  } else {
    bool has_subjects = false;
    for (const auto& e : list_dir(root)) {
      std::error_code ec;
      if (is_dir(e) && fs::exists(e.path() / "dataset_description.json", ec)) {
        hint = fmt::format("a dataset seems to be one level down; did you mean {}?", e.path().string());
        break;
      }
      has_subjects = has_subjects || is_entity_dir(e, "sub-");
    }
    if (hint.empty())
      hint =
          has_subjects
              ? "the folder has sub-* folders, but every BIDS dataset also needs a dataset_description.json "
                "at its top level (at least {\"Name\": \"...\", \"BIDSVersion\": \"1.9.0\"})"
              : "there are no sub-* folders either: this does not look like a BIDS dataset";
  }
  throw Error(fmt::format("no dataset_description.json in the BIDS folder; {}", hint)).context(root.string());
}

} // namespace

const Subject* Dataset::find_subject(const std::string& label) const {
  const std::string bare = strip_sub(label);
  for (const auto& s : subjects)
    if (s.label == bare) return &s;
  return nullptr;
}

io::Json inherited_metadata(const fs::path& root, const fs::path& data_file, std::vector<fs::path>* applied) {
  const fs::path r = normalized(root);
  const fs::path f = normalized(data_file);
  const auto e = parse_filename(f.filename().string());
  if (!e)
    throw Error("not a BIDS file name (expected key-value entities, a suffix and an extension, e.g. "
                "sub-01_task-mid_bold.nii.gz)")
        .context(f.string());
  auto files = applicable_files(r, f, *e, e->suffix, ".json");
  io::Json merged = merged_json(files);
  if (applied) *applied = std::move(files);
  return merged;
}

Dataset discover(const fs::path& root_in) {
  Dataset ds;
  ds.root = normalized(root_in);
  const fs::path& root = ds.root;
  std::error_code ec;
  const auto status = fs::status(root, ec);
  if (!fs::exists(status))
    throw Error(
        "the BIDS dataset folder does not exist (BIDS_DIR is the folder holding dataset_description.json)")
        .context(root.string());
  if (!fs::is_directory(status))
    throw Error("is a file, not a folder; BIDS_DIR is the dataset's top folder (the one holding "
                "dataset_description.json)")
        .context(root.string());
  const fs::path description = root / "dataset_description.json";
  if (!fs::exists(description, ec)) throw_missing_description(root);
  ds.description = io::read_json(description);
  if (!ds.description.is_object())
    throw Error(fmt::format("expected a JSON object ({{\"Name\": ..., \"BIDSVersion\": ...}}), found {}",
                            ds.description.type_name()))
        .context(description.string());
  if (fs::is_regular_file(root / "participants.tsv", ec)) ds.participants_tsv = root / "participants.tsv";

  // Only sub-* folders are read, so derivatives/, sourcedata/, code/ and hidden folders are never entered.
  for (const auto& entry : list_dir(root)) {
    if (!is_entity_dir(entry, "sub-")) continue;
    Subject s;
    s.label = entry.path().filename().string().substr(4);
    scan_datatypes(root, entry.path(), "", s);
    for (const auto& ses : list_dir(entry.path())) {
      if (!is_entity_dir(ses, "ses-")) continue;
      s.sessions.push_back(ses.path().filename().string().substr(4));
      scan_datatypes(root, ses.path(), s.sessions.back(), s);
    }
    ds.subjects.push_back(std::move(s));
  }
  std::sort(ds.subjects.begin(), ds.subjects.end(),
            [](const Subject& a, const Subject& b) { return natural_less(a.label, b.label); });
  return ds;
}

std::vector<std::string> select_participants(const Dataset& dataset, const std::vector<std::string>& labels) {
  std::set<std::string> wanted;
  std::vector<std::string> unknown;
  for (const auto& l : labels) {
    const std::string bare = strip_sub(l);
    if (dataset.find_subject(bare))
      wanted.insert(bare);
    else if (std::find(unknown.begin(), unknown.end(), l) == unknown.end())
      unknown.push_back(l);
  }
  if (!unknown.empty()) {
    std::vector<std::string> available;
    for (const auto& s : dataset.subjects) available.push_back(s.label);
    throw Error(
        fmt::format("participant label(s) {} not found; the dataset has: {}",
                    fmt::format("\"{}\"", fmt::join(unknown, "\", \"")),
                    available.empty() ? "no sub-* folders" : fmt::format("{}", fmt::join(available, ", "))))
        .context(dataset.root.string());
  }
  // Dataset order, each once, whatever the order and repetitions on the command line.
  std::vector<std::string> out;
  for (const auto& s : dataset.subjects)
    if (labels.empty() || wanted.count(s.label)) out.push_back(s.label);
  return out;
}

} // namespace rewardpath::bids
