#!/usr/bin/python3
"""ebm_mpi against PyTorch and against the machine's sgemm limit, in one run.

    /usr/bin/python3 scripts/bench.py [--build build] [--rounds 3] [--epochs 4]

after `cmake -S . -B build && cmake --build build`. Needs Debian's
python3-torch, python3-h5py, python3-sklearn (the notebook loads the digits
from sklearn), an MPI launcher and pkg-config's openblas; perf (linux-perf)
for the profile, optional.

Measured, interleaved round by round so that a busy machine slows every
contestant alike (only ratios from one run mean anything on a shared box):
  - ebm_mpi train --preset seed at np = 1 and np = 2: per-epoch training time
    (metrics.h5 wall_seconds: training steps only), compute and
    communication seconds per rank (min/mean/max), and separately the startup
    and the per-epoch time outside the steps (validation, checkpoints);
  - the same training in PyTorch, as the course notebook writes it
    (DataLoader, nn.Sequential, autograd for the Langevin gradient) and as an
    idiomatic loop (tensors preloaded, no DataLoader), each with 1 and 2
    threads (torch.set_num_threads and OpenBLAS's threads);
  - OpenBLAS sgemm (scripts/bench_sgemm.c) replaying exactly the matrix
    products of one epoch: 1 thread, 2 threads, and 2 processes of 1 thread
    each with the np = 2 per-rank shapes; plus each call shape alone.
Each configuration's figure is the median epoch of a run, then the best run
over the rounds. The FLOP count is analytic (the matrix products the step
calls: forward and input gradient per Langevin step, forward, weight and
input gradients in the training step) and equals the replay's own count.

Writes experiments/benchmark/benchmark.json (everything measured) and the results section of
docs/benchmark.md (between the bench markers; the rest of the file is kept).
`--fashion data/fashion_mnist.h5` adds one epoch of Fashion-MNIST at np = 1
and 2 with peak memory per rank (/usr/bin/time -v).

Before/after: `--baseline BUILD2` (a second build tree with bin/ebm_mpi, e.g.
an older commit's; relative paths are taken from the repository root, as for
--build) also measures ebm_mpi train --preset seed at np = 1 and 2 with
BUILD2, in every round right next to the --build runs (which of the two goes
first alternates from round to round), and reports per np the ratio
build / baseline of the usual figure (median epoch, best run over the
rounds; below 1: --build is faster) with its spread over the rounds (min and
max of the ratios taken within each round). Add `--only-ebm` to measure
nothing else (no PyTorch, no sgemm, no profile): a few minutes.

    /usr/bin/python3 scripts/bench.py --build build --baseline /tmp/old/build --only-ebm

The table goes to stdout; with --baseline the JSON and the markdown go to
--json and --out, by default /tmp/bench-compare.json and /tmp/bench-compare.md
(docs/ is left alone). `--render --json /tmp/bench-compare.json --out F.md`
redraws either kind of run.

The code is in scripts/bench/, one module per job (see its __init__.py).
"""
import argparse
import os
import shlex
import sys

# The package scripts/bench/ next to this file, whatever the working directory.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import ROOT  # noqa: E402
from bench.torch_ref import IDIOMATIC, NOTEBOOK  # noqa: E402

COMPARE_JSON, COMPARE_MD = "/tmp/bench-compare.json", "/tmp/bench-compare.md"


def build_tree(path):
    build = os.path.join(ROOT, path) if not os.path.isabs(path) else path
    if not os.path.exists(os.path.join(build, "bin", "ebm_mpi")):
        raise SystemExit(f"{build}/bin/ebm_mpi not found: build first "
                         "(cmake -S . -B build && cmake --build build -j)")
    return build


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="build tree with bin/ebm_mpi (build)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4, help="epochs per run (median taken)")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--fashion", metavar="H5", help="also one Fashion-MNIST epoch at np=1, 2")
    ap.add_argument("--out", help="markdown (docs/benchmark.md; with --baseline "
                    f"{COMPARE_MD})")
    ap.add_argument("--json", help="measurements (experiments/benchmark/benchmark.json; with --baseline "
                    f"{COMPARE_JSON})")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite the results section from experiments/benchmark/benchmark.json")
    ap.add_argument("--scaling", action="store_true",
                    help="only the scaling measurements (docs/scaling.md, experiments/benchmark/scaling.json)")
    ap.add_argument("--baseline", metavar="BUILD2",
                    help="second build tree: ebm_mpi at np=1, 2 next to --build's, "
                    "ratios build/baseline")
    ap.add_argument("--only-ebm", action="store_true",
                    help="with --baseline: only the ebm_mpi runs of the two builds")
    ap.add_argument("--torch-worker", choices=(NOTEBOOK, IDIOMATIC), help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        from bench.torch_ref import torch_worker
        torch_worker(args.torch_worker, args.threads, args.epochs, args.seed)
        return

    if args.only_ebm and not args.baseline:
        ap.error("--only-ebm goes with --baseline")
    if args.baseline and (args.render or args.scaling):
        ap.error("--baseline is a measuring run: not with --render or --scaling")
    if args.only_ebm and args.fashion:
        ap.error("--only-ebm measures the seed preset only: not with --fashion")
    if args.baseline:
        args.out = args.out or COMPARE_MD
        args.json = args.json or COMPARE_JSON
    else:
        args.out = args.out or os.path.join(ROOT, "docs", "benchmark.md")
        args.json = args.json or os.path.join(ROOT, "experiments", "benchmark", "benchmark.json")

    from bench import suite
    command = "/usr/bin/python3 scripts/bench.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:])
    if args.render:
        suite.rerender(args)
        return
    build = build_tree(args.build)
    baseline = build_tree(args.baseline) if args.baseline else None
    if args.only_ebm:
        from bench import compare
        compare.main(args, build, baseline, command)
        return
    from bench.sgemm import build_sgemm
    sgemm = build_sgemm(build)
    if args.scaling:
        from bench import scaling
        scaling.main(build, sgemm, command)
        return
    suite.main(args, build, sgemm, command, baseline)


if __name__ == "__main__":
    main()
