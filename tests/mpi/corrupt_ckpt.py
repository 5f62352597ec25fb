#!/usr/bin/python3
"""corrupt_ckpt.py: a checkpoint from someone else must not corrupt memory.

Every attribute and dataset of a valid checkpoint is set in turn to NaN, -1,
a huge value and a wrong type (a string attribute; a dataset of the wrong
shape), and the copy is handed to `train --resume`, `eval` and `sample`
(one process each, through tests/mpi/mpirun.sh). Each run must end by itself within its timeout with
status 0 or 1, never a signal (a crash) or a hang; a failing run prints
exactly one `ebm_mpi: error:` line and nothing else of ours; a run that
succeeds writes finite samples. Some corruptions must be refused (MUST
below: the values the program relies on to index memory or to compute),
and the message must name the field.

usage: corrupt_ckpt.py [--only PREFIX] PROGRAM VALID_LAST.h5 WORKDIR TRAIN_ARGS...
  TRAIN_ARGS: the options the checkpoint was trained with (for --resume).
  --only PREFIX: only the fields whose name starts with PREFIX (e.g. /base:
  the base density of a format-6 file, the rest being covered on another).
Exit 0 when every case behaved, 1 otherwise (each failure printed).
"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

from singleton_env import singleton_env

TIMEOUT = 60
# Corruptions that must be refused, with the field named in the message:
# field -> (commands, corruptions). A finite value of the right type is often
# valid (a weight of -1, a chain at -1, an RNG word of 2^63): those need only
# not crash. What must be refused: NaN, a wrong type or shape, and positions,
# counts and sizes out of their range (they index memory).
ALL, RESUME, READ = ("resume", "eval", "sample"), ("resume",), ("eval", "sample")
BAD_NUMBER = ("nan", "-1", "huge", "string")
MUST = {
    "/model/layer0/weight": (ALL, ("nan", "shape")),
    "/model/layer3/bias": (ALL, ("nan", "shape")),
    "epoch": (ALL, BAD_NUMBER),
    "step_in_epoch": (RESUME, BAD_NUMBER),
    "global_step": (RESUME, BAD_NUMBER),
    "world_size": (RESUME, BAD_NUMBER),
    "best_epoch": (RESUME, BAD_NUMBER),
    "input_scale": (READ, ("nan", "string")),
    "value_min": (READ, ("nan", "string")),
    "value_max": (READ, ("nan", "string")),
    "langevin-steps": (READ, BAD_NUMBER),
    "step-size": (READ, BAD_NUMBER),
    "noise": (READ, BAD_NUMBER),
    "chain-init": (READ, BAD_NUMBER),
    "step-decay": (READ, BAD_NUMBER),
    "/optimizer/layer0/exp_inf/weight": (RESUME, ("nan", "-1", "shape")),
    "/optimizer/layer0/online/weight": (RESUME, ("nan", "shape")),  # with --ema > 0
    "ema": (RESUME, BAD_NUMBER),
    "warmup": (RESUME, BAD_NUMBER),
    "/optimizer@step": (RESUME, BAD_NUMBER),
    "/rng/state": (RESUME, ("nan", "shape")),  # nan: all zero for an integer set
    "/sampler/chains": (RESUME, ("nan", "shape")),
    # format 5: what --chain-init 1 (eval, sample) and sample --init classes start from
    "/sampler/class_start/mean": (READ, ("nan", "shape")),
    "/sampler/class_start/chol": (READ, ("nan", "-1", "shape")),
    "/sampler/class_start/cumulative_share": (READ, ("nan", "-1", "shape")),
    # format 6: the base density, part of the energy eval and sample use
    # (resume refits it from the data: read by eval and sample only)
    "/base/log_density": (READ, ("nan", "shape")),
    "/base/log_density@lo": (READ, ("nan", "huge", "string")),
    "/base/log_density@hi": (READ, ("nan", "-1", "string")),
    # format 7: each rank's tuned MALA step (--train-sampler mala)
    "/sampler/mala_step": (RESUME, ("nan", "-1", "shape")),
    "/data_order": (RESUME, ("nan", "-1", "shape")),
    "/data_order@partial_count": (RESUME, BAD_NUMBER),
    "/data_order@skipped_in_a_row": (RESUME, BAD_NUMBER),
}
# The root attributes eval and sample read (the rest is training state).
READ_ATTRS = {"input_scale", "input_shift", "value_min", "value_max", "epoch", "langevin-steps",
              "clamp_chains", "step-size", "noise", "gen-weight", "energy-reg", "height", "width",
              "format_version", "chain-init", "step-decay"}


def variants(path):
    """(field, corruption, edit function) for every attribute and dataset."""
    out = []
    with h5py.File(path, "r") as f:
        attrs = [("/", k) for k in f.attrs if k != "complete"]
        datasets = []
        f.visititems(lambda name, o: datasets.append("/" + name)
                     if isinstance(o, h5py.Dataset) else None)
        for name in datasets:
            attrs += [(name, k) for k in f[name].attrs if k not in ("meaning", "description")]
        for g in ("/optimizer", "/sampler", "/rng"):
            if g in f:
                attrs += [(g, k) for k in f[g].attrs if k not in ("meaning", "generator")]
    for obj, key in attrs:
        field = key if obj == "/" else f"{obj}@{key}"
        # Every corruption of the fields that must be refused; NaN and a
        # wrong type of the others (no crash, no hang: the cheap half).
        labels = ("nan", "-1", "huge", "string") if field in MUST else ("nan", "string")
        for label, value in ((lb, v) for lb, v in (
                ("nan", np.float64("nan")), ("-1", np.int64(-1)),
                ("huge", np.float64(1e30)), ("string", np.bytes_("x"))) if lb in labels):
            def edit(f, obj=obj, key=key, value=value):
                del f[obj].attrs[key]
                f[obj].attrs[key] = value
            out.append((field, label, edit))
    for name in datasets:
        if name.startswith("/metrics/"):
            continue  # the history: figures only, checked by no one
        # A huge float is a valid float; -1 matters where it indexes.
        for label in (("nan", "-1", "shape") if name in MUST else ("nan", "shape")):
            def edit(f, name=name, label=label):
                d = f[name][()]
                del f[name]
                if label == "shape":
                    f[name] = d.reshape(-1)[: max(d.size - 1, 0)]
                else:
                    v = {"nan": np.nan, "-1": -1, "huge": 1e30}[label]
                    if d.dtype.kind in "iu":
                        v = {"nan": -(2 ** 31), "-1": -1, "huge": 2 ** 31 - 1}[label]
                        if d.dtype.kind == "u":
                            v = {"nan": 0, "-1": 0, "huge": 2 ** 63}[label]
                    f[name] = np.full(d.shape, v, dtype=d.dtype)
            out.append((name, label, edit))
    return out


# The faster way to start one process here (set by main): the binary itself,
# or through mpirun where a singleton MPI_Init is slow (seconds of waiting
# for a name lookup where "localhost" is not in /etc/hosts; HWLOC_COMPONENTS
# =-gl, which ctest sets, avoids the lookup). Slow starts wait rather than
# compute, so they run more at a time.
launch = []


def choose_launcher(prog):
    mpirun = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpirun.sh"), "1"]
    times = {}
    for name, cmd in (("singleton", []), ("mpirun", mpirun)):
        t0 = time.monotonic()
        subprocess.run(cmd + [prog, "--version"], capture_output=True, timeout=TIMEOUT,
                       env=None if cmd else singleton_env())
        times[name] = time.monotonic() - t0
    launch[:] = mpirun if times["singleton"] > 1.0 and times["mpirun"] < times["singleton"] else []
    return times


def check(prog, args, work, field, label, cmd):
    """Runs one command on one corrupted copy; returns a problem or None."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if not launch:
        # Its own TMPDIR too: singletons started together share Open MPI's
        # session directory under TMPDIR and can fail in MPI_Init on it
        # ("orte_session_dir failed", once in a fresh-root CI run).
        env = singleton_env(dict(env, TMPDIR=work))
    try:
        p = subprocess.run(launch + [prog] + args, cwd=work, env=env, capture_output=True, text=True,
                           timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"{field} = {label}: {cmd} hung ({TIMEOUT} s)"
    ours = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.startswith("ebm_mpi: error:")]
    if p.returncode not in (0, 1):
        return f"{field} = {label}: {cmd} ended with status {p.returncode} (a crash?)\n{p.stderr[-2000:]}"
    if p.returncode == 1 and (len(ours) != 1 or any(ln.startswith("ebm_mpi") and ln not in ours
                                                     for ln in p.stderr.splitlines())):
        return f"{field} = {label}: {cmd} failed without exactly one error line:\n{p.stderr[-2000:]}"
    key = field
    cmds, labels = MUST.get(key, ((), ()))
    if cmd in cmds and label in labels:
        if p.returncode == 0:
            return f"{field} = {label}: {cmd} accepted it (must refuse)"
        # The message names the attribute, or the dataset or its group.
        names = [key.split("@")[-1]] if not key.startswith("/") or "@" in key \
            else [key, "/" + key.split("/")[1]]
        if not any(n in ours[0] for n in names):
            return f"{field} = {label}: {cmd}'s error does not name {key}: {ours[0]}"
    if p.returncode == 0 and cmd == "sample":
        with h5py.File(os.path.join(work, "s.h5"), "r") as f:
            if not np.isfinite(f["samples"][()]).all():
                return f"{field} = {label}: sample exited 0 with non-finite samples"
    return None


