#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <Eigen/Dense>

#include "rewardpath/core/error.hpp"
#include "rewardpath/timeseries/roi_signal.hpp"

namespace rewardpath::timeseries {

std::vector<double> first_eigenvariate(std::span<const double> y, std::int64_t times, std::int64_t voxels) {
  if (times <= 0 || voxels <= 0 || static_cast<std::int64_t>(y.size()) != times * voxels)
    throw Error(
        fmt::format("first_eigenvariate: {} values for {} times x {} voxels", y.size(), times, voxels));
  Eigen::MatrixXd m =
      Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(y.data(),
                                                                                               times, voxels);
  m.rowwise() -= m.colwise().mean();
  // The smaller Gram matrix gives the first singular pair cheaply (as spm_regions does).
  Eigen::VectorXd u, v;
  double s1 = 0.0;
  if (voxels <= times) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(m.transpose() * m);
    s1 = std::sqrt(std::max(0.0, es.eigenvalues()(voxels - 1)));
    v = es.eigenvectors().col(voxels - 1);
    u = s1 > 0 ? Eigen::VectorXd(m * v / s1) : Eigen::VectorXd::Zero(times);
  } else {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(m * m.transpose());
    s1 = std::sqrt(std::max(0.0, es.eigenvalues()(times - 1)));
    u = es.eigenvectors().col(times - 1);
    v = s1 > 0 ? Eigen::VectorXd(m.transpose() * u / s1) : Eigen::VectorXd::Zero(voxels);
  }
  if (v.sum() < 0) u = -u;
  const Eigen::VectorXd e = u * (s1 / std::sqrt(static_cast<double>(voxels)));
  return {e.data(), e.data() + e.size()};
}

namespace {

std::string label_list(const std::vector<int>& indices) {
  return fmt::format("{} {}", indices.size() == 1 ? "label" : "labels", fmt::join(indices, "+"));
}

// One region (the voxels of any of `indices`, in voxel order, inside the mask) appended to `out`.
void add_region(RoiSignals& out, const Volume& run, const Volume& labels, const std::string& name,
                const std::vector<int>& indices, std::span<const std::uint8_t> mask) {
  const std::int64_t nvox = run.voxels_per_volume();
  const std::int64_t nt = run.volumes();
  std::vector<std::int64_t> idx;
  std::int64_t labelled = 0;
  for (std::int64_t v = 0; v < nvox; ++v) {
    const long l = std::lround(labels.data()[v]);
    if (std::find(indices.begin(), indices.end(), l) == indices.end()) continue;
    ++labelled;
    if (mask.empty() || mask[v] != 0) idx.push_back(v);
  }
  out.names.push_back(name);
  if (idx.empty()) {
    // Kept in place (tables stay aligned with the atlas) and marked: NaN series, 0 voxels.
    out.voxels.push_back(0);
    out.mean.emplace_back(static_cast<std::size_t>(nt), std::nan(""));
    out.eigenvariate.emplace_back(static_cast<std::size_t>(nt), std::nan(""));
    out.missing.push_back(
        labelled == 0
            ? fmt::format("{} has no voxel in the run's image (outside its field of view, or too small "
                          "for its grid)",
                          label_list(indices))
            : fmt::format("all {} voxel(s) of {} are outside the run's brain mask", labelled,
                          label_list(indices)));
    return;
  }
  const auto nv = static_cast<std::int64_t>(idx.size());
  std::vector<double> block(static_cast<std::size_t>(nt * nv));
  std::vector<double> mean(static_cast<std::size_t>(nt), 0.0);
  for (std::int64_t t = 0; t < nt; ++t) {
    const float* vol = run.data() + t * nvox;
    double sum = 0.0;
    for (std::int64_t j = 0; j < nv; ++j) {
      const double x = vol[idx[j]];
      if (!std::isfinite(x))
        throw Error(fmt::format("ROI {}: non-finite value at volume {} (voxel {})", name, t, idx[j]));
      block[t * nv + j] = x;
      sum += x;
    }
    mean[t] = sum / static_cast<double>(nv);
  }
  out.voxels.push_back(nv);
  out.mean.push_back(std::move(mean));
  out.eigenvariate.push_back(first_eigenvariate(block, nt, nv));
  out.missing.emplace_back();
}

void check_inputs(const Volume& run, const Volume& labels, std::span<const std::uint8_t> mask) {
  if (!labels.grid().same_sampling(run.grid()) || labels.volumes() != 1)
    throw Error(
        "ROI label image and run differ in grid (dimensions, voxel size or affine): the labels must be "
        "resampled into the run's space first");
  const std::int64_t nvox = run.voxels_per_volume();
  if (!mask.empty() && static_cast<std::int64_t>(mask.size()) != nvox)
    throw Error(fmt::format("ROI extraction: mask has {} voxels, the run {}", mask.size(), nvox));
}

} // namespace

RoiSignals extract(const Volume& run, const Volume& labels, const std::vector<RoiLabel>& rois,
                   std::span<const std::uint8_t> mask) {
  check_inputs(run, labels, mask);
  RoiSignals out;
  for (const RoiLabel& roi : rois) add_region(out, run, labels, roi.name, {roi.index}, mask);
  return out;
}

RoiSignals extract_pooled(const Volume& run, const Volume& labels, const std::vector<RoiGroup>& rois,
                          std::span<const std::uint8_t> mask) {
  check_inputs(run, labels, mask);
  RoiSignals out;
  for (const RoiGroup& roi : rois) add_region(out, run, labels, roi.name, roi.indices, mask);
  return out;
}

} // namespace rewardpath::timeseries
