#!/usr/bin/python3
"""py_check.py: the Python package ebm_mpi (python/ebm_mpi, ctypes over
libebm_mpi) against independent references and the C library itself.

    py_check.py source API_RUN FIXTURES DATA EBM_MPI
        the package as imported (PYTHONPATH, LIBEBM_MPI set by ctest):
        - every fixture checkpoint (formats v1..v7) loads; .info as h5py reads
          the file (has_base: /base present); logits, energies (format 6:
          with the base density, api_check.py's), classes and probabilities within
          1e-4 (1 + |t|) of numpy's float64 forward pass of the weights
          (api_check.py's reference and tolerance, which say why);
        - bit for bit what the C library gives through tests/api/api_run
          (a C program on the same calls): logits, energies, classes,
          probabilities, and samples of the same seed, n, class and start;
        - the command's `eval --dump` (EBM_MPI, one process): logits and
          energies (the latest format's: with the base density) within
          the tolerance, the same classes where the top two reference logits
          are further apart than it (the command computes its logits in
          one product with its generative samples, so their last bits may
          differ from the library's: docs/api.md, Numbers);
        - samples: [n, D] float32, finite, inside the value range, the same
          for the same seed, different for another; start "chains" with 0
          steps gives the checkpoint's /sampler/chains in data units;
        - errors: a missing file raises ebm_mpi.Error (EBM_ERR_IO) naming
          the path, a data file as a checkpoint EBM_ERR_FORMAT; a wrong-shaped
          batch raises ValueError without reaching the library (its last
          error is unchanged), a complex or string array TypeError; float64,
          integer and strided inputs give the float32 results; handles close
          (with, close(), twice, samplers closed by their model);
        - the version check refuses another major or a newer minor version;
          a library that is not libebm_mpi, or a missing one, raises Error;
        - MPI was never initialised (MPI_Initialized, through the library's
          own libmpi), and a model shared by threads gives the serial results;
        - docs/api.md's Python session runs (on a fixture checkpoint, from the
          source tree) and gives what its comments say.
    py_check.py installed FIXTURE DATA EBM_MPI
        the package of an installed prefix (PYTHONPATH, LIBEBM_MPI
        unset): the library is the one installed beside it; the shipped data
        is found for a --chain-init 1 model's samples; the classes equal the
        installed command's `eval --dump`, the logits within the tolerance.
"""
import ctypes
import ctypes.util
import os
import subprocess
import sys
import tempfile
import threading

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_check import RTOL, base_energy, decided, forward, logsumexp, network, within  # noqa: E402

