#!/usr/bin/python3
"""loglik_baselines.py: the classical models `eval --loglik` prints, against numpy.

The reference is computed here from the data file alone (h5py + numpy,
float64), following docs/loglik.md section 6, without the program's code:
  - uniform over the L levels: -D log L;
  - independent pixels: per-pixel histograms of the training split, +1 per level;
  - one Gaussian, full covariance, fitted to the dequantised training split
    (the mean and covariance of y = value_min + (level + u) w, u ~ U[0,1),
    with u integrated out: covariance of the cell centres plus w^2/12 I).
    The figure is E_u log N(y) + D log w; the program uses its closed form,
    checked here by Monte Carlo over u (MC_DRAWS draws per image) as well;
  - a mixture of K = 10 independent-pixel models by EM: start s assigns
    training example i to component splitmix64((s << 32) | i) mod K, then
    100 iterations of (M step with +1 pseudo-counts per level and per
    component, E step), a last M step; of 3 starts the best by mean
    validation log-likelihood is kept.
`ebm_mpi eval --loglik` runs at np 1 and np 2 on the test and the val split
(AIS at its smallest, it is not checked here) and each printed baseline and
its standard error over images must equal the reference to half its last
printed digit plus 1e-6 (printed %.3f).
Exit 0 when all agree, 1 otherwise.

usage: loglik_baselines.py PROGRAM CKPT.h5 DATA.h5 WORKDIR
"""
import os
import re
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MPIRUN = os.path.join(HERE, "mpirun.sh")
TIMEOUT = 120
K, STARTS, ITERS = 10, 3, 100
MC_DRAWS = 64
TOL = 0.0005 + 1e-6  # half of %.3f's last digit


def splitmix64(x):
    m = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def reference(data, split):
    with h5py.File(data, "r") as f:
        vmin, vmax = float(f.attrs["value_min"]), float(f.attrs["value_max"])
        lev = {s: (np.asarray(f[s]["images"], np.float64) - vmin).astype(np.int64)
               for s in ("train", "val", split)}
    L = int(vmax - vmin) + 1
    w = (vmax - vmin) / L
    D = lev["train"].shape[1]
    N = len(lev["train"])
    out = {"uniform": -D * np.log(L), "uniform_se": 0.0}

    def se(v):  # standard error of the mean over the split's images
        return float(np.std(v, ddof=1) / np.sqrt(len(v)))
    cnt = np.ones((D, L))
    for d in range(D):
        cnt[d] += np.bincount(lev["train"][:, d], minlength=L)
    logp = np.log(cnt / cnt.sum(1, keepdims=True))
    v = logp[np.arange(D), lev[split]].sum(1)
    out["indep"], out["indep_se"] = v.mean(), se(v)
    c = {s: vmin + (lev[s] + 0.5) * w for s in lev}
    mu = c["train"].mean(0)
    S = np.cov(c["train"].T, bias=True) + w * w / 12 * np.eye(D)
    Si = np.linalg.inv(S)
    _, logdet = np.linalg.slogdet(S)
    r = c[split] - mu
    q = np.einsum("ij,jk,ik->i", r, Si, r)
    v = (-0.5 * q - 0.5 * D * np.log(2 * np.pi) - 0.5 * logdet
         - w * w / 24 * np.trace(Si) + D * np.log(w))
    out["gauss"], out["gauss_se"] = v.mean(), se(v)
    # The closed form against Monte Carlo over u.
    rng = np.random.default_rng(0)
    y = vmin + (lev[split][None] + rng.random((MC_DRAWS,) + lev[split].shape)) * w - mu
    qmc = np.einsum("sij,jk,sik->si", y, Si, y)
    mc = -0.5 * qmc - 0.5 * D * np.log(2 * np.pi) - 0.5 * logdet + D * np.log(w)
    per_image = mc.mean(0)
    mc_mean, mc_se = per_image.mean(), mc.std() / np.sqrt(mc.size)
    if abs(mc_mean - out["gauss"]) > 5 * mc_se + 1e-6:
        raise RuntimeError(f"Gaussian closed form {out['gauss']:.4f} vs Monte Carlo "
                           f"{mc_mean:.4f} +- {mc_se:.4f}")
    onehot = np.eye(L)[lev["train"]]

    def mstep(R):
        nk = R.sum(0)
        th = (np.einsum("nk,ndl->kdl", R, onehot) + 1) / (nk[:, None, None] + L)
        return np.log((nk + 1) / (N + K)), np.log(th)

    def joint(lpi, lth, lv):
        a = np.stack([lth[k][np.arange(D), lv].sum(1) for k in range(K)], 1) + lpi
        m = a.max(1, keepdims=True)
        return m[:, 0] + np.log(np.exp(a - m).sum(1)), a

    vals, tests = [], []
    for s in range(STARTS):
        z = np.array([splitmix64((s << 32) | i) % K for i in range(N)])
        R = np.eye(K)[z]
        for _ in range(ITERS):
            lpi, lth = mstep(R)
            ll, a = joint(lpi, lth, lev["train"])
            R = np.exp(a - ll[:, None])
        lpi, lth = mstep(R)
        vals.append(joint(lpi, lth, lev["val"])[0].mean())
        tests.append(joint(lpi, lth, lev[split])[0])
    best = int(np.argmax(vals))
    out["mixture"], out["mixture_se"] = tests[best].mean(), se(tests[best])
    out["start"] = best
    out["val"] = vals
    return out


