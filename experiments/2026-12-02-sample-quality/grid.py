#!/usr/bin/python3
"""Runs ebm_mpi train over a grid of presets, rank counts and seeds and
tabulates the final figures (test error of best.h5, skipped steps, time) and
the sample measures of scripts/sample_quality.py for samples from best.h5.

    /usr/bin/python3 experiments/2026-12-02-sample-quality/grid.py --np 1 8 --seeds 0 1 2 --presets stable seed \
        --out runs/grid [--samples 1000] [--sample-steps N] [-- extra train options]

Each run writes its checkpoints to <out>/<preset>-np<P>-s<seed>/ and its log
and samples.h5 next to them; the table goes to <out>/results.tsv and to stdout.

With --quality SPLIT (issue 14; SPLIT val for every choice, test only for a
final table), each run also gets: the error and ECE of best.h5 on SPLIT
(ebm_mpi eval --split SPLIT), and k-NN precision/recall and the Frechet
distance (sample_quality.py) of as many samples as SPLIT has images, drawn
from best.h5's fresh chains at the checkpoint's chain length (1x) and at
--long-factor times it (10x by default), with the min class share of each.
Columns q_*; --label names the option set in the table.
"""
import argparse
import os
import re
import subprocess
import sys
import time

import h5py

# The repository's root: this record lives in experiments/<date>-<topic>/.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import sample_quality  # noqa: E402

DONE = re.compile(r"done in ([\d.]+)s: (\d+) steps \((\d+) skipped\)\. best\.h5 = epoch (\d+): "
                  r"val error ([\d.]+)%, test error ([\d.]+)%")
EPOCH = re.compile(r"^epoch\s+(\d+)/\d+\s+train loss (\S+) .* ([\d.]+)s\s+(\d+) ex/s")


