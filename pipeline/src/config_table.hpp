#pragma once
// The configuration field tables' machinery: a Table<S> lists, for one JSON object, each key with
// its member of S, type (range, names), default and doc line. That one list parses (type, range
// and name checks; unknown keys), records the `source` JSON for provenance and renders the
// Markdown of docs/config.md. The tables themselves are in config.cpp.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rewardpath/core/error.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/pipeline/config.hpp"

namespace rewardpath::pipeline::config_table {

// Where a value is read: the section ("glm", "glm.contrasts[2]"; "" at top level) and the file.
struct Where {
  std::string section, file;
  std::string field(const std::string& key) const { return section.empty() ? key : section + "." + key; }
  Where inside(const std::string& key) const { return {field(key), file}; }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    ConfigError e(fmt::format("field \"{}\": {}", field(key), what));
    e.context(file);
    throw e;
  }
};

// A value as error messages quote it (short: a config value can be a large array).
inline std::string quote(const io::Json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

inline bool is_label(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

template <class S> struct Field {
  std::string key;
  std::string type;         // docs: "number in [0, 1]", "`\"ols\"`, `\"ar1\"`, `\"arp\"`"
  std::string default_text; // docs; empty: "required" when required
  std::string doc;          // one line
  bool required = false;
  std::function<void(S&)> set_default;
  std::function<bool(const S&)> is_default; // the struct's own initialiser agrees (a test checks)
  std::function<void(const io::Json&, S&, const Where&)> parse;
  std::function<io::Json(const S&)> record;
  std::function<bool(const S&)> recorded; // empty: always in the source JSON

  // Modifiers, chained onto the builders below.
  Field&& must() && {
    required = true;
    return std::move(*this);
  }
  Field&& recorded_if(std::function<bool(const S&)> f) && {
    recorded = std::move(f);
    return std::move(*this);
  }
  Field&& shown_default(std::string text) && {
    default_text = std::move(text);
    return std::move(*this);
  }
};

template <class S> struct Table {
  std::string section; // "glm", "glm.contrasts[]"; "" at top level
  std::vector<Field<S>> fields;
  std::function<void(const S&, const Where&)> check; // rules across fields, after parsing

  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    for (const auto& f : fields) k.push_back(f.key);
    return k;
  }
  void set_defaults(S& s) const {
    for (const auto& f : fields) f.set_default(s);
  }
  // Fields of `j` into `s` (whose defaults are set).
  void parse_into(const io::Json& j, S& s, const Where& w) const {
    if (!j.is_object()) {
      ConfigError e(w.section.empty()
                        ? std::string("the configuration must be a JSON object")
                        : fmt::format("field \"{}\": expected an object (see docs/config.md)", w.section));
      e.context(w.file);
      throw e;
    }
    const auto known = keys();
    for (const auto& [key, value] : j.items())
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        ConfigError e(
            w.section.empty()
                ? fmt::format("unknown configuration key \"{}\"; known keys: {} (see docs/config.md)", key,
                              fmt::join(known, ", "))
                : fmt::format("unknown key \"{}\" in \"{}\"; known keys: {} (see docs/config.md)", key,
                              w.section, fmt::join(known, ", ")));
        e.context(w.file);
        throw e;
      }
    for (const auto& f : fields) {
      if (auto it = j.find(f.key); it != j.end())
        f.parse(*it, s, w);
      else if (f.required)
        w.fail(f.key, "required: " + f.doc);
    }
    if (check) check(s, w);
  }
  S parse(const io::Json& j, const Where& w) const {
    S s;
    set_defaults(s);
    parse_into(j, s, w);
    return s;
  }
  io::Json record(const S& s) const {
    io::Json j = io::Json::object();
    for (const auto& f : fields)
      if (!f.recorded || f.recorded(s)) j[f.key] = f.record(s);
    return j;
  }
  // Keys whose member in `s` (e.g. a default-constructed S) differs from the table's default.
  std::vector<std::string> differing_defaults(const S& s) const {
    std::vector<std::string> out;
    for (const auto& f : fields)
      if (!f.is_default(s)) out.push_back(f.key);
    return out;
  }
  std::string markdown() const {
    std::string md = "| key | type | default | meaning |\n|---|---|---|---|\n";
    for (const auto& f : fields)
      md += fmt::format("| `{}` | {} | {} | {} |\n", f.key, f.type,
                        f.required ? std::string("required") : f.default_text, f.doc);
    return md;
  }
};

