"""perf record of a whole ebm_mpi run, the samples grouped by where they fall."""
import os
import re
import shutil
import subprocess
import tempfile

from . import log
from .runner import mpirun_cmd


def categorise(dso, sym):
    if "openblas" in dso:
        return "sgemm kernel" if "kernel" in sym else "sgemm packing, beta, driver (OpenBLAS)"
    if sym.startswith(("bias_elu", "elu_inplace", "elu_backward", "add_column_sums", "model_",
                       "langevin_", "box_muller", "rng_", "lse_", "softmax", "product_")):
        return "elementwise: ELU, ELU', bias gradient, softmax, Langevin update, normals"
    if sym.startswith(("__memset", "__memcpy", "__memmove")):
        return "memcpy/memset (bias rows into the forward output, gradient zeroing)"
    if sym.startswith("adamax"):
        return "Adamax (rank 0)"
    if dso.startswith(("libmpi", "mca_", "libopen-pal", "libopen-rte", "libucs", "libucp",
                       "libuct", "libfabric", "libpmix", "libhwloc", "libevent")):
        return "MPI (reductions, broadcast, waiting)"
    if sym.startswith(("train_", "local_step", "run_steps", "gather_batch", "all_finite")):
        return "trainer loop (batch gather, gradient scaling and finiteness check)"
    if "hdf5" in dso or "libz" in dso or sym.startswith("H5"):
        return "HDF5 (checkpoints, metrics, data)"
    if dso.startswith("libm"):
        return "libm: scalar expm1f, expf, log, sincos"
    if dso.startswith("[kernel"):
        return "kernel"
    return "other (startup, libc, libm, loader)"


def profile(build, np_, epochs, workdir):
    """perf record of a whole run (training, validation and startup)."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(workdir, f"perf-np{np_}.data")
    out = tempfile.mkdtemp(prefix="perf-", dir=workdir)
    cmd = ["perf", "record", "-F", "999", "-o", data, "--"] + mpirun_cmd(np_) + [
        os.path.join(build, "bin", "ebm_mpi"), "train", "--preset", "seed", "--epochs",
        str(epochs), "--out", out]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        log(f"perf record failed, no profile: {p.stderr[-500:]}")
        return None
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol",
                          "--stdio", "-q"], capture_output=True, text=True)
    rows = []
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*?)(\s+-\s+-)?\s*$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3)))
    cats = {}
    for pct, dso, sym in rows:
        c = categorise(dso, sym)
        cats[c] = cats.get(c, 0.0) + pct
    shutil.rmtree(out, ignore_errors=True)
    shown = ["perf", "record", "-F", "999", "--"] + mpirun_cmd(np_)[1:] + [
        "ebm_mpi", "train", "--preset", "seed", "--epochs", str(epochs)]
    shown[5:5] = ["tests/mpi/mpirun.sh"]
    return dict(np=np_, epochs=epochs, command=" ".join(shown),
                rows=[dict(pct=p_, dso=d, symbol=s) for p_, d, s in rows if p_ >= 0.01],
                categories=sorted(cats.items(), key=lambda kv: -kv[1]),
                top=[dict(pct=p_, dso=d, symbol=s) for p_, d, s in rows[:15]])