def run_one(binary, np_, seed, preset, outdir, extra):
    os.makedirs(outdir, exist_ok=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    # The launcher layer (tests/mpi/mpirun.sh): the MPI the binary's build
    # recorded (Open MPI or MPICH), root and oversubscription handled there.
    mpirun = os.path.join(ROOT, "tests", "mpi", "mpirun.sh")
    cmd = [mpirun, str(np_), binary, "train", "--preset", preset,
           "--seed", str(seed), "--out", outdir] + extra
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    with open(os.path.join(outdir, "train.log"), "w") as f:
        f.write(" ".join(cmd) + "\n" + proc.stdout)
    epochs = [EPOCH.search(line) for line in proc.stdout.splitlines()]
    epochs = [m for m in epochs if m]
    losses = [float(m.group(2)) for m in epochs]
    seconds = [float(m.group(3)) for m in epochs]
    m = DONE.search(proc.stdout)
    row = {"preset": preset, "np": np_, "seed": seed, "status": proc.returncode,
           "wall": round(time.time() - t0, 1),
           "median_epoch_s": round(sorted(seconds)[len(seconds) // 2], 3) if seconds else None,
           "nonfinite_loss": any(not (x == x and abs(x) != float("inf")) for x in losses)}
    if m:
        row.update(skipped=int(m.group(3)), best_epoch=int(m.group(4)),
                   val_error=float(m.group(5)), test_error=float(m.group(6)))
    return row


def sample_one(binary, outdir, n, steps, data):
    """Samples from <outdir>/best.h5 (fresh chains) and measures them."""
    path = os.path.join(outdir, "samples.h5")
    cmd = [binary, "sample", "--ckpt", os.path.join(outdir, "best.h5"), "--n", str(n),
           "--out", path] + (["--steps", str(steps)] if steps is not None else [])
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if proc.returncode != 0:
        print(proc.stdout, file=sys.stderr)
        return {}
    with h5py.File(path, "r") as f:
        r = sample_quality.measure(f["samples"][()], data)
    return {"top_prob": round(r["mean_top_prob"], 3),
            "min_class": round(r["min_class_share"], 3),
            "realism": round(r["realism_ratio"], 3), "copy": round(r["copy_ratio"], 3)}


EVAL = re.compile(r"error ([\d.]+)%.*expected calibration error ([\d.]+)")


def ckpt_steps(path):
    """The checkpoint's --langevin-steps (its run record)."""
    with h5py.File(path, "r") as f:
        return int(f.attrs["langevin-steps"])


def quality_one(binary, outdir, split, long_factor, data, sample_steps):
    """Val (or test) error and ECE of best.h5 and the issue-14 sample measures
    at 1x and long_factor x the chain length."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    best = os.path.join(outdir, "best.h5")
    row = {}
    proc = subprocess.run([binary, "eval", "--ckpt", best, "--split", split], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    m = EVAL.search(proc.stdout)
    if m:
        row.update(q_error=float(m.group(1)), q_ece=float(m.group(2)))
    with h5py.File(data, "r") as f:
        n = len(f[f"{split}/labels"])
    base = sample_steps if sample_steps is not None else ckpt_steps(best)
    for tag, steps in (("1x", base), ("10x", base * long_factor)):
        path = os.path.join(outdir, f"q{tag}.h5")
        t0 = time.time()
        proc = subprocess.run([binary, "sample", "--ckpt", best, "--n", str(n), "--steps",
                               str(steps), "--out", path], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            print(proc.stdout, file=sys.stderr)
            continue
        with h5py.File(path, "r") as f:
            r = sample_quality.measure(f["samples"][()], data, split)
        row.update({f"q_p{tag}": round(r["knn_precision"], 3),
                    f"q_r{tag}": round(r["knn_recall"], 3), f"q_fd{tag}": round(r["fd"], 1),
                    f"q_minc{tag}": round(r["split_min_class_share"], 3),
                    f"q_steps{tag}": steps, f"q_sample_s{tag}": round(time.time() - t0, 1)})
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--np", type=int, nargs="+", default=[1])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--presets", nargs="+", default=["stable"])
    ap.add_argument("--out", default="runs/grid")
    ap.add_argument("--binary", default="build/bin/ebm_mpi")
    ap.add_argument("--samples", type=int, default=1000,
                    help="samples to draw from best.h5 and measure (0: none)")
    ap.add_argument("--sample-steps", type=int, default=None,
                    help="Langevin steps for them (default: the checkpoint's)")
    ap.add_argument("--data", default="data/digits.h5", help="reference data for the measures")
    ap.add_argument("--quality", choices=["val", "test"], default=None,
                    help="also the issue-14 measures against this split (columns q_*)")
    ap.add_argument("--long-factor", type=int, default=10,
                    help="with --quality: the long chains' length over the checkpoint's [10]")
    ap.add_argument("--label", default="", help="name of the option set, for the table")
    ap.add_argument("extra", nargs="*", help="further ebm_mpi train options (after --)")
    args = ap.parse_args()
    cols = ["preset", "np", "seed", "status", "test_error", "val_error", "best_epoch",
            "skipped", "nonfinite_loss", "top_prob", "min_class", "realism", "copy",
            "median_epoch_s", "wall"]
    if args.quality:
        cols = ["label"] + cols + ["q_error", "q_ece", "q_p1x", "q_r1x", "q_fd1x", "q_minc1x",
                                   "q_p10x", "q_r10x", "q_fd10x", "q_minc10x", "q_steps1x",
                                   "q_steps10x", "q_sample_s1x", "q_sample_s10x"]
    os.makedirs(args.out, exist_ok=True)
    table = os.path.join(args.out, "results.tsv")
    with open(table, "w") as f:
        f.write("# " + " ".join(sys.argv) + "\n" + "\t".join(cols) + "\n")
    print("\t".join(cols), flush=True)
    for preset in args.presets:
        for np_ in args.np:
            for seed in args.seeds:
                outdir = os.path.join(args.out, f"{preset}-np{np_}-s{seed}")
                row = run_one(args.binary, np_, seed, preset, outdir, args.extra)
                row["label"] = args.label or " ".join(args.extra) or preset
                if args.samples > 0 and row["status"] == 0:
                    row.update(sample_one(args.binary, outdir, args.samples,
                                          args.sample_steps, args.data))
                if args.quality and row["status"] == 0:
                    row.update(quality_one(args.binary, outdir, args.quality,
                                           args.long_factor, args.data, args.sample_steps))
                line = "\t".join(str(row.get(c, "")) for c in cols)
                print(line, flush=True)
                with open(table, "a") as f:
                    f.write(line + "\n")


if __name__ == "__main__":
    main()