// ---- Builders: one per field kind. `def` is the table's default.

// A field of member type T with the common parts filled in; parse(v, w, key) -> T.
template <class S, class T, class ParseFn, class RecordFn>
Field<S> field(std::string key, T S::*m, T def, std::string type, std::string default_text, std::string doc,
               ParseFn parse_value, RecordFn record_value) {
  Field<S> f;
  f.key = key;
  f.type = std::move(type);
  f.default_text = std::move(default_text);
  f.doc = std::move(doc);
  f.set_default = [m, def](S& s) { s.*m = def; };
  f.is_default = [m, def](const S& s) { return s.*m == def; };
  f.parse = [m, key, parse_value](const io::Json& v, S& s, const Where& w) { s.*m = parse_value(v, w, key); };
  f.record = [m, record_value](const S& s) { return io::Json(record_value(s.*m)); };
  return f;
}

inline std::string code(const std::string& s) { return "`" + s + "`"; }
inline std::string num(double v) { return fmt::format("{}", v); }

template <class S> Field<S> flag(std::string key, bool S::*m, bool def, std::string doc) {
  return field<S>(
      std::move(key), m, def, "bool", code(def ? "true" : "false"), std::move(doc),
      [](const io::Json& v, const Where& w, const std::string& k) {
        if (!v.is_boolean()) w.fail(k, "expected true or false, got " + quote(v));
        return v.get<bool>();
      },
      [](bool b) { return b; });
}

inline std::string range_text(const char* what, double lo, double hi) {
  if (hi == std::numeric_limits<double>::infinity()) return fmt::format("{} ≥ {}", what, lo);
  return fmt::format("{} in [{}, {}]", what, lo, hi);
}

inline double number_in(const io::Json& v, double lo, double hi, const Where& w, const std::string& k) {
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo || v.get<double>() > hi)
    w.fail(k, fmt::format("expected a {}, got {}", range_text("number", lo, hi), quote(v)));
  return v.get<double>();
}

template <class S>
Field<S> number(std::string key, double S::*m, double lo, double hi, double def, std::string doc) {
  return field<S>(
      std::move(key), m, def, range_text("number", lo, hi), code(num(def)), std::move(doc),
      [lo, hi](const io::Json& v, const Where& w, const std::string& k) {
        return number_in(v, lo, hi, w, k);
      },
      [](double d) { return d; });
}

// Absent (none) unless given; recorded only when given.
template <class S>
Field<S> optional_number(std::string key, std::optional<double> S::*m, double lo, double hi,
                         std::string shown, std::string doc) {
  return field<S>(
             std::move(key), m, std::optional<double>{}, range_text("number", lo, hi), std::move(shown),
             std::move(doc),
             [lo, hi](const io::Json& v, const Where& w, const std::string& k) {
               return std::optional<double>(number_in(v, lo, hi, w, k));
             },
             [](const std::optional<double>& d) { return *d; })
      .recorded_if([m](const S& s) { return (s.*m).has_value(); });
}

template <class I> std::string integer_range_text(I lo, I hi) {
  if (hi == std::numeric_limits<I>::max()) return fmt::format("integer ≥ {}", lo);
  return fmt::format("integer in [{}, {}]", lo, hi);
}

template <class I> I integer_in(const io::Json& v, I lo, I hi, const Where& w, const std::string& k) {
  bool ok = v.is_number_integer();
  if (ok && v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    ok = std::cmp_greater_equal(u, lo) && std::cmp_less_equal(u, hi);
  } else if (ok) {
    const auto i = v.get<std::int64_t>();
    ok = std::cmp_greater_equal(i, lo) && std::cmp_less_equal(i, hi);
  }
  if (!ok) w.fail(k, fmt::format("expected an {}, got {}", integer_range_text(lo, hi), quote(v)));
  return v.get<I>();
}

