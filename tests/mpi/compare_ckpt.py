#!/usr/bin/python3
"""compare_ckpt.py: checks that two ebm_mpi HDF5 files (checkpoints, metrics)
hold the same objects with bitwise-identical contents under the named paths
(the whole file when none is named), and fails naming every difference:

  - every group and dataset present in one file is present in the other;
  - every dataset has the same type, shape and bytes;
  - every object (the root, each group, each dataset) has the same attribute
    names, and each attribute the same HDF5 type, shape and value, bit for bit.

Nothing else is skipped than what EXCLUDED lists, each with its reason.

usage: compare_ckpt.py A.h5 B.h5 [PATH...]        (e.g. / or /model /optimizer)
       compare_ckpt.py --differ A.h5 B.h5 PATH...  (the datasets must NOT be identical)
       compare_ckpt.py --newer-has NAME A.h5 B.h5 [PATH...]
           B, written by a newer format, may hold datasets, groups (with all
           they hold) or attributes named NAME (added by that format) that A
           lacks; the rest is compared as usual
       compare_ckpt.py --ignore-attr NAME A.h5 B.h5 [PATH...]
           the caller's own exclusion (it says why beside the call)
       compare_ckpt.py --dirs A_DIR B_DIR FILE...
           the whole of A_DIR/FILE against B_DIR/FILE, for each FILE
           (e.g. last.h5 best.h5 metrics.h5), in one start of Python
       compare_ckpt.py --no-root-attrs A.h5 B.h5 [PATH...]
           the root's attributes are not compared: for A written by an earlier
           format version, whose root holds that version's run record
           (format_version, git_revision, the hyperparameters it knew)
       compare_ckpt.py --selftest
           synthetic files that must be rejected (one attribute of the root, a
           group or a dataset differs, missing, or another type; one dataset
           value; an extra object) and accepted (only an excluded one differs)
"""
import os
import sys
import tempfile

import h5py
import numpy as np

# Attribute names never compared, with why.
EXCLUDED_ATTRS = {
    # The run record's command: the second run has another --out and
    # --resume (and --threads or --overlap where a test varies them), which
    # the files record verbatim by design.
    "command_line",
}
# Datasets never compared: the timing columns of /metrics (docs/design.md
# section 2 excludes timings from determinism: wall-clock seconds and
# rates, per phase and rank). h5dump -A of a straight and a resumed run shows
# no timing attribute, so no attribute is excluded as a timing.
TIMING = ("wall_seconds", "examples_per_second", "compute_", "comm_", "time_")
MAX_REPORTED = 20


def excluded_dataset(name):
    return name.split("/")[-1].startswith(TIMING)


def objects(f, path):
    """{name: object} of PATH and everything under it (timing datasets left out)."""
    obj = f[path]
    root = "/" + path.strip("/")
    out = {root: obj}
    if isinstance(obj, h5py.Group):
        def visit(name, o):
            if not (isinstance(o, h5py.Dataset) and excluded_dataset(name)):
                out[f"{root.rstrip('/')}/{name}"] = o
        obj.visititems(visit)
    return out


def kind(o):
    return "dataset" if isinstance(o, h5py.Dataset) else "group"


