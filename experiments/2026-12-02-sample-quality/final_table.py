#!/usr/bin/python3
"""docs/stable-preset.md's final table (test split) from grid directories of
experiments/2026-12-02-sample-quality/grid.py --quality test, their ood.tsv (experiments/2026-12-02-sample-quality/ood_table.py) and each
run's metrics.h5 (rollbacks): one row per run, then the mean (and median
test error) per directory and rank count; in those, "min class" is the
smallest over the runs and "rollbacks" the largest.

    /usr/bin/python3 experiments/2026-12-02-sample-quality/final_table.py LABEL=DIR [LABEL=DIR...]
"""
import csv
import os
import statistics
import sys

import h5py

COLS = ["test err %", "ECE", "P 1x", "R 1x", "FD 1x", "P 10x", "R 10x", "FD 10x",
        "FD 10x/1x", "min class", "AUROC uniform (E / softmax)",
        "AUROC shuffled (E / softmax)", "rollbacks"]


def rows_of(label, d):
    ood = {}
    path = os.path.join(d, "ood.tsv")
    if os.path.exists(path):
        with open(path) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                ood[(int(r["np"]), int(r["seed"]))] = r
    out = []
    with open(os.path.join(d, "results.tsv")) as f:
        lines = [l for l in f if not l.startswith("#")]
    for r in csv.DictReader(lines, delimiter="\t"):
        np_, seed = int(r["np"]), int(r["seed"])
        run = os.path.join(d, f"{r['preset']}-np{np_}-s{seed}")
        rb = None  # "-": the run's directory is not at hand (an earlier table's TSVs)
        if os.path.exists(os.path.join(run, "metrics.h5")):
            with h5py.File(os.path.join(run, "metrics.h5"), "r") as m:
                rb = int(m["rollbacks"][()].max()) if "rollbacks" in m else None
        o = ood.get((np_, seed), {})
        fd1, fd10 = float(r["q_fd1x"]), float(r["q_fd10x"])
        out.append(dict(label=label, np=np_, seed=seed, err=float(r["test_error"]),
                        ece=float(r["q_ece"]), p1=float(r["q_p1x"]), r1=float(r["q_r1x"]),
                        fd1=fd1, p10=float(r["q_p10x"]), r10=float(r["q_r10x"]), fd10=fd10,
                        ratio=fd10 / fd1,
                        minc=min(float(r["q_minc1x"]), float(r["q_minc10x"])),
                        ue=float(o["uniform_energy"]) if o else None,
                        um=float(o["uniform_msp"]) if o else None,
                        se=float(o["shuffled_energy"]) if o else None,
                        sm=float(o["shuffled_msp"]) if o else None, rb=rb))
    return out


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def line(r, seed_text):
    return (f"| {r['label']} | {r['np']} | {seed_text} | {r['err']:.2f} | {r['ece']:.3f} | "
            f"{r['p1']:.3f} | {r['r1']:.3f} | {r['fd1']:.0f} | {r['p10']:.3f} | {r['r10']:.3f} | "
            f"{r['fd10']:.0f} | {r['ratio']:.2f} | {r['minc']:.3f} | "
            f"{fmt(r['ue'], '.3f')} / {fmt(r['um'], '.3f')} | "
            f"{fmt(r['se'], '.3f')} / {fmt(r['sm'], '.3f')} | {fmt(r['rb'], 'd')} |")


def main():
    groups = [a.split("=", 1) for a in sys.argv[1:]]
    head = "| model | np | seed | " + " | ".join(COLS) + " |"
    print(head)
    print("|" + "---|" * (len(COLS) + 3))
    summary = []
    for label, d in groups:
        rows = rows_of(label, d)
        for r in rows:
            print(line(r, str(r["seed"])))
        for np_ in sorted({r["np"] for r in rows}):
            sel = [r for r in rows if r["np"] == np_]
            mean = {k: (statistics.mean(r[k] for r in sel) if sel[0][k] is not None else None)
                    for k in sel[0] if k not in ("label", "np", "seed")}
            mean.update(label=label, np=np_)
            mean["minc"] = min(r["minc"] for r in sel)  # the smallest over the runs
            if sel[0]["rb"] is not None:
                mean["rb"] = max(r["rb"] for r in sel)
            med = statistics.median(r["err"] for r in sel)
            summary.append(line(mean, f"mean of {len(sel)} (median err {med:.2f})"))
    print()
    print(head)
    print("|" + "---|" * (len(COLS) + 3))
    for s in summary:
        print(s)


if __name__ == "__main__":
    main()
