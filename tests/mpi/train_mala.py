#!/usr/bin/python3
"""train_mala.py: `train --train-sampler mala` end to end (np 2, tiny).

1. A 2-epoch run of the density preset with --train-sampler mala and
   non-default --base-moves 3 --base-block 4 (--hidden 16, 64 chains, 2
   sweeps per draw) exits 0; every epoch line carries the kernel's figures
   ("block acc A mala acc M eta E move V"), both acceptances in [0, 1] and
   the MALA one above 0 (the kernel ran and accepted), eta > 0; no epoch line
   says "rollbacks" and last.h5 records 0 rollbacks.
2. The run record of last.h5 and best.h5 (h5py) stores train-sampler =
   "mala", base-moves = 3, base-block = 4: the values given, not the
   defaults (langevin, 4, 2).
3. Resume: 1 epoch, then --resume auto to 2 epochs. Checkpoints (format 7)
   store each rank's tuned MALA step /sampler/mala_step [2], so the resumed
   run is the straight run bit for bit (docs/usage.md "Resuming"): its
   last.h5 equals the straight run's (compare_ckpt.py: /model /optimizer
   /sampler, /sampler/mala_step included, /rng /data_order /metrics), and
   the epoch-1 checkpoint's steps are positive, finite and not --step-size's
   (the adaptation moved them). Also: exit 0; the resume note names epoch 1
   and global step S; only epoch 2 is printed; last.h5 is at epoch 2, global
   step 2 S, its run record the same as the straight run's; metrics.h5 has
   2 rows whose first is bitwise the straight run's; the model, the
   optimizer and the chains are finite, the chains inside the box.

Writes WORKDIR/straight (the fixture train_mala: a checkpoint with a base,
trained with the kernel, for infer.sample_kernel).

usage: train_mala.py PROGRAM DATA.h5 WORKDIR
"""
import math
import os
import re
import subprocess
import sys

import h5py
import numpy as np

from checklist import MPIRUN, Checklist, fresh_workdir, run_np

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
TIMEOUT = 120
KERNEL = re.compile(r"  block acc ([0-9.]+) mala acc ([0-9.]+) eta ([0-9.e+-]+) move ([0-9.]+)")


def run(args, log):
    return run_np(2, args, log, timeout=TIMEOUT)


def attr(a, name):
    v = a[name]
    return v.decode() if isinstance(v, bytes) else v


def kernel_figures(epochs, check):
    """Each epoch line: the kernel's figures, sane, and no rollback."""
    for line in epochs:
        m = KERNEL.search(line)
        if not m:
            check(False, f"kernel figures on the epoch line: {line!r}")
            continue
        block, mala, eta, move = (float(g) for g in m.groups())
        check(0 <= block <= 1 and 0 < mala <= 1 and eta > 0 and math.isfinite(move) and move >= 0,
              f"kernel figures: block acc {block}, mala acc {mala}, eta {eta:g}, move {move}")
        check("rollbacks" not in line, "no rollback on the epoch line")


