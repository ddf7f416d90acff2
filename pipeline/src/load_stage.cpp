#include "rewardpath/pipeline/load_stage.hpp"

#include <spdlog/spdlog.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "rewardpath/bids/derivatives.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/statistics.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/nifti.hpp"
#include "output_writer.hpp"

namespace rewardpath::pipeline {
namespace fs = std::filesystem;

namespace {

struct TemporalStats {
  Volume mean;
  std::vector<float> sd;
};

// Per-voxel (optionally weighted) mean and standard deviation over time: Welford's update per
// voxel, the volumes streamed from the file in blocks of ~64 MB (io::NiftiVolumeReader), so the
// run is never held in memory, whatever its length.
TemporalStats temporal_stats(const io::NiftiHeader& h, const std::vector<double>& weights) {
  const auto nvox = static_cast<std::size_t>(h.voxels_per_volume());
  const std::int64_t nt = h.volumes();
  const std::int64_t block =
      std::clamp<std::int64_t>((std::int64_t{64} << 20) / (4 * h.voxels_per_volume()), 1, nt);
  std::vector<double> mean(nvox, 0.0), m2(nvox, 0.0);
  std::vector<float> buf(static_cast<std::size_t>(block) * nvox);
  std::vector<double> w(static_cast<std::size_t>(block)), f(static_cast<std::size_t>(block));
  double wsum = 0.0;
  io::NiftiVolumeReader reader(h);
  for (std::int64_t t0 = 0; t0 < nt; t0 += block) {
    const auto count = static_cast<std::size_t>(std::min(block, nt - t0));
    reader.read(static_cast<std::int64_t>(count), std::span<float>(buf.data(), count * nvox));
    for (std::size_t j = 0; j < count; ++j) { // the running weight sum is the same for every voxel
      w[j] = weights.empty() ? 1.0 : weights[static_cast<std::size_t>(t0) + j];
      if (w[j] <= 0.0) continue;
      wsum += w[j];
      f[j] = w[j] / wsum;
    }
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, nvox, 4096), [&](const auto& r) {
      for (std::size_t j = 0; j < count; ++j) {
        if (w[j] <= 0.0) continue;
        const float* vol = buf.data() + j * nvox;
        for (std::size_t i = r.begin(); i != r.end(); ++i) {
          const double d = vol[i] - mean[i];
          mean[i] += f[j] * d;
          m2[i] += w[j] * d * (vol[i] - mean[i]);
        }
      }
    });
  }
  TemporalStats s{Volume(h.grid, 1, 0.0f), std::vector<float>(nvox, 0.0f)};
  for (std::size_t i = 0; i < nvox; ++i) {
    s.mean.data()[i] = static_cast<float>(mean[i]);
    s.sd[i] = wsum > 0 ? static_cast<float>(std::sqrt(std::max(0.0, m2[i] / wsum))) : 0.0f;
  }
  return s;
}

// SPM's global-mean brain mask: voxels above 0.8 x the mean of voxels above 1/8 of the grand mean.
std::vector<std::uint8_t> global_mean_mask(const Volume& mean) {
  const auto n = static_cast<std::size_t>(mean.voxels_per_volume());
  double grand = 0.0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (std::isfinite(mean.data()[i])) {
      grand += mean.data()[i];
      ++count;
    }
  grand = count ? grand / static_cast<double>(count) : 0.0;
  double upper = 0.0;
  std::size_t upper_n = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (std::isfinite(mean.data()[i]) && mean.data()[i] > grand / 8.0) {
      upper += mean.data()[i];
      ++upper_n;
    }
  const double threshold = upper_n ? 0.8 * upper / static_cast<double>(upper_n) : 0.0;
  std::vector<std::uint8_t> mask(n, 0);
  for (std::size_t i = 0; i < n; ++i)
    mask[i] = std::isfinite(mean.data()[i]) && mean.data()[i] > threshold && threshold > 0;
  return mask;
}

io::Json geometry_json(const io::NiftiHeader& h) {
  return {{"Dimensions", h.dim},
          {"NDim", h.ndim},
          {"VoxelSizeMm", h.grid.spacing_mm},
          {"Affine", h.grid.affine},
          {"AffineSource", h.affine_source},
          {"Space", h.grid.space},
          {"StoredDatatype", h.datatype_name()},
          {"NiftiVersion", h.version}};
}

