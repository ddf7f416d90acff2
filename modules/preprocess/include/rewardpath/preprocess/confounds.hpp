#pragma once
// Confound time series with fMRIPrep/BIDS column names (one row per volume):
//   trans_x, trans_y, trans_z (mm), rot_x, rot_y, rot_z (rad)   realign's parameters (realign.hpp)
//   framewise_displacement  Power et al. 2012 (NeuroImage 59:2142): sum over the 6 parameters of
//                           |p_t - p_{t-1}|, rotations as arc length on a sphere of radius_mm (50)
//   dvars                   sqrt(mean over mask of (y_t - y_{t-1})^2)  (raw intensity units unless
//                           DvarsParams::normalise_median_to > 0, see below)
//   std_dvars               dvars / mean over mask of (sigma_v sqrt(2 (1 - rho_v))): the expected
//                           DVARS under an AR(1) null (Nichols' DVARS.m; nipype compute_dvars, which
//                           fMRIPrep uses; Afyouni & Nichols 2018, NeuroImage 169:437). sigma_v is a
//                           robust sd (IQR / 1.349, "lower" percentiles), rho_v the Yule-Walker lag-1
//                           autocorrelation of the demeaned series; voxels with sigma_v = 0 are left out
//                           of the mean (nipype's remove_zerovariance).
//   global_signal           mean over the mask of volume t
// Row 0 of framewise_displacement, dvars and std_dvars is undefined: NaN here, "n/a" in the TSV
// (as fMRIPrep writes it).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "rewardpath/core/volume.hpp"
#include "rewardpath/io/tsv.hpp"
#include "rewardpath/preprocess/realign.hpp"

namespace rewardpath::preprocess {

// Named columns of equal length; NaN marks an undefined value.
struct ConfoundTable {
  std::vector<std::string> names;
  std::vector<std::vector<double>> columns;

  std::size_t rows() const { return columns.empty() ? 0 : columns.front().size(); }
  // Appends a column; throws Error on a duplicate name or a length that differs from the others.
  void add(std::string name, std::vector<double> values);
  // The column called `name`; the error lists the columns there are.
  const std::vector<double>& column(const std::string& name) const;
};

// One value per volume; element 0 is NaN.
std::vector<double> framewise_displacement(const std::vector<RigidParams>& params, double radius_mm = 50.0);

struct DvarsParams {
  // nipype/fMRIPrep scale the masked data so that its median is 1000 before DVARS; 0 keeps the
  // raw units (the default here). std_dvars does not depend on this scale.
  double normalise_median_to = 0.0;
};
struct Dvars {
  std::vector<double> dvars;     // element 0 NaN
  std::vector<double> std_dvars; // element 0 NaN
  double expected = 0.0;         // mean over mask of sigma_v sqrt(2 (1 - rho_v)) (same units as dvars)
};
// `mask`: one byte per voxel of a volume (non-zero = in); empty = all voxels.
Dvars dvars(const Volume& bold, const std::vector<std::uint8_t>& mask, const DvarsParams& params = {});

std::vector<double> global_signal(const Volume& bold, const std::vector<std::uint8_t>& mask);

// The full set, in fMRIPrep's column order (global_signal, std_dvars, dvars, framewise_displacement,
// trans_x ... rot_z).
ConfoundTable confounds(const Volume& bold, const std::vector<RigidParams>& motion,
                        const std::vector<std::uint8_t>& mask, const DvarsParams& params = {});

io::Table to_tsv_table(const ConfoundTable& table);                                      // NaN -> "n/a"
void write_confounds_tsv(const std::filesystem::path& path, const ConfoundTable& table); // atomic

} // namespace rewardpath::preprocess
