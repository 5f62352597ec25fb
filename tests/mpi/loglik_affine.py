#!/usr/bin/python3
"""loglik_affine.py: `eval --loglik` end to end against a closed form.

A valid checkpoint's weights are replaced (h5py; nothing else changes) by a
network whose ELUs stay in their linear range on the whole box: every hidden
pre-activation is positive for every input in [lo, hi]^D, checked here layer
by layer with interval arithmetic, so ELU(z) = z and the network is affine,
f(z) = A z + c. Its energy E(z) = -logsumexp_k(A_k z + c_k) is a mixture of
K tilted uniform densities on the box, with
    Z = sum_k exp(c_k) prod_d integral_lo^hi exp(A_kd z) dz
in closed form (docs/loglik.md section 1 defines the density; section 2 the
dequantisation). The output biases are chosen so that the K components carry
comparable mass, so the target is a genuine 64-dimensional mixture.

The reference is computed here in numpy float64 from the float32 weights
(independent of the program's code): log Z in input space, and the
expectations over the dequantisation noise u ~ U[0,1)^D of what the program
reports per example from its 16 draws (the mean of log p(z) for the Jensen
bound and the continuous density, their log-mean-exp for the importance-
weighted bound), by Monte Carlo with 128 groups of 16 draws per example. The
same groups give the spread the program's single group per example has.

`ebm_mpi eval --ckpt X --loglik` runs at np 1 and np 3 (three shards of 90
test images gathered by the reductions, the 256 chains split 86/85/85) and
its printed figures are compared (see TOLERANCES). Exit 0 when all agree, 1
otherwise (each failure printed).

usage: loglik_affine.py PROGRAM VALID_CKPT.h5 DATA.h5 WORKDIR
"""
import math
import os
import re
import shutil
import signal
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MPIRUN = os.path.join(HERE, "mpirun.sh")
TIMEOUT = 120
NPS = (1, 3)
AIS_STEPS = 1000    # the default; about 1 s per run here
AIS_CHAINS = 256    # SE of log Z 0.015..0.023 measured (64 chains at T = 300: 0.06..0.10)
DRAWS = 16          # the program's draws of u per example (AIS_DEQUANT_DRAWS)
GROUPS = 128        # reference groups of DRAWS draws per example
TARGET_RMS_A = 0.7  # rms of the affine map's entries (input units; the box is 2 wide)
MARGIN = 0.5        # smallest hidden pre-activation over the box, by construction
MIN_PREACT = 0.1    # what the interval check demands of the float32 weights

# TOLERANCES (nats per image). Each figure is printed with a fixed number of
# decimals, so half its last digit is allowed (ROUND_*). The estimates vary
# around the reference by (a) the AIS error of log Z, whose standard error
# the program prints, and (b) the program's 16 dequantisation draws per
# example, whose spread is computed here from the reference groups; the
# reference itself has a Monte Carlo error 1/sqrt(GROUPS) of (b). N_SIGMA of
# these combined, plus SE^2/2 for log Z_hat's downward bias (docs/loglik.md
# section 3), plus FLOOR: the network runs in float32 (its energies here are
# within 1e-4 of float64's, 3e-5 measured, checked below; the chains live on
# the float grid of the box): 1e-3 nats is far above that and far below the
# errors of a wrong constant (a Jacobian or cell width off by 1% in one pixel
# is 0.01 nats).
# For an affine energy AIS should be near exact (a mixture of product
# densities, which the reflected MALA kernel mixes at every temperature:
# ESS ~ 0.9 of the chains), so the printed SE of log Z must also be below
# MAX_SE (measured 0.015..0.023 at these settings): a band stretched by a
# broken SE cannot pass a wrong estimate.
N_SIGMA = 4.0
FLOOR = 1e-3
MAX_SE = 0.04
ROUND_LOGZ = 0.0005   # log Z printed %.3f
ROUND_NATS = 0.005    # log p(x), importance-weighted bound, continuous density: %.2f
RAISE_CLOSE = 0.5     # RAISE and AIS agree this well on an energy whose chains mix
# bits/dim printed %.4f: half a unit is 0.00005 * D * ln 2 nats (set once D is known)


