"""--baseline: ebm_mpi train --preset seed at np = 1 and 2 for two build
trees, interleaved round by round (the order of the two alternating from one
round to the next) so that machine noise hits both alike. Per np: the same
figure as the main benchmark (median epoch of metrics.h5 wall_seconds, best
run over the rounds) for each build, their ratio build / baseline, and the
spread of the ratio within each round (min and max over the rounds)."""
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile

from . import log
from .flops import SEED, epoch_gflop
from .render import BEGIN, END, comparison_lines, write_markdown
from .runner import best, cpu_name, run_ebm

MODE = "only-ebm"  # res["mode"] of a --baseline --only-ebm run


def build_info(build):
    """Where a build tree comes from: its source directory (CMakeCache.txt)
    and that checkout's HEAD, when it is a git checkout (read only)."""
    info = dict(path=build, source=None, head=None)
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$", f.read(), re.M)
        info["source"] = m.group(1) if m else None
    except OSError:
        pass
    if info["source"]:
        p = subprocess.run(["git", "-C", info["source"], "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True)
        if p.returncode == 0:
            info["head"] = p.stdout.strip()
    return info


def new_result(build, baseline):
    """The keys a run with a baseline adds to its result."""
    return dict(build=build_info(build), baseline=dict(build_info(baseline),
                                                       ebm={"1": [], "2": []}),
                order=[])


def ebm_round(r, build, baseline, epochs, workdir, runs, base_runs):
    """Round r: each np, both builds back to back; the build goes first in
    even rounds, the baseline in odd ones. Returns the order."""
    pair = [("build", build, runs), ("baseline", baseline, base_runs)]
    if r % 2:
        pair.reverse()
    for np_ in (1, 2):
        for name, b, store in pair:
            e = run_ebm(b, np_, epochs, workdir)
            store[str(np_)].append(e)
            log(f"  ebm_mpi np={np_} {name}: {e['median_epoch']:.3f} s/epoch")
    return " then ".join(name for name, _, _ in pair)


def summarise(runs, base_runs):
    """Per np: best median epoch of each build, their ratio, the per-round
    ratios and their min, median and max."""
    out = {}
    for np_ in ("1", "2"):
        a, b = runs[np_], base_runs[np_]
        per = [x["median_epoch"] / y["median_epoch"] for x, y in zip(a, b)]
        ta, tb = best(a)["median_epoch"], best(b)["median_epoch"]
        out[np_] = dict(build_seconds=ta, baseline_seconds=tb, ratio=ta / tb,
                        per_round=per, ratio_min=min(per), ratio_median=statistics.median(per),
                        ratio_max=max(per))
    return out


def render(res, command, json_path):
    m = res["machine"]
    L = [BEGIN, "",
         f"Run {res['date']} on {m['cpu']} ({m['cores']} cores), load average "
         f"{m['load_before'][0]:.1f} before and {m['load_after'][0]:.1f} after. "
         "Reproduce:", "", "```", command, "```", ""]
    L += comparison_lines(res)
    L += ["", f"Raw measurements: {json_path}.", "", END]
    return "\n".join(L)


def main(args, build, baseline, command):
    """--baseline --only-ebm: nothing but the two builds' ebm_mpi runs."""
    workdir = tempfile.mkdtemp(prefix="ebm-bench-")
    res = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), command=command,
               mode=MODE, rounds=args.rounds, epochs=args.epochs,
               machine=dict(cpu=cpu_name(), cores=os.cpu_count(), load_before=os.getloadavg()),
               gflop_per_epoch=epoch_gflop(**SEED), ebm={"1": [], "2": []})
    res.update(new_result(build, baseline))
    try:
        for r in range(args.rounds):
            log(f"round {r + 1}/{args.rounds}")
            res["order"].append(ebm_round(r, build, baseline, args.epochs, workdir,
                                          res["ebm"], res["baseline"]["ebm"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    res["machine"]["load_after"] = os.getloadavg()
    res["comparison"] = summarise(res["ebm"], res["baseline"]["ebm"])
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    write_markdown(args.out, render(res, command, args.json))
    log(f"wrote {args.out} and {args.json}")
    print("\n".join(comparison_lines(res)))
