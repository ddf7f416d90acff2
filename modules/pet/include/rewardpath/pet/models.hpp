#pragma once
// The PET models by name: what the configuration selects and what output names and tables say
// (model- entity, "Model" sidecar field). One table, so no stage compares model strings.
#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace rewardpath::pet {

// Reference-tissue models (reference.hpp).
enum class ReferenceModel { srtm, srtm2, mrtm, mrtm2, logan_ref, bf_srtm };
// Plasma-input models (plasma.hpp); they need an arterial input function.
enum class PlasmaModel { one_tcm, two_tcm, logan_plasma };

inline constexpr std::array<std::pair<ReferenceModel, std::string_view>, 6> kReferenceModelNames{{
    {ReferenceModel::srtm, "SRTM"},
    {ReferenceModel::srtm2, "SRTM2"},
    {ReferenceModel::mrtm, "MRTM"},
    {ReferenceModel::mrtm2, "MRTM2"},
    {ReferenceModel::logan_ref, "LoganRef"},
    {ReferenceModel::bf_srtm, "BFSRTM"},
}};
inline constexpr std::array<std::pair<PlasmaModel, std::string_view>, 3> kPlasmaModelNames{{
    {PlasmaModel::one_tcm, "1TCM"},
    {PlasmaModel::two_tcm, "2TCM"},
    {PlasmaModel::logan_plasma, "LoganPlasma"},
}};

constexpr std::string_view name(ReferenceModel m) {
  for (const auto& [model, n] : kReferenceModelNames)
    if (model == m) return n;
  return "?";
}
constexpr std::string_view name(PlasmaModel m) {
  for (const auto& [model, n] : kPlasmaModelNames)
    if (model == m) return n;
  return "?";
}

// Models whose k2' is given (estimated beforehand from the k2' regions), not fitted.
constexpr bool uses_fixed_k2prime(ReferenceModel m) {
  return m == ReferenceModel::srtm2 || m == ReferenceModel::mrtm2 || m == ReferenceModel::logan_ref;
}

} // namespace rewardpath::pet
