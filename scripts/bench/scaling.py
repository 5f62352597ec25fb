"""The network/scaling model: rank 0's compute per step from the sgemm replay
at P ranks, communication from an Allreduce + Bcast model of two networks,
checked against ebm_mpi itself at np = 1, 2 (docs/scaling.md)."""
import datetime
import json
import os
import shutil
import tempfile

from . import ROOT, log
from .render import BEGIN, END, write_markdown
from .runner import best, cpu_name, run_ebm
from .sgemm import run_sgemm

# Assumed networks (per-link bandwidth in bytes/s, latency in s).
NETWORKS = (("InfiniBand 100 Gb/s (EDR)", 12.0e9, 2e-6),
            ("Ethernet 10 Gb/s", 1.2e9, 30e-6))
RANKS = (1, 2, 4, 8, 16, 32, 64)
DATASETS = (("digits", dict(d=64, h=512, k=10, n_train=1257)),
            ("Fashion-MNIST", dict(d=784, h=512, k=10, n_train=50000)))


def n_params(d, h, k, **_):
    return d * h + h + 2 * (h * h + h) + h * k + k


def comm_model(nbytes, p, bw, lat):
    """Per step: MPI_Allreduce (Rabenseifner / ring: 2 (P-1)/P n/bw + 2 log2 P
    latencies) plus MPI_Bcast of the parameters (scatter + allgather: the
    same volume, log2 P + P - 1 latencies)."""
    import math
    if p == 1:
        return 0.0
    lg = math.log2(p)
    allreduce = 2 * (p - 1) / p * nbytes / bw + 2 * lg * lat
    bcast = 2 * (p - 1) / p * nbytes / bw + (lg + p - 1) * lat
    return allreduce + bcast


def run_scaling(sgemm, batch=64, steps=20, repeat=2, passes=3, each_pass=None):
    """Rank 0's matrix-product seconds per step at P ranks (global batch
    fixed), from the sgemm replay of `steps` full steps, 1 thread; `passes`
    sweeps over every (data set, P), best per point, so that a slow minute
    of a shared machine does not land on one row only."""
    best = {}
    for k in range(passes):
        for name, ds in DATASETS:
            for p in RANKS:
                r = run_sgemm(sgemm, threads=1, ranks=p, procs=1, repeat=repeat, d=ds["d"],
                              h=ds["h"], k=ds["k"], examples=batch * steps, batch=batch)
                if (name, p) not in best or r["best_seconds"] < best[(name, p)]["best_seconds"]:
                    best[(name, p)] = r
            log(f"  pass {k + 1}/{passes} {name}: " + ", ".join(
                f"P={p} {best[(name, p)]['best_seconds'] / steps * 1e3:.2f} ms" for p in RANKS))
        if each_pass:
            each_pass()
    return {name: [dict(ranks=p, rows_per_rank=batch // p,
                        seconds_per_step=best[(name, p)]["best_seconds"] / steps,
                        gflops=best[(name, p)]["gflops"]) for p in RANKS]
            for name, _ in DATASETS}


