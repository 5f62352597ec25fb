"""Running ebm_mpi (under tests/mpi/mpirun.sh) and collecting its metrics.h5."""
import os
import re
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time

from . import ROOT


def mpirun_cmd(np_):
    return [os.path.join(ROOT, "tests", "mpi", "mpirun.sh"), str(np_)]


def run_ebm(build, np_, epochs, workdir, preset="seed", extra=(), timev=False):
    import h5py
    out = tempfile.mkdtemp(prefix=f"np{np_}-", dir=workdir)
    exe = os.path.join(build, "bin", "ebm_mpi")
    prog = ["/usr/bin/time", "-v", exe] if timev else [exe]
    cmd = mpirun_cmd(np_) + prog + ["train", "--preset", preset, "--epochs", str(epochs),
                                    "--out", out, *extra]
    # Lines are time-stamped as they arrive: rank 0 flushes the banner once
    # everything is loaded, and each epoch line once the epoch is done.
    t0 = time.perf_counter()
    stamps = []
    with tempfile.TemporaryFile(mode="w+") as errf:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True, bufsize=1)
        for line in p.stdout:
            stamps.append((time.perf_counter() - t0, line.rstrip("\n")))
        p.wait()
        total = time.perf_counter() - t0
        errf.seek(0)
        stderr = errf.read()
    stdout = "\n".join(line for _, line in stamps)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{stdout}\n{stderr}")
    m = re.search(r"done in ([0-9.]+)s", stdout)
    done_in = float(m.group(1)) if m else float("nan")
    epoch_lines = [t for t, line in stamps if re.match(r"epoch\s+\d+/\d+", line)]
    with h5py.File(os.path.join(out, "metrics.h5"), "r") as f:
        cols = {k: [float(v) for v in f[k][:]] for k in
                ("wall_seconds", "compute_min", "compute_mean", "compute_max",
                 "comm_min", "comm_mean", "comm_max", "examples_per_second")}
    res = dict(np=np_, epochs=epochs, command=" ".join(shlex.quote(c) for c in cmd),
               process_seconds=total, done_in=done_in, **cols)
    res["median_epoch"] = statistics.median(cols["wall_seconds"])
    # startup: launch, MPI, data loading and checksum, up to the banner;
    # outside steps: per epoch, validation + metrics + checkpoints; final:
    # the test evaluation of best.h5 and the exit.
    res["startup_seconds"] = stamps[0][0] if stamps else float("nan")
    res["outside_steps_per_epoch"] = (
        (epoch_lines[-1] - stamps[0][0] - sum(cols["wall_seconds"])) / epochs
        if epoch_lines else float("nan"))
    res["final_seconds"] = total - epoch_lines[-1] if epoch_lines else float("nan")
    if timev:
        res["max_rss_kb"] = [int(v) for v in
                             re.findall(r"Maximum resident set size \(kbytes\): (\d+)", stderr)]
    shutil.rmtree(out, ignore_errors=True)
    return res



def best(runs, key="median_epoch"):
    return min(runs, key=lambda r: r[key])


def cpu_name():
    import platform
    return next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                 if ln.startswith("model name")), platform.processor())
