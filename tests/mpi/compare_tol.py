#!/usr/bin/python3
"""compare_tol.py: the stated-tolerance comparison of two ebm_mpi HDF5 files
(checkpoints, metrics) written on different BLAS libraries, where the bits
cannot match (tests/mpi/fixture_check.sh says when and why).

Every dataset under the named paths must be present in both files with the
same type and shape (timing columns left out, as in compare_ckpt.py):

  - integer datasets (data order, RNG state, counters) bit for bit: the BLAS
    does not touch them;
  - floating-point datasets within RTOL relative to the dataset's largest
    magnitude: max|a - b| <= RTOL * max(max|a|, max|b|). Relative to the
    largest entry, not entry by entry: entries near zero would otherwise
    turn a rounding difference into any ratio at all.

Attributes are not compared (the run record names the BLAS that wrote the
file; the floating-point ones, like the partial loss, follow the datasets).
Prints the largest relative difference found and where, and exits 1 naming
every dataset beyond RTOL.

usage: compare_tol.py [--newer-has NAME]... RTOL A.h5 B.h5 PATH...
"""
import sys

import h5py
import numpy as np

TIMING = ("wall_seconds", "examples_per_second", "compute_", "comm_", "time_")


def datasets(f, path):
    out = {}
    obj = f[path]
    root = "/" + path.strip("/")
    if isinstance(obj, h5py.Dataset):
        return {root: obj}

    def visit(name, o):
        if isinstance(o, h5py.Dataset) and not name.split("/")[-1].startswith(TIMING):
            out[f"{root.rstrip('/')}/{name}"] = o
    obj.visititems(visit)
    return out


def main(args):
    newer = set()
    while args[:1] == ["--newer-has"] and len(args) >= 2:
        newer.add(args[1])
        args = args[2:]
    if len(args) < 4:
        sys.exit(__doc__)
    rtol, a_name, b_name, paths = float(args[0]), args[1], args[2], args[3:]
    bad, worst, n = [], (0.0, "none"), 0
    with h5py.File(a_name, "r") as fa, h5py.File(b_name, "r") as fb:
        for path in paths:
            for f, name in ((fa, a_name), (fb, b_name)):
                if path not in f:
                    sys.exit(f"FAIL: {name} has no {path}")
            da, db = datasets(fa, path), datasets(fb, path)
            for name in sorted(set(da) | set(db)):
                if name not in da:
                    if not set(name.split("/")) & newer:
                        bad.append(f"{name} only in B")
                    continue
                if name not in db:
                    bad.append(f"{name} only in A")
                    continue
                a, b = da[name], db[name]
                if a.dtype != b.dtype or a.shape != b.shape:
                    bad.append(f"{name}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
                    continue
                n += 1
                va, vb = np.asarray(a[()]), np.asarray(b[()])
                if va.dtype.kind != "f":
                    if va.tobytes() != vb.tobytes():
                        bad.append(f"{name}: {int(np.sum(va != vb))} integer value(s) differ")
                    continue
                va, vb = va.astype(np.float64), vb.astype(np.float64)
                if not (np.isfinite(va) == np.isfinite(vb)).all():
                    bad.append(f"{name}: finite in one file, not in the other")
                    continue
                fin = np.isfinite(va)
                if not fin.any():
                    continue
                scale = max(np.max(np.abs(va[fin])), np.max(np.abs(vb[fin])))
                diff = np.max(np.abs(va[fin] - vb[fin]))
                rel = diff / scale if scale > 0 else 0.0
                if rel > worst[0]:
                    worst = (rel, name)
                if rel > rtol:
                    bad.append(f"{name}: relative difference {rel:.3g} > {rtol:g}")
    print(f"compare_tol: {n} datasets of {b_name} vs {a_name}; largest relative difference "
          f"{worst[0]:.3g} ({worst[1]}), tolerance {rtol:g}")
    for line in bad:
        print(f"  {line}")
    if bad:
        sys.exit(f"FAIL: {len(bad)} dataset(s) beyond the tolerance or unlike, first: {bad[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