# What eval and sample read: the model and the root attributes (the rest of
# a checkpoint is training state, read by resume alone).
# What resume reads: the hyperparameters it compares, the data checksum, the
# position and counters, and every dataset and attribute of the training
# state (the run's versions and names it does not read at all).
RESUME_ATTRS = {"format_version", "world_size", "epoch", "step_in_epoch", "global_step",
                "skipped_steps", "best_epoch", "best_val_error", "best_val_loss",
                "data_checksum_fnv1a64", "epochs", "batch-size", "lr", "hidden", "langevin-steps",
                "step-size", "noise", "buffer", "reinit", "energy-reg", "gen-weight",
                "train-noise", "preset", "seed", "chain-init", "step-decay", "lr-schedule",
                "warmup", "lr-floor", "ema"}


def reads(cmd, field):
    if cmd == "resume":
        return field.startswith("/") or field in RESUME_ATTRS
    return field in READ_ATTRS or field.startswith(("/model/", "/sampler/class_start/", "/base/"))


def run_case(prog, valid, root, train_args, i, field, label, edit):
    problems = []
    for cmd, args in (("resume", ["train", *train_args, "--out", "out", "--resume", "out/last.h5"]),
                      ("eval", ["eval", "--ckpt", "out/last.h5"]),
                      ("sample", ["sample", "--ckpt", "out/last.h5", "--n", "8", "--out", "s.h5"])):
        if not reads(cmd, field):
            continue
        # A copy for each command: a resume that succeeds rewrites last.h5.
        work = os.path.join(root, f"case{i}-{cmd}")
        os.makedirs(os.path.join(work, "out"), exist_ok=True)
        ck = os.path.join(work, "out", "last.h5")
        shutil.copyfile(valid, ck)
        with h5py.File(ck, "r+") as f:
            edit(f)
        problem = check(prog, args, work, field, label, cmd)
        if problem:
            problems.append(problem)
        shutil.rmtree(work)
    return problems


