#!/usr/bin/python3
"""py_train_check.py: ebm_mpi.mpi.train under mpi4py on a communicator split
from COMM_WORLD, with the command's option strings given as keywords
(--batch-size 64: batch_size="64", --overwrite: overwrite=True), so that
tests/api/train_mpi.sh can compare its files with `ebm_mpi train`'s and its
progress texts (written by rank 0 to OUT_DIR.progress.txt) with the
command's output. Then a progress function that raises stops the training
after its first step (every rank), the exception raised again on rank 0;
and a refused option raises ebm_mpi.Error on every rank.

usage: mpirun -np P py_train_check.py DATA OUT_DIR [OPTION...]
"""
import os
import sys

from mpi4py import MPI

import ebm_mpi
import ebm_mpi.mpi


def keywords(words):
    """--name value pairs and lone flags as keyword arguments."""
    out, i = {}, 0
    while i < len(words):
        name = words[i][2:].replace("-", "_")
        if i + 1 < len(words) and not words[i + 1].startswith("--"):
            out[name] = words[i + 1]
            i += 2
        else:
            out[name] = True
            i += 1
    return out


def main():
    data, out_dir, words = sys.argv[1], sys.argv[2], sys.argv[3:]
    world = MPI.COMM_WORLD
    comm = world.Split(0, world.rank)
    texts, events = [], []

    def progress(p):
        texts.append(p.text)
        events.append(p)

    r = ebm_mpi.mpi.train(comm, ["--data", data], progress=progress, out=out_dir,
                          **keywords(words))
    if comm.rank == 0:
        with open(out_dir + ".progress.txt", "w") as f:
            f.write("".join(texts))
        epochs = [e for e in events if e.event == "epoch"]
        assert [e.event for e in events][0] == "setup", events[0]
        assert [e.event for e in events][-2:] == ["times", "done"], events[-2:]
        assert len(epochs) == r.epochs_done >= 1, (len(epochs), r)
        assert sum(e.best for e in epochs) >= 1
        assert epochs[r.best_epoch - 1].best and epochs[r.best_epoch - 1].val_error == \
            r.best_val_error, (epochs, r)
    else:
        assert not texts, "progress told on a rank other than 0"
    assert not r.stopped and r.test_n > 0 and 0 <= r.test_error <= 1, r
    assert r.best == os.path.join(out_dir, "best.h5") and os.path.exists(r.best), r

    # A progress function that raises stops the run after its first step.
    class Enough(Exception):
        pass

    def stop_at_setup(p):
        raise Enough(p.event)

    kw = keywords(words)
    kw.pop("overwrite", None)
    try:
        s = ebm_mpi.mpi.train(comm, ["--data", data], progress=stop_at_setup,
                              out=out_dir + ".stop", overwrite=True, **kw)
        assert comm.rank != 0, "rank 0: the progress function's exception was not raised"
        assert s.stopped and s.steps == 1 and s.epochs_done == 0, s
    except Enough as e:
        assert comm.rank == 0 and str(e) == "setup", (comm.rank, e)
    assert os.path.exists(os.path.join(out_dir + ".stop", "last.h5"))

    # A refused option: ebm_mpi.Error on every rank, naming it.
    try:
        ebm_mpi.mpi.train(comm, hidden=0)
        raise AssertionError("hidden=0 was accepted")
    except ebm_mpi.Error as e:
        assert "--hidden" in str(e) and e.status_name == "EBM_ERR_ARGUMENT", e
    comm.Free()
    if world.rank == 0:
        print(f"PASS: ebm_mpi.mpi.train on {world.size} ranks: {r.epochs_done} epoch(s), "
              f"test error {100 * r.test_error:.2f}%, stopped by its progress function, "
              "refused hidden=0")


try:
    main()
except BaseException:  # a failing rank ends the job (the others may wait in a collective)
    import traceback
    traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    MPI.COMM_WORLD.Abort(1)