def main():
    prog, data, work = sys.argv[1:4]
    fresh_workdir(work)
    checks = Checklist()
    check = checks.check

    args = [prog, "train", "--data", data, "--preset", "density", "--train-sampler", "mala",
            "--base-moves", "3", "--base-block", "4", "--hidden", "16", "--buffer", "64",
            "--langevin-steps", "2", "--seed", "0"]
    straight = os.path.join(work, "straight")
    split = os.path.join(work, "split")
    text = run(args + ["--epochs", "2", "--out", straight], os.path.join(work, "straight.log"))
    epochs = [l for l in text.splitlines() if l.startswith("epoch ")]
    check(len(epochs) == 2, f"2 epoch lines ({len(epochs)})")
    kernel_figures(epochs, check)

    with h5py.File(os.path.join(straight, "last.h5"), "r") as f:
        a = f.attrs
        steps = int(a["global_step"]) // 2
        check(int(a["rollbacks"]) == 0, f"last.h5: rollbacks {int(a['rollbacks'])}")
        record = {k: attr(a, k) for k in a if k not in ("command_line",)}
    for name in ("last.h5", "best.h5"):
        with h5py.File(os.path.join(straight, name), "r") as f:
            got = tuple(attr(f.attrs, k) if k in f.attrs else None
                        for k in ("train-sampler", "base-moves", "base-block"))
        check(got == ("mala", 3, 4), f"{name}: run record train-sampler, base-moves, base-block = {got}")

    run(args + ["--epochs", "1", "--out", split], os.path.join(work, "split1.log"))
    with h5py.File(os.path.join(split, "last.h5"), "r") as f:
        before = f["sampler/chains"][()]
        step = f["sampler/mala_step"][()] if "sampler/mala_step" in f else None
        eta0 = float(f.attrs["step-size"])
        check(int(f.attrs["format_version"]) == 7, f"format_version {int(f.attrs['format_version'])}")
    check(step is not None and step.shape == (2,) and np.isfinite(step).all() and (step > 0).all()
          and not np.allclose(0.5 * step * step, eta0),
          f"epoch-1 /sampler/mala_step {step}: one per rank, tuned away from --step-size {eta0:g}")
    text = run(args + ["--epochs", "2", "--out", split, "--resume", "auto"], os.path.join(work, "split2.log"))
    note = f"  resumed from {split}/last.h5: 1 epoch(s) done, global step {steps}"
    check(note in text.splitlines(), f"resume note {note.strip()!r}")
    printed = re.findall(r"^epoch +([0-9]+)/2 ", text, re.M)
    check(printed == ["2"], f"the resumed run printed epoch 2 only ({printed})")
    kernel_figures([l for l in text.splitlines() if l.startswith("epoch ")], check)  # the kernel ran after the resume
    with h5py.File(os.path.join(split, "last.h5"), "r") as f:
        a = f.attrs
        check((int(a["epoch"]), int(a["global_step"])) == (2, 2 * steps),
              f"resumed last.h5 at epoch {int(a['epoch'])}, global step {int(a['global_step'])}")
        diff = sorted(k for k in record if k not in ("epoch", "global_step", "best_epoch", "best_val_error",
                                                     "best_val_loss", "step_in_epoch", "complete")
                      and not np.array_equal(np.asarray(attr(a, k)), np.asarray(record[k])))
        check(not diff, f"resumed run record as the straight run's (differ: {diff})")
        lo, hi = float(a["value_min"]), float(a["value_max"])
        scale, shift = float(a["input_scale"]), float(a["input_shift"])
        box = sorted((scale * lo + shift, scale * hi + shift))
        arrays = {}
        f.visititems(lambda n, o: arrays.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
        bad = [n for n, v in arrays.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
        check(not bad and any(n.startswith("model/") for n in arrays), f"finite model, optimizer, chains ({bad})")
        chains = arrays.get("sampler/chains")
        check(chains is not None and chains.shape == (64, 64) and
              chains.min() >= box[0] - 1e-6 and chains.max() <= box[1] + 1e-6,
              f"64 chains inside the box {box}")
        # Every chain is in every step's draw (64 chains, global batch 64),
        # 1% of them restarted per draw: after 20 draws a chain the kernel
        # left unmoved is unchanged with p = 0.99^20 = 0.82.
        changed = np.any(chains != before, axis=1).mean() if chains is not None else 0.0
        check(changed > 0.9, f"{changed:.0%} of the chains moved during the resumed epoch")
    with h5py.File(os.path.join(straight, "metrics.h5"), "r") as fs, \
         h5py.File(os.path.join(split, "metrics.h5"), "r") as fr:
        check(len(fr["val_error"]) == 2, f"metrics.h5: {len(fr['val_error'])} rows")
        same = all(np.array_equal(fs[k][:1], fr[k][:1]) for k in ("train_loss", "val_loss", "val_error"))
        check(same, "metrics.h5 row 1 bitwise the straight run's")

    # Another kernel on resume is refused naming it (ckpt.resume_options
    # cannot reach this: its checkpoint has no base, which mala needs).
    other = subprocess.run([MPIRUN, "2"] + args + ["--epochs", "3", "--out", split, "--resume", "auto",
                                            "--train-sampler", "langevin"],
                           capture_output=True, text=True, timeout=TIMEOUT)
    errs = [l for l in (other.stdout + other.stderr).splitlines() if l.startswith("ebm_mpi: error: ")]
    check(other.returncode == 1 and len(errs) == 1 and
          "trained with --train-sampler mala, this run has --train-sampler langevin" in errs[0],
          f"a resume with --train-sampler langevin refused naming it (exit {other.returncode}, {errs})")

    cmp = subprocess.run([PY, os.path.join(HERE, "compare_ckpt.py"), "--dirs", straight, split, "last.h5"],
                         capture_output=True, text=True)
    check(cmp.returncode == 0, "resumed last.h5 bitwise the straight run's " +
          ("" if cmp.returncode == 0 else "(" + next((l for l in (cmp.stdout + cmp.stderr).splitlines()
                                                      if l.startswith("FAIL")), "?") + ")"))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
