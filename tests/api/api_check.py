#!/usr/bin/python3
"""api_check.py: libebm_mpi's outputs (through tests/api/api_run, a program
that never initialises MPI) against independent references.

    api_check.py fixtures API_RUN FIXTURES DATA [PROGRAM]
        every checkpoint of every format (FIXTURES/v1..v7: buffer/best.h5,
        seed/best.h5, midepoch/last.h5) loads; ebm_info matches the file's
        layers and attributes (h5py), and the logits of the test split match
        the float64 forward pass below; the energies of models with a base
        density (format 6, /base/log_density) add the base's energy computed
        below, and a copy of such a file without /base gives the same logits,
        classes and probabilities bit for bit (p(y|x) does not depend on the
        base) and energies without it. With PROGRAM (ebm_mpi), the sampler's
        draws on every base model equal `ebm_mpi sample` at np 1 with the same
        seed and start, bit for bit (the same machine, so the same core).
    api_check.py golden API_RUN FIXTURES DATA GOLDEN EXACT
        the logits of tests/golden's eval dumps (written by the command at
        e780571) within the tolerance, the same predicted classes where the
        top two reference logits are further apart than it; the sampler's
        draws equal the golden np 1 samples bit for bit when EXACT=1 (the
        golden files' OpenBLAS core runs), else finite and inside the data
        range with mean energy within 0.05 (a chaotic 20-step walk on
        another core's rounding: not comparable value by value).

The reference is the network rebuilt in numpy float64 from the checkpoint
alone (layers from /model/layer{i}, ELU, the input map from the root
attributes), as tests/mpi/torch_check.py does with PyTorch. Tolerance:
|c - t| <= 1e-4 (1 + |t|) per value, the same as torch_check.py's (float32
dot products of at most 512 terms over four layers: ~1e-6 relative measured,
so 1e-4 is a 100x margin, while a wrong layer, activation or input map moves
logits by 0.1-10). Energies and probabilities follow from the logits with
the same tolerance.

The base density is rebuilt from /base/log_density as docs/design.md
section 3 documents it: row j holds log p_j at pieces + 1 equally spaced knots
over [lo, hi] (input space), linear in between and continued linearly
outside; its normaliser is integrated here in closed form (per piece,
h (e^b - e^a) / (b - a)) rather than trusted, and E_base(x) = -sum_j log
p_j(x_j) of the mapped input. The library adds E_base (a double, rounded to
float32 once) to the float32 -logsumexp: |E_base| is 15-120 nats on the v6
files, so rounding is ~1e-5, inside the same 1e-4 (1 + |t|), while a base
left out, counted twice, read in data units or at the wrong knots moves the
energy by 1-100.
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

RTOL = 1e-4


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def network(ckpt):
    with h5py.File(ckpt, "r") as f:
        layers = []
        i = 0
        while f"model/layer{i}" in f:
            layers.append((np.asarray(f[f"model/layer{i}/weight"], dtype=np.float64),
                           np.asarray(f[f"model/layer{i}/bias"], dtype=np.float64)))
            i += 1
        attrs = dict(f.attrs)
    return layers, attrs


def forward(layers, attrs, x):
    """f(x) in float64 for images x (n, D) in data units."""
    h = x.astype(np.float64) * float(attrs["input_scale"]) + float(attrs["input_shift"])
    for i, (w, b) in enumerate(layers):
        h = h @ w.T + b
        if i < len(layers) - 1:
            h = np.where(h > 0, h, np.expm1(np.minimum(h, 0)))
    return h


def logsumexp(z):
    m = z.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]


def base_energy(ckpt, x, attrs):
    """E_base(x) in float64 for images x (n, D) in data units; None when the
    file has no base."""
    with h5py.File(ckpt, "r") as f:
        if "base/log_density" not in f:
            return None
        ds = f["base/log_density"]
        a = np.asarray(ds, dtype=np.float64)
        lo, hi = float(ds.attrs["lo"]), float(ds.attrs["hi"])
    d, knots = a.shape
    pieces = knots - 1
    h = (hi - lo) / pieces
    a0, a1 = a[:, :-1], a[:, 1:]
    diff = a1 - a0
    small = np.abs(diff) < 1e-12
    ratio = np.where(small, 1.0, np.expm1(np.where(small, 1.0, diff)) / np.where(small, 1.0, diff))
    log_mass = a0 + np.log(h * ratio)                      # log of each piece's integral
    m = log_mass.max(axis=1, keepdims=True)
    log_z = (m + np.log(np.exp(log_mass - m).sum(axis=1, keepdims=True)))[:, 0]
    u = x.astype(np.float64) * float(attrs["input_scale"]) + float(attrs["input_shift"])
    t = (u - lo) / h
    k = np.clip(np.floor(t), 0, pieces - 1).astype(int)
    cols = np.arange(d)[None, :]
    logp = a[cols, k] + (a[cols, k + 1] - a[cols, k]) * (t - k) - log_z[None, :]
    return -logp.sum(axis=1)


def test_split(data):
    with h5py.File(data, "r") as f:
        return np.asarray(f["test/images"], dtype=np.float32), np.asarray(f["test/labels"])


def run(api_run, *args):
    r = subprocess.run([api_run, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"api_run {' '.join(map(str, args))}: exit {r.returncode}: {r.stderr.strip()}")
    if r.stderr:
        fail(f"api_run {args[0]} wrote to stderr (the library never prints): {r.stderr!r}")
    return r.stdout


def within(got, want, what):
    err = np.abs(got - want) - RTOL * (1 + np.abs(want))
    if got.shape != want.shape or (err > 0).any():
        i = np.unravel_index(np.argmax(err), err.shape) if got.shape == want.shape else None
        fail(f"{what}: shape {got.shape} vs {want.shape}" if i is None else
             f"{what}: at {i} {got[i]!r} vs reference {want[i]!r} (tolerance "
             f"{RTOL * (1 + abs(want[i])):.2g})")


def decided(ref):
    """Rows whose top two reference logits differ by more than the tolerance."""
    top = np.sort(ref, axis=1)
    return top[:, -1] - top[:, -2] > 2 * RTOL * (1 + np.abs(top[:, -1]))


def check_model(api_run, ckpt, data, tmp, x):
    layers, attrs = network(ckpt)
    ref = forward(layers, attrs, x)
    n, k = ref.shape
    out = os.path.join(tmp, "out.raw")
    run(api_run, "logits", ckpt, data, "test", out)
    logits = np.fromfile(out, dtype=np.float32).reshape(n, k)
    within(logits, ref, f"{ckpt}: logits")
    run(api_run, "energy", ckpt, data, "test", out)
    energy = -logsumexp(ref)
    e_base = base_energy(ckpt, x, attrs)
    if e_base is not None:
        energy = energy + e_base
    within(np.fromfile(out, dtype=np.float32), energy, f"{ckpt}: energies")
    run(api_run, "predict", ckpt, data, "test", out)
    raw = np.fromfile(out, dtype=np.uint8)
    cls = raw[:4 * n].view(np.int32)
    prob = raw[4 * n:].view(np.float32)
    ok = decided(ref)
    if (cls[ok] != ref.argmax(axis=1)[ok]).any():
        fail(f"{ckpt}: predicted classes differ from the reference's argmax")
    within(prob, np.exp(ref.max(axis=1) - logsumexp(ref)), f"{ckpt}: probabilities")
    return logits, ref


def without_base(api_run, ckpt, data, tmp, x):
    """The same file without /base: the same logits, classes and
    probabilities bit for bit; energies by the network alone."""
    bare = os.path.join(tmp, "bare.h5")
    with open(ckpt, "rb") as src, open(bare, "wb") as dst:
        dst.write(src.read())
    with h5py.File(bare, "r+") as f:
        del f["base"]
    out = os.path.join(tmp, "out.raw")
    for mode in ("logits", "predict"):
        run(api_run, mode, ckpt, data, "test", out)
        with_base = np.fromfile(out, dtype=np.uint8)
        run(api_run, mode, bare, data, "test", out)
        if with_base.tobytes() != np.fromfile(out, dtype=np.uint8).tobytes():
            fail(f"{ckpt}: {mode} change when /base is removed: p(y|x) must not "
                 "depend on the base density")
    layers, attrs = network(ckpt)
    run(api_run, "energy", bare, data, "test", out)
    within(np.fromfile(out, dtype=np.float32), -logsumexp(forward(layers, attrs, x)),
           f"{ckpt} without /base: energies")


def sampler_vs_command(api_run, program, ckpt, tmp):
    """ebm_sampler_draw equals `ebm_mpi sample` at np 1, bit for bit: fresh
    chains (the model's own start), of a class, and from the stored chains."""
    mpirun = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mpi", "mpirun.sh")
    with h5py.File(ckpt, "r") as f:
        n_chains = f["sampler/chains"].shape[0] if "sampler/chains" in f else 0
    cases = [(5, 10, -1, "fresh"), (7, 6, 3, "fresh")]
    if n_chains >= 8:
        cases.append((2, 8, -1, "chains"))
    for seed, n, label, start in cases:
        cmd_out = os.path.join(tmp, "cmd.h5")
        args = [mpirun, "1", program, "sample", "--ckpt", ckpt, "--n", str(n), "--seed",
                str(seed), "--out", cmd_out]
        if label >= 0:
            args += ["--class", str(label)]
        if start == "chains":
            args += ["--init", "chains"]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"{' '.join(args)}: exit {r.returncode}: {r.stdout[-2000:]}{r.stderr[-2000:]}")
        with h5py.File(cmd_out, "r") as f:
            want = f["samples"][()]
        out = os.path.join(tmp, "lib.raw")
        run(api_run, "sample", ckpt, "-", seed, n, label, start, -1, out)
        got = np.fromfile(out, dtype=np.float32).reshape(want.shape)
        if got.tobytes() != want.tobytes():
            fail(f"{ckpt}: sampler ({start}, seed {seed}, class {label}) vs ebm_mpi sample: "
                 f"{np.sum(got != want)} of {got.size} values differ (max "
                 f"{np.abs(got - want).max():.3g})")


