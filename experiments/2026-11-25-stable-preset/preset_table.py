#!/usr/bin/python3
"""Markdown table of experiments/2026-12-02-sample-quality/grid.py runs, for docs/stable-preset.md: per run
the test error of best.h5, the sample measures (scripts/sample_quality.py,
from grid.py's results.tsv) and, from metrics.h5, whether the run diverged:
the largest |mean energy| of data or samples over all epochs, the last
epoch's energies and validation error.

    /usr/bin/python3 experiments/2026-11-25-stable-preset/preset_table.py runs/final2/np1 runs/final2/np8 ...

Each argument is a grid.py --out directory (with results.tsv).
"""
import csv
import os
import sys

import h5py
import numpy as np


def rows(grid_dir):
    with open(os.path.join(grid_dir, "results.tsv")) as f:
        lines = [line for line in f if not line.startswith("#")]
    for r in csv.DictReader(lines, delimiter="\t"):
        run = os.path.join(grid_dir, f"{r['preset']}-np{r['np']}-s{r['seed']}")
        with h5py.File(os.path.join(run, "metrics.h5"), "r") as m:
            ed, es = m["energy_data"][()], m["energy_sample"][()]
            r["epochs"] = len(ed)
            r["max_abs_e"] = float(np.max(np.abs(np.concatenate([ed, es]))))
            r["last_e"] = f"{ed[-1]:.2f} / {es[-1]:.2f}"
            r["last_val"] = f"{100 * m['val_error'][-1]:.2f}"
        yield r


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cols = ["preset", "np", "seed", "epochs", "test error % (best.h5)", "best epoch",
            "top prob", "min class share", "realism", "copy", "skipped",
            "max abs(E) over epochs", "last E(data) / E(samples)", "last val error %"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for d in sys.argv[1:]:
        for r in rows(d):
            vals = [r["preset"], r["np"], r["seed"], r["epochs"], r["test_error"],
                    r["best_epoch"], r.get("top_prob") or "-", r.get("min_class") or "-",
                    r.get("realism") or "-", r.get("copy") or "-", r["skipped"],
                    f"{r['max_abs_e']:.3g}", r["last_e"], r["last_val"]]
            print("| " + " | ".join(str(v) for v in vals) + " |")


if __name__ == "__main__":
    main()
