#!/usr/bin/python3
"""sample_kernel.py: `sample --sampler kernel` through the command (np 2).

On a checkpoint with a base density trained with the kernel (the fixture
train_mala, tests/mpi/train_mala.py), 40 samples from --init uniform:
  - 40 sweeps: exit 0; the file holds 40 x D finite samples inside the data
    box [value_min, value_max] read from the checkpoint, sampler "kernel";
    the printed line "rank 0's chains: MALA acceptance A, base-block
    acceptance B" with A in (0, 1], B in [0, 1], and A the stored
    acceptance's order (the stored one is over all ranks);
  - the chains moved towards the model: their mean energy is below that of
    the same 40 uniform starts (--steps 0) by more than 20 nats (measured:
    about -28 against +131 on the fixture).

usage: sample_kernel.py PROGRAM CKPT WORKDIR
"""
import os
import re
import sys

import h5py
import numpy as np

from checklist import Checklist, fresh_workdir, run_np

ACC = re.compile(r"^  rank 0's chains: MALA acceptance ([0-9.]+), base-block acceptance ([0-9.]+) \(all sweeps\)$",
                 re.M)


def run(args, log):
    return run_np(2, args, log, timeout=100, echo=True)


def main():
    prog, ckpt, work = sys.argv[1:4]
    fresh_workdir(work)
    checks = Checklist()
    check = checks.check

    with h5py.File(ckpt, "r") as f:
        lo, hi = float(f.attrs["value_min"]), float(f.attrs["value_max"])
        d = int(f.attrs["height"]) * int(f.attrs["width"])
    common = [prog, "sample", "--ckpt", ckpt, "--init", "uniform", "--sampler", "kernel", "--n", "40"]
    text = run(common + ["--steps", "40", "--out", os.path.join(work, "kernel.h5")],
               os.path.join(work, "kernel.log"))
    run(common + ["--steps", "0", "--out", os.path.join(work, "start.h5")], os.path.join(work, "start.log"))
    with h5py.File(os.path.join(work, "kernel.h5"), "r") as f:
        x = f["samples"][()]
        e = f["energy"][()]
        sampler = f.attrs["sampler"]
        sampler = sampler.decode() if isinstance(sampler, bytes) else str(sampler)
        stored = float(f.attrs["acceptance"])
    with h5py.File(os.path.join(work, "start.h5"), "r") as f:
        e0 = f["energy"][()]
    check(x.shape == (40, d), f"samples {x.shape}")
    check(np.isfinite(x).all() and x.min() >= lo and x.max() <= hi,
          f"finite, inside [{lo}, {hi}] (min {x.min():.4f}, max {x.max():.4f})")
    check(sampler == "kernel", f"sampler attribute {sampler!r}")
    m = ACC.search(text)
    if not m:
        check(False, "acceptance line printed")
    else:
        mala, block = float(m.group(1)), float(m.group(2))
        check(0 < mala <= 1 and 0 <= block <= 1 and 0 < stored <= 1,
              f"MALA acceptance {mala} (all ranks {stored}), base-block acceptance {block}")
    check(np.isfinite(e).all() and e.mean() < e0.mean() - 20,
          f"mean energy {e.mean():.2f} after 40 sweeps, {e0.mean():.2f} at the uniform starts")
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
