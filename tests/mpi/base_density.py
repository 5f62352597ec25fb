#!/usr/bin/python3
"""base_density.py: `train --base pixels` end to end against numpy.

1. A tiny run of the density preset (np 2, --hidden 16, 1 epoch, a short
   buffer) writes checkpoints of format 6 with /base/log_density [64, 18].
2. The stored base, read here with h5py, is a density: every pixel's
   piecewise-linear log-density integrates to 1 (numpy, closed form per
   piece, independent of the program's code); and it is the maximum-
   likelihood fit the docs describe: at the optimum the hat functions'
   expectations equal their empirical weights from the training counts + 1
   (numpy: the same counts read from the data file).
3. With the network's weights set to zero (h5py), E(x) = -log 10 + E_base(x),
   so log Z = log 10 exactly. `eval --split val --loglik --ais-start base
   --ais-steps 10` must print log Z = 2.303 with ESS 64 of 64, and the base
   alone equal to numpy's exact figure (the mean over the cells of the log
   density, i.e. the mean of the cell's two knots, plus log of the cell
   width in input space), to the printed digits.

usage: base_density.py PROGRAM DATA.h5 WORKDIR
"""
import math
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MPIRUN = os.path.join(HERE, "mpirun.sh")
TIMEOUT = 150


def run(args, log):
    with open(log, "w") as out:
        p = subprocess.run([MPIRUN] + args, stdout=out, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    text = open(log).read()
    if p.returncode != 0:
        print(text)
        raise SystemExit(f"FAIL: exit {p.returncode}: {' '.join(args)}")
    return text


def piece_mass(a0, a1, h):
    """Integral over [0, h] of exp(a0 + (a1 - a0) t / h): closed form."""
    d = a1 - a0
    small = np.abs(d) < 1e-12
    safe = np.where(small, 1.0, d)
    return np.where(small, h * np.exp(a0), h * (np.exp(a1) - np.exp(a0)) / safe)


def hat_expectations(a, h):
    """E_p[phi_k] for the hat functions of the knots, by fine quadrature."""
    P = len(a) - 1
    e = np.zeros(P + 1)
    t = (np.arange(2000) + 0.5) / 2000  # midpoint rule on each piece
    for k in range(P):
        dens = np.exp(a[k] + (a[k + 1] - a[k]) * t) * h / len(t)
        e[k] += (dens * (1 - t)).sum()
        e[k + 1] += (dens * t).sum()
    return e


def main():
    prog, data, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    out = os.path.join(work, "out")
    failures = []

    run(["2", prog, "train", "--data", data, "--out", out, "--preset", "density", "--hidden", "16",
         "--epochs", "1", "--buffer", "64", "--langevin-steps", "2"], os.path.join(work, "train.log"))
    ck = os.path.join(out, "best.h5")
    with h5py.File(ck, "r") as f:
        version = int(f.attrs["format_version"])
        base = f["base/log_density"][...]
        lo = float(f["base/log_density"].attrs["lo"])
        hi = float(f["base/log_density"].attrs["hi"])
        b = f.attrs["base"]
        b = b.decode() if isinstance(b, bytes) else str(b)
    if version != 7:
        failures.append(f"format_version {version}, expected 7")
    if b != "pixels" or base.shape != (64, 18) or (lo, hi) != (-1.0, 1.0):
        failures.append(f"base attribute {b!r}, /base/log_density {base.shape}, box [{lo}, {hi}]")

    with h5py.File(data, "r") as d:
        train = d["train/images"][...].astype(int)
        val = d["val/images"][...].astype(int)
    P = 17
    h = (hi - lo) / P
    worst_mass = worst_moment = 0.0
    for j in range(64):
        a = base[j]
        mass = piece_mass(a[:-1], a[1:], h).sum()
        worst_mass = max(worst_mass, abs(mass - 1.0))
        c = np.bincount(train[:, j], minlength=P) + 1.0
        emp = np.zeros(P + 1)
        emp[:-1] += 0.5 * c
        emp[1:] += 0.5 * c
        emp /= c.sum()
        worst_moment = max(worst_moment, np.abs(hat_expectations(a, h) - emp).max())
    print(f"largest |integral of p_j - 1| {worst_mass:.2e}; largest moment mismatch {worst_moment:.2e}")
    if worst_mass > 1e-9:
        failures.append(f"a pixel's density integrates to 1 +- {worst_mass:.2e}")
    if worst_moment > 1e-6:
        failures.append(f"the fit is not the maximum-likelihood one: moment mismatch {worst_moment:.2e}")

    # The base alone on val, exactly: per pixel the mean of the cell's knots + log h.
    cols = np.arange(64)[None, :]
    base_alone = (0.5 * (base[cols, val] + base[cols, val + 1]) + math.log(h)).sum(1).mean()

    zero = os.path.join(work, "zero.h5")
    shutil.copy(ck, zero)
    with h5py.File(zero, "r+") as f:
        for l in range(4):
            for n in ("weight", "bias"):
                f[f"model/layer{l}/{n}"][...] = 0.0
    text = run(["2", prog, "eval", "--data", data, "--ckpt", zero, "--split", "val", "--loglik",
                "--ais-steps", "10", "--ais-start", "base"], os.path.join(work, "eval.log"))
    m = re.search(r"log Z = (-?[0-9.]+) \+- ([0-9.]+) \(input space; annealed from the base "
                  r"density, its log Z 0\.000; ESS ([0-9.]+) of 64", text)
    mb = re.search(r"the base density alone \(independent pixels, exact\): (-?[0-9.]+)", text)
    if not m or not mb:
        print(text)
        failures.append("eval --loglik --ais-start base: no log Z or base line")
    else:
        log_z, ess, alone = float(m.group(1)), float(m.group(3)), float(mb.group(1))
        print(f"log Z {log_z} (exact {math.log(10):.4f}), ESS {ess}; base alone {alone} "
              f"(numpy {base_alone:.4f})")
        if abs(log_z - math.log(10)) > 0.0015 or ess != 64.0:
            failures.append(f"zero network from the base: log Z {log_z}, ESS {ess}")
        if abs(alone - base_alone) > 0.006:
            failures.append(f"base alone {alone}, numpy {base_alone:.4f}")
    for f in failures:
        print("FAIL:", f)
    print("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
