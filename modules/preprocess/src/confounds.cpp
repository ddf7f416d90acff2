#include "rewardpath/preprocess/confounds.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "rewardpath/core/error.hpp"
#include "rewardpath/core/statistics.hpp"

namespace rewardpath::preprocess {

namespace {
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

std::vector<std::size_t> mask_voxels(const Volume& bold, const std::vector<std::uint8_t>& mask) {
  const auto nv = static_cast<std::size_t>(bold.voxels_per_volume());
  if (!mask.empty() && mask.size() != nv)
    throw Error(fmt::format("mask has {} voxels, the run's volumes {}", mask.size(), nv));
  std::vector<std::size_t> idx;
  for (std::size_t v = 0; v < nv; ++v)
    if (mask.empty() || mask[v]) idx.push_back(v);
  if (idx.empty()) throw Error("the mask is empty (no voxel to compute confounds over)");
  return idx;
}
} // namespace

void ConfoundTable::add(std::string name, std::vector<double> values) {
  if (std::find(names.begin(), names.end(), name) != names.end())
    throw Error("confound column '" + name + "' is already in the table");
  if (!columns.empty() && values.size() != rows())
    throw Error(fmt::format("confound column '{}' has {} rows, the table {}", name, values.size(), rows()));
  names.push_back(std::move(name));
  columns.push_back(std::move(values));
}

const std::vector<double>& ConfoundTable::column(const std::string& name) const {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    std::string have;
    for (const auto& n : names) have += (have.empty() ? "" : ", ") + n;
    throw Error("no confound column '" + name + "' (columns: " + have + ")");
  }
  return columns[static_cast<std::size_t>(it - names.begin())];
}

std::vector<double> framewise_displacement(const std::vector<RigidParams>& p, double radius_mm) {
  if (!(radius_mm > 0.0)) throw Error("framewise displacement: sphere radius must be > 0 mm");
  std::vector<double> fd(p.size(), nan);
  for (std::size_t t = 1; t < p.size(); ++t) {
    double s = 0.0;
    for (std::size_t k = 0; k < 6; ++k) s += std::abs(p[t][k] - p[t - 1][k]) * (k < 3 ? 1.0 : radius_mm);
    fd[t] = s;
  }
  return fd;
}

Dvars dvars(const Volume& bold, const std::vector<std::uint8_t>& mask, const DvarsParams& params) {
  const std::int64_t nt = bold.volumes();
  if (nt < 2) throw Error(fmt::format("DVARS needs at least 2 volumes, got {}", nt));
  const auto idx = mask_voxels(bold, mask);
  const auto nv = static_cast<std::size_t>(bold.voxels_per_volume());
  const auto n = static_cast<std::size_t>(nt);
  double scale = 1.0;
  if (params.normalise_median_to > 0.0) {
    std::vector<float> all;
    all.reserve(idx.size() * n);
    for (std::size_t t = 0; t < n; ++t)
      for (auto v : idx) all.push_back(bold.data()[t * nv + v]);
    const double med = median(std::move(all));
    if (!(med != 0.0)) throw Error("DVARS: the median of the masked data is 0; cannot normalise");
    scale = params.normalise_median_to / med;
  }
  // Per masked voxel: robust sd and lag-1 autocorrelation -> expected sd of the difference.
  std::vector<double> sdhat(idx.size(), nan);
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, idx.size()), [&](const tbb::blocked_range<std::size_t>& r) {
        std::vector<double> y(n), sorted(n);
        for (std::size_t q = r.begin(); q != r.end(); ++q) {
          double mean = 0.0;
          for (std::size_t t = 0; t < n; ++t) mean += (y[t] = scale * bold.data()[t * nv + idx[q]]);
          mean /= static_cast<double>(n);
          sorted = y;
          std::sort(sorted.begin(), sorted.end());
          // numpy percentile(method="lower"): element floor(p (n - 1)) of the sorted series
          const double iqr = sorted[static_cast<std::size_t>(std::floor(0.75 * static_cast<double>(n - 1)))] -
                             sorted[static_cast<std::size_t>(std::floor(0.25 * static_cast<double>(n - 1)))];
          const double sd = iqr / 1.349;
          if (!(sd > 1e-10)) continue;
          double r0 = 0.0, r1 = 0.0;
          for (std::size_t t = 0; t < n; ++t) {
            const double a = y[t] - mean;
            r0 += a * a;
            if (t + 1 < n) r1 += a * (y[t + 1] - mean);
          }
          const double rho = r0 > 0.0 ? r1 / r0 : 0.0;
          sdhat[q] = sd * std::sqrt(2.0 * (1.0 - rho));
        }
      });
  double expected = 0.0;
  std::size_t counted = 0;
  for (double s : sdhat)
    if (!std::isnan(s)) expected += s, ++counted;
  expected = counted ? expected / static_cast<double>(counted) : nan;

  Dvars out;
  out.expected = expected;
  out.dvars.assign(n, nan);
  out.std_dvars.assign(n, nan);
  tbb::parallel_for(std::size_t{1}, n, [&](std::size_t t) {
    const float* a = bold.data() + t * nv;
    const float* b = a - nv;
    double s = 0.0;
    for (auto v : idx) {
      const double dv = scale * (static_cast<double>(a[v]) - b[v]);
      s += dv * dv;
    }
    out.dvars[t] = std::sqrt(s / static_cast<double>(idx.size()));
    out.std_dvars[t] = out.dvars[t] / expected;
  });
  return out;
}

std::vector<double> global_signal(const Volume& bold, const std::vector<std::uint8_t>& mask) {
  const auto idx = mask_voxels(bold, mask);
  const auto nv = static_cast<std::size_t>(bold.voxels_per_volume());
  std::vector<double> gs(static_cast<std::size_t>(bold.volumes()));
  tbb::parallel_for(std::size_t{0}, gs.size(), [&](std::size_t t) {
    double s = 0.0;
    for (auto v : idx) s += bold.data()[t * nv + v];
    gs[t] = s / static_cast<double>(idx.size());
  });
  return gs;
}

ConfoundTable confounds(const Volume& bold, const std::vector<RigidParams>& motion,
                        const std::vector<std::uint8_t>& mask, const DvarsParams& params) {
  if (motion.size() != static_cast<std::size_t>(bold.volumes()))
    throw Error(fmt::format("confounds: {} motion parameter rows for a run of {} volumes", motion.size(),
                            bold.volumes()));
  ConfoundTable t;
  t.add("global_signal", global_signal(bold, mask));
  auto d = dvars(bold, mask, params);
  t.add("std_dvars", std::move(d.std_dvars));
  t.add("dvars", std::move(d.dvars));
  t.add("framewise_displacement", framewise_displacement(motion));
  const char* names[6] = {"trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"};
  for (std::size_t k = 0; k < 6; ++k) {
    std::vector<double> c(motion.size());
    for (std::size_t r = 0; r < motion.size(); ++r) c[r] = motion[r][k];
    t.add(names[k], std::move(c));
  }
  return t;
}

io::Table to_tsv_table(const ConfoundTable& table) {
  io::Table out(table.names);
  for (std::size_t r = 0; r < table.rows(); ++r) {
    std::vector<std::string> cells;
    for (const auto& c : table.columns) cells.push_back(io::format_number(c[r])); // NaN -> n/a
    out.add_row(std::move(cells));
  }
  return out;
}

void write_confounds_tsv(const std::filesystem::path& path, const ConfoundTable& table) {
  io::write_tsv(path, to_tsv_table(table));
}

} // namespace rewardpath::preprocess
