#include "rewardpath/io/json.hpp"

#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "rewardpath/core/atomic_file.hpp"
#include "rewardpath/core/error.hpp"

namespace rewardpath::io {

// Objects and arrays nested deeper than this are an error naming the file: the parser itself is
// iterative, but dump(), comparison and recursive readers are not (100 000 '[' overflow the stack).
constexpr int kMaxJsonDepth = 64;

Json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open file").context(path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  const auto depth_limit = [&](int depth, Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth + 1 > kMaxJsonDepth)
      throw Error(fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth)).context(path.string());
    return true;
  };
  try {
    return Json::parse(ss.str(), depth_limit);
  } catch (const Json::parse_error& e) {
    throw Error(fmt::format("invalid JSON: {}", e.what())).context(path.string());
  }
}

void write_json(const std::filesystem::path& path, const Json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

namespace {
std::string describe(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return fmt::format("{} {}", v.type_name(), s);
}
} // namespace

std::optional<double> optional_number(const Json& obj, const std::string& field, const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number())
    throw Error(fmt::format("field \"{}\": expected a number, found {}", field, describe(*it)))
        .context(where);
  return it->get<double>();
}

double required_number(const Json& obj, const std::string& field, const std::string& where) {
  if (auto v = optional_number(obj, field, where)) return *v;
  throw Error(fmt::format("required field \"{}\" is missing", field)).context(where);
}

std::optional<std::string> optional_string(const Json& obj, const std::string& field,
                                           const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_string())
    throw Error(fmt::format("field \"{}\": expected a string, found {}", field, describe(*it)))
        .context(where);
  return it->get<std::string>();
}

std::optional<std::vector<double>> optional_number_array(const Json& obj, const std::string& field,
                                                         const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_array())
    throw Error(fmt::format("field \"{}\": expected an array of numbers, found {}", field, describe(*it)))
        .context(where);
  std::vector<double> out;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const Json& e = (*it)[i];
    if (!e.is_number())
      throw Error(fmt::format("field \"{}\"[{}]: expected a number, found {}", field, i, describe(e)))
          .context(where);
    out.push_back(e.get<double>());
  }
  return out;
}

} // namespace rewardpath::io