def fixtures(api_run, fixdir, data, program=None):
    x, _ = test_split(data)
    count = 0
    base_models = []
    with tempfile.TemporaryDirectory() as tmp:
        versions = sorted(v for v in os.listdir(fixdir) if v.startswith("v"))
        for v in versions:
            for rel in ("buffer/best.h5", "seed/best.h5", "midepoch/last.h5"):
                ckpt = os.path.join(fixdir, v, rel)
                if not os.path.exists(ckpt):
                    continue
                layers, attrs = network(ckpt)
                info = dict(line.split(" ", 1) for line in
                            run(api_run, "info", ckpt).splitlines() if " " in line)
                want = [layers[0][0].shape[1]] + [w.shape[0] for w, _ in layers]
                if info["layers"].split() != [str(s) for s in want]:
                    fail(f"{ckpt}: ebm_info layers {info['layers']}, the file has {want}")
                if int(info["format_version"]) != int(attrs["format_version"]):
                    fail(f"{ckpt}: format_version {info['format_version']}")
                lo, hi = map(float, info["value_range"].split())
                if (lo, hi) != (float(attrs["value_min"]), float(attrs["value_max"])):
                    fail(f"{ckpt}: value range {lo} {hi}")
                if info.get("--hidden") != str(layers[0][0].shape[0]):
                    fail(f"{ckpt}: the hyperparameters say --hidden {info.get('--hidden')}, "
                         f"the layers are {layers[0][0].shape[0]} wide")
                has_base = "base" in h5py.File(ckpt, "r")
                if int(info["has_base"]) != has_base:
                    fail(f"{ckpt}: ebm_info.has_base {info['has_base']}, the file "
                         f"{'has' if has_base else 'has no'} /base")
                check_model(api_run, ckpt, data, tmp, x)
                count += 1
                if has_base:
                    base_models.append(ckpt)
                    without_base(api_run, ckpt, data, tmp, x)
                    if program:
                        sampler_vs_command(api_run, program, ckpt, tmp)
    if count < 18 or len(base_models) < 3:
        fail(f"only {count} fixture checkpoints ({len(base_models)} with a base density) "
             f"found under {fixdir}")
    print(f"PASS: {count} checkpoints (formats {', '.join(versions)}) load "
          f"without MPI; info as the files say; logits, energies (with the base density on "
          f"{len(base_models)}), classes and probabilities within {RTOL:g} (1 + |t|) of "
          f"numpy's float64 forward pass; logits and classes unchanged without /base"
          + ("; the sampler equals ebm_mpi sample bit for bit on the base models"
             if program else ""))


