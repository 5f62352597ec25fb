"""The pieces of scripts/bench.py, one module per job (scripts/bench.py is the
entry point and holds the command line; see its docstring):

    flops      the analytic FLOP count of an epoch and the seed preset's shapes
    runner     running ebm_mpi under tests/mpi/mpirun.sh and reading its metrics.h5
    sgemm      building and running the OpenBLAS replay (scripts/bench_sgemm.c)
    torch_ref  the same training in PyTorch (notebook code and idiomatic loop)
    profile    perf record/report of a whole run, grouped into categories
    render     the summary of a run and the markdown of docs/benchmark.md
    scaling    the network/scaling model and docs/scaling.md (--scaling)
    suite      the default run: every contestant, interleaved round by round
    compare    --baseline: the same ebm_mpi measure for two build trees

Nothing here is imported by the package itself, so that the PyTorch worker
(scripts/bench.py --torch-worker) loads only torch_ref.
"""
import os
import sys

# The repository: scripts/bench/__init__.py -> scripts/bench -> scripts -> root.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# scripts/bench.py, which re-invokes itself for the PyTorch worker.
SCRIPT = os.path.join(ROOT, "scripts", "bench.py")


def log(msg):
    print(msg, file=sys.stderr, flush=True)