def render_scaling(sc, bench, command):
    L = [BEGIN, "", f"Measured {sc['date']} on {sc['machine']['cpu']} (load average "
         f"{sc['machine']['load'][0]:.1f}); reproduce with", "", "```", command, "```", ""]
    over = 1.0
    if sc.get("ebm"):
        # digits: 1257 examples in 20 steps; the replay ran 20 full steps of 64.
        steps, scale = 20, 1257 / 1280
        rep = {r["ranks"]: r["seconds_per_step"] * scale for r in sc["rows"]["digits"]}
        e1, e2 = sc["ebm"]["1"], sc["ebm"]["2"]
        i2 = e2["wall_seconds"].index(sorted(e2["wall_seconds"])[len(e2["wall_seconds"]) // 2])
        m1 = e1["median_epoch"] / steps
        over = m1 / rep[1]
        c2 = e2["compute_max"][i2] / steps
        k2 = e2["comm_min"][i2] / steps
        nbytes = 4 * n_params(**DATASETS[0][1])
        L += ["Check against ebm_mpi on digits, measured in the same run (one run per pass, "
              "3 epochs each, median epoch, best run):", "",
              f"- np=1: {m1 * 1e3:.1f} ms per step against {rep[1] * 1e3:.1f} ms of sgemm "
              f"replay: ebm_mpi's own work (ELU, softmax, normals, Adamax, gradient checks) "
              f"adds x{over:.3f}; every compute figure below is the replay times this factor.",
              f"- np=2: predicted compute {rep[2] * over * 1e3:.1f} ms per step, measured "
              f"{c2 * 1e3:.1f} ms (slowest rank). Communication measured {k2 * 1e3:.2f} ms per "
              f"step (fastest rank: the transfer without waiting) for "
              f"{2 * nbytes / 1e6:.1f} MB reduced and broadcast, i.e. the "
              f"4 (P-1)/P n / bw term of the model below with bw = "
              f"{2 * nbytes / k2 / 1e9:.1f} GB/s through shared memory. Predicted step "
              f"{(rep[2] * over + k2) * 1e3:.1f} ms, measured "
              f"{e2['wall_seconds'][i2] / steps * 1e3:.1f} ms.", ""]
    for name, ds in DATASETS:
        npar = n_params(**ds)
        nbytes = 4 * npar
        gf_step = 64 * (20 * 4 * (ds["d"] * ds["h"] + 2 * ds["h"] ** 2 + ds["h"] * ds["k"])
                        + 2 * (6 * (ds["d"] * ds["h"] + 2 * ds["h"] ** 2 + ds["h"] * ds["k"])
                               - 2 * ds["d"] * ds["h"])) * 1e-9
        steps = -(-ds["n_train"] // 64)
        L += [f"### {name}: D = {ds['d']}, {npar} parameters", "",
              f"Per step (global batch 64, 20 Langevin steps): {gf_step:.2f} GFLOP of matrix "
              f"products; MPI_Allreduce of {nbytes / 1e6:.2f} MB (+ a few status floats) and "
              f"MPI_Bcast of {nbytes / 1e6:.2f} MB. {steps} steps per epoch.", "",
              "| ranks | rows/rank | compute ms/step | " +
              " | ".join(f"comm ms/step, {n}" for n, _, _ in NETWORKS) + " | " +
              " | ".join(f"speedup, {n}" for n, _, _ in NETWORKS) + " |",
              "|---:|---:|---:|" + "---:|" * (2 * len(NETWORKS))]
        base = None
        for r in sc["rows"][name]:
            comp = r["seconds_per_step"] * over
            base = base or comp
            comms = [comm_model(nbytes, r["ranks"], bw, lat) for _, bw, lat in NETWORKS]
            L.append(f"| {r['ranks']} | {r['rows_per_rank']} | {comp * 1e3:.2f} | " +
                     " | ".join(f"{c * 1e3:.2f}" for c in comms) + " | " +
                     " | ".join(f"{base / (comp + c):.1f}" for c in comms) + " |")
        L += ["", f"Global batch 64 x P (64 rows per rank: compute per step stays "
              f"{base * 1e3:.1f} ms; an epoch has P times fewer steps):", "",
              "| ranks | global batch | steps/epoch | " +
              " | ".join(f"epoch s, {n}" for n, _, _ in NETWORKS) + " | " +
              " | ".join(f"efficiency, {n}" for n, _, _ in NETWORKS) + " |",
              "|---:|---:|---:|" + "---:|" * (2 * len(NETWORKS))]
        for p in RANKS:
            b = 64 * p
            st = -(-ds["n_train"] // b)
            comms = [comm_model(nbytes, p, bw, lat) for _, bw, lat in NETWORKS]
            L.append(f"| {p} | {b}{' > N' if b > ds['n_train'] else ''} | {st} | " +
                     " | ".join(f"{st * (base + c):.2f}" for c in comms) + " | " +
                     " | ".join(f"{100 * base / (base + c):.0f}%" for c in comms) + " |")
        L.append("")
    L += [END]
    return "\n".join(L)



def main(build, sgemm, command):
    """--scaling: the sgemm replay at every P and ebm_mpi at np = 1, 2, in
    every pass; writes experiments/benchmark/scaling.json and the section of docs/scaling.md."""
    cpu = cpu_name()
    # The check: ebm_mpi itself on digits at np = 1, 2, in every pass.
    workdir = tempfile.mkdtemp(prefix="ebm-bench-")
    runs = {1: [], 2: []}

    def ebm_pass():
        for np_ in (1, 2):
            runs[np_].append(run_ebm(build, np_, 3, workdir))
        log("  ebm_mpi digits: " + ", ".join(
            f"np={k} {v[-1]['median_epoch']:.3f} s/epoch" for k, v in runs.items()))
    try:
        sc = dict(date=datetime.datetime.now().isoformat(timespec="seconds"),
                  command=command,
                  machine=dict(cpu=cpu, cores=os.cpu_count(), load=os.getloadavg()),
                  networks=NETWORKS, rows=run_scaling(sgemm, each_pass=ebm_pass))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sc["ebm"] = {str(k): best(v) for k, v in runs.items()}
    with open(os.path.join(ROOT, "experiments", "benchmark", "scaling.json"), "w") as f:
        json.dump(sc, f, indent=1)
    write_markdown(os.path.join(ROOT, "docs", "scaling.md"),
                   render_scaling(sc, None, command))
    log("wrote docs/scaling.md and experiments/benchmark/scaling.json")
