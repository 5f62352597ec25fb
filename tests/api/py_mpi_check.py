#!/usr/bin/python3
"""py_mpi_check.py: ebm_mpi.mpi.evaluate (ebm_eval_mpi_f through ctypes)
under mpi4py, on every rank of the job, for eval_mpi.sh, which compares the
figures rank 0 prints with `ebm_mpi eval`'s on as many ranks.

    mpirun -np P py_mpi_check.py CKPT DATA SPLIT

Besides those figures, each rank checks (and the job fails, with FAIL lines
from rank 0, if any rank's check fails):
  - every rank got the same figures; on a communicator of its own
    (comm.Split: even ranks on SPLIT, odd ones on "train" at the same time)
    too, and without the confusion matrix;
  - against numpy's float64 forward pass of the checkpoint's weights
    (tests/api/api_check.py): n, the cross-entropy and mean energy within
    1e-4 (1 + |t|), the error and the confusion matrix where the top two
    reference logits are further apart than that;
  - a checkpoint missing on the last rank only raises ebm_mpi.Error naming
    it on every rank, and the job goes on; a communicator that is not one
    raises TypeError;
  - the MPI mpi4py uses is the one the library is linked with.
The package is found through PYTHONPATH and LIBEBM_MPI, which the
launcher passes to the ranks.
"""
import os
import sys

import h5py
import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_check import RTOL, decided, forward, logsumexp, network  # noqa: E402

import ebm_mpi  # noqa: E402
import ebm_mpi.mpi  # noqa: E402

FIGURES = ("n", "loss", "cross_entropy", "generative", "error", "ece", "energy_data",
           "energy_sample")


def print_result(r):
    """The figures as eval_mpi.c prints them (full precision, for eval_mpi.sh)."""
    for name in ("loss", "cross_entropy", "generative", "error", "ece", "energy_data"):
        print(f"figure {name} {getattr(r, name)!r}")
    for row in r.confusion:
        print("confusion " + " ".join(str(int(c)) for c in row))


def checks(comm, ckpt, data, split):
    problems = []
    r = ebm_mpi.mpi.evaluate(comm, ckpt, data, split)
    mine = tuple(getattr(r, f) for f in FIGURES) + (r.confusion.tobytes(),)
    if any(other != mine for other in comm.allgather(mine)):
        problems.append("the ranks' figures differ")

    # Even ranks evaluate `split` on their communicator, odd ones "train"
    # on theirs, at the same time: each call must stay on its communicator.
    even = comm.Get_rank() % 2 == 0
    sub = comm.Split(0 if even else 1, comm.Get_rank())
    s = ebm_mpi.mpi.evaluate(sub, ckpt, data, split if even else "train", confusion=False)
    sub.Free()
    with h5py.File(data, "r") as f:
        n_train = len(f["train/labels"])
    if s.confusion is not None or (even and (s.n != r.n or s.error != r.error or abs(
            s.cross_entropy - r.cross_entropy) > 1e-6 * (1 + abs(r.cross_entropy)))):
        problems.append(f"on a split communicator: n {s.n} error {s.error} cross-entropy "
                        f"{s.cross_entropy}, on the whole one {r.n} {r.error} {r.cross_entropy}")
    if not even and s.n != n_train:
        problems.append(f"the odd ranks' train split: n {s.n}, the file has {n_train}")

    with h5py.File(data, "r") as f:
        x = f[f"{split}/images"][()].astype(np.float32)
        y = f[f"{split}/labels"][()].astype(np.int64)
    ref = forward(*network(ckpt), x)
    lse = logsumexp(ref)
    want = {"cross_entropy": float(np.mean(lse - ref[np.arange(len(y)), y])),
            "energy_data": float(np.mean(-lse))}
    if r.n != len(y):
        problems.append(f"n {r.n}, the split has {len(y)}")
    for name, value in want.items():
        if abs(getattr(r, name) - value) > RTOL * (1 + abs(value)):
            problems.append(f"{name} {getattr(r, name)!r}, float64 reference {value!r}")
    ok = decided(ref)
    pred = ref.argmax(axis=1)
    wrong_lo = int(np.sum((pred != y) & ok))
    wrong_hi = wrong_lo + int(np.sum(~ok))
    if not wrong_lo <= round(r.error * len(y)) <= wrong_hi:
        problems.append(f"error {r.error}: the reference misclassifies {wrong_lo} to "
                        f"{wrong_hi} of {len(y)}")
    k = ref.shape[1]
    conf = np.zeros((k, k), np.int64)
    np.add.at(conf, (y[ok], pred[ok]), 1)
    if r.confusion.shape != (k, k) or r.confusion.sum() != len(y) or \
            (r.confusion.sum(axis=1) != np.bincount(y, minlength=k)).any() or \
            (r.confusion < conf).any() or (r.confusion - conf).sum() != int(np.sum(~ok)):
        problems.append(f"confusion matrix {r.confusion.tolist()}, reference (decided rows) "
                        f"{conf.tolist()}")

    # A checkpoint missing on the last rank only: every rank raises, with
    # that rank's message (no rank left waiting in the collective).
    missing = os.path.join(os.path.dirname(os.path.abspath(ckpt)), "no_such_checkpoint.h5")
    last = comm.Get_rank() == comm.Get_size() - 1
    try:
        ebm_mpi.mpi.evaluate(comm, missing if last else ckpt, data, split)
        problems.append("a checkpoint missing on the last rank raised nothing")
    except ebm_mpi.Error as e:
        if missing not in str(e):
            problems.append(f"a checkpoint missing on the last rank: Error '{e}' does not "
                            "name it")
    try:
        ebm_mpi.mpi.evaluate(comm.py2f(), ckpt, data, split)
        problems.append("a bare int as communicator raised nothing")
    except TypeError:
        pass
    lib = ebm_mpi.library()
    if ebm_mpi.mpi.mpi_library_version(lib) != MPI.Get_library_version().rstrip("\0"):
        problems.append("mpi4py's MPI is not the library's")
    return r, problems


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    comm = MPI.COMM_WORLD
    r, problems = checks(comm, *sys.argv[1:])
    everyone = comm.gather(problems, root=0)
    failed = comm.allreduce(1 if problems else 0, op=MPI.MAX)
    if comm.Get_rank() == 0:
        for rank, ps in enumerate(everyone):
            for p in ps:
                print(f"FAIL: rank {rank}: {p}")
        if not failed:
            print(f"py_mpi_check: {r.n} examples on {comm.Get_size()} ranks")
            print_result(r)
    sys.exit(failed)


if __name__ == "__main__":
    main()
