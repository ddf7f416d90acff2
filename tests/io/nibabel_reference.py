#!/usr/bin/python3
"""nibabel's readings of NIfTI files, for tests/io/test_nifti_read.cpp.

Usage: /usr/bin/python3 nibabel_reference.py OUTDIR

Writes synthetic NIfTI files with nibabel into OUTDIR (every datatype rewardpath reads, both byte
orders, scaling, qform-only, sform != qform, ms and metre units, NIfTI-2, .nii and .nii.gz), then
loads those and a set of real files with nibabel and writes OUTDIR/reference.json with what
nibabel reads: shape, zooms, xyzt_units, img.affine, sum / sum of |x| / sum of squares of
get_fdata(dtype=float64) and sampled voxel values. The C++ test compares read_nifti against it.

nibabel does not convert units: "zooms" and "affine" are as stored; the test applies the unit
conversion itself. Needs Debian's python3-nibabel (/usr/bin/python3, not a pyenv python).
"""
import gzip
import json
import os
import sys

import numpy as np
import nibabel as nib

REAL_FILES = {
    "example4d.nii.gz": "/usr/lib/python3/dist-packages/nibabel/tests/data/example4d.nii.gz",
    "example_nifti2.nii.gz": "/usr/lib/python3/dist-packages/nibabel/tests/data/example_nifti2.nii.gz",
    "functional.nii": "/usr/lib/python3/dist-packages/nibabel/tests/data/functional.nii",
    "anatomical.nii": "/usr/lib/python3/dist-packages/nibabel/tests/data/anatomical.nii",
    "nipy_functional.nii.gz": "/usr/lib/python3/dist-packages/nipy/testing/functional.nii.gz",
    "ch2bet.nii.gz": "/usr/share/mricron/templates/ch2bet.nii.gz",
    "ch2.nii.gz": "/usr/share/mricron/templates/ch2.nii.gz",
    "aal.nii.gz": "/usr/share/mricron/templates/aal.nii.gz",
}

