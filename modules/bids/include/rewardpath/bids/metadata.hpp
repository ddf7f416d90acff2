#pragma once
// Typed, validated views of the sidecar fields the pipeline needs.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rewardpath/io/json.hpp"

namespace rewardpath::bids {

struct BoldMetadata {
  double repetition_time_s = 0.0;     // RepetitionTime, required, > 0
  std::vector<double> slice_timing_s; // SliceTiming, optional; each in [0, TR)
  std::string task_name;              // TaskName, optional
};

// `where` names the image the metadata belongs to (for errors). `slices`, when given, must equal
// the SliceTiming length.
BoldMetadata bold_metadata(const io::Json& merged, const std::string& where,
                           std::optional<std::int64_t> slices = {});

struct PetMetadata {
  std::vector<double> frame_times_start_s;       // FrameTimesStart, required
  std::vector<double> frame_duration_s;          // FrameDuration, required, same length, > 0
  std::string units;                             // Units, required, e.g. "Bq/mL"
  std::string tracer_name;                       // TracerName, required by BIDS-PET
  std::optional<bool> decay_corrected;           // ImageDecayCorrected
  std::optional<double> decay_correction_time_s; // ImageDecayCorrectionTime
  std::optional<double> injected_radioactivity;  // InjectedRadioactivity
  std::string injected_radioactivity_units;
  std::optional<double> tracer_half_life_s; // from TracerRadionuclide when known (C11, F18, O15, N13)

  std::size_t frames() const { return frame_times_start_s.size(); }
  std::vector<double> frame_mid_times_s() const;
};

// Frames must be sorted and non-overlapping (start[i] + duration[i] <= start[i+1] within 1 ms).
// `frames`, when given, must equal the number of frames in the sidecar.
PetMetadata pet_metadata(const io::Json& merged, const std::string& where,
                         std::optional<std::int64_t> frames = {});

// BIDS-PET *_blood.tsv with its sidecar: time (s) and any of plasma_radioactivity,
// whole_blood_radioactivity, metabolite_parent_fraction; NaN where n/a.
struct BloodData {
  std::filesystem::path source;
  std::vector<double> time_s;
  std::vector<double> plasma_radioactivity;
  std::vector<double> whole_blood_radioactivity;
  std::vector<double> metabolite_parent_fraction;
  std::string plasma_units; // from the sidecar's column description, if given
  std::string whole_blood_units;
};
BloodData read_blood(const std::filesystem::path& tsv);

} // namespace rewardpath::bids