template <class S, class I> Field<S> integer(std::string key, I S::*m, I lo, I hi, I def, std::string doc) {
  return field<S>(
      std::move(key), m, def, integer_range_text(lo, hi), code(fmt::format("{}", def)), std::move(doc),
      [lo, hi](const io::Json& v, const Where& w, const std::string& k) {
        return integer_in(v, lo, hi, w, k);
      },
      [](I i) { return i; });
}

// A non-empty array of integers.
template <class S>
Field<S> integers(std::string key, std::vector<int> S::*m, int lo, int hi, std::vector<int> def,
                  std::string doc) {
  return field<S>(
      std::move(key), m, def, fmt::format("array of integers in [{}, {}]", lo, hi),
      code(io::Json(def).dump()), std::move(doc),
      [lo, hi](const io::Json& v, const Where& w, const std::string& k) {
        if (!v.is_array() || v.empty())
          w.fail(k,
                 fmt::format("expected a non-empty array of integers in [{}, {}], got {}", lo, hi, quote(v)));
        std::vector<int> out;
        for (const auto& e : v) out.push_back(integer_in(e, lo, hi, w, k));
        return out;
      },
      [](const std::vector<int>& d) { return d; });
}

enum class Text { any, non_empty, label };

inline std::string text_in(const io::Json& v, Text rule, const Where& w, const std::string& k) {
  if (!v.is_string()) w.fail(k, "expected a string, got " + quote(v));
  const auto s = v.get<std::string>();
  if (rule == Text::non_empty && s.empty()) w.fail(k, "expected a non-empty string");
  if (rule == Text::label && !is_label(s))
    w.fail(k,
           fmt::format("\"{}\" must be letters and digits only (it becomes an entity of output names)", s));
  return s;
}

template <class S>
Field<S> text(std::string key, std::string S::*m, Text rule, std::string def, std::string doc) {
  return field<S>(
      std::move(key), m, def, rule == Text::label ? "letters and digits" : "string",
      def.empty() ? "none" : code("\"" + def + "\""), std::move(doc),
      [rule](const io::Json& v, const Where& w, const std::string& k) { return text_in(v, rule, w, k); },
      [](const std::string& s) { return s; });
}

// Recorded only when given.
template <class S> Field<S> path(std::string key, std::filesystem::path S::*m, std::string doc) {
  return field<S>(
             std::move(key), m, std::filesystem::path{}, "path", "none", std::move(doc),
             [](const io::Json& v, const Where& w, const std::string& k) {
               return std::filesystem::path(text_in(v, Text::non_empty, w, k));
             },
             [](const std::filesystem::path& p) { return p.string(); })
      .recorded_if([m](const S& s) { return !(s.*m).empty(); });
}

template <class S>
Field<S> texts(std::string key, std::vector<std::string> S::*m, std::string shown_default, std::string doc) {
  return field<S>(
      std::move(key), m, std::vector<std::string>{}, "array of strings", std::move(shown_default),
      std::move(doc),
      [](const io::Json& v, const Where& w, const std::string& k) {
        if (!v.is_array()) w.fail(k, "expected an array of strings, got " + quote(v));
        std::vector<std::string> out;
        for (const auto& e : v) {
          if (!e.is_string()) w.fail(k, "expected an array of strings, got " + quote(v));
          out.push_back(e.get<std::string>());
        }
        return out;
      },
      [](const std::vector<std::string>& s) { return s; });
}

// The names of E quoted, e.g. "ols", "ar1" (mark "`": Markdown code, `"ols"`, `"ar1"`).
template <class E> std::string quoted_names(const std::string& mark = "") {
  std::vector<std::string> q;
  for (const auto& [v, n] : option_names(E{})) q.push_back(fmt::format("{}\"{}\"{}", mark, n, mark));
  return fmt::format("{}", fmt::join(q, ", "));
}
template <class E> std::string names_text() { return quoted_names<E>(); }
template <class E> std::string names_code() { return quoted_names<E>("`"); }

template <class E> E enum_in(const io::Json& v, const Where& w, const std::string& k) {
  if (v.is_string())
    for (const auto& [value, n] : option_names(E{}))
      if (n == v.get<std::string>()) return value;
  w.fail(k, fmt::format("expected one of {}, got {}", names_text<E>(), quote(v)));
}

