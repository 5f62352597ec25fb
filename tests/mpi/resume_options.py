#!/usr/bin/python3
"""resume_options.py: what a resume may change, over every option of train.

README "Resuming": only --epochs, --threads, --checkpoint-every, --overlap
and --stall-timeout may differ from the checkpoint's run; any other
difference (hyperparameters, preset, seed, the data file's checksum) is
refused with an error that names it. The options come from the option table
itself (`ebm_mpi train --help` prints every train option of src/options.c's
table, `train --dry-run` each one's value), so an option added to the table
is covered without touching this test: unless it is listed below as one a
resume may change, it must be refused.

The checkpoint is the ckpt_np1 fixture (1 epoch, np 1). Every run is the
binary alone (1 process, no mpirun) resuming it into a fresh --out, with
every option spelled out at the value the fixture was trained with (so that
--preset is the only difference when it changes), and:
  - one option changed (every option but those below): exit status 1,
    exactly one error line, "cannot resume from '<ckpt>': it was trained
    with --NAME <old>, this run has --NAME <new>" with <new> the value
    given, and nothing written;
  - everything a resume may change (ALLOWED, ACCEPTED_FLAGS) changed in one
    run, with --data an identical copy of the data file under another name:
    exit status 0 and "resumed from <ckpt>";
  - --data a copy with one pixel changed: refused naming the checksum;
    --overwrite: refused with --resume (SPECIAL says the rest).
The changed value: the other choice of a METAVAR like `on|off`; for a number
the first of a few candidates (half, double, plus or minus one, 0, 1) that
the program accepts (one it rejects as "--NAME: ..." is replaced by the next).

The refusals run 4 at a time (a run mostly waits for MPI start-up and
shut-down, not for a core): about 8 s for 26 runs on 2 loaded cores. Each
run has its own copy of the checkpoint and the data file and its own TMPDIR:
Open MPI's MPI-IO opens a file by creating, locking and removing
`<file>.locktest.<rank>` beside it, and processes opening one file at the
same moment race on that name ("cannot open: the HDF5 file is damaged" about
1 run in 100 here); singletons sharing a session directory under TMPDIR can
fail in MPI_Init the same way.

usage: resume_options.py EBM_MPI_BINARY CHECKPOINT DATA_FILE WORKDIR [TRAIN ARGS OF THE CHECKPOINT...]
"""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

from singleton_env import singleton_env

# README "Resuming" (and the option table for --overlap): what a resume may change.
ALLOWED = {"epochs", "threads", "checkpoint-every", "overlap", "stall-timeout"}
# Flags about where and how the process runs, not settings of the run
# (README "One run per directory", "Running on a cluster").
ACCEPTED_FLAGS = {"break-lock", "allow-single"}
# Checked on their own: --data (another checksum refused, the same bytes
# under another name accepted), --overwrite (refused with --resume); --out
# and --resume are in every run; --dry-run prints the settings and exits
# before any resume (tests/repo/check_defaults.py reads it).
SPECIAL = {"data", "out", "resume", "overwrite", "dry-run"}
# Options whose every changed value is invalid for this checkpoint's run, so
# that the resume comparison cannot be reached from it; each is checked from
# a run where it can (the test named).
CHECKED_ELSEWHERE = {
    "train-sampler": "mala needs --base pixels, which this run lacks: mpi.train.mala resumes "
                     "a mala run with --train-sampler langevin",
}

