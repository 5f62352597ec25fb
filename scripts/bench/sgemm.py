"""OpenBLAS sgemm replaying the matrix products of an epoch
(scripts/bench_sgemm.c, built into the build tree it is given)."""
import json
import os
import subprocess

from . import ROOT, log
from .flops import SEED


def build_sgemm(build):
    src = os.path.join(ROOT, "scripts", "bench_sgemm.c")
    exe = os.path.join(build, "bench_sgemm")
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(src):
        return exe
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "openblas"], check=True,
                           capture_output=True, text=True).stdout.split()
    cmd = ["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O2", "-Wall", "-o", exe, src] + flags
    log("building " + " ".join(cmd))
    subprocess.run(cmd, check=True)
    return exe


def run_sgemm(exe, threads, ranks=1, procs=1, repeat=3, shapes=False, **shape):
    args = [exe, "--threads", str(threads), "--ranks", str(ranks), "--procs", str(procs),
            "--repeat", str(repeat)]
    for k in ("d", "h", "k", "examples", "batch", "langevin"):
        args += [f"--{k}", str(shape.get(k, SEED[k]))]
    if shapes:
        args.append("--shapes")
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    p = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return rows if shapes else rows[0]

