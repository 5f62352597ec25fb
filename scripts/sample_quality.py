#!/usr/bin/python3
"""Measures ebm_mpi samples against the real digits (the sample criteria of the
stable preset, docs/stable-preset.md):

- recognisable: a classifier trained only on the real training images
  (sklearn LogisticRegression on pixels) gives the samples a mean top
  probability >= 0.9, and every class gets >= 5 % of them;
- realistic: the median distance from a sample to its nearest real test image
  is within 1.25x that of the real validation images;
- not copies: the median distance from a sample to its nearest training image
  is no smaller than that of the real test images.

    /usr/bin/python3 scripts/sample_quality.py samples.h5 [--data data/digits.h5] [--json]
"""
import argparse
import json

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression


def nearest_distance(a, b):
    """Euclidean distance from each row of a to its nearest row of b."""
    d2 = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(d2.min(1), 0.0))


def measure(samples, data_path):
    with h5py.File(data_path, "r") as f:
        xtr, ytr = f["train/images"][()], f["train/labels"][()]
        xva = f["val/images"][()]
        xte = f["test/images"][()]
        k = int(f.attrs["num_classes"])
        lo, hi = float(f.attrs["value_min"]), float(f.attrs["value_max"])
    clf = LogisticRegression(max_iter=5000).fit(xtr / hi, ytr)
    x = np.clip(samples.astype(np.float64), lo, hi)
    prob = clf.predict_proba(x / hi)
    pred = prob.argmax(1)
    share = np.bincount(pred, minlength=k) / len(pred)
    real_top = clf.predict_proba(xte / hi).max(1).mean()
    d_test = np.median(nearest_distance(x, xte))
    d_val_test = np.median(nearest_distance(xva, xte))
    d_train = np.median(nearest_distance(x, xtr))
    d_test_train = np.median(nearest_distance(xte, xtr))
    r = {
        "n": int(len(x)),
        "mean_top_prob": float(prob.max(1).mean()),
        "real_test_mean_top_prob": float(real_top),
        "min_class_share": float(share.min()),
        "class_share": [round(float(s), 3) for s in share],
        "median_nn_test": float(d_test),
        "real_val_median_nn_test": float(d_val_test),
        "realism_ratio": float(d_test / d_val_test),
        "median_nn_train": float(d_train),
        "real_test_median_nn_train": float(d_test_train),
        "copy_ratio": float(d_train / d_test_train),
    }
    r["recognisable"] = r["mean_top_prob"] >= 0.9 and r["min_class_share"] >= 0.05
    r["realistic"] = r["realism_ratio"] <= 1.25
    r["not_copies"] = r["copy_ratio"] >= 1.0
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples")
    ap.add_argument("--data", default="data/digits.h5")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args()
    with h5py.File(args.samples, "r") as f:
        samples = f["samples"][()]
    r = measure(samples, args.data)
    if args.json:
        print(json.dumps(r))
        return
    print(f"{r['n']} samples from {args.samples}")
    print(f"  recognisable: mean top probability {r['mean_top_prob']:.3f} (real test images "
          f"{r['real_test_mean_top_prob']:.3f}; need >= 0.9), smallest class share "
          f"{r['min_class_share']:.3f} (need >= 0.05): {'yes' if r['recognisable'] else 'NO'}")
    print(f"  class shares: {r['class_share']}")
    print(f"  realistic: median distance to nearest test image {r['median_nn_test']:.2f} vs "
          f"{r['real_val_median_nn_test']:.2f} for real val images, ratio "
          f"{r['realism_ratio']:.2f} (need <= 1.25): {'yes' if r['realistic'] else 'NO'}")
    print(f"  not copies: median distance to nearest training image {r['median_nn_train']:.2f} "
          f"vs {r['real_test_median_nn_train']:.2f} for real test images, ratio "
          f"{r['copy_ratio']:.2f} (need >= 1): {'yes' if r['not_copies'] else 'NO'}")


if __name__ == "__main__":
    main()
