#!/usr/bin/python3
"""The validation curve of experiments/2026-12-02-sample-quality/grid.py runs, beside best.h5's figure:
best.h5's val error is the minimum over 20 noisy epochs (one image = 0.37
points), which flatters runs whose val error jumps about; the last epoch's
error, the mean of the last five and the last val loss do not select.
One markdown row per option set (directories of the same name pool their
runs; means over the runs).

    /usr/bin/python3 experiments/2026-12-02-sample-quality/val_curve.py DIR [DIR...]
"""
import csv
import os
import statistics
import sys

import h5py


def main():
    print("| option set | runs | best val err % | last val err % | mean last 5 val err % | "
          "last val loss |")
    print("|---|---|---|---|---|---|")
    groups = {}  # by the directory's name: s10/x and s11/x (more seeds) pool
    for d in sys.argv[1:]:
        rows = groups.setdefault(os.path.basename(d.rstrip("/")), [])
        with open(os.path.join(d, "results.tsv")) as f:  # finished runs only
            done = list(csv.DictReader([ln for ln in f if not ln.startswith("#")],
                                       delimiter="\t"))
        for r in done:
            path = os.path.join(d, f"{r['preset']}-np{r['np']}-s{r['seed']}", "metrics.h5")
            with h5py.File(path, "r") as m:
                err, loss = m["val_error"][()], m["val_loss"][()]
            rows.append((100 * err.min(), 100 * err[-1], 100 * err[-5:].mean(), loss[-1]))
    for name, rows in groups.items():
        if rows:
            mean = [statistics.mean(r[i] for r in rows) for i in range(4)]
            print(f"| {name} | {len(rows)} | {mean[0]:.2f} | "
                  f"{mean[1]:.2f} | {mean[2]:.2f} | {mean[3]:.4f} |")

if __name__ == "__main__":
    main()
