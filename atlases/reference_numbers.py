#!/usr/bin/python3
"""Recomputes the reference numbers of atlases/reward_rois.tsv (see atlases/README.md).

Needs Debian's python3-nibabel (run with /usr/bin/python3), mricron-data and the shared CIT168
copy. Prints, per ROI, the independent reference centroid (MNI mm) and volume (mm3), and the
CIT168 shape numbers the NAcc/VTA ellipsoids come from. Documentation only: the build reads the
table, not this script, and the C++ tests recompute the file-based references themselves.

usage: /usr/bin/python3 atlases/reference_numbers.py [CIT168_DERIVED_DIR] [MRICRON_TEMPLATES_DIR]
"""
import math
import sys

import nibabel as nib
import numpy as np

CIT = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/atlases/cit168/derived"
TPL = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/mricron/templates"


def world(ijk, affine):
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def show(name, w, voxel_mm3):
    c = w.mean(axis=0)
    print(f"{name:44s} centroid ({c[0]:7.2f}, {c[1]:7.2f}, {c[2]:7.2f})  volume {len(w) * voxel_mm3:9.0f} mm3")


# CIT168 (MNI152NLin2009cAsym, 1 mm): caudate/putamen references, NAcc/VTA centres and shapes.
lab50 = nib.load(f"{CIT}/CIT168_maxprob_labels_p50.nii.gz")
L50 = np.asarray(lab50.dataobj)
L0 = np.asarray(nib.load(f"{CIT}/CIT168_maxprob_labels_p0.nii.gz").dataobj)
P = np.asarray(nib.load(f"{CIT}/CIT168_maxprob_prob.nii.gz").dataobj).astype(float)
A = lab50.affine
for label, name in [(3, "L Caudate"), (4, "R Caudate"), (1, "L Putamen"), (2, "R Putamen"),
                    (5, "L Nucleus Accumbens"), (6, "R Nucleus Accumbens"),
                    (21, "L Ventral Tegmental Area"), (22, "R Ventral Tegmental Area")]:
    w = world(np.argwhere(L50 == label), A)
    show(f"CIT168 p>0.5 {name}", w, 1.0)
    sd = w.std(axis=0)
    m0 = L0 == label
    w0, p = world(np.argwhere(m0), A), P[m0]
    cw = (w0 * p[:, None]).sum(0) / p.sum()
    sdw = np.sqrt(((w0 - cw) ** 2 * p[:, None]).sum(0) / p.sum())
    print(f"    p>0.5 sd {np.round(sd, 2)} -> solid-ellipsoid semi-axes sqrt(5)*sd {np.round(math.sqrt(5) * sd, 2)}")
    print(f"    p>0 probability-weighted sd {np.round(sdw, 2)} -> semi-axes {np.round(math.sqrt(5) * sdw, 2)};"
          f" sum of p {p.sum():.1f} mm3 (top label only)")

# Harvard-Oxford cortical maxprob thr0 1 mm (MNI152NLin6, FSL): label 25 = Frontal Medial Cortex,
# 33 = Frontal Orbital Cortex (FSL's 0-based indices 24 and 32). Bilateral labels: split at x = 0
# (x = 0 voxels dropped), restricted to voxels inside the Colin27 brain (ch2bet > 0).
ho = nib.load(f"{TPL}/HarvardOxford-cort-maxprob-thr0-1mm.nii.gz")
H = np.asarray(ho.dataobj)
ch2 = nib.load(f"{TPL}/ch2bet.nii.gz")
C = np.asarray(ch2.dataobj)
inv = np.linalg.inv(ch2.affine)
for label, name in [(25, "Frontal Medial Cortex"), (33, "Frontal Orbital Cortex")]:
    w = world(np.argwhere(H == label), ho.affine)
    v = np.rint(world(w, inv)).astype(int)
    ok = np.all((v >= 0) & (v < np.array(C.shape)), axis=1)
    inside = np.zeros(len(w), bool)
    inside[ok] = C[v[ok, 0], v[ok, 1], v[ok, 2]] > 0
    for side, m in [("L", w[:, 0] < 0), ("R", w[:, 0] > 0)]:
        show(f"HO cortical {label} {name} {side} (all)", w[m], 1.0)
        show(f"HO cortical {label} {name} {side} (in ch2bet)", w[m & inside], 1.0)

# AAL (Colin27 grid): what the definitions cover, and the cerebellar grey-matter threshold.
aal = nib.load(f"{TPL}/aal.nii.gz")
D = np.asarray(aal.dataobj)
cb = np.isin(D, range(91, 109)) & (C > 0)
cortex = (D > 0) & (D < 91) & (C > 0)
unlabelled = (D == 0) & (C > 0)
print("ch2bet intensity modes: AAL cerebellar labels", np.bincount(C[cb]).argmax(),
      "| AAL cerebral labels", np.bincount(C[cortex]).argmax(),
      "| unlabelled brain (white matter)", np.bincount(C[unlabelled]).argmax())
for side, labels in [("L", range(91, 109, 2)), ("R", range(92, 109, 2))]:
    m = np.isin(D, list(labels))
    show(f"AAL cerebellar hemisphere {side}", world(np.argwhere(m), aal.affine), 1.0)
    show(f"  ... with ch2bet in 1..100", world(np.argwhere(m & (C >= 1) & (C <= 100)), aal.affine), 1.0)