DTYPES = ["uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
SHAPE4 = (9, 7, 5, 3)

# A rotated, flipped, anisotropic voxel-to-world matrix (exactly representable as a qform).
def rotation_affine(zooms=(2.0, 2.5, 3.0), offset=(-90.0, -126.0, -72.0), flip=True):
    a, b = np.deg2rad(12.0), np.deg2rad(-7.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    m = rz @ rx @ np.diag(zooms)
    if flip:
        m = m @ np.diag([-1.0, 1.0, 1.0])
    aff = np.eye(4)
    aff[:3, :3] = m
    aff[:3, 3] = offset
    return aff


def values_for(dtype, shape, rng):
    """Deterministic values that span the type's range (extremes included)."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if dt.itemsize <= 2:
            v = rng.integers(int(info.min), int(info.max), size=n, endpoint=True, dtype=dt)
        else:
            # spread over the full range (floats lose low bits of 64-bit extremes: fine, we and
            # nibabel both convert to floating point)
            v = rng.integers(int(info.min) // 2, int(info.max) // 2, size=n, endpoint=True, dtype=dt)
        v[0] = info.min
        v[-1] = info.max
    else:
        v = (rng.standard_normal(n) * 1000.0).astype(dt)
        v[0] = -65504.25  # large magnitude, exactly representable in float32
        v[-1] = 1.0e-30    # tiny (normal in float32)
    return v.reshape(shape, order="F")


def write_raw(path, hdr, data):
    """Writes header + data bytes exactly as told by the (nibabel) header object `hdr`."""
    hdr = hdr.copy()
    hdr.set_data_shape(data.shape)
    single = 352 if isinstance(hdr, nib.Nifti1Header) and not isinstance(hdr, nib.Nifti2Header) else 544
    hdr["vox_offset"] = single
    block = hdr.binaryblock
    raw = np.asarray(data, dtype=hdr.get_data_dtype()).tobytes(order="F")
    payload = block + b"\0" * (single - len(block)) + raw
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)


def synthesize(outdir):
    """Returns {name: path} of the synthetic files written into outdir."""
    rng = np.random.default_rng(20240611)
    files = {}
    aff = rotation_affine()

    def out(name):
        p = os.path.join(outdir, name)
        files[name] = p
        return p

    for dt in DTYPES:
        data = values_for(dt, SHAPE4, rng)
        # nibabel's own writer, native (little-endian) order, .nii and .nii.gz
        for ext in (".nii", ".nii.gz"):
            img = nib.Nifti1Image(data, aff, dtype=np.dtype(dt))
            img.header.set_xyzt_units("mm", "sec")
            img.header.set_zooms((2.0, 2.5, 3.0, 1.5))
            img.set_sform(aff, code=1)
            img.set_qform(aff, code=1)
            nib.save(img, out(f"dt_{dt}{ext}"))
        # big-endian storage, written from a nibabel header with endianness '>'
        if np.dtype(dt).itemsize > 1:
            hdr = nib.Nifti1Header(endianness=">")
            hdr.set_data_dtype(dt)
            hdr.set_data_shape(data.shape)
            hdr.set_zooms((2.0, 2.5, 3.0, 1.5))
            hdr.set_xyzt_units("mm", "sec")
            hdr.set_qform(aff, code=1)
            hdr.set_sform(aff, code=1)
            write_raw(out(f"be_{dt}.nii"), hdr, data)
            if dt in ("int16", "float32", "float64"):
                write_raw(out(f"be_{dt}.nii.gz"), hdr, data)

    # scaling chosen by nibabel: float data stored as int16 (slope and intercept set)
    fdata = (rng.standard_normal((10, 8, 6)) * 37.0 + 500.0).astype(np.float64)
    img = nib.Nifti1Image(fdata, aff, dtype=np.int16)
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, out("scaled_auto_int16.nii.gz"))

    # explicit scl_slope / scl_inter on uint8 and big-endian int16
    for name, dt, endian, slope, inter in (("scaled_uint8.nii", "uint8", "<", 2.5, -100.0),
                                           ("scaled_be_int16.nii", "int16", ">", 0.125, 7.0),
                                           ("slope_zero.nii", "int16", "<", 0.0, 5.0),
                                           ("slope_nan.nii", "int16", "<", np.nan, 5.0)):
        data = values_for(dt, (8, 6, 4), rng)
        hdr = nib.Nifti1Header(endianness=endian)
        hdr.set_data_dtype(dt)
        hdr.set_data_shape(data.shape)
        hdr.set_zooms((2.0, 2.5, 3.0))
        hdr.set_xyzt_units("mm", "sec")
        hdr.set_sform(aff, code=1)
        hdr["scl_slope"] = slope
        hdr["scl_inter"] = inter
        write_raw(out(name), hdr, data)

    # qform only (sform_code 0), with a left-handed rotation (qfac -1)
    data = values_for("float32", (8, 6, 4), rng)
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype("float32")
    hdr.set_data_shape(data.shape)
    hdr.set_zooms((2.0, 2.5, 3.0))
    hdr.set_xyzt_units("mm", "sec")
    hdr.set_qform(aff, code=1)
    hdr.set_sform(np.diag([9.0, 9.0, 9.0, 1.0]), code=0)  # present but not to be used
    write_raw(out("qform_only.nii"), hdr, data)
    write_raw(out("qform_only.nii.gz"), hdr, data)

    # sform != qform: the sform (with shear) wins
    sform = aff.copy()
    sform[0, 1] += 0.3
    sform[:3, 3] += (5.0, -3.0, 2.0)
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype("float32")
    hdr.set_data_shape(data.shape)
    hdr.set_zooms((2.0, 2.5, 3.0))
    hdr.set_xyzt_units("mm", "sec")
    hdr.set_qform(aff, code=1)
    hdr.set_sform(sform, code=4)
    write_raw(out("sform_ne_qform.nii"), hdr, data)

    # neither (both codes 0): NIfTI method 1, voxel sizes only
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype("float32")
    hdr.set_data_shape(data.shape)
    hdr.set_zooms((2.0, 2.5, 3.0))
    hdr.set_xyzt_units("mm", "sec")
    hdr.set_qform(aff, code=0)
    hdr.set_sform(aff, code=0)
    write_raw(out("no_xform.nii"), hdr, data)

    # time in milliseconds: TR 2000 ms
    data4 = values_for("int16", (6, 5, 4, 7), rng)
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype("int16")
    hdr.set_data_shape(data4.shape)
    hdr.set_zooms((3.0, 3.0, 3.5, 2000.0))
    hdr.set_xyzt_units("mm", "msec")
    hdr.set_qform(np.diag([3.0, 3.0, 3.5, 1.0]), code=1)
    hdr.set_sform(np.diag([3.0, 3.0, 3.5, 1.0]), code=1)
    write_raw(out("tr_ms.nii"), hdr, data4)

    # spatial units metres (and TR in seconds): 2 x 2.5 x 3 mm stored as metres
    aff_m = aff.copy()
    aff_m[:3, :] /= 1000.0
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype("int16")
    hdr.set_data_shape(data4.shape)
    hdr.set_zooms((0.002, 0.0025, 0.003, 1.5))
    hdr.set_xyzt_units("meter", "sec")
    hdr.set_qform(aff_m, code=1)
    hdr.set_sform(aff_m, code=1)
    write_raw(out("units_m.nii"), hdr, data4)

    # NIfTI-2 through nibabel's writer, .nii and .nii.gz, and big-endian through a Nifti2Header
    data = values_for("float32", (11, 9, 7, 4), rng)
    for ext in (".nii", ".nii.gz"):
        img = nib.Nifti2Image(data, aff, dtype=np.float32)
        img.header.set_xyzt_units("mm", "sec")
        img.header.set_zooms((2.0, 2.5, 3.0, 2.0))
        nib.save(img, out(f"nifti2{ext}"))
    hdr = nib.Nifti2Header(endianness=">")
    hdr.set_data_dtype("int32")
    hdr.set_data_shape(data.shape)
    hdr.set_zooms((2.0, 2.5, 3.0, 2.0))
    hdr.set_xyzt_units("mm", "sec")
    hdr.set_qform(aff, code=1)
    hdr.set_sform(aff, code=2)
    write_raw(out("nifti2_be_int32.nii"), hdr, values_for("int32", data.shape, rng))
    return files


def describe(path, rng):
    img = nib.load(path)
    hdr = img.header
    x = img.get_fdata(dtype=np.float64)
    shape = list(img.shape)
    x4 = x.reshape(x.shape + (1,) * (4 - x.ndim))
    samples = []
    flat = x4.reshape(-1, order="F")
    picks = list(rng.integers(0, flat.size, size=12)) + [int(np.argmin(flat)), int(np.argmax(flat))]
    for p in picks:
        i, j, k, t = np.unravel_index(int(p), x4.shape, order="F")
        samples.append([int(i), int(j), int(k), int(t), float(x4[i, j, k, t])])
    # scaling as nibabel applies it (the loaded header's get_slope_inter() is reset to None)
    slope, inter = getattr(img.dataobj, "slope", 1.0), getattr(img.dataobj, "inter", 0.0)
    return {
        "path": os.path.abspath(path),
        "class": type(img).__name__,
        "shape": shape,
        "zooms": [float(z) for z in hdr.get_zooms()],
        "xyzt_units": list(hdr.get_xyzt_units()),
        "affine": img.affine.tolist(),
        "sform_code": int(hdr["sform_code"]),
        "qform_code": int(hdr["qform_code"]),
        "dtype": hdr.get_data_dtype().name,
        "endianness": hdr.endianness,
        "slope": float(slope),
        "inter": float(inter),
        "sum": float(x.sum()),
        "sum_abs": float(np.abs(x).sum()),
        "sum_sq": float((x * x).sum()),
        "samples": samples,
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: nibabel_reference.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    synthetic = synthesize(outdir)
    rng = np.random.default_rng(7)
    result = {"nibabel_version": nib.__version__, "files": {}}
    for name, path in REAL_FILES.items():
        if not os.path.exists(path):
            sys.exit(f"nibabel_reference.py: real test file missing: {path}")
        result["files"][name] = dict(describe(path, rng), kind="real")
    for name, path in synthetic.items():
        result["files"][name] = dict(describe(path, rng), kind="synthetic")
    tmp = os.path.join(outdir, "reference.json.tmp")
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1, allow_nan=False)
    os.replace(tmp, os.path.join(outdir, "reference.json"))
    print(f"nibabel {nib.__version__}: {len(result['files'])} files described in {outdir}/reference.json")


if __name__ == "__main__":
    main()
