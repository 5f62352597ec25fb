#!/usr/bin/python3
"""ood_base.py: eval --ood's energy score on a checkpoint with a base density
(np 2) is -E(x) of the whole energy, E(x) = -logsumexp f(x) + E_base(x), the
energy --dump and sample report.

The OOD set is the test split mirrored left to right (a file of the same
shape and range). Its energies and the split's come from `eval --dump` (the
dump adds the base); the AUROC of -E over all pairs (numpy; the split positive)
must equal the printed "energy score" AUROC to 1e-4, and the max-softmax
AUROC the one computed from the dumped logits. A score without the base
(logsumexp f alone, from the same logits) must give an AUROC at least 0.002
away, so that the first check could fail on the network's energy alone.

usage: ood_base.py PROGRAM CKPT DATA WORKDIR
"""
import os
import re
import shutil
import sys

import h5py
import numpy as np

from checklist import Checklist, fresh_workdir, run_np

AUROC = re.compile(r"AUROC: energy score -E\(x\) ([0-9.]+), max softmax ([0-9.]+)")


def auroc(pos, neg):
    """P(a positive scores above a negative), ties counted half: the
    Mann-Whitney form of the area under the ROC curve, over all pairs."""
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def logsumexp(f):
    top = f.max(axis=1)
    return top + np.log(np.exp(f - top[:, None]).sum(axis=1))


def max_softmax(f):
    return np.exp(f.max(axis=1) - logsumexp(f))


def dumped(path):
    with h5py.File(path, "r") as f:
        return f["energy"][()].astype(np.float64), f["logits"][()].astype(np.float64)


def main():
    prog, ckpt, data, work = sys.argv[1:5]
    fresh_workdir(work)
    checks = Checklist()
    check = checks.check

    mirrored = os.path.join(work, "mirrored.h5")
    shutil.copyfile(data, mirrored)
    with h5py.File(mirrored, "r+") as f:
        h, w = int(f.attrs["height"]), int(f.attrs["width"])
        x = f["test/images"][()]
        f["test/images"][...] = x.reshape(-1, h, w)[:, :, ::-1].reshape(x.shape)
    with h5py.File(ckpt, "r") as f:
        check("base" in f, "the checkpoint has a base density (/base)")

    ev = [prog, "eval", "--ckpt", ckpt, "--split", "test"]
    text = run_np(2, ev + ["--ood", mirrored], os.path.join(work, "ood.log"))
    run_np(2, ev + ["--data", data, "--dump", os.path.join(work, "in.h5")], os.path.join(work, "in.log"))
    run_np(2, ev + ["--data", mirrored, "--dump", os.path.join(work, "out.h5")],
           os.path.join(work, "out.log"))
    m = AUROC.search(text)
    if not check(m is not None, "one AUROC line printed"):
        print(text)
        return checks.finish()
    printed_e, printed_s = float(m.group(1)), float(m.group(2))

    e_in, f_in = dumped(os.path.join(work, "in.h5"))
    e_out, f_out = dumped(os.path.join(work, "out.h5"))
    auc_e = auroc(-e_in, -e_out)
    auc_net = auroc(logsumexp(f_in), logsumexp(f_out))
    auc_s = auroc(max_softmax(f_in), max_softmax(f_out))
    check(abs(printed_e - auc_e) < 1e-4,
          f"energy-score AUROC {printed_e:.4f} printed, {auc_e:.4f} from the dumped energies")
    check(abs(printed_s - auc_s) < 1e-4,
          f"max-softmax AUROC {printed_s:.4f} printed, {auc_s:.4f} from the dumped logits")
    check(abs(auc_net - auc_e) >= 0.002,
          f"the network's energy alone gives {auc_net:.4f}: the base changes the score, so the "
          f"first check tells them apart")
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
