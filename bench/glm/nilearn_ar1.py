"""nilearn's FirstLevelModel(noise_model="ar1") end to end on one run, for bench_glm's table.

usage: nilearn_ar1.py BOLD EVENTS MASK OUTDIR [noise_model]
Same design as ours (SPM HRF, cosine drift 128 s, no signal scaling), same mask, same contrast
(first condition minus the second in order of appearance); writes the 5 maps as .nii.gz.
MASK "defaults" runs FirstLevelModel with its own defaults instead: nilearn computes the mask
(compute_epi_mask) and scales each voxel to percent of its mean (signal_scaling=0).
Prints one line: seconds (after imports), import seconds, peak RSS.
"""
import os
import resource
import sys
import time

t_import = time.perf_counter()
import nibabel as nib  # noqa: E402
import pandas as pd  # noqa: E402
from nilearn.glm.first_level import FirstLevelModel  # noqa: E402

t0 = time.perf_counter()
bold, events, mask, out = sys.argv[1:5]
noise = sys.argv[5] if len(sys.argv) > 5 else "ar1"
img = nib.load(bold)
tr = float(img.header.get_zooms()[3]) or 2.0
ev = pd.read_csv(events, sep="\t")[["onset", "duration", "trial_type"]]
conds = list(dict.fromkeys(ev["trial_type"]))
if mask == "defaults":
    model = FirstLevelModel(t_r=tr, noise_model=noise, hrf_model="spm", drift_model="cosine",
                            high_pass=1.0 / 128)
else:
    model = FirstLevelModel(t_r=tr, noise_model=noise, hrf_model="spm", drift_model="cosine",
                            high_pass=1.0 / 128, mask_img=mask, signal_scaling=False, minimize_memory=True)
model.fit(img, events=ev)
maps = model.compute_contrast(f"{conds[0]} - {conds[1]}", output_type="all")
os.makedirs(out, exist_ok=True)
for name in ["effect_size", "effect_variance", "stat", "z_score", "p_value"]:
    maps[name].to_filename(os.path.join(out, f"nilearn_{name}.nii.gz"))
t1 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(f"mode=nilearn-{noise}{'-defaults' if mask == 'defaults' else ''} seconds={t1 - t0:.3f} import_seconds={t0 - t_import:.3f} peak_rss_mb={rss:.0f}")
