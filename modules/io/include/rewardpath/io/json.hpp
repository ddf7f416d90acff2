#pragma once
// JSON files (BIDS sidecars, configs, provenance) through nlohmann::json, with errors that name
// the file and the field.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace rewardpath::io {

using Json = nlohmann::json;

Json read_json(const std::filesystem::path& path);
void write_json(const std::filesystem::path& path, const Json& value); // atomic, indented

// Field access with checked types. Errors read: "<file>: field \"RepetitionTime\": expected a
// number, found string \"2s\"".
std::optional<double> optional_number(const Json& obj, const std::string& field, const std::string& where);
double required_number(const Json& obj, const std::string& field, const std::string& where);
std::optional<std::string> optional_string(const Json& obj, const std::string& field,
                                           const std::string& where);
std::optional<std::vector<double>> optional_number_array(const Json& obj, const std::string& field,
                                                         const std::string& where);

} // namespace rewardpath::io
