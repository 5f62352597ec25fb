#!/usr/bin/python3
"""Markdown rows for experiments/2026-12-02-sample-quality/quality-log.md from experiments/2026-12-02-sample-quality/grid.py --quality runs:
per run the option set, np, seed, error and ECE of best.h5 on the quality
split, k-NN precision/recall and Frechet distance at 1x and 10x the chain
length, the smaller min class share of the two, and the training's wall time;
with --summary, one row per option set with the mean over its seeds.

    /usr/bin/python3 experiments/2026-12-02-sample-quality/quality_log.py [--summary] [--header] runs/q/a runs/q/b ...
"""
import argparse
import csv
import os
from collections import OrderedDict

COLS = ["option set", "np", "seed", "val err %", "val ECE", "P 1x", "R 1x", "FD 1x",
        "P 10x", "R 10x", "FD 10x", "FD 10x/1x", "min class share", "train s"]


def rows(grid_dir):
    with open(os.path.join(grid_dir, "results.tsv")) as f:
        lines = [line for line in f if not line.startswith("#")]
    for r in csv.DictReader(lines, delimiter="\t"):
        if r.get("q_fd1x"):
            yield r


def fnum(r, k):
    try:
        return float(r[k])
    except (KeyError, TypeError, ValueError):
        return float("nan")


def cells(label, np_, seed, vals):
    err, ece, p1, r1, f1, p10, r10, f10, minc, wall = vals
    return [label, np_, seed, f"{err:.2f}", f"{ece:.4f}", f"{p1:.3f}", f"{r1:.3f}", f"{f1:.0f}",
            f"{p10:.3f}", f"{r10:.3f}", f"{f10:.0f}", f"{f10 / f1:.2f}", f"{minc:.3f}",
            f"{wall:.0f}"]


def values(r):
    return [fnum(r, "q_error"), fnum(r, "q_ece"), fnum(r, "q_p1x"), fnum(r, "q_r1x"),
            fnum(r, "q_fd1x"), fnum(r, "q_p10x"), fnum(r, "q_r10x"), fnum(r, "q_fd10x"),
            min(fnum(r, "q_minc1x"), fnum(r, "q_minc10x")), fnum(r, "wall")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--summary", action="store_true", help="mean over seeds per option set")
    ap.add_argument("--header", action="store_true")
    ap.add_argument("--split", default="val", help="split named in the header [val]")
    args = ap.parse_args()
    if args.header:
        print("| " + " | ".join(c.replace("val ", args.split + " ") for c in COLS) + " |")
        print("|" + "---|" * len(COLS))
    groups = OrderedDict()
    for d in args.dirs:
        for r in rows(d):
            key = (r.get("label") or r["preset"], r["np"])
            groups.setdefault(key, []).append(r)
            if not args.summary:
                print("| " + " | ".join(cells(key[0], r["np"], r["seed"], values(r))) + " |")
    if args.summary:
        for (label, np_), rs in groups.items():
            vs = [values(r) for r in rs]
            mean = [sum(v[i] for v in vs) / len(vs) for i in range(len(vs[0]))]
            mean[8] = min(v[8] for v in vs)      # the worst seed's min class share
            seeds = ",".join(r["seed"] for r in rs)
            print("| " + " | ".join(cells(label, np_, f"mean {seeds}", mean)) + " |")
            errs = sorted(v[0] for v in vs)
            print(f"<!-- {label} np {np_}: median error {errs[len(errs) // 2]:.2f}% -->")


if __name__ == "__main__":
    main()
