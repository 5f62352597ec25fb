#!/usr/bin/python3
"""OOD AUROC of the best.h5 of every run under grid directories
(experiments/2026-12-02-sample-quality/grid.py --out DIR), on the test split: `ebm_mpi eval --ood uniform`
and `--ood shuffled`, the energy score -E(x) and the max softmax score.
Prints one markdown row per grid directory and rank count (means over the
seeds), and writes each run's figures to DIR/ood.tsv.

    /usr/bin/python3 experiments/2026-12-02-sample-quality/ood_table.py --binary build/bin/ebm_mpi DIR [DIR...]
"""
import argparse
import glob
import os
import re
import statistics
import subprocess

AUROC = re.compile(r"AUROC: energy score -E\(x\) ([\d.]+), max softmax ([\d.]+)")
RUN = re.compile(r"-np(\d+)-s(\d+)$")


def auroc(binary, ckpt, ood):
    out = subprocess.run([binary, "eval", "--ckpt", ckpt, "--ood", ood], capture_output=True,
                         text=True, check=True).stdout
    m = AUROC.search(out)
    if not m:
        raise SystemExit(f"no AUROC line from eval --ood {ood} of {ckpt}")
    return float(m.group(1)), float(m.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/bin/ebm_mpi")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    print("| runs | np | uniform: energy | uniform: max softmax | shuffled: energy | shuffled: max softmax |")
    print("|---|---|---|---|---|---|")
    for d in a.dirs:
        rows = []
        for run in sorted(glob.glob(os.path.join(d, "*-np*-s*"))):
            m = RUN.search(run)
            ckpt = os.path.join(run, "best.h5")
            if not m or not os.path.exists(ckpt):
                continue
            u = auroc(a.binary, ckpt, "uniform")
            s = auroc(a.binary, ckpt, "shuffled")
            rows.append((int(m.group(1)), int(m.group(2))) + u + s)
        with open(os.path.join(d, "ood.tsv"), "w") as f:
            f.write("np\tseed\tuniform_energy\tuniform_msp\tshuffled_energy\tshuffled_msp\n")
            for r in rows:
                f.write("\t".join(str(x) for x in r) + "\n")
        for np_ in sorted({r[0] for r in rows}):
            sel = [r for r in rows if r[0] == np_]
            means = [statistics.mean(r[i] for r in sel) for i in range(2, 6)]
            print(f"| {os.path.basename(d.rstrip('/'))} | {np_} | " +
                  " | ".join(f"{v:.3f}" for v in means) + " |")


if __name__ == "__main__":
    main()
