#!/usr/bin/python3
"""Samples of the classical models of `eval --loglik` (independent pixels,
mixture of 10 independent-pixel models), as reference rows for the sample
measures: what precision and recall a density of about -100 nats/image gives.

Fitted here in numpy on the training split, as docs/loglik.md section 6
states them (17 levels, +1 per level; the mixture by EM, K = 10, 100
iterations, 3 starts, the best by validation likelihood). 270 samples each,
written twice: uniform within each level's dequantisation cell (as the
model's continuous samples are) and at the levels themselves.

    classical_samples.py OUTDIR [--data data/digits.h5]
"""
import argparse
import os

import h5py
import numpy as np

L = 17


def levels(x, lo, hi):
    return np.clip(np.rint((x - lo) / (hi - lo) * (L - 1)), 0, L - 1).astype(int)


def onehot(lv):
    return np.eye(L)[lv]  # (n, d, L)


def em(oh, k, rng, iters=100):
    n, d, _ = oh.shape
    resp = rng.dirichlet(np.ones(k), size=n)
    for _ in range(iters):
        w = resp.sum(0) + 1e-9
        pi = w / w.sum()
        theta = (np.einsum("nk,ndl->kdl", resp, oh) + 1.0) / (w[:, None, None] + L)
        logp = np.log(pi)[None, :] + np.einsum("ndl,kdl->nk", oh, np.log(theta))
        m = logp.max(1, keepdims=True)
        resp = np.exp(logp - m)
        resp /= resp.sum(1, keepdims=True)
    return pi, theta


def loglik(oh, pi, theta):
    logp = np.log(pi)[None, :] + np.einsum("ndl,kdl->nk", oh, np.log(theta))
    m = logp.max(1, keepdims=True)
    return float((m[:, 0] + np.log(np.exp(logp - m).sum(1))).mean())


def draw(pi, theta, n, rng):
    k, d, _ = theta.shape
    comp = rng.choice(k, size=n, p=pi)
    cum = theta[comp].cumsum(-1)  # (n, d, L)
    u = rng.random((n, d, 1))
    return (u > cum).sum(-1).clip(0, L - 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../data/digits.h5"))
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    with h5py.File(a.data, "r") as f:
        lo, hi = float(f.attrs["value_min"]), float(f.attrs["value_max"])
        tr = levels(f["train/images"][()], lo, hi)
        va = levels(f["val/images"][()], lo, hi)
    rng = np.random.default_rng(0)
    oh_tr, oh_va = onehot(tr), onehot(va)
    indep = (oh_tr.sum(0) + 1.0) / (len(tr) + L)
    models = {"indep": (np.ones(1), indep[None])}
    best = None
    for start in range(3):
        pi, theta = em(oh_tr, 10, np.random.default_rng(start))
        v = loglik(oh_va, pi, theta)
        print(f"mixture start {start}: val log-likelihood {v:.2f} nats/image (levels)")
        if best is None or v > best[0]:
            best = (v, pi, theta)
    models["mixture10"] = best[1:]
    cell = (hi - lo) / L
    for name, (pi, theta) in models.items():
        lv = draw(pi, theta, 270, rng)
        for kind, x in (("cell", lo + (lv + rng.random(lv.shape)) * cell),
                        ("levels", lo + lv * (hi - lo) / (L - 1))):
            path = os.path.join(a.outdir, f"{name}_{kind}.h5")
            with h5py.File(path, "w") as f:
                f["samples"] = x.astype(np.float32)
            print("wrote", path)


if __name__ == "__main__":
    main()
