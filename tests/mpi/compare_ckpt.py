#!/usr/bin/python3
"""compare_ckpt.py: checks that two ebm_mpi HDF5 files hold bitwise-identical
values in the named datasets/groups (recursively), and fails naming the first
difference. Timing columns of /metrics (wall_seconds, examples_per_second,
compute_*, comm_*, time_*) are skipped, and nothing else: docs/design.md section 2 excludes timings from determinism.

usage: compare_ckpt.py A.h5 B.h5 PATH [PATH...]      (e.g. /model /optimizer)
       compare_ckpt.py --differ A.h5 B.h5 PATH       (must NOT be identical)
       compare_ckpt.py --newer-has NAME A.h5 B.h5 PATH...
           B, written by a newer format, may hold datasets named NAME (a column
           that format added) that A lacks; everything else is compared as usual
"""
import sys

import h5py
import numpy as np

TIMING = ("wall_seconds", "examples_per_second", "compute_", "comm_", "time_")


def datasets(f, path):
    obj = f[path]
    if isinstance(obj, h5py.Dataset):
        return {path: obj[()]}
    out = {}

    def visit(name, o):
        if isinstance(o, h5py.Dataset) and not name.split("/")[-1].startswith(TIMING):
            out[f"{path.rstrip('/')}/{name}"] = o[()]
    obj.visititems(visit)
    return out


def identical(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def main():
    args = sys.argv[1:]
    differ = args[:1] == ["--differ"]
    if differ:
        args = args[1:]
    newer = set()
    while args[:1] == ["--newer-has"] and len(args) > 1:
        newer.add(args[1])
        args = args[2:]
    if len(args) < 3:
        sys.exit(__doc__)
    fa, fb = h5py.File(args[0], "r"), h5py.File(args[1], "r")
    for path in args[2:]:
        da, db = datasets(fa, path), datasets(fb, path)
        db = {k: v for k, v in db.items() if k in da or k.split("/")[-1] not in newer}
        if not da:
            sys.exit(f"FAIL: {args[0]}: {path} holds no dataset")
        if sorted(da) != sorted(db):
            sys.exit(f"FAIL: {path}: different datasets: {sorted(set(da) ^ set(db))}")
        diff = [name for name in sorted(da) if not identical(da[name], db[name])]
        if differ:
            if not diff:
                sys.exit(f"FAIL: {path} is identical in both files, expected a difference")
            print(f"ok: {path} differs ({len(diff)} of {len(da)} datasets)")
        elif diff:
            a, b = da[diff[0]], db[diff[0]]
            n = int(np.sum(a != b)) if a.shape == b.shape else -1
            sys.exit(f"FAIL: {diff[0]} differs ({n} values) between {args[0]} and {args[1]}")
        else:
            print(f"ok: {path} identical ({len(da)} datasets)")


if __name__ == "__main__":
    main()
