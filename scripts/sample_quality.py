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

and the distribution measures of issue 14, against one split (`--split val`,
the default, or `test`), on the first N rows of the sample file, N = the
split's size (fewer rows is an error):

- k-NN precision and recall (Kynkaanniemi et al. 2019, k = 3, Euclidean on
  pixels in data units): precision = share of samples inside some real image's
  k-NN ball (radius = distance to its k-th nearest other real image, boundary
  included), recall = share of real images inside some sample's k-NN ball
  (radius among the samples);
- the Frechet distance between Gaussian fits (mean, covariance with N - 1)
  of samples and real images in pixel space (matrix square roots by
  symmetric eigendecomposition: the covariances are singular);
- copies: the share of those N samples whose nearest training image is closer
  than the 5th percentile of the split's own nearest-training-image distances
  (real images of the split score 5 % by construction; a sampler that
  returns training images scores 100 %);
- the class shares of those N samples by the classifier above;
- two reference lines of the same size: real images of another split
  (with --split val: the first N training images, a contiguous block of
  writers as the splits are, so choices made on val never read test; with
  --split test: the val images), and the chains' starting
  points, U[value_min, value_max]^D in data units (the 0-step sampler, seed 0),
  and the starts of --chain-init 1 (per-class Gaussians, written here
  independently of the program).

--no-classifier leaves out everything that needs the classifier (the three
criteria above and the class shares): the distribution measures need numpy
alone, not sklearn, which the tests' packages do not include (the ctest
sample-quality gate, tests/mpi/sample_fd.sh, uses it).

Sample files are in data units (ebm_mpi maps inputs to [-1, 1] internally;
`sample --steps 0` writes values spread over 0..16).

    /usr/bin/python3 scripts/sample_quality.py samples.h5 [--data data/digits.h5]
        [--split val|test] [--k 3] [--json] [--no-classifier]
    /usr/bin/python3 scripts/sample_quality.py --selftest
"""
import argparse
import json
import sys

import h5py
import numpy as np


def nearest_distance(a, b):
    """Euclidean distance from each row of a to its nearest row of b."""
    d2 = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(d2.min(1), 0.0))


def pairwise_distance(a, b):
    """Euclidean distances [len(a), len(b)] (computed in float64)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    d2 = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(d2, 0.0))


def knn_radii(x, k):
    """Distance from each row of x to its k-th nearest other row of x."""
    d = pairwise_distance(x, x)
    np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, k - 1]


def knn_precision_recall(samples, real, k=3):
    """Kynkaanniemi et al. 2019: precision = share of samples inside the union
    of the real images' k-NN balls, recall = share of real images inside the
    union of the samples' k-NN balls (distance <= radius counts as inside)."""
    r_real = knn_radii(real, k)
    r_fake = knn_radii(samples, k)
    d = pairwise_distance(samples, real)                  # [n_fake, n_real]
    precision = float(np.mean((d <= r_real[None, :]).any(1)))
    recall = float(np.mean((d <= r_fake[:, None]).any(0)))
    return precision, recall


def frechet_from_stats(m1, c1, m2, c2):
    """||m1 - m2||^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2)), with tr (C1 C2)^(1/2)
    = tr (S C2 S)^(1/2), S = C1^(1/2), from symmetric eigendecompositions:
    pixel covariances of the digits are singular (border pixels are always 0),
    where scipy.linalg.sqrtm of C1 C2 returns NaN."""
    c1 = np.asarray(c1, np.float64)
    c2 = np.asarray(c2, np.float64)
    w, v = np.linalg.eigh(c1)
    s = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    lam = np.linalg.eigvalsh(s @ c2 @ s)
    diff = np.asarray(m1, np.float64) - np.asarray(m2, np.float64)
    return float(diff @ diff + np.trace(c1) + np.trace(c2)
                 - 2.0 * np.sqrt(np.clip(lam, 0.0, None)).sum())


