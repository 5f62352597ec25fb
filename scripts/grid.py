#!/usr/bin/python3
"""Runs ebm_mpi train over a grid of presets, rank counts and seeds and
tabulates the final figures (test error of best.h5, skipped steps, time).

    /usr/bin/python3 scripts/grid.py --np 1 8 --seeds 0 1 2 --presets stable seed \
        --out runs/grid [-- extra ebm_mpi train options]

Each run writes its checkpoints to <out>/<preset>-np<P>-s<seed>/ and its log
next to them; the table goes to <out>/results.tsv and to stdout.
"""
import argparse
import os
import re
import subprocess
import sys
import time

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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--np", type=int, nargs="+", default=[1])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--presets", nargs="+", default=["stable"])
    ap.add_argument("--out", default="runs/grid")
    ap.add_argument("--binary", default="build/bin/ebm_mpi")
    ap.add_argument("extra", nargs="*", help="further ebm_mpi train options (after --)")
    args = ap.parse_args()
    cols = ["preset", "np", "seed", "status", "test_error", "val_error", "best_epoch",
            "skipped", "nonfinite_loss", "median_epoch_s", "wall"]
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
                line = "\t".join(str(row.get(c, "")) for c in cols)
                print(line, flush=True)
                with open(table, "a") as f:
                    f.write(line + "\n")


if __name__ == "__main__":
    main()