std::string bids_uri(const fs::path& bids_dir, const fs::path& file) {
  return "bids:raw:" + fs::relative(file, bids_dir).generic_string();
}

// The mean and summary of one BOLD run; returns the mean.
Volume load_bold_run(const BoldInput& in, const fs::path& bids_dir, OutputWriter& out) {
  TemporalStats stats = temporal_stats(in.header, {});
  const auto mask = global_mean_mask(stats.mean);
  std::vector<double> tsnr;
  double signal = 0.0;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    if (!mask[i]) continue;
    signal += stats.mean.data()[i];
    if (stats.sd[i] > 0) tsnr.push_back(stats.mean.data()[i] / stats.sd[i]);
  }
  const std::size_t mask_voxels = static_cast<std::size_t>(std::count(mask.begin(), mask.end(), 1));
  out.nifti(bids::Output::mean_bold, {}, stats.mean, {},
            {{"Sources", {bids_uri(bids_dir, in.run.image)}},
             {"Description", "Temporal mean of the BOLD run, no motion correction"}});
  io::Json summary = geometry_json(in.header);
  summary["Sources"] = {bids_uri(bids_dir, in.run.image)};
  summary["RepetitionTime"] = in.metadata.repetition_time_s;
  summary["Volumes"] = in.header.volumes();
  summary["DurationSeconds"] = static_cast<double>(in.header.volumes()) * in.metadata.repetition_time_s;
  summary["SliceTimingGiven"] = !in.metadata.slice_timing_s.empty();
  summary["MaskVoxels"] = mask_voxels;
  summary["MeanSignalInMask"] = mask_voxels ? signal / static_cast<double>(mask_voxels) : 0.0;
  summary["MedianTSNRInMask"] = median(std::move(tsnr));
  if (in.events) {
    summary["Events"] = in.events->size();
    summary["TrialTypes"] = in.events->trial_types();
    summary["Modulators"] = in.events->modulator_names;
  }
  out.json(bids::Output::bold_summary, {}, summary);
  return std::move(stats.mean);
}

// The frame-duration-weighted mean and summary of one PET run; returns the mean.
Volume load_pet_run(const PetInput& in, const fs::path& bids_dir, OutputWriter& out) {
  TemporalStats stats = temporal_stats(in.header, in.metadata.frame_duration_s);
  out.nifti(bids::Output::mean_pet, {}, stats.mean, {},
            {{"Sources", {bids_uri(bids_dir, in.run.image)}},
             {"Description", "Frame-duration-weighted mean of the PET frames, no motion correction"},
             {"Units", in.metadata.units}});
  io::Json summary = geometry_json(in.header);
  summary["Sources"] = {bids_uri(bids_dir, in.run.image)};
  summary["Frames"] = in.metadata.frames();
  summary["FrameTimesStart"] = in.metadata.frame_times_start_s;
  summary["FrameDuration"] = in.metadata.frame_duration_s;
  summary["Units"] = in.metadata.units;
  summary["TracerName"] = in.metadata.tracer_name;
  if (in.metadata.decay_corrected) summary["ImageDecayCorrected"] = *in.metadata.decay_corrected;
  summary["BloodFiles"] = in.run.blood.size();
  out.json(bids::Output::pet_summary, {}, summary);
  return std::move(stats.mean);
}

} // namespace

LoadResult run_load_stage(const SubjectPlan& plan, const fs::path& bids_dir, const fs::path& out_dir) {
  LoadResult result;
  for (const auto& in : plan.bold)
    with_context(in.run.image.string(), [&] {
      OutputWriter out(out_dir, in.run.entities);
      result.bold_means.push_back(load_bold_run(in, bids_dir, out));
      append(result.outputs, out.take_outputs());
    });
  for (const auto& in : plan.pet)
    with_context(in.run.image.string(), [&] {
      OutputWriter out(out_dir, in.run.entities);
      result.pet_means.push_back(load_pet_run(in, bids_dir, out));
      append(result.outputs, out.take_outputs());
    });
  return result;
}

} // namespace rewardpath::pipeline
