"""checklist.py: what the Python MPI tests share: running the program
through the build's launcher (tests/mpi/mpirun.sh) and a list of checks
that each print one line and are tallied at the end.

    from checklist import Checklist, fresh_workdir, run_np
    fresh_workdir(work)
    c = Checklist()
    text = run_np(2, [prog, "eval", ...], log)   # exit status 0 or FAIL
    c.check(ok, "what was checked (the figures)")
    return c.finish()                            # 0 when every check held
"""
import os
import shutil
import subprocess

MPIRUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpirun.sh")


def fresh_workdir(path):
    """The test's work directory, emptied of an earlier run's files."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def run_np(np, args, log, timeout=100, echo=False):
    """Runs args on np ranks with stdout and stderr in log; returns the text.
    A non-zero exit ends the test with its output and the command."""
    with open(log, "w") as out:
        p = subprocess.run([MPIRUN, str(np)] + [str(a) for a in args], stdout=out,
                           stderr=subprocess.STDOUT, timeout=timeout)
    text = open(log).read()
    if echo or p.returncode != 0:
        print(text.strip())
    if p.returncode != 0:
        raise SystemExit(f"FAIL: exit {p.returncode}: {' '.join(str(a) for a in args)}")
    return text


class Checklist:
    def __init__(self):
        self.fails = []

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.fails.append(what)
        return ok

    def finish(self):
        print("PASS" if not self.fails else f"{len(self.fails)} failure(s)")
        return 1 if self.fails else 0
