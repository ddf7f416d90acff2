"""Compares our t map (bench_glm output dir) with nilearn's (nilearn_ar1.py output dir).

usage: compare_maps.py OURS_DIR NILEARN_DIR [MASK]
Prints correlation, mean and max |difference| of t inside the mask, and the same for the effect.
"""
import sys

import nibabel as nib
import numpy as np

ours, nl = sys.argv[1], sys.argv[2]
mask_path = sys.argv[3] if len(sys.argv) > 3 else ours + "/mask.nii.gz"
m = nib.load(mask_path).get_fdata() > 0
for o, n in [("t", "stat"), ("effect", "effect_size"), ("z", "z_score")]:
    a = np.squeeze(nib.load(f"{ours}/contrast-bench_stat-{o}_statmap.nii.gz").get_fdata())[m]
    b = np.squeeze(nib.load(f"{nl}/nilearn_{n}.nii.gz").get_fdata())[m]
    d = np.abs(a - b)
    print(f"{o:7s} voxels={m.sum()} corr={np.corrcoef(a, b)[0, 1]:.6f} mean|diff|={d.mean():.4g} "
          f"max|diff|={d.max():.4g} mean|nilearn|={np.abs(b).mean():.4g} p99|diff|={np.percentile(d, 99):.4g}")
