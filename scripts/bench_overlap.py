#!/usr/bin/python3
"""bench_overlap.py: epoch time and communication share of `ebm_mpi train`
with --overlap off and on (and optionally a baseline build), interleaved.

    /usr/bin/python3 scripts/bench_overlap.py [--build build] [--np 2 4]
        [--rounds 3] [--epochs 4] [--baseline BUILD2]
        [--mpirun "mpirun --host node1,node2 --mca btl self,tcp"]
        [-- TRAIN ARGS...]

Every round runs, for every np, each mode once (off, on, and with
--baseline the other build's binary without --overlap), the order rotating
from round to round so that a busy machine slows every mode alike. A run is
`LAUNCHER N ebm_mpi train --epochs E --out TMP [--overlap M] TRAIN ARGS`
(default preset: stable, hidden 512); its figures come from its metrics.h5,
epochs 2..E (the first epoch warms up caches and connections):

  epoch s      median of wall_seconds (the epoch's training steps, rank 0)
  comm %       median of comm_mean / (comm_mean + compute_mean), the share
               the epoch lines print: time in the gradient sum's wait and
               the broadcast, mean over ranks, over that plus compute
  reduce ms    per step, the gradient sum's exposed time (the MPI_Allreduce,
               or the waits after the backward pass), mean over ranks and
               min over ranks (the fastest rank: transfer without waiting)
  bcast ms     per step, the parameter broadcast, mean over ranks
  fwd/bwd ms   per step, the training batch's forward and backward pass
               (with --overlap on it includes the MPI_Test calls)

Each table cell is the median over the rounds; `on/off` is the median over
rounds of the per-round ratio of epoch times. The launcher is the build's,
through the launcher layer (tests/mpi/mpirun.sh N: Open MPI's mpirun or
MPICH's mpiexec as the build recorded, ranks allowed to outnumber cores); for
two hosts pass your own, e.g. --mpirun "mpirun --host node1,node2 --mca btl
self,tcp" (then `MPIRUN -np N`).
Run it under `nice -n 10` on a shared machine; nothing here asserts a time.
"""
import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, out):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(shlex.quote, cmd))} failed ({p.returncode}):\n"
                         f"{p.stdout[-3000:]}")
    import h5py
    with h5py.File(os.path.join(out, "metrics.h5"), "r") as f:
        cols = {k: [float(v) for v in f[k][:]] for k in f.keys()
                if f[k].ndim == 1 and f[k].dtype.kind == "f"}
        steps = [float(v) for v in f["global_step"][:]]
    first = 1 if len(cols["wall_seconds"]) > 1 else 0
    per_step = [steps[i] - (steps[i - 1] if i else 0) for i in range(len(steps))]
    sl = slice(first, None)

    def med(key, scale=1.0, per=False):
        vals = cols[key][sl]
        if per:
            vals = [v / s for v, s in zip(vals, per_step[sl])]
        return statistics.median(vals) * scale

    share = [m / (m + c) for m, c in zip(cols["comm_mean"][sl], cols["compute_mean"][sl])]
    return {
        "epoch_s": med("wall_seconds"),
        "comm_pct": 100 * statistics.median(share),
        "reduce_ms": med("time_reduce_mean", 1e3, True),
        "reduce_min_ms": med("time_reduce_min", 1e3, True),
        "bcast_ms": med("time_bcast_mean", 1e3, True),
        "fb_ms": med("time_forward_backward_mean", 1e3, True),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--baseline", metavar="BUILD2", help="another build, run without --overlap")
    ap.add_argument("--np", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--mpirun", help="your own launcher (given -np N); default: the build's, "
                    "through tests/mpi/mpirun.sh")
    ap.add_argument("train_args", nargs="*", help="after --: more ebm_mpi train options")
    args = ap.parse_args()
    if args.epochs < 2:
        ap.error("--epochs: at least 2 (the first epoch is left out)")

    def exe(build):
        b = build if os.path.isabs(build) else os.path.join(ROOT, build)
        path = os.path.join(b, "bin", "ebm_mpi")
        if not os.path.exists(path):
            raise SystemExit(f"{path} not found: build first")
        return path

    modes = [("off", exe(args.build), ["--overlap", "off"]),
             ("on", exe(args.build), ["--overlap", "on"])]
    if args.baseline:
        modes.insert(0, ("baseline", exe(args.baseline), []))
    results = {(n, m[0]): [] for n in args.np for m in modes}
    work = tempfile.mkdtemp(prefix="bench-overlap-")
    try:
        for r in range(args.rounds):
            for n in args.np:
                order = modes[r % len(modes):] + modes[:r % len(modes)]
                for name, binary, extra in order:
                    out = os.path.join(work, f"r{r}-np{n}-{name}")
                    launch = (shlex.split(args.mpirun) + ["-np", str(n)] if args.mpirun else
                              [os.path.join(ROOT, "tests", "mpi", "mpirun.sh"), str(n)])
                    cmd = (launch + [binary, "train", "--epochs", str(args.epochs), "--out", out, *extra,
                           *args.train_args])
                    res = run(cmd, out)
                    shutil.rmtree(out, ignore_errors=True)
                    results[(n, name)].append(res)
                    print(f"round {r + 1} np {n} {name:8s}: epoch {res['epoch_s']:.3f} s, "
                          f"comm {res['comm_pct']:.1f}%, reduce {res['reduce_ms']:.2f} ms "
                          f"(fastest {res['reduce_min_ms']:.2f}), bcast {res['bcast_ms']:.2f} ms, "
                          f"fwd/bwd {res['fb_ms']:.2f} ms", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    launcher = f"{args.mpirun} -np N" if args.mpirun else "tests/mpi/mpirun.sh N"
    print(f"\n`{launcher} ebm_mpi train --epochs {args.epochs} "
          f"{' '.join(args.train_args)}`: median over {args.rounds} round(s) of the median "
          f"of epochs 2..{args.epochs}\n")
    print("| np | mode | epoch s | comm % | reduce ms/step (mean, fastest rank) | "
          "bcast ms/step | fwd/bwd ms/step | epoch on/off |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n in args.np:
        ratio = statistics.median(a["epoch_s"] / b["epoch_s"] for a, b in
                                  zip(results[(n, "on")], results[(n, "off")]))
        for name, _, _ in modes:
            rs = results[(n, name)]

            def m(k):
                return statistics.median(x[k] for x in rs)
            print(f"| {n} | {name} | {m('epoch_s'):.3f} | {m('comm_pct'):.1f} | "
                  f"{m('reduce_ms'):.2f}, {m('reduce_min_ms'):.2f} | {m('bcast_ms'):.2f} | "
                  f"{m('fb_ms'):.2f} | {f'{ratio:.3f}' if name == 'on' else ''} |")


if __name__ == "__main__":
    main()
