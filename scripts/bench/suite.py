"""The default run: ebm_mpi at np = 1, 2, the sgemm replays and the four
PyTorch configurations, interleaved round by round; then the per-call sgemm
shapes, the perf profiles and (--fashion) one Fashion-MNIST epoch. With a
baseline build, each round also measures the baseline's ebm_mpi
(compare.ebm_round) and the report gains the build / baseline table."""
import datetime
import json
import os
import shutil
import tempfile

from . import compare, log
from .flops import SEED, epoch_gflop
from .profile import profile
from .render import comparison_lines, render, summarise, write_markdown
from .runner import cpu_name, run_ebm
from .sgemm import run_sgemm
from .torch_ref import IDIOMATIC, NOTEBOOK, run_torch


def measure(args, build, sgemm, command, baseline=None):
    """Every measurement of one run, as the dict written to --json."""
    workdir = tempfile.mkdtemp(prefix="ebm-bench-")
    cpu = cpu_name()
    res = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), command=command,
               rounds=args.rounds, epochs=args.epochs,
               machine=dict(cpu=cpu, cores=os.cpu_count(), load_before=os.getloadavg()),
               gflop_per_epoch=epoch_gflop(**SEED),
               ebm={"1": [], "2": []}, sgemm={"threads1": [], "threads2": [], "procs2": []},
               torch={f"{v}-{t}": [] for v in (NOTEBOOK, IDIOMATIC) for t in (1, 2)})
    if baseline:
        res.update(compare.new_result(build, baseline))
    try:
        for r in range(args.rounds):
            log(f"round {r + 1}/{args.rounds}")
            if baseline:
                res["order"].append(compare.ebm_round(r, build, baseline, args.epochs, workdir,
                                                      res["ebm"], res["baseline"]["ebm"]))
            else:
                for np_ in (1, 2):
                    e = run_ebm(build, np_, args.epochs, workdir)
                    res["ebm"][str(np_)].append(e)
                    log(f"  ebm_mpi np={np_}: {e['median_epoch']:.3f} s/epoch")
            for key, kw in (("threads1", dict(threads=1)), ("threads2", dict(threads=2)),
                            ("procs2", dict(threads=1, ranks=2, procs=2))):
                sg = run_sgemm(sgemm, **kw)
                res["sgemm"][key].append(sg)
                log(f"  sgemm {key}: {sg['best_seconds']:.3f} s/epoch, {sg['gflops']:.1f} GFLOP/s")
            for v in (NOTEBOOK, IDIOMATIC):
                for t in (1, 2):
                    tr = run_torch(v, t, args.epochs, seed=r)
                    res["torch"][f"{v}-{t}"].append(tr)
                    log(f"  PyTorch {v} {t} thread(s): {tr['median_epoch']:.3f} s/epoch")
        res["shapes"] = {str(t): run_sgemm(sgemm, threads=t, shapes=True) for t in (1, 2)}
        if not args.no_profile:
            log("profiling (perf)")
            res["profile"] = profile(build, 1, 3, workdir)
            res["profile2"] = profile(build, 2, 3, workdir)
        if args.fashion:
            res["fashion"] = []
            for np_ in (1, 2):
                log(f"Fashion-MNIST np={np_}")
                fr = run_ebm(build, np_, 1, workdir, preset="stable", timev=True,
                             extra=["--data", os.path.abspath(args.fashion)])
                res["fashion"].append(fr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    res["machine"]["load_after"] = os.getloadavg()
    if baseline:
        res["comparison"] = compare.summarise(res["ebm"], res["baseline"]["ebm"])
    return res


def main(args, build, sgemm, command, baseline=None):
    res = measure(args, build, sgemm, command, baseline)
    s = summarise(res)
    res["summary"] = s
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    write_markdown(args.out, render(res, s, command))
    log(f"wrote {args.out} and {args.json}")
    print(json.dumps({k: v for k, v in s.items() if not isinstance(v, dict)}, indent=1))
    if baseline:
        print("\n".join(comparison_lines(res)))


def rerender(args):
    """--render: the section again from the JSON (its summary recomputed)."""
    res = json.load(open(args.json))
    if res.get("mode") == compare.MODE:
        write_markdown(args.out, compare.render(res, res["command"], args.json))
        log(f"rewrote {args.out} from {args.json}")
        return
    s = summarise(res)
    res["summary"] = s
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    write_markdown(args.out, render(res, s, res["command"]))
    log(f"rewrote {args.out} from {args.json}")