import ebm_mpi  # noqa: E402


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def expect(exc_type, fn, *args, contains=None, status=None, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        if contains is not None and contains not in str(e):
            fail(f"{exc_type.__name__} '{e}' does not say '{contains}'")
        if status is not None and getattr(e, "status_name", None) != status:
            fail(f"{exc_type.__name__} '{e}': status {getattr(e, 'status_name', None)}, "
                 f"expected {status}")
        return e
    except Exception as e:  # noqa: BLE001 (the wrong exception is the failure)
        fail(f"{fn.__name__}: {type(e).__name__} '{e}', expected {exc_type.__name__}")
    fail(f"{fn.__name__}{args}: no {exc_type.__name__} raised")


def bits_equal(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
        diff = (np.abs(a.astype(np.float64) - b.astype(np.float64)).max()
                if a.shape == b.shape else "shape")
        fail(f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape} not bit for bit equal "
             f"(max difference {diff})")


def eval_dump(ebm_mpi_bin, ckpt, tmp):
    dump = os.path.join(tmp, "dump.h5")
    if os.path.exists(dump):
        os.remove(dump)
    r = subprocess.run([ebm_mpi_bin, "eval", "--ckpt", ckpt, "--split", "test", "--dump", dump],
                       capture_output=True, text=True, cwd=tmp)
    if r.returncode != 0:
        fail(f"ebm_mpi eval --dump {ckpt}: exit {r.returncode}: {r.stderr.strip()}")
    with h5py.File(dump, "r") as f:
        eval_dump.energy = f["energy"][()]  # E(x), with the base density if any
        return f["logits"][()], f["predicted"][()]


def against_reference(model, ckpt, x):
    """.info as the file says; logits/energy/predict vs float64 numpy."""
    layers, attrs = network(ckpt)
    info = model.info
    want = (layers[0][0].shape[1],) + tuple(w.shape[0] for w, _ in layers)
    if info.layer_sizes != want or info.input_size != want[0] or info.n_classes != want[-1]:
        fail(f"{ckpt}: info input_size {info.input_size}, n_classes {info.n_classes}, layers "
             f"{info.layer_sizes}; the file has layers {want}")
    if info.format_version != int(attrs["format_version"]):
        fail(f"{ckpt}: info.format_version {info.format_version}")
    if (info.value_min, info.value_max) != (float(attrs["value_min"]), float(attrs["value_max"])):
        fail(f"{ckpt}: info value range {info.value_min} {info.value_max}")
    if (np.float32(info.input_scale), np.float32(info.input_shift)) != (
            np.float32(attrs["input_scale"]), np.float32(attrs["input_shift"])):
        fail(f"{ckpt}: info input map {info.input_scale} {info.input_shift}")
    if info.hyperparameters.get("hidden") != str(layers[0][0].shape[0]):
        fail(f"{ckpt}: hyperparameters say hidden {info.hyperparameters.get('hidden')}")
    ref = forward(layers, attrs, x)
    logits = model.logits(x)
    if logits.dtype != np.float32 or logits.shape != ref.shape:
        fail(f"{ckpt}: logits {logits.dtype}{logits.shape}, expected float32{ref.shape}")
    within(logits, ref, f"{ckpt}: Python logits")
    has_base = "base" in h5py.File(ckpt, "r")
    if info.has_base is not has_base:
        fail(f"{ckpt}: info.has_base {info.has_base}, the file {'has' if has_base else 'has no'} "
             "/base")
    energy = -logsumexp(ref)
    if has_base:  # format 6: the base density is part of the energy
        energy = energy + base_energy(ckpt, x, attrs)
    within(model.energy(x), energy, f"{ckpt}: Python energies")
    pred = model.predict(x)
    ok = decided(ref)
    if pred.label.dtype != np.int32 or (pred.label[ok] != ref.argmax(axis=1)[ok]).any():
        fail(f"{ckpt}: Python classes differ from the reference's argmax")
    within(pred.probability, np.exp(ref.max(axis=1) - logsumexp(ref)),
           f"{ckpt}: Python probabilities")
    return ref


def api_run(prog, *args):
    r = subprocess.run([prog, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"api_run {' '.join(map(str, args))}: exit {r.returncode}: {r.stderr.strip()}")


def against_c(model, ckpt, prog, data, x, tmp):
    """Bit for bit what the C library gives through api_run."""
    n, k = len(x), model.info.n_classes
    out = os.path.join(tmp, "c.raw")
    api_run(prog, "logits", ckpt, data, "test", out)
    bits_equal(model.logits(x), np.fromfile(out, np.float32).reshape(n, k), f"{ckpt}: logits vs C")
    api_run(prog, "energy", ckpt, data, "test", out)
    bits_equal(model.energy(x), np.fromfile(out, np.float32), f"{ckpt}: energies vs C")
    api_run(prog, "predict", ckpt, data, "test", out)
    raw = np.fromfile(out, np.uint8)
    pred = model.predict(x)
    bits_equal(pred.label, raw[:4 * n].view(np.int32), f"{ckpt}: classes vs C")
    bits_equal(pred.probability, raw[4 * n:].view(np.float32), f"{ckpt}: probabilities vs C")
    d = model.info.input_size
    for seed, n_s, label, start, steps in ((5, 10, 3, "fresh", -1), (7, 300, None, "fresh", 4),
                                           (2, 6, 1, "chains", 3)):
        if start == "chains" and model.info.n_chains < n_s:
            continue
        api_run(prog, "sample", ckpt, data, seed, n_s, -1 if label is None else label, start,
                steps, out)
        got = model.sample(n_s, steps=None if steps < 0 else steps, label=label, seed=seed,
                           start=start, data_path=data)
        bits_equal(got, np.fromfile(out, np.float32).reshape(n_s, d),
                   f"{ckpt}: samples (seed {seed}, n {n_s}, label {label}, {start}) vs C")


def check_samples(model, ckpt, data):
    info, d = model.info, model.info.input_size
    a = model.sample(12, steps=5, seed=11, data_path=data)
    if a.dtype != np.float32 or a.shape != (12, d) or not np.isfinite(a).all():
        fail(f"{ckpt}: samples {a.dtype}{a.shape}, expected finite float32 (12, {d})")
    if info.clamp_chains and (a.min() < info.value_min or a.max() > info.value_max):
        fail(f"{ckpt}: samples in [{a.min()}, {a.max()}], outside the value range")
    bits_equal(model.sample(12, steps=5, seed=11, data_path=data), a, f"{ckpt}: same seed")
    if np.array_equal(model.sample(12, steps=5, seed=12, data_path=data), a):
        fail(f"{ckpt}: seeds 11 and 12 gave the same samples")
    with model.sampler(seed=11, data_path=data) as s:
        first = s.draw(12, steps=5)
        if np.array_equal(s.draw(12, steps=5), first):
            fail(f"{ckpt}: a sampler's second draw repeated its first")
    bits_equal(first, a, f"{ckpt}: Sampler.draw vs Model.sample")
    if info.n_chains >= 4:
        with h5py.File(ckpt, "r") as f:
            chains = f["sampler/chains"][()].reshape(-1, d).astype(np.float64)
        want = (chains - np.float32(info.input_shift)) / np.float32(info.input_scale)
        with model.sampler(start="chains") as s:
            within(s.draw(2, steps=0), want[:2], f"{ckpt}: chains 0-1 with 0 steps")
            within(s.draw(2, steps=0), want[2:4], f"{ckpt}: chains 2-3 with 0 steps")
            expect(ebm_mpi.Error, s.draw, int(info.n_chains), steps=0, contains="chains",
                   status="EBM_ERR_ARGUMENT")
    expect(ValueError, model.sample, 2, label=info.n_classes, data_path=data)
    expect(ValueError, model.sample, 0, data_path=data)
    expect(ValueError, model.sampler, start="persistent")


def check_inputs(model, ckpt, x):
    lib = ebm_mpi.library()
    ref = model.logits(x[:7])
    bits_equal(model.logits(x[:7].astype(np.float64)), ref, "float64 input")
    bits_equal(model.logits(np.asfortranarray(x[:7])), ref, "Fortran-order input")
    doubled = np.repeat(x[:7], 2, axis=0)[::2]
    bits_equal(model.logits(doubled), ref, "strided input")
    ints = np.rint(x[:7]).astype(np.int16)
    bits_equal(model.logits(ints), model.logits(ints.astype(np.float32)), "int16 input")
    bits_equal(model.logits(x[:7].tolist()), ref, "list input")
    for fn, k in ((model.logits, (0, model.info.n_classes)), (model.energy, (0,))):
        if fn(x[:0]).shape != k:
            fail(f"an empty batch gave {fn(x[:0]).shape}, expected {k}")
    # A failure the library raised, then wrong shapes: ValueError, and the
    # library's last error unchanged (a call would have cleared or replaced it).
    expect(ebm_mpi.Error, ebm_mpi.Model.load, "/nonexistent/sentinel.h5")
    sentinel = lib.ebm_last_error()
    d = model.info.input_size
    for bad in (x[:4, : d // 2], x[0], x[:4].reshape(4, 8, d // 8), x[:4].reshape(-1, 2 * d),
                np.zeros((3, d + 1), np.float32)):
        for fn in (model.logits, model.energy, model.predict):
            e = expect(ValueError, fn, bad, contains=f"[n, {d}]")
            if str(list(np.shape(bad))) not in str(e):
                fail(f"ValueError '{e}' does not name the shape {list(np.shape(bad))}")
    if lib.ebm_last_error() != sentinel:
        fail(f"a wrong-shaped batch reached the library: last error "
             f"'{lib.ebm_last_error().decode()}'")
    for bad in (x[:2].astype(np.complex64), np.full((2, d), "1"), np.ones((2, d), bool),
                np.empty((2, d), object)):
        expect(TypeError, model.logits, bad, contains="real numbers")


def check_errors(tmp, ckpt, data):
    e = expect(ebm_mpi.Error, ebm_mpi.Model.load, os.path.join(tmp, "no such dir", "best.h5"),
               status="EBM_ERR_IO", contains=os.path.join(tmp, "no such dir", "best.h5"))
    if e.status != 2 or "at src/" not in e.trail:
        fail(f"Error status {e.status}, trail '{e.trail}'")
    expect(ebm_mpi.Error, ebm_mpi.Model.load, data, status="EBM_ERR_FORMAT", contains=data)
    expect(ebm_mpi.Error, ebm_mpi.read_split, data, "dev", status="EBM_ERR_ARGUMENT",
           contains="dev")
    expect(TypeError, ebm_mpi.Model.load, 3)
    expect(TypeError, ebm_mpi.Model, ckpt)
    # Handles: with, close(), twice; a model's close closes its samplers.
    with ebm_mpi.Model.load(ckpt) as m:
        s = m.sampler(seed=1, data_path=data)
        m.logits(np.zeros((1, m.info.input_size)))
    if not (m.closed and s.closed):
        fail("leaving the with block left the model or its sampler open")
    m.close()
    expect(ValueError, m.logits, np.zeros((1, m.info.input_size)), contains="closed")
    expect(ValueError, s.draw, 1, contains="closed")
    expect(ValueError, m.sample, 1)
    # A sampler keeps its model alive when the caller drops the model.
    m = ebm_mpi.Model.load(ckpt)
    s = m.sampler(seed=1, data_path=data)
    del m
    if s.draw(3, steps=2).shape != (3, s.model.info.input_size):
        fail("a sampler whose model the caller dropped")
    s.close()


def check_version(lib):
    major, minor, patch = lib.version_info
    if lib.version != ebm_mpi.__version__:
        fail(f"library {lib.version}, package {ebm_mpi.__version__}")
    ebm_mpi._check_version(lib, f"{major}.{minor}.{patch}")
    for other in (f"{major + 1}.0.0", f"{major}.{minor + 1}.0"):
        e = expect(ebm_mpi.Error, ebm_mpi._check_version, lib, other, status="EBM_ERR_VERSION")
        if other not in str(e) or lib.path not in str(e):
            fail(f"version Error '{e}' does not name {other} and {lib.path}")
    probe = ("import ebm_mpi\ntry:\n    ebm_mpi.library()\nexcept ebm_mpi.Error as e:\n"
             "    print('Error:', e)\n")
    libm = ctypes.util.find_library("m")
    for path, says in ((libm, "is not libebm_mpi"), ("/nonexistent/libebm_mpi.so", "cannot load")):
        env = dict(os.environ, LIBEBM_MPI=path)
        r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
        if r.returncode != 0 or not r.stdout.startswith("Error:") or says not in r.stdout:
            fail(f"LIBEBM_MPI={path}: {r.stdout.strip()} {r.stderr.strip()}")


def check_threads(model, x):
    want = model.logits(x)
    got = [None] * 4

    def work(i):
        got[i] = [model.logits(x) for _ in range(5)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rows in got:
        for g in rows:
            bits_equal(g, want, "logits of a model shared by 4 threads")


def mpi_never_initialised(lib):
    flag = ctypes.c_int(-1)
    # dlsym on the library's handle searches its dependencies: its libmpi.
    if lib.cdll.MPI_Initialized(ctypes.byref(flag)) != 0 or flag.value != 0:
        fail(f"MPI_Initialized says {flag.value}: a serial call initialised MPI")


def docs_session(ckpt):
    """The first ```python block of docs/api.md, run from the source tree
    on a fixture checkpoint: it must run and give the shapes it states."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(root, "docs", "api.md")) as f:
        text = f.read()
    start = text.index("```python\n") + len("```python\n")
    code = text[start:text.index("```", start)]
    if "checkpoints/best.h5" not in code:
        fail("docs/api.md's Python session does not load checkpoints/best.h5")
    code = code.replace("checkpoints/best.h5", ckpt) + (
        "\nprint(images.shape, label.shape, probability.shape, samples.shape)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    if r.returncode != 0 or r.stdout.split() != ["(270,", "64)", "(270,)", "(270,)", "(16,", "64)"]:
        fail(f"docs/api.md's Python session: exit {r.returncode}: {r.stdout} {r.stderr}")


def source(prog, fixdir, data, ebm_mpi_bin):
    lib = ebm_mpi.library()
    if lib.how != "$LIBEBM_MPI":
        fail(f"the library was found through {lib.how}, not LIBEBM_MPI")
    x, _ = ebm_mpi.read_split(data, "test")
    with h5py.File(data, "r") as f:
        bits_equal(x, f["test/images"][()].astype(np.float32), "read_split vs h5py")
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        versions = sorted(v for v in os.listdir(fixdir) if v.startswith("v"))
        for v in versions:
            for rel in ("buffer/best.h5", "seed/best.h5", "midepoch/last.h5"):
                ckpt = os.path.join(fixdir, v, rel)
                if not os.path.exists(ckpt):
                    continue
                with ebm_mpi.Model.load(ckpt) as model:
                    against_reference(model, ckpt, x)
                count += 1
        if count < 12:
            fail(f"only {count} fixture checkpoints found under {fixdir}")
        for rel in ("buffer/best.h5", "seed/best.h5"):
            ckpt = os.path.join(fixdir, versions[-1], rel)
            with ebm_mpi.Model.load(ckpt) as model:
                ref = forward(*network(ckpt), x)
                against_c(model, ckpt, prog, data, x, tmp)
                logits, predicted = eval_dump(ebm_mpi_bin, ckpt, tmp)
                within(model.logits(x), logits.astype(np.float64), f"{ckpt}: vs eval --dump")
                within(model.energy(x), eval_dump.energy.astype(np.float64),
                       f"{ckpt}: energies vs eval --dump")
                ok = decided(ref)
                if (model.predict(x).label[ok] != predicted[ok]).any():
                    fail(f"{ckpt}: classes differ from eval --dump's")
                check_samples(model, ckpt, data)
                check_inputs(model, ckpt, x)
                check_threads(model, x)
        check_errors(tmp, os.path.join(fixdir, versions[-1], "buffer/best.h5"), data)
    check_version(lib)
    docs_session(os.path.abspath(os.path.join(fixdir, versions[-1], "buffer/best.h5")))
    mpi_never_initialised(lib)
    print(f"PASS: {count} checkpoints ({', '.join(versions)}): Python logits, energies, "
          f"classes within {RTOL:g} (1 + |t|) of numpy float64; bit for bit the C library's "
          "(and its samples); eval --dump's classes; samples, errors, input checks, handles, "
          "version check, threads, docs/api.md's session; MPI never initialised")


def installed(ckpt, data, ebm_mpi_bin):
    if "LIBEBM_MPI" in os.environ:
        fail("LIBEBM_MPI is set: this test finds the installed library without it")
    lib = ebm_mpi.library()
    prefix = os.path.realpath(os.path.join(os.path.dirname(ebm_mpi_bin), ".."))
    for what, path in (("package", ebm_mpi.__file__), ("library", lib.path)):
        if not os.path.realpath(path).startswith(prefix + os.sep):
            fail(f"the {what} is {path}, not the installed prefix {prefix}'s")
    if lib.how != "installed beside the package":
        fail(f"the library was found through {lib.how}")
    x, _ = ebm_mpi.read_split(data, "test")
    with tempfile.TemporaryDirectory() as tmp, ebm_mpi.Model.load(ckpt) as model:
        logits, predicted = eval_dump(ebm_mpi_bin, ckpt, tmp)
        ref = against_reference(model, ckpt, x)
        pred = model.predict(x)
        within(model.logits(x), logits.astype(np.float64), "installed: logits vs eval --dump")
        ok = decided(ref)
        if (pred.label[ok] != predicted[ok]).any():
            fail("installed: classes differ from the installed command's eval --dump")
        if model.info.chain_init != 1:
            fail(f"{ckpt}: chain_init {model.info.chain_init}; this test needs a model whose "
                 "fresh chains need the data")
        s = model.sample(5, seed=3)  # the shipped data, found beside the package
        if s.shape != (5, model.info.input_size) or not np.isfinite(s).all():
            fail(f"installed: samples {s.shape}")
    mpi_never_initialised(lib)
    print(f"PASS: the installed package loads {lib.path} without LIBEBM_MPI; "
          f"{int(ok.sum())} of {len(x)} decided classes equal the installed command's eval "
          "--dump; samples from the shipped data")


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "source":
        return source(*sys.argv[2:])
    if len(sys.argv) == 5 and sys.argv[1] == "installed":
        return installed(*sys.argv[2:])
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
