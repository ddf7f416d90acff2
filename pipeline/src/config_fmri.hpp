#pragma once
// Parsing of the fMRI parts of the configuration ("preprocess", "glm", "group"); docs/config.md.
#include <string>

#include "rewardpath/io/json.hpp"
#include "rewardpath/pipeline/config.hpp"

namespace rewardpath::pipeline {

PreprocessConfig parse_preprocess(const io::Json& j, const std::string& where);
io::Json preprocess_source(const PreprocessConfig& c);
GlmConfig parse_glm(const io::Json& j, const std::string& where);
io::Json glm_source(const GlmConfig& c);
GroupConfig parse_group(const io::Json& j, const std::string& where);
io::Json group_source(const GroupConfig& c);

} // namespace rewardpath::pipeline