def log_int_exp(a, lo, hi):
    """log of integral_lo^hi exp(a z) dz, elementwise, stable (a may be 0)."""
    a, lo, hi = np.broadcast_arrays(np.asarray(a, float), np.asarray(lo, float),
                                    np.asarray(hi, float))
    out = np.log(hi - lo)
    nz = a != 0
    an, lon, hin = a[nz], lo[nz], hi[nz]
    top = np.where(an > 0, hin, lon)
    # (e^{a hi} - e^{a lo}) / a = e^{a top} (1 - e^{-|a| (hi - lo)}) / |a|
    out = out.copy()
    out[nz] = an * top + np.log(-np.expm1(-np.abs(an) * (hin - lon))) - np.log(np.abs(an))
    return out


def lse(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def elu(z):
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


def intervals(weights, biases, lo, hi):
    """Per hidden layer, bounds of the pre-activations over the box [lo, hi]^D
    (interval arithmetic: centre and radius through each affine map; exact
    for one layer, an outer bound after that). ELU is the identity on
    positive inputs, so if every lower bound is positive each layer's output
    interval is its pre-activation interval."""
    mid = np.full(weights[0].shape[1], 0.5 * (lo + hi))
    rad = np.full(weights[0].shape[1], 0.5 * (hi - lo))
    bounds = []
    for w, b in zip(weights[:-1], biases[:-1]):
        mid, rad = w @ mid + b, np.abs(w) @ rad
        bounds.append((mid - rad, mid + rad))
    return bounds


def make_affine(path, a_target, lo, hi, rng):
    """Writes into the checkpoint at path a network whose affine map is
    a_target (K, D), up to float32 rounding; returns its float32 weights and
    biases as float64 arrays. Layer 0 spans the K rows of a_target through a
    random (H, K) mixing g, layers 1 and 2 are random, and layer 3 undoes
    W2 W1 g (its pseudo-inverse), so W3 W2 W1 W0 = a_target."""
    with h5py.File(path, "r+") as f:
        shapes = [f[f"/model/layer{l}/weight"].shape for l in range(4)]
        assert all(f[f"/model/layer{l}/weight"].dtype == np.float32 for l in range(4))
        h, d = shapes[0]
        k = shapes[3][0]
        assert a_target.shape == (k, d) and h >= k, (a_target.shape, shapes)
        # Well conditioned (orthonormal columns, near-identity mixing with
        # entries of both signs): the interval bounds stay close to the real
        # ranges, so the biases that keep the ELUs linear stay small and the
        # float32 network loses no precision to cancellation.
        g = np.linalg.qr(rng.standard_normal((h, k)))[0]
        w1 = np.eye(h) + 0.3 * rng.standard_normal((h, h)) / math.sqrt(h)
        w2 = np.eye(h) + 0.3 * rng.standard_normal((h, h)) / math.sqrt(h)
        w3 = np.linalg.pinv(w2 @ w1 @ g)
        ws = [g @ a_target, w1, w2, w3]
        ws = [w.astype(np.float32).astype(np.float64) for w in ws]
        # Biases: each hidden layer's smallest pre-activation over its input
        # interval (centre and radius, as in intervals()) is MARGIN.
        bs = []
        mid = np.full(d, 0.5 * (lo + hi))
        rad = np.full(d, 0.5 * (hi - lo))
        for w in ws[:-1]:
            b = -(w @ mid) + np.abs(w) @ rad + MARGIN
            b = b.astype(np.float32).astype(np.float64)
            bs.append(b)
            mid, rad = w @ mid + b, np.abs(w) @ rad
        # Output biases: component k's log mass on the box, c_k + sum_d log
        # int exp(A_kd z), spread evenly over 2 nats, so no component
        # dominates; offset by D log(hi - lo), so the logits stay near 0 (and
        # log Z near the trained models' ~48).
        a = ws[3] @ ws[2] @ ws[1] @ ws[0]
        c0 = ws[3] @ (ws[2] @ (ws[1] @ bs[0] + bs[1]) + bs[2])
        mass0 = c0 + log_int_exp(a, lo, hi).sum(axis=1)
        target = np.linspace(0.0, -2.0, k) + d * math.log(hi - lo)
        bs.append((target - mass0).astype(np.float32).astype(np.float64))
        for l in range(4):
            f[f"/model/layer{l}/weight"][...] = ws[l].astype(np.float32)
            f[f"/model/layer{l}/bias"][...] = bs[l].astype(np.float32)
    return ws, bs


def forward(ws, bs, z, dtype=np.float64):
    """The network with real ELUs: (n, D) -> (n, K), in float64 or, as the
    program runs it, float32."""
    x = z.astype(dtype)
    for l in range(4):
        x = x @ ws[l].T.astype(dtype) + bs[l].astype(dtype)
        if l < 3:
            x = elu(x)
    return x


def run(prog, ckpt, data, np_, workdir):
    cmd = [MPIRUN, str(np_), prog, "eval", "--ckpt", ckpt, "--data", data, "--loglik",
           "--ais-steps", str(AIS_STEPS), "--ais-chains", str(AIS_CHAINS)]
    print("$", " ".join(cmd), flush=True)
    # Its own session, so that on a timeout (or any exit of ours) mpirun and
    # its ranks are stopped by this process group's id: SIGTERM first (mpirun
    # forwards it and reaps the ranks), SIGKILL if that is not enough.
    p = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        out, err = "", ""
    finally:
        if p.poll() is None:
            for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(p.pid, sig)
                    p.wait(timeout=wait)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
            raise RuntimeError(f"no exit within {TIMEOUT} s (stopped)")
    sys.stdout.write(out)
    sys.stderr.write(err)
    if p.returncode != 0:
        raise RuntimeError(f"exit status {p.returncode}")
    return out


NUM = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?|-?inf|-?nan)"