def golden(api_run, fixdir, data, golddir, exact):
    x, _ = test_split(data)
    with tempfile.TemporaryDirectory() as tmp:
        for dump, ckpt in (("eval_buffer_np2.h5", "buffer/best.h5"),
                           ("eval_seed_np1.h5", "seed/best.h5")):
            logits, ref = check_model(api_run, os.path.join(fixdir, "v4", ckpt), data, tmp, x)
            with h5py.File(os.path.join(golddir, dump), "r") as f:
                g_logits, g_pred = f["logits"][()], f["predicted"][()]
            within(logits, g_logits.astype(np.float64), f"library vs {dump}: logits")
            ok = decided(ref)
            if (logits.argmax(axis=1)[ok] != g_pred[ok]).any():
                fail(f"library vs {dump}: predicted classes differ")
        out = os.path.join(tmp, "s.raw")
        for name, ckpt, seed, n, label in (("sample_buffer_class3_np1.h5", "buffer/best.h5", 5, 10, 3),
                                           ("sample_seed_np1.h5", "seed/best.h5", 3, 12, -1)):
            path = os.path.join(fixdir, "v4", ckpt)
            run(api_run, "sample", path, data, seed, n, label, "fresh", -1, out)
            with h5py.File(os.path.join(golddir, name), "r") as f:
                g, g_energy = f["samples"][()], f["energy"][()]
            s = np.fromfile(out, dtype=np.float32).reshape(g.shape)
            if exact:
                if s.tobytes() != g.tobytes():
                    fail(f"sampler vs {name}: {np.sum(s != g)} values differ (max "
                         f"{np.abs(s - g).max():.3g}) on the golden files' core")
            else:
                layers, attrs = network(path)
                e = -logsumexp(forward(layers, attrs, s))
                lo, hi = float(attrs["value_min"]), float(attrs["value_max"])
                if not np.isfinite(s).all():
                    fail(f"sampler vs {name}: samples not finite")
                # The stable preset clamps its chains to the data range; the
                # seed preset does not (its golden samples lie in [-1.1, 1.2]).
                clamped = attrs["preset"] in (b"stable", "stable")
                if clamped and (s.min() < lo - 1e-4 or s.max() > hi + 1e-4):
                    fail(f"sampler vs {name}: samples outside [{lo}, {hi}]")
                if abs(e.mean() - g_energy.mean()) > 0.05:
                    fail(f"sampler vs {name}: mean energy {e.mean():.4f}, golden "
                         f"{g_energy.mean():.4f}")
    print("PASS: the library's logits match the command's golden dumps (within "
          f"{RTOL:g} (1 + |t|), same classes); its samples "
          + ("equal the golden np 1 samples bit for bit" if exact else
             "are finite, in the data range where the preset clamps, with the golden mean "
             "energy (tolerance path)"))


def main():
    if len(sys.argv) in (5, 6) and sys.argv[1] == "fixtures":
        return fixtures(*sys.argv[2:])
    if len(sys.argv) == 7 and sys.argv[1] == "golden":
        return golden(*sys.argv[2:6], sys.argv[6] == "1")
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