def same_dataset(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False, f"type/shape {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    va, vb = a[()], b[()]
    if np.asarray(va).tobytes() == np.asarray(vb).tobytes():
        return True, ""
    n = int(np.sum(np.asarray(va) != np.asarray(vb))) if np.ndim(va) else 1
    return False, f"{n} value(s)"


def attr_value(o, name):
    """(HDF5 type, shape, comparable bytes, printable value) of an attribute."""
    aid = o.attrs.get_id(name)
    v = o.attrs[name]
    if isinstance(v, (str, bytes)) or aid.dtype.kind in "OSU":
        arr = np.asarray(v)
        raw = repr([x.decode() if isinstance(x, bytes) else str(x) for x in arr.ravel()]).encode()
    else:
        raw = np.asarray(v).tobytes()
    shown = repr(v.decode() if isinstance(v, bytes) else v)
    return str(aid.dtype), aid.shape, raw, shown[:120]


def compare(fa, fb, path, newer=(), ignore=(), root_attrs=True):
    """Every difference under PATH, as readable lines; (count of objects compared)."""
    oa, ob = objects(fa, path), objects(fb, path)
    diffs = []
    for name in sorted(set(oa) | set(ob)):
        skip = EXCLUDED_ATTRS | set(ignore)
        if name not in oa:
            if not set(name.split("/")) & set(newer):  # NAME itself or inside group NAME
                diffs.append(f"{kind(ob[name])} {name} only in B")
            continue
        if name not in ob:
            diffs.append(f"{kind(oa[name])} {name} only in A")
            continue
        a, b = oa[name], ob[name]
        if kind(a) != kind(b):
            diffs.append(f"{name} is a {kind(a)} in A, a {kind(b)} in B")
            continue
        if isinstance(a, h5py.Dataset):
            ok, why = same_dataset(a, b)
            if not ok:
                diffs.append(f"dataset {name} differs: {why}")
        if name == "/" and not root_attrs:
            continue
        names_a = {n for n in a.attrs if n not in skip}
        names_b = {n for n in b.attrs if n not in skip and not (n in newer and n not in names_a)}
        for n in sorted(names_a - names_b):
            diffs.append(f"attribute {name}@{n} only in A")
        for n in sorted(names_b - names_a):
            diffs.append(f"attribute {name}@{n} only in B")
        for n in sorted(names_a & names_b):
            ta, sa, ra, va = attr_value(a, n)
            tb, sb, rb, vb = attr_value(b, n)
            if (ta, sa) != (tb, sb):
                diffs.append(f"attribute {name}@{n}: type {ta}{sa} in A, {tb}{sb} in B")
            elif ra != rb:
                diffs.append(f"attribute {name}@{n} differs: {va} in A, {vb} in B")
    return diffs, len(oa)


def differ_mode(fa, fb, path):
    """--differ: at least one dataset under PATH differs (attributes such as
    the seed differ by construction there)."""
    oa, ob = objects(fa, path), objects(fb, path)
    ds = [n for n in sorted(oa) if isinstance(oa[n], h5py.Dataset)]
    if not ds:
        sys.exit(f"FAIL: {path} holds no dataset")
    if set(ds) != {n for n in ob if isinstance(ob[n], h5py.Dataset)}:
        sys.exit(f"FAIL: {path}: the files hold different datasets")
    diff = [n for n in ds if not same_dataset(oa[n], ob[n])[0]]
    if not diff:
        sys.exit(f"FAIL: {path} is identical in both files, expected a difference")
    print(f"ok: {path} differs ({len(diff)} of {len(ds)} datasets)")


def run(args):
    differ = args[:1] == ["--differ"]
    if differ:
        args = args[1:]
    newer, ignore, root_attrs = set(), set(), True
    while args[:1] in (["--newer-has"], ["--ignore-attr"], ["--no-root-attrs"]):
        if args[0] == "--no-root-attrs":
            root_attrs = False
            args = args[1:]
            continue
        if len(args) < 2:
            sys.exit(__doc__)
        (newer if args[0] == "--newer-has" else ignore).add(args[1])
        args = args[2:]
    if args[:1] == ["--dirs"]:
        if len(args) < 4:
            sys.exit(__doc__)
        for name in args[3:]:
            one(os.path.join(args[1], name), os.path.join(args[2], name), ["/"], False, newer,
                ignore, root_attrs)
        return
    if len(args) < 2 or (differ and len(args) < 3):
        sys.exit(__doc__)
    one(args[0], args[1], args[2:] or ["/"], differ, newer, ignore, root_attrs)


def one(a, b, paths, differ, newer, ignore, root_attrs):
    for name in (a, b):
        if not os.path.isfile(name):
            sys.exit(f"FAIL: no file {name}")
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for path in paths:
            if differ:
                differ_mode(fa, fb, path)
                continue
            for f, name in ((fa, a), (fb, b)):
                if path not in f:
                    sys.exit(f"FAIL: {name} has no {path}")
            diffs, n = compare(fa, fb, path, newer, ignore, root_attrs)
            if diffs:
                print(f"A = {a}\nB = {b}")
                for d in diffs[:MAX_REPORTED]:
                    print(f"  {d}")
                if len(diffs) > MAX_REPORTED:
                    print(f"  ... and {len(diffs) - MAX_REPORTED} more")
                sys.exit(f"FAIL: {a} vs {b}, {path}: {len(diffs)} difference(s), first: {diffs[0]}")
            left = sorted(EXCLUDED_ATTRS | ignore) + ([] if root_attrs else ["the root's attributes"])
            print(f"ok: {b}: {path} identical to {a}'s ({n} objects and their attributes; "
                  f"not compared: {', '.join(left)}, timing columns)")


def selftest():
    """The checker must reject a file differing in one attribute only (of the
    root, a group or a dataset), and accept one differing only in what is
    excluded."""
    def make(path, change=None):
        with h5py.File(path, "w") as f:
            f.attrs["epoch"] = 2
            f.attrs["best_val_error"] = 0.125
            f.attrs["preset"] = "stable"
            f.attrs["command_line"] = "ebm_mpi train --out a"
            g = f.create_group("data_order")
            g.attrs["partial_loss"] = 1.5
            g.attrs["skipped_in_a_row"] = 0
            f.create_group("optimizer").attrs["step"] = 30
            d = f.create_dataset("model/layer0/weight", data=np.arange(6, dtype=np.float32).reshape(2, 3))
            d.attrs["meaning"] = "weights"
            f.create_dataset("metrics/val_error", data=np.array([0.5, 0.25]))
            f.create_dataset("metrics/wall_seconds", data=np.array([1.0, 2.0]))
            if change:
                change(f)

    def setattr_(obj, name, value):
        return lambda f: f[obj].attrs.__setitem__(name, value)

    def delattr_(obj, name):
        return lambda f: f[obj].attrs.__delitem__(name)

    def poke(f):
        d = f["model/layer0/weight"]
        v = d[()]
        v[1, 2] = np.nextafter(v[1, 2], np.float32(10))
        d[...] = v

    # name: (change to the second file, extra arguments)
    reject = {
        "root attribute value": setattr_("/", "best_val_error", 0.25),
        "root attribute one ulp": setattr_("/", "best_val_error", np.nextafter(0.125, 1.0)),
        "root string attribute": setattr_("/", "preset", "seed"),
        "group attribute (optimizer step)": setattr_("optimizer", "step", 0),
        "group attribute (partial sum)": setattr_("data_order", "partial_loss", 1.25),
        "group attribute (skipped in a row)": setattr_("data_order", "skipped_in_a_row", 3),
        "dataset attribute": setattr_("model/layer0/weight", "meaning", "average"),
        "attribute missing": delattr_("data_order", "partial_loss"),
        "attribute added": setattr_("/", "rollbacks", 1),
        "attribute type (int64 -> float64)": setattr_("/", "epoch", 2.0),
        "dataset value (one ulp)": poke,
        "extra dataset": lambda f: f.create_dataset("sampler/chains", data=np.zeros((1, 3))),
        "--no-root-attrs, group attribute": (setattr_("optimizer", "step", 0), ["--no-root-attrs"]),
        "--ignore-attr epoch, dataset value": (poke, ["--ignore-attr", "epoch"]),
    }
    accept = {
        "identical": None,
        "command_line only": setattr_("/", "command_line", "ebm_mpi train --out b --resume auto"),
        "a timing column only": lambda f: f["metrics/wall_seconds"].__setitem__(0, 9.0),
        "--no-root-attrs, root attribute only": (setattr_("/", "format_version", 4), ["--no-root-attrs"]),
        "--ignore-attr epoch, that attribute only": (setattr_("/", "epoch", 3), ["--ignore-attr", "epoch"]),
    }
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        ref = os.path.join(tmp, "ref.h5")
        make(ref)
        for want, cases in ((1, reject), (0, accept)):
            for name, case in cases.items():
                change, extra = case if isinstance(case, tuple) else (case, [])
                other = os.path.join(tmp, "other.h5")
                make(other, change)
                try:
                    run(extra + [ref, other])
                    got, msg = 0, ""
                except SystemExit as e:
                    got, msg = (1, str(e.code)) if e.code else (0, "")
                verdict = "rejected" if got else "accepted"
                if got == want:
                    print(f"ok: {name}: {verdict}{': ' + msg if msg else ''}")
                else:
                    print(f"SELFTEST FAIL: {name}: {verdict}, wanted {'rejected' if want else 'accepted'}")
                    bad = 1
    if bad:
        sys.exit("FAIL: compare_ckpt.py self-test")
    print("ok: compare_ckpt.py self-test")


def main():
    args = sys.argv[1:]
    if args == ["--selftest"]:
        selftest()
    else:
        run(args)


if __name__ == "__main__":
    main()