def main():
    argv, only = sys.argv[1:], ""
    if argv[:1] == ["--only"] and len(argv) > 1:
        only, argv = argv[1], argv[2:]
    if len(argv) < 3:
        sys.exit(__doc__)
    prog, valid, root, train_args = os.path.abspath(argv[0]), argv[1], argv[2], argv[3:]
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    times = choose_launcher(prog)
    print("start-up: singleton %.2f s, mpirun %.2f s: using %s" % (
        times["singleton"], times["mpirun"], "mpirun" if launch else "the binary alone"))
    cases = [c for c in variants(valid) if c[0].startswith(only)]
    if only and not any(c[0] in MUST for c in cases):
        print(f"FAIL: no field of {valid} starts with {only}")
        return 1
    problems = []
    slow = min(times.values()) > 1.0
    with concurrent.futures.ThreadPoolExecutor(max_workers=6 if slow else 2) as pool:
        futures = [pool.submit(run_case, prog, valid, root, train_args, i, *c)
                   for i, c in enumerate(cases)]
        for fut in futures:
            problems += fut.result()
    for p in problems:
        print("FAIL:", p)
    fields = sorted({c[0] for c in cases})
    print(f"{len(cases)} corrupted checkpoints ({len(fields)} fields x NaN, -1, huge, wrong type "
          f"or shape), 3 commands each: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