def frechet_distance(a, b):
    """Frechet distance between the Gaussian fits (mean, covariance with
    N - 1 in the denominator) of the rows of a and of b."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return frechet_from_stats(a.mean(0), np.cov(a, rowvar=False),
                              b.mean(0), np.cov(b, rowvar=False))


def copy_share(x, real, train, q=5.0):
    """Share of the rows of x whose nearest training image is closer than
    the q-th percentile of the real images' nearest-training-image
    distances; returns (share, that threshold)."""
    threshold = float(np.percentile(nearest_distance(np.asarray(real, np.float64),
                                                     np.asarray(train, np.float64)), q))
    d = nearest_distance(np.asarray(x, np.float64), np.asarray(train, np.float64))
    return float(np.mean(d < threshold)), threshold


def distribution_measures(x, real, k):
    p, r = knn_precision_recall(x, real, k)
    return {"precision": p, "recall": r, "fd": frechet_distance(x, real)}


def measure(samples, data_path, split="val", k=3, classifier=True):
    """The measures of the module docstring; with classifier=False only the
    distribution measures and their reference lines (no sklearn)."""
    with h5py.File(data_path, "r") as f:
        xtr, ytr = f["train/images"][()], f["train/labels"][()]
        xva = f["val/images"][()]
        xte = f["test/images"][()]
        ncls = int(f.attrs["num_classes"])
        lo, hi = float(f.attrs["value_min"]), float(f.attrs["value_max"])
    x = np.clip(samples.astype(np.float64), lo, hi)
    if not classifier:
        return distribution_part({"n": int(len(x))}, x, None, xtr, ytr, xva, xte, lo, hi,
                                 ncls, split, k)
    from sklearn.linear_model import LogisticRegression  # not needed by --selftest
    clf = LogisticRegression(max_iter=5000).fit(xtr / hi, ytr)
    prob = clf.predict_proba(x / hi)
    pred = prob.argmax(1)
    share = np.bincount(pred, minlength=ncls) / len(pred)
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
    return distribution_part(r, x, pred, xtr, ytr, xva, xte, lo, hi, ncls, split, k)


def distribution_part(r, x, pred, xtr, ytr, xva, xte, lo, hi, ncls, split, k):
    """Distribution measures against one split, on as many samples as it has
    images (class shares of those by the classifier's predictions pred, when
    given), added to r."""
    real = {"val": xva, "test": xte}[split].astype(np.float64)
    n = len(real)
    if len(x) < n:
        raise ValueError(f"{len(x)} samples, but the {split} split has {n} images: "
                         f"draw at least {n} (ebm_mpi sample --n {n})")
    xs = x[:n]
    if split == "val":
        other, other_name = xtr[:n].astype(np.float64), f"first {n} train"
    else:
        other, other_name = xva.astype(np.float64), "val"
    uniform = np.random.default_rng(0).uniform(lo, hi, size=real.shape)
    gauss = class_gaussian_draws(xtr.astype(np.float64), ytr, n, lo, hi)
    r.update({
        "split": split, "k": k, "n_split": n,
        "knn_precision": None, "knn_recall": None, "fd": None,
        "ref_name": other_name,
    })
    if pred is not None:
        sh = np.bincount(pred[:n], minlength=ncls) / n
        r.update(split_class_share=[round(float(v), 3) for v in sh],
                 split_min_class_share=float(sh.min()))
    m = distribution_measures(xs, real, k)
    r.update(knn_precision=m["precision"], knn_recall=m["recall"], fd=m["fd"])
    r["copies"], r["copy_threshold"] = copy_share(xs, real, xtr)
    r["ref_copies"] = copy_share(other, real, xtr)[0] if split == "test" else None
    m = distribution_measures(other, real, k)
    r.update(ref_precision=m["precision"], ref_recall=m["recall"], ref_fd=m["fd"])
    m = distribution_measures(uniform, real, k)
    r.update(uniform_precision=m["precision"], uniform_recall=m["recall"], uniform_fd=m["fd"])
    m = distribution_measures(gauss, real, k)
    r.update(gauss_precision=m["precision"], gauss_recall=m["recall"], gauss_fd=m["fd"])
    return r


def class_gaussian_draws(x, y, n, lo, hi, ridge=1e-3 * 64.0, seed=0):
    """n draws from the starts of ebm_mpi train --chain-init 1, written here
    from its definition: class k by its share of the training images, then
    N(mean_k, cov_k + ridge I) clipped to [lo, hi]. The ridge is the program's
    1e-3 in input units ([-1, 1]) in data units (x 8^2 for 0..16)."""
    rng = np.random.default_rng(seed)
    ks = np.unique(y)
    share = np.array([(y == c).mean() for c in ks])
    pick = rng.choice(ks, size=n, p=share)
    out = np.empty((n, x.shape[1]))
    for c in ks:
        rows = np.flatnonzero(pick == c)
        xc = x[y == c]
        cov = np.cov(xc, rowvar=False) + ridge * np.eye(x.shape[1])
        out[rows] = rng.multivariate_normal(xc.mean(0), cov, size=len(rows), method="cholesky")
    return np.clip(out, lo, hi)


def selftest():
    """Closed-form checks of knn_precision_recall, frechet_from_stats and
    frechet_distance; the reference values never come from the code under test."""
    fails = []

    def check(name, got, want, tol=1e-6):
        ok = abs(got - want) <= tol * max(1.0, abs(want))
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {got:.9g} (expected {want:.9g})")
        if not ok:
            fails.append(name)

    rng = np.random.default_rng(1)
    # 1. Commuting covariances Q diag(a) Q^T, Q diag(b) Q^T:
    #    FD = |m1 - m2|^2 + sum (sqrt(a) - sqrt(b))^2.
    d = 16
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    a, b = rng.uniform(0.1, 5.0, d), rng.uniform(0.1, 5.0, d)
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    want = float(((m1 - m2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    check("FD, commuting covariances (d 16)",
          frechet_from_stats(m1, q @ np.diag(a) @ q.T, m2, q @ np.diag(b) @ q.T), want)
    # 2. 2x2, not commuting: tr (C1 C2)^(1/2) = sqrt(tr(C1 C2) + 2 sqrt(det C1 det C2))
    #    (the eigenvalues l1, l2 of C1 C2 are real, positive: sqrt(l1) + sqrt(l2)).
    c1 = np.array([[2.0, 0.7], [0.7, 1.0]])
    c2 = np.array([[0.5, -0.2], [-0.2, 3.0]])
    m1, m2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    tr_sqrt = np.sqrt(np.trace(c1 @ c2) + 2.0 * np.sqrt(np.linalg.det(c1) * np.linalg.det(c2)))
    want = float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2.0 * tr_sqrt)
    check("FD, 2x2 non-commuting", frechet_from_stats(m1, c1, m2, c2), want)
    # 3. FD of a Gaussian with itself = 0; singular diagonal covariances (zero
    #    variances, as the digits' border pixels have): sum (sqrt(a) - sqrt(b))^2.
    check("FD, same Gaussian", frechet_from_stats(m1, c1, m1, c1), 0.0)
    a = np.array([0.0, 0.0, 4.0, 1.0, 9.0])
    b = np.array([0.0, 1.0, 1.0, 0.0, 9.0])
    check("FD, singular diagonal covariances", frechet_from_stats(
        np.zeros(5), np.diag(a), np.ones(5), np.diag(b)), 5.0 + 0 + 1 + 1 + 1 + 0)
    # 4. Point sets with exact fits: the 2d points m +- s_i e_i have mean m and
    #    covariance (N - 1 denominator, N = 2d) diag(2 s_i^2 / (2d - 1)).
    d = 8
    s1, s2 = rng.uniform(0.5, 3.0, d), rng.uniform(0.5, 3.0, d)
    m1, m2 = rng.normal(size=d), rng.normal(size=d) + 3.0
    eye = np.eye(d)
    x1 = np.concatenate([m1 + s1[:, None] * eye, m1 - s1[:, None] * eye])
    x2 = np.concatenate([m2 + s2[:, None] * eye, m2 - s2[:, None] * eye])
    v1, v2 = 2 * s1 ** 2 / (2 * d - 1), 2 * s2 ** 2 / (2 * d - 1)
    want = float(((m1 - m2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum())
    check("FD of point sets with exact Gaussian fits", frechet_distance(x1, x2), want)
    # 5. Precision/recall of a set against itself: every point is in its own ball.
    x = rng.normal(size=(200, 64))
    p, r = knn_precision_recall(x, x, 3)
    check("precision, set vs itself", p, 1.0)
    check("recall, set vs itself", r, 1.0)
    # 6. Disjoint, far-away sets: no point of one inside a ball of the other.
    y = rng.normal(size=(150, 64)) + 1000.0
    p, r = knn_precision_recall(y, x, 3)
    check("precision, far-away set", p, 0.0)
    check("recall, far-away set", r, 0.0)
    # 7. By hand, 1-D on a line in 64-D, k = 1: real {0, 1, 2, 3} (radius 1 each);
    #    samples {0.5, 4.5, 5} (radii 4, 0.5, 0.5). Precision: 0.5 is within 1 of
    #    0, 4.5 and 5 are 1.5 and 2 from 3: 1/3. Recall: every real point is
    #    within 4 of 0.5: 1. With k = 2: real radii {2, 1, 1, 2}, sample radii
    #    {4.5, 4, 4.5}: precision 3/3 (4.5 is 1.5 <= 2 from 3; 5 is 2 <= 2 from
    #    3), recall 1.
    e = np.zeros(64)
    e[5] = 1.0
    real = np.array([0.0, 1.0, 2.0, 3.0])[:, None] * e
    fake = np.array([0.5, 4.5, 5.0])[:, None] * e
    p, r = knn_precision_recall(fake, real, 1)
    check("precision by hand, k 1", p, 1 / 3)
    check("recall by hand, k 1", r, 1.0)
    p, r = knn_precision_recall(fake, real, 2)
    check("precision by hand, k 2", p, 1.0)
    check("recall by hand, k 2", r, 1.0)
    # 8. Swapping the roles swaps precision and recall.
    z = rng.normal(size=(120, 64)) * 1.05 + 0.05
    p1, r1 = knn_precision_recall(z, x, 3)
    p2, r2 = knn_precision_recall(x, z, 3)
    check("precision(a, b) = recall(b, a)", p1, r2)
    check("recall(a, b) = precision(b, a)", r1, p2)
    # 9. Copies: training images themselves are all copies (distance 0 below
    #    any positive threshold); points 1000 away none. By hand, 1-D, train
    #    {0, 10}, real {1, 2, 3, 4, 5} (distances 1..5, 5th percentile by
    #    linear interpolation 1.2), samples {0.5, 1.5, 9.9, 7}: distances
    #    0.5, 1.5, 0.1, 3 -> 2 of 4 below 1.2.
    train = rng.normal(size=(50, 64))
    check("copies, training images", copy_share(train[:20], x[:40], train)[0], 1.0)
    check("copies, far-away points", copy_share(y[:20], x[:40], train)[0], 0.0)
    tr = np.array([0.0, 10.0])[:, None] * e
    re = np.array([1.0, 2.0, 3.0, 4.0, 5.0])[:, None] * e
    sm = np.array([0.5, 1.5, 9.9, 7.0])[:, None] * e
    share, thr = copy_share(sm, re, tr)
    check("copy threshold by hand", thr, 1.2)
    check("copies by hand", share, 0.5)
    print("selftest:", "FAILED " + ", ".join(fails) if fails else "all passed")
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples", nargs="?")
    ap.add_argument("--data", default="data/digits.h5")
    ap.add_argument("--split", choices=["val", "test"], default="val",
                    help="real images for precision/recall/FD [val]")
    ap.add_argument("--k", type=int, default=3, help="k of the k-NN balls [3]")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--no-classifier", action="store_true",
                    help="distribution measures only (precision, recall, FD): no sklearn")
    ap.add_argument("--selftest", action="store_true",
                    help="check precision/recall/FD against closed-form cases and exit")
    args = ap.parse_args()
    if args.selftest:
        sys.exit(selftest())
    if args.samples is None:
        ap.error("a sample file is required (or --selftest)")
    with h5py.File(args.samples, "r") as f:
        samples = f["samples"][()]
    try:
        r = measure(samples, args.data, args.split, args.k, not args.no_classifier)
    except ValueError as e:
        sys.exit(f"sample_quality.py: error: {e}")
    if args.json:
        print(json.dumps(r))
        return
    print(f"{r['n']} samples from {args.samples}")
    if not args.no_classifier:
        print_classifier_part(r)
    print_distribution_part(r)


def print_classifier_part(r):
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


def print_distribution_part(r):
    n, sp = r["n_split"], r["split"]
    print(f"  against the {n} {sp} images (first {n} samples, k = {r['k']}):")
    print(f"    {'':28s} precision  recall   Frechet distance")
    print(f"    {'samples':28s} {r['knn_precision']:9.3f} {r['knn_recall']:7.3f} {r['fd']:10.1f}")
    print(f"    {'real: ' + r['ref_name']:28s} {r['ref_precision']:9.3f} {r['ref_recall']:7.3f} "
          f"{r['ref_fd']:10.1f}")
    print(f"    {'uniform starts (0 steps)':28s} {r['uniform_precision']:9.3f} "
          f"{r['uniform_recall']:7.3f} {r['uniform_fd']:10.1f}")
    print(f"    {'class-Gaussian starts (0 st.)':28s} {r['gauss_precision']:9.3f} "
          f"{r['gauss_recall']:7.3f} {r['gauss_fd']:10.1f}")
    ref = f", real {r['ref_name']} images {r['ref_copies']:.3f}" if r.get("ref_copies") is not None else ""
    print(f"    copies: {r['copies']:.3f} of the samples are closer to a training image than "
          f"{r['copy_threshold']:.2f}, the 5th percentile of the {sp} images' distances "
          f"(real {sp} images: 0.05 by construction{ref})")
    if "split_class_share" in r:
        print(f"    class shares of these {n}: {r['split_class_share']} "
              f"(min {r['split_min_class_share']:.3f})")


if __name__ == "__main__":
    main()
