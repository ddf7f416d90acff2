#include "fmri_preprocess.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "rewardpath/core/error.hpp"
#include "rewardpath/preprocess/confounds.hpp"
#include "rewardpath/preprocess/mask.hpp"
#include "rewardpath/preprocess/realign.hpp"
#include "rewardpath/preprocess/smooth.hpp"
#include "rewardpath/preprocess/temporal.hpp"

namespace rewardpath::pipeline {

namespace pp = preprocess;

PreparedRun prepare_run(Volume& bold, const BoldInput& input, const PreprocessConfig& config) {
  PreparedRun p;
  const double tr = input.metadata.repetition_time_s;
  bold.set_time_step_s(tr);
  const auto& slice_timing = input.metadata.slice_timing_s;
  // Slice timing first, then realignment (SPM's order): the correction assumes each slice's
  // series is one place in the head, which holds up to the small motion of a compliant subject.
  if (config.enabled && config.slice_timing && !slice_timing.empty()) {
    pp::SliceTimingParams st;
    st.slice_timing_s = slice_timing;
    st.tr_s = tr;
    st.slice_time_ref = config.slice_time_ref;
    pp::slice_time_correct(bold, st);
    p.slice_time_ref = config.slice_time_ref;
    p.summary["SliceTimingCorrected"] = true;
    p.summary["SliceTimeRef"] = config.slice_time_ref;
  } else {
    p.summary["SliceTimingCorrected"] = false;
  }
  std::vector<pp::RigidParams> motion(static_cast<std::size_t>(bold.volumes()), pp::RigidParams{});
  if (config.enabled && config.realign) {
    const pp::RealignResult r = pp::realign(bold);
    motion = r.params;
    double max_t = 0, max_r = 0;
    for (const auto& m : motion) {
      for (int a = 0; a < 3; ++a) max_t = std::max(max_t, std::abs(m[a]));
      for (int a = 3; a < 6; ++a) max_r = std::max(max_r, std::abs(m[a]));
    }
    p.summary["Realigned"] = true;
    p.summary["MaxAbsTranslationMm"] = max_t;
    p.summary["MaxAbsRotationDeg"] = max_r * 180.0 / M_PI;
  } else {
    p.summary["Realigned"] = false;
  }
  const Volume mean = pp::mean_volume(bold);
  const pp::Mask mask = pp::compute_epi_mask(mean);
  p.mask = mask.voxels;
  p.summary["MaskVoxels"] = mask.count();
  if (mask.count() == 0)
    throw Error("the brain mask of the run's mean image is empty (is the run all zeros?)");
  if (config.enabled) {
    pp::ConfoundTable ct = pp::confounds(bold, motion, p.mask);
    if (!config.global_signal) {
      pp::ConfoundTable kept;
      for (std::size_t c = 0; c < ct.names.size(); ++c)
        if (ct.names[c] != "global_signal") kept.add(ct.names[c], ct.columns[c]);
      ct = std::move(kept);
    }
    const auto& fd = ct.column("framewise_displacement");
    double sum = 0, max = 0;
    std::int64_t above = 0;
    for (std::size_t i = 1; i < fd.size(); ++i) {
      sum += fd[i];
      max = std::max(max, fd[i]);
      above += fd[i] > 0.5;
    }
    p.summary["MeanFramewiseDisplacementMm"] = fd.size() > 1 ? sum / static_cast<double>(fd.size() - 1) : 0.0;
    p.summary["MaxFramewiseDisplacementMm"] = max;
    p.summary["VolumesAboveFd0p5Mm"] = above;
    p.confounds = pp::to_tsv_table(ct);
  }
  if (config.enabled && config.high_pass_s > 0) {
    pp::highpass(bold, config.high_pass_s, p.mask, tr);
    p.summary["HighPassSeconds"] = config.high_pass_s;
  }
  return p;
}

void smooth_for_glm(Volume& bold, const PreprocessConfig& config) {
  if (config.enabled && config.smoothing_fwhm_mm > 0) pp::smooth(bold, config.smoothing_fwhm_mm);
}

} // namespace rewardpath::pipeline
