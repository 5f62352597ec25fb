#!/usr/bin/python3
"""Sample grids from ebm_mpi sample files to a PNG.

One file: its samples in a grid. Several files (e.g. one per class from
`ebm_mpi sample --class K`): one row per file.

    /usr/bin/python3 scripts/plot_samples.py samples.h5 -o samples.png
    /usr/bin/python3 scripts/plot_samples.py class0.h5 ... class9.h5 --per-row 10 -o classes.png

Each image is titled with the class the model predicts and its confidence
unless --no-labels.
"""
import argparse
import math

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    with h5py.File(path, "r") as f:
        x = f["samples"][()]
        pred = f["predicted"][()]
        conf = f["confidence"][()]
        h, w = int(f.attrs["height"]), int(f.attrs["width"])
        lo, hi = float(f.attrs["value_min"]), float(f.attrs["value_max"])
        cls = int(f.attrs["class"])
    if h * w != x.shape[1]:
        h = w = int(round(math.sqrt(x.shape[1])))
    return x.reshape(-1, h, w), pred, conf, (lo, hi), cls


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("-o", "--output", default="samples.png")
    ap.add_argument("--per-row", type=int, default=10, help="images per row")
    ap.add_argument("--rows", type=int, default=None, help="rows for a single file")
    ap.add_argument("--no-labels", action="store_true")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()

    rows = []
    for path in args.files:
        x, pred, conf, vrange, cls = load(path)
        if len(args.files) == 1:
            n_rows = args.rows or math.ceil(len(x) / args.per_row)
            for r in range(n_rows):
                sl = slice(r * args.per_row, (r + 1) * args.per_row)
                rows.append((x[sl], pred[sl], conf[sl], vrange, None))
        else:
            n = args.per_row
            rows.append((x[:n], pred[:n], conf[:n], vrange, cls))
    n_cols = args.per_row
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(n_cols * 0.9, len(rows) * 1.05),
                             squeeze=False)
    for r, (x, pred, conf, (lo, hi), cls) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(x):
                ax.axis("off")
                continue
            ax.imshow(np.clip(x[c], lo, hi), cmap="gray_r", vmin=lo, vmax=hi)
            if not args.no_labels:
                ax.set_title(f"{pred[c]} {conf[c]:.2f}", fontsize=7)
            if c == 0 and cls is not None and cls >= 0:
                ax.set_ylabel(f"class {cls}", fontsize=8)
    fig.suptitle(args.title or ", ".join(args.files) if len(args.files) == 1 else args.title
                 or "one row per file", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