template <class S, class E> Field<S> choice(std::string key, E S::*m, E def, std::string doc) {
  return field<S>(
      std::move(key), m, def, names_code<E>(), code("\"" + option_name(def) + "\""), std::move(doc),
      [](const io::Json& v, const Where& w, const std::string& k) { return enum_in<E>(v, w, k); },
      [](E e) { return option_name(e); });
}

template <class S, class E>
Field<S> choices(std::string key, std::vector<E> S::*m, std::vector<E> def, std::string doc) {
  std::vector<std::string> shown;
  for (E e : def) shown.push_back(option_name(e));
  return field<S>(
      std::move(key), m, def, "array of " + names_code<E>(), code(io::Json(shown).dump()), std::move(doc),
      [](const io::Json& v, const Where& w, const std::string& k) {
        if (!v.is_array())
          w.fail(k, fmt::format("expected an array of {}, got {}", names_text<E>(), quote(v)));
        std::vector<E> out;
        for (const auto& e : v) out.push_back(enum_in<E>(e, w, k));
        return out;
      },
      [](const std::vector<E>& es) {
        io::Json j = io::Json::array();
        for (E e : es) j.push_back(option_name(e));
        return j;
      });
}

// An object member (a stage's section) parsed by its own table; present = enabled, and only then
// recorded (so the digest of configurations without it does not change).
template <class S, class T>
Field<S> section(std::string key, T S::*m, const Table<T>& (*table)(), std::string shown_default,
                 std::string doc) {
  Field<S> f;
  f.key = key;
  f.type = "object";
  f.default_text = std::move(shown_default);
  f.doc = std::move(doc);
  f.set_default = [m](S& s) { s.*m = T{}; };
  f.is_default = [m](const S& s) { return !(s.*m).enabled; };
  f.parse = [m, key, table](const io::Json& v, S& s, const Where& w) {
    s.*m = table().parse(v, w.inside(key));
    (s.*m).enabled = true;
  };
  f.record = [m, table](const S& s) { return table().record(s.*m); };
  f.recorded = [m](const S& s) { return (s.*m).enabled; };
  return f;
}

// A nested JSON object whose keys are members of S itself (registration.atlas).
template <class S>
Field<S> nested(std::string key, const Table<S>& (*table)(), std::function<bool(const S&)> given,
                std::string shown_default, std::string doc) {
  Field<S> f;
  f.key = key;
  f.type = fmt::format("object (`{}`)", table().section);
  f.default_text = std::move(shown_default);
  f.doc = std::move(doc);
  f.set_default = [table](S& s) { table().set_defaults(s); };
  f.is_default = [table](const S& s) { return table().differing_defaults(s).empty(); };
  f.parse = [key, table](const io::Json& v, S& s, const Where& w) {
    table().parse_into(v, s, w.inside(key));
  };
  f.record = [table](const S& s) { return table().record(s); };
  f.recorded = std::move(given);
  return f;
}

// An array of objects, each parsed by T's table.
template <class S, class T>
Field<S> objects(std::string key, std::vector<T> S::*m, const Table<T>& (*table)(), bool non_empty,
                 std::string shown_default, std::string doc) {
  Field<S> f;
  f.key = key;
  f.type = fmt::format("array of objects (`{}`)", table().section);
  f.default_text = std::move(shown_default);
  f.doc = std::move(doc);
  f.set_default = [m](S& s) { (s.*m).clear(); };
  f.is_default = [m](const S& s) { return (s.*m).empty(); };
  f.parse = [m, key, table, non_empty](const io::Json& v, S& s, const Where& w) {
    if (!v.is_array() || (non_empty && v.empty()))
      w.fail(key, fmt::format("expected {} array of objects (see docs/config.md), got {}",
                              non_empty ? "a non-empty" : "an", quote(v)));
    std::vector<T> out;
    for (std::size_t i = 0; i < v.size(); ++i)
      out.push_back(table().parse(v[i], w.inside(fmt::format("{}[{}]", key, i))));
    s.*m = std::move(out);
  };
  f.record = [m, table](const S& s) {
    io::Json j = io::Json::array();
    for (const auto& t : s.*m) j.push_back(table().record(t));
    return j;
  };
  return f;
}

} // namespace rewardpath::pipeline::config_table