ERROR = "ebm_mpi: error: "


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    binary, ckpt, data, work = sys.argv[1:5]
    trained_with = sys.argv[5:]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = singleton_env(dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    failures = []
    runs = [0]

    def place(tag):
        """A run's directory with its own checkpoint, data file and TMPDIR."""
        d = os.path.join(work, tag)
        os.makedirs(os.path.join(d, "tmp"))
        shutil.copyfile(ckpt, os.path.join(d, "ckpt.h5"))
        shutil.copyfile(data, os.path.join(d, "data.h5"))
        return d

    def run(tag, args, resume=True, data_file=None):
        """train ARGS in a fresh place (with --resume, --data and --out
        there): (exit status, stdout, stderr, the checkpoint's name)."""
        runs[0] += 1
        d = place(tag)
        mine = os.path.join(d, "ckpt.h5")
        extra = ["--resume", mine] if resume else []
        extra += ["--data", data_file or os.path.join(d, "data.h5"), "--out", os.path.join(d, "out")]
        p = subprocess.run([binary, "train"] + args + extra, capture_output=True, text=True,
                           timeout=120, env=dict(env, TMPDIR=os.path.join(d, "tmp")), cwd=d)
        return p.returncode, p.stdout, p.stderr, mine

    def error_lines(stdout, stderr):
        return [l for l in (stdout + stderr).splitlines() if l.startswith(ERROR)]

    def resumed(code, stdout, stderr, mine):
        return code == 0 and f"resumed from {mine}" in stdout and not error_lines(stdout, stderr)

    # The options: every line of `train --help` that starts with "  --NAME".
    code, help_text, err, _ = run("help", ["--help"], resume=False)
    if code != 0:
        sys.exit(f"FAIL: train --help exited {code}: {err}")
    options = re.findall(r"^  --([a-z][a-z0-9-]*) (\S*)", help_text, re.M)
    names = [n for n, _ in options]
    missing = [n for n in ("epochs", "lr", "seed", "preset", "hidden", "data") if n not in names]
    if len(names) != len(set(names)) or missing:
        sys.exit(f"FAIL: the options read from train --help ({names}) lack {missing} or repeat")
    metavar = dict(options)
    # Their values in the checkpoint's run.
    code, dry, err, _ = run("dry", trained_with + ["--dry-run"], resume=False)
    if code != 0:
        sys.exit(f"FAIL: train --dry-run exited {code}: {err}")
    value = dict(re.findall(r"^--([a-z][a-z0-9-]*) (.*)$", dry, re.M))
    flags = [n for n in names if n not in value]
    print(f"{len(names)} options in train --help, {len(flags)} of them flags: {' '.join(flags)}")

    # Every option with a value, spelled out (not the file names, not values
    # that are not literals such as "auto" or "(none)").
    base = []
    for n in names:
        v = value.get(n)
        if n in SPECIAL or v is None or v.startswith("(") or v == "auto":
            continue
        base += [f"--{n}", v]

    def with_options(changes):
        """base with --name val for each (name, val) (val None: the flag)."""
        args = list(base)
        for name, val in changes:
            if f"--{name}" in args:
                i = args.index(f"--{name}")
                del args[i:i + 2]
            args += [f"--{name}"] + ([] if val is None else [val])
        return args

    # Control: the checkpoint's own values, all spelled out, are accepted.
    code, out, err, mine = run("control", base)
    if not resumed(code, out, err, mine):
        sys.exit(f"FAIL: the checkpoint's own settings were not accepted (exit {code}):\n{out}{err}")

    def candidates(name):
        if name not in value:
            return [None]  # a flag: given
        mv, v = metavar[name], value[name]
        if "|" in mv:
            return [c for c in mv.split("|") if c != v and c.isalpha() and c.islower()]
        if not re.fullmatch(r"-?[0-9.]+(e[-+]?[0-9]+)?", v):
            return ["2", "1", "0"]  # a word such as "auto": a number instead
        if re.fullmatch(r"-?\d+", v):
            x = int(v)
            c = [x // 2 if x >= 2 else x + 1, x - 1, 1, 0]
        else:
            x = float(v)
            c = [x / 2, x * 2, 0, 1]
        seen = []
        for y in c:
            s = repr(y) if isinstance(y, float) else str(y)
            if float(s) != x and s not in seen:
                seen.append(s)
        return seen

    def rejected_value(name, out, err):
        errs = error_lines(out, err)
        return len(errs) == 1 and errs[0].startswith(f"{ERROR}--{name}: ")

    def check_refused(name):
        """None if a resume with --name changed is refused naming it, else why not."""
        for new in candidates(name):
            code, out, err, mine = run(f"o_{name}", with_options([(name, new)]))
            if code == 1 and rejected_value(name, out, err):
                print(f"  --{name} {new}: not a valid value ({error_lines(out, err)[0]}), next")
                shutil.rmtree(os.path.join(work, f"o_{name}"))
                continue
            break
        else:
            if name in CHECKED_ELSEWHERE:
                print(f"ok: --{name}: every changed value invalid here ({CHECKED_ELSEWHERE[name]})")
                return None
            return f"--{name}: no changed value the program accepts among {candidates(name)}"
        shown = f"--{name}" + ("" if new is None else f" {new}")
        errs = error_lines(out, err)
        m = re.fullmatch(re.escape(f"{ERROR}cannot resume from '{mine}': it was trained with --{name} ")
                         + r"(\S+), this run has " + re.escape(f"--{name} ") + r"(\S+) \(.*", errs[0]) \
            if len(errs) == 1 else None
        ok = code == 1 and m is not None
        if ok and new is not None:
            try:
                ok = float(m.group(2)) == float(new)
            except ValueError:
                ok = m.group(2) == new
        if not ok:
            return (f"{shown} must be refused naming --{name} (exit 1, one error line), got exit "
                    f"{code}, error lines {errs}" + ("" if errs else f"; output ends {(out + err)[-600:]!r}"))
        outdir = os.path.join(work, f"o_{name}", "out")
        written = [f for f in os.listdir(outdir) if f.endswith(".h5")] if os.path.isdir(outdir) else []
        if written:
            return f"{shown}: refused, but wrote {written}"
        print(f"ok: {shown} refused: ...{errs[0].split(': it was ')[1][:90]}...")
        return None

    # Every option a resume may not change, one at a time, 4 runs at once.
    must_refuse = [n for n in names if n not in SPECIAL | ALLOWED | ACCEPTED_FLAGS]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        failures += [r for r in pool.map(check_refused, must_refuse) if r]

    # Everything a resume may change, changed together, and --data an
    # identical copy under another name: accepted. A value the program
    # rejects as "--NAME: ..." is replaced by that option's next candidate.
    may_change = [n for n in names if n in ALLOWED | ACCEPTED_FLAGS]
    choice = {n: 0 for n in may_change}
    same = os.path.join(work, "same_bytes.h5")
    shutil.copyfile(data, same)
    attempt = 0
    while True:
        attempt += 1
        changes = [(n, candidates(n)[choice[n]]) for n in may_change]
        code, out, err, mine = run(f"may_change{attempt}", with_options(changes), data_file=same)
        bad = [n for n in may_change if rejected_value(n, out, err)]
        if code == 1 and bad and choice[bad[0]] + 1 < len(candidates(bad[0])):
            choice[bad[0]] += 1
            continue
        break
    shown = " ".join(f"--{n}" + ("" if v is None else f" {v}") for n, v in changes)
    if resumed(code, out, err, mine):
        print(f"ok: {shown} --data (the same bytes): resumed")
    else:
        failures.append(f"{shown} --data (the same bytes) may change on resume, but: exit {code}, "
                        f"{error_lines(out, err)}")

    # --data: another file's checksum is refused.
    other = os.path.join(work, "one_pixel_changed.h5")
    shutil.copyfile(data, other)
    subprocess.run([sys.executable, "-c", """
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    x = f["/train/images"]
    x[0, 0] = 1 if x[0, 0] != 1 else 2
""", other], check=True)
    code, out, err, mine = run("data_other", base, data_file=other)
    errs = error_lines(out, err)
    if code == 1 and len(errs) == 1 and re.fullmatch(
            re.escape(f"{ERROR}cannot resume from '{mine}': it was trained on data with checksum ")
            + r"[0-9a-f]{16}, " + re.escape(f"'{other}' has ") + r"[0-9a-f]{16}", errs[0]):
        print("ok: --data, one pixel changed: refused naming the checksum")
    else:
        failures.append(f"--data with one pixel changed must be refused naming the checksum: exit {code}, {errs}")
    code, out, err, _ = run("overwrite", with_options([("overwrite", None)]))
    errs = error_lines(out, err)
    if code == 1 and len(errs) == 1 and "--overwrite starts afresh and --resume continues" in errs[0]:
        print("ok: --overwrite with --resume: refused")
    else:
        failures.append(f"--overwrite with --resume: exit {code}, {errs}")

    print(f"{len(must_refuse)} options refused one at a time, {len(may_change)} accepted; {runs[0]} runs")
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("PASS: every option a resume may not change was refused naming it; the others were accepted")


if __name__ == "__main__":
    main()
