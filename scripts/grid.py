#!/usr/bin/python3
"""Runs ebm_mpi train over a grid of presets, rank counts and seeds and
tabulates the final figures (test error of best.h5, skipped steps, time) and
the sample measures of scripts/sample_quality.py for samples from best.h5.

    /usr/bin/python3 scripts/grid.py --np 1 8 --seeds 0 1 2 --presets stable seed \
        --out runs/grid [--samples 1000] [--sample-steps N] [-- extra train options]

Each run writes its checkpoints to <out>/<preset>-np<P>-s<seed>/ and its log
and samples.h5 next to them; the table goes to <out>/results.tsv and to stdout.
"""
import argparse
import os
import re
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sample_quality  # noqa: E402

DONE = re.compile(r"done in ([\d.]+)s: (\d+) steps \((\d+) skipped\)\. best\.h5 = epoch (\d+): "
                  r"val error ([\d.]+)%, test error ([\d.]+)%")
EPOCH = re.compile(r"^epoch\s+(\d+)/\d+\s+train loss (\S+) .* ([\d.]+)s\s+(\d+) ex/s")


def run_one(binary, np_, seed, preset, outdir, extra):
    os.makedirs(outdir, exist_ok=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = ["mpirun", "--oversubscribe", "-np", str(np_), binary, "train", "--preset", preset,
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
    ap.add_argument("extra", nargs="*", help="further ebm_mpi train options (after --)")
    args = ap.parse_args()
    cols = ["preset", "np", "seed", "status", "test_error", "val_error", "best_epoch",
            "skipped", "nonfinite_loss", "top_prob", "min_class", "realism", "copy",
            "median_epoch_s", "wall"]
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
                if args.samples > 0 and row["status"] == 0:
                    row.update(sample_one(args.binary, outdir, args.samples,
                                          args.sample_steps, args.data))
                line = "\t".join(str(row.get(c, "")) for c in cols)
                print(line, flush=True)
                with open(table, "a") as f:
                    f.write(line + "\n")


if __name__ == "__main__":
    main()
