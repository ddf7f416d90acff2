#pragma once
// BIDS Derivatives output names from one pattern table (derivatives.cpp). Every output path of
// the pipeline is made here, so naming rules live in one place.
#include <filesystem>
#include <map>
#include <string>

#include "rewardpath/bids/entities.hpp"
#include "rewardpath/io/json.hpp"

namespace rewardpath::bids {

enum class Output {
  mean_bold,           // sub-X/func/sub-X_task-Y_desc-mean_bold.nii.gz
  bold_summary,        // sub-X/func/sub-X_task-Y_desc-summary_bold.json
  confounds,           // sub-X/func/..._desc-confounds_timeseries.tsv
  roi_timeseries,      // sub-X/func/..._atlas-A_timeseries.tsv
  statmap,             // sub-X/func/..._contrast-C_stat-S_statmap.nii.gz
  roi_table,           // sub-X/func/..._atlas-A_contrast-C_roistats.tsv
  dseg,                // sub-X/<func|pet>/..._space-S_atlas-A_dseg.nii.gz
  xfm,                 // sub-X/xfm/..._from-F_to-T_mode-image_xfm.<ext>
  tacs,                // sub-X/pet/..._atlas-A_tacs.tsv
  bp_table,            // sub-X/pet/..._atlas-A_model-M_bp.tsv
  bp_map,              // sub-X/pet/..._model-M_meas-BPnd_mimap.nii.gz
  mean_pet,            // sub-X/pet/..._desc-mean_pet.nii.gz
  pet_summary,         // sub-X/pet/..._desc-summary_pet.json
  provenance,          // sub-X/sub-X_desc-provenance.json (per-subject run record)
  report,              // sub-X.html
  dseg_table,          // sub-X/<func|pet|anat>/..._space-S_atlas-A_dseg.tsv (the labels of a dseg image)
  probseg,             // sub-X/<func|pet|anat>/..._space-S_atlas-A_probseg.nii.gz (4D, one volume per
                       // dseg.tsv row, in row order: fractional partial-volume weights)
  registration_qc,     // sub-X/sub-X_desc-registration_qc.json (every registration of the subject)
  registration_figure, // sub-X/figures/..._space-S_desc-registration_overlay.png
  design_matrix,       // sub-X/func/..._desc-glm_design.tsv (first-level design matrix, one row per volume)
  glm_summary,         // sub-X/func/..._desc-glm_statmap.json (model, columns, dof, diagnostics per run)
  mean_pet_realigned,  // sub-X/pet/..._desc-realignedmean_pet.nii.gz (mean of the realigned frames)
  pet_motion,          // sub-X/pet/..._desc-motion_timeseries.tsv (per-frame realignment parameters)
};

// The output path under `out_root` for a product derived from `source` (a parsed input name).
// Entities of the source are kept in BIDS order (sub, ses, task, acq, ce, trc, rec, dir, run,
// echo, ...); `extra` adds or overrides entities (space, atlas, contrast, stat, desc, from, to,
// mode, model, meas). Unknown Output/extra combinations are an Error; so are labels that are not
// alphanumeric. For xfm, extra {"extension", ".h5"} picks the file type (default ".txt").
// provenance and report keep only sub; the others keep every source entity and the ses- folder.
std::filesystem::path derivative_path(const std::filesystem::path& out_root, const Entities& source,
                                      Output kind, const std::map<std::string, std::string>& extra = {});

// dataset_description.json for a derivatives dataset: Name, BIDSVersion, DatasetType
// "derivative", GeneratedBy [{Name: rewardpath, Version}], SourceDatasets [{URL: "file:///abs/path"}].
// (No CodeURL until the project has a public repository.)
io::Json derivatives_description(const std::filesystem::path& source_dataset);

} // namespace rewardpath::bids