def parse(out):
    def grab(pattern, what):
        m = re.search(pattern, out)
        if not m:
            raise RuntimeError(f"no {what} line in the output")
        return [float(g) for g in m.groups()]
    r = {}
    r["log_z"], r["log_z_se"], r["log_z0"] = grab(
        r"log Z = " + NUM + r" \+- " + NUM + r" \(input space; uniform base " + NUM, "log Z")
    r["n"], r["levels"], r["width"] = grab(
        r"([0-9]+) examples, ([0-9]+) levels per pixel dequantised to cells of " + NUM, "examples")
    r["logp"], r["logp_se"] = grab(r"log p\(x\) = " + NUM + r" \+- " + NUM + " nats/image", "log p")
    r["bpd"], r["bpd_se"] = grab(r"= " + NUM + r" \+- " + NUM + " bits/dim", "bits/dim")
    r["iw"], r["cont"] = grab(r"importance-weighted bound \([0-9]+ draws\) " + NUM +
                              r" nats/image; continuous density of the dequantised data " + NUM,
                              "importance-weighted")
    r["raise"], r["raise_se"] = grab(r"log p\(x\) >= " + NUM + r" \+- " + NUM + " nats/image",
                                     "RAISE")
    r["gap"], r["gap_se"] = grab(r"gap AIS - RAISE on the same draws: " + NUM + r" \+- " + NUM,
                                 "gap")
    r["judged"], = grab(r"judged log-likelihood \(the lower of AIS and RAISE\): " + NUM,
                        "judged")
    r["warning"] = "warning:" in out
    return r


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    prog, valid, data, workdir = (os.path.abspath(p) for p in sys.argv[1:])
    os.makedirs(workdir, exist_ok=True)
    ckpt = os.path.join(workdir, "affine.h5")
    shutil.copyfile(valid, ckpt)
    with h5py.File(ckpt, "r") as f:
        s, t = float(f.attrs["input_scale"]), float(f.attrs["input_shift"])
        vmin, vmax = float(f.attrs["value_min"]), float(f.attrs["value_max"])
    with h5py.File(data, "r") as f:
        x = f["/test/images"][...].astype(np.float64)
    # The box in input space (float32, as the program maps it).
    ends = sorted([np.float32(s) * np.float32(vmin) + np.float32(t),
                   np.float32(s) * np.float32(vmax) + np.float32(t)])
    lo, hi = float(ends[0]), float(ends[1])
    # The affine map: each class's mean training image minus the overall
    # mean (input space), scaled to rms TARGET_RMS_A. Aligned with the data,
    # it spreads log p over the images (sd ~5 nats, against ~2 for a random
    # map of the same size), so a figure computed over the wrong images
    # (one rank's share, say) cannot stay near the reference by chance.
    with h5py.File(data, "r") as f:
        xtr, ytr = f["/train/images"][...].astype(np.float64), f["/train/labels"][...]
    ztr = s * xtr + t
    a_target = np.stack([ztr[ytr == j].mean(axis=0) for j in range(int(ytr.max()) + 1)])
    a_target -= ztr.mean(axis=0)
    a_target *= TARGET_RMS_A / math.sqrt(np.mean(a_target ** 2))
    rng = np.random.default_rng(25)
    ws, bs = make_affine(ckpt, a_target, lo, hi, rng)
    d = ws[0].shape[1]
    n = x.shape[0]
    failures = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            failures.append(what)

    # 1. The linear range holds on the whole box (interval arithmetic on the
    #    float32 weights as stored), and the float64 network with real ELUs
    #    equals the affine map at random points, random corners of the box
    #    and the data.
    for l, (low, high) in enumerate(intervals(ws, bs, lo, hi)):
        check(low.min() > MIN_PREACT,
              f"layer {l}: pre-activations over the box within [{low.min():.4f}, "
              f"{high.max():.2f}], all > {MIN_PREACT}")
    a = ws[3] @ ws[2] @ ws[1] @ ws[0]
    c = ws[3] @ (ws[2] @ (ws[1] @ bs[0] + bs[1]) + bs[2]) + bs[3]
    pts = np.concatenate([rng.uniform(lo, hi, (256, d)), rng.choice([lo, hi], (256, d)),
                          s * x + t])
    dev = np.abs(forward(ws, bs, pts) - (pts @ a.T + c)).max()
    check(dev < 1e-9, f"network with ELUs = affine map A z + c (max deviation {dev:.2e})")
    # FLOOR's premise: the energy in float32 is within FLOOR / 10 of float64.
    e32 = lse(forward(ws, bs, pts, np.float32)).astype(np.float64)
    dev32 = np.abs(e32 - lse(pts @ a.T + c)).max()
    check(dev32 < 0.1 * FLOOR, f"energy in float32 within {dev32:.1e} of float64")
    print(f"affine map: A rms {math.sqrt(np.mean(a * a)):.3f}, |A| max {np.abs(a).max():.3f}, "
          f"c in [{c.min():.2f}, {c.max():.2f}]")

    # 2. The reference.
    comp = c + log_int_exp(a, lo, hi).sum(axis=1)          # log mass of each component
    log_z = lse(comp)
    print("component log masses:", " ".join(f"{v:.2f}" for v in comp - log_z))
    levels = int(round(vmax - vmin)) + 1
    delta = (vmax - vmin) / levels                          # cell width, data units
    lev = x - vmin
    assert np.all(lev == np.round(lev)) and lev.min() >= 0 and lev.max() <= levels - 1
    cell_lo = s * (vmin + lev * delta) + t                  # input space (s > 0 here)
    w = s * delta
    assert s > 0
    log_w = d * math.log(w)                                 # D log|s| + D log delta
    # Exact probability of each image's cell (the quantity both bounds bound).
    exact = lse(c[None, :] + log_int_exp(a[None, :, :], cell_lo[:, None, :],
                                         cell_lo[:, None, :] + w).sum(axis=2)) - log_z
    jen = np.empty((n, GROUPS))  # per example and group: mean of log-density over 16 draws
    iw = np.empty((n, GROUPS))   # and their log-mean-exp
    for i in range(n):
        u = rng.random((GROUPS * DRAWS, d))
        g = lse((cell_lo[i] + u * w) @ a.T + c).reshape(GROUPS, DRAWS)
        jen[i] = g.mean(axis=1)
        iw[i] = lse(g) - math.log(DRAWS)
    ref = {}
    for name, v in (("jensen", jen), ("iw", iw)):
        # The program's figure: the mean over examples of one group each.
        ref[name] = v.mean()
        ref[name + "_sd_prog"] = math.sqrt(np.sum(v.var(axis=1, ddof=1))) / n
        ref[name + "_sd_ref"] = ref[name + "_sd_prog"] / math.sqrt(GROUPS)
    print(f"reference: log Z {log_z:.4f}; E_u log exp(-E) per image {ref['jensen']:.4f} "
          f"(program's draws spread {ref['jensen_sd_prog']:.4f}); importance-weighted "
          f"{ref['iw']:.4f} ({ref['iw_sd_prog']:.4f}); exact log P(x) {exact.mean():.4f} nats, "
          f"{-exact.mean() / (d * math.log(2.0)):.4f} bits/dim")
    # The reference's own consistency: Jensen <= importance-weighted <= exact.
    check(ref["jensen"] < ref["iw"] and
          ref["iw"] + log_w - log_z <= exact.mean() + N_SIGMA * ref["iw_sd_ref"],
          "reference: Jensen bound < importance-weighted bound <= exact log P(x)")
    round_bpd = 0.00005 * d * math.log(2.0)

    # 3. The program at np 1 and np 3.
    for np_ in NPS:
        try:
            r = parse(run(prog, ckpt, data, np_, workdir))
        except RuntimeError as e:
            check(False, f"np {np_}: {e}")
            continue
        se = r["log_z_se"]
        tag = f"np {np_}:"
        check(not r["warning"], f"{tag} no low-ESS warning")
        check(r["n"] == n and r["levels"] == levels and abs(r["width"] - delta) < 5e-5,
              f"{tag} {r['n']:.0f} examples, {r['levels']:.0f} levels, cells of {r['width']}")
        check(abs(r["log_z0"] - d * math.log(hi - lo)) <= ROUND_LOGZ,
              f"{tag} uniform base {r['log_z0']} = D log(hi - lo) = {d * math.log(hi - lo):.4f}")
        check(0 < se < MAX_SE, f"{tag} log Z standard error {se} below {MAX_SE}")

        def compare(what, got, want, sd, rounding, bias=0.0):
            tol = N_SIGMA * sd + bias + rounding + FLOOR
            check(abs(got - want) <= tol,
                  f"{tag} {what}: {got:.4f} vs reference {want:.4f} (dev {got - want:+.4f}, "
                  f"tol {tol:.4f})")

        # log Z against the closed form: the AIS error alone.
        compare("log Z", r["log_z"], log_z, se, ROUND_LOGZ, 0.5 * se * se)
        # The data terms with the program's own log Z added back: no AIS error
        # left, only the dequantisation draws and the bookkeeping (Jacobian,
        # cell width, the reduction over ranks).
        logp = -r["bpd"] * d * math.log(2.0)
        sd_j = math.hypot(ref["jensen_sd_prog"], ref["jensen_sd_ref"])
        sd_i = math.hypot(ref["iw_sd_prog"], ref["iw_sd_ref"])
        compare("log p(x) + log Z_hat (from bits/dim)", logp + r["log_z"],
                ref["jensen"] + log_w, sd_j, round_bpd + ROUND_LOGZ)
        compare("log p(x) + log Z_hat (nats line)", r["logp"] + r["log_z"],
                ref["jensen"] + log_w, sd_j, ROUND_NATS + ROUND_LOGZ)
        compare("importance-weighted bound + log Z_hat", r["iw"] + r["log_z"],
                ref["iw"] + log_w, sd_i, ROUND_NATS + ROUND_LOGZ)
        compare("continuous density + log Z_hat", r["cont"] + r["log_z"],
                ref["jensen"] + d * math.log(s), sd_j, ROUND_NATS + ROUND_LOGZ)
        # The reported figure against the closed form, AIS error included.
        compare("log p(x) (from bits/dim)", logp, ref["jensen"] + log_w - log_z,
                math.hypot(se, sd_j), round_bpd, 0.5 * se * se)
        # RAISE, one draw per example: a lower bound in expectation on the
        # same Jensen quantity, close to it on this energy (the reflected MALA
        # chains mix a mixture of product densities at every temperature).
        # Its draw's spread is 4 times the 16 draws' (sqrt 16).
        tol_r = N_SIGMA * 4 * sd_j + ROUND_NATS + FLOOR
        want_r = ref["jensen"] + log_w - log_z
        check(r["raise"] <= want_r + tol_r and r["raise"] >= want_r - RAISE_CLOSE - tol_r,
              f"{tag} RAISE {r['raise']:.2f} within [{want_r - RAISE_CLOSE - tol_r:.3f}, "
              f"{want_r + tol_r:.3f}] (the reference E_u log p, at most {RAISE_CLOSE} below it)")
        # Paired on the same draws: AIS's -E(z) - log Z_hat above RAISE, up to
        # the log Z error and the gap's own spread, and not far above.
        low = -(N_SIGMA * (r["gap_se"] + se) + ROUND_NATS + FLOOR)
        check(low <= r["gap"] <= RAISE_CLOSE,
              f"{tag} gap AIS - RAISE {r['gap']:.2f} within [{low:.3f}, {RAISE_CLOSE}]")
        check(abs(r["judged"] - min(r["raise"], r["logp"])) <= ROUND_NATS + 1e-9,
              f"{tag} judged {r['judged']} = min(AIS {r['logp']}, RAISE {r['raise']})")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