def run(prog, ckpt, data, np_, split, workdir):
    cmd = [MPIRUN, str(np_), prog, "eval", "--ckpt", ckpt, "--data", data, "--split", split,
           "--loglik", "--ais-steps", "2", "--ais-chains", "2"]
    print("$", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=TIMEOUT)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        raise RuntimeError(f"exit status {p.returncode}")
    got = {}
    for name in ("uniform", "indep", "gauss", "mixture"):
        m = re.search(r"baseline %s\s+(-?[0-9.]+) \+- ([0-9.]+)" % name, p.stdout)
        if not m:
            raise RuntimeError(f"no baseline {name} line")
        got[name], got[name + "_se"] = float(m.group(1)), float(m.group(2))
    m = re.search(r"mixture: start (\d) kept \(validation (-?[0-9.]+), (-?[0-9.]+), "
                  r"(-?[0-9.]+) nats", p.stdout)
    if not m:
        raise RuntimeError("no mixture start line")
    got["start"] = int(m.group(1))
    got["val"] = [float(g) for g in m.groups()[1:]]
    return got


def main():
    prog, ckpt, data, workdir = sys.argv[1:5]
    os.makedirs(workdir, exist_ok=True)
    failures = 0
    for split in ("test", "val"):
        ref = reference(data, split)
        print(f"reference ({split}): " + ", ".join(
            f"{k} {ref[k]:.4f}" for k in ("uniform", "indep", "gauss", "mixture")) +
            f"; mixture start {ref['start']}, validation {ref['val']}")
        for np_ in (1, 2):
            got = run(prog, ckpt, data, np_, split, workdir)
            for k in ("uniform", "indep", "gauss", "mixture", "uniform_se", "indep_se",
                      "gauss_se", "mixture_se"):
                ok = abs(got[k] - ref[k]) <= TOL
                print(f"  np {np_} {split} {k}: {got[k]:.3f} vs {ref[k]:.4f} "
                      f"{'ok' if ok else 'FAIL'}")
                failures += not ok
            if got["start"] != ref["start"] or any(
                    abs(a - b) > TOL for a, b in zip(got["val"], ref["val"])):
                print(f"  np {np_} {split}: mixture starts {got['start']} {got['val']} vs "
                      f"{ref['start']} {ref['val']} FAIL")
                failures += 1
    print("FAILED" if failures else "all baselines agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
