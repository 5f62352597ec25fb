#!/bin/bash
# sample_init.sh: `sample --init` starts chains where it says, and
# `--sampler mala|ula` run on the data box, on NP ranks (0 steps: the starts
# themselves). Reference values come from the checkpoint's stored arrays and
# numpy, never from the program:
#   uniform  2000 samples in [value_min, value_max]: inside it, pixel means
#            and the pooled variance within 5 SE of (lo + hi) / 2 and
#            (hi - lo)^2 / 12, KS distance to the uniform CDF below the
#            level-1e-6 critical value (pixels of one sample are independent);
#   classes  4000 samples with --data pointing nowhere (the stored
#            /sampler/class_start alone), against 4000 numpy draws from the
#            stored arrays (class by the stored shares, mean + L z, clamped to
#            the box as the chains are): pixel means and every covariance
#            entry within 6 two-sample SE (SE from the draws' own spread);
#   chains   --init chains and --from-chains at 0 steps: the stored
#            /sampler/chains rows 0..N-1 in data units, to float rounding;
#   mala     30 steps from uniform: samples inside the box, the acceptance
#            line printed and stored, in (0, 1].
# usage: sample_init.sh WORKDIR NP PROGRAM CKPT
#   CKPT: format 5 or later, with a persistent buffer of >= 50 chains.
# EBM_PYTHON: a Python with h5py and numpy (default /usr/bin/python3).
set -euo pipefail
if [ $# -ne 4 ]; then
    echo "usage: sample_init.sh WORKDIR NP PROGRAM CKPT" >&2
    exit 2
fi
work=$1 np=$2 prog=$3 ckpt=$4
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
rm -rf "$work"
mkdir -p "$work"

step() {
    local name=$1
    shift
    echo "== $name: $*"
    local status=0
    "$@" >"$work/$name.log" 2>&1 || status=$?
    cat "$work/$name.log"
    [ "$status" -eq 0 ] || { echo "FAIL: $name exited with status $status"; exit 1; }
}

run=("$here/mpirun.sh" "$np" "$prog" sample --ckpt "$ckpt" --steps 0)
step uniform "${run[@]}" --init uniform --n 2000 --out "$work/uniform.h5"
step classes "${run[@]}" --init classes --n 4000 --data "$work/no_such_data.h5" \
    --out "$work/classes.h5"
step chains "${run[@]}" --init chains --n 50 --out "$work/chains.h5"
step from_chains "${run[@]}" --from-chains --n 50 --out "$work/from_chains.h5"
step mala "$here/mpirun.sh" "$np" "$prog" sample --ckpt "$ckpt" --init uniform --sampler mala \
    --steps 30 --n 40 --out "$work/mala.h5"
grep -Eq "^  MALA acceptance (0\.[0-9]+|1\.0+) over the 15 fixed-step steps after a 15-step burn-in" \
    "$work/mala.log" || { echo "FAIL: no MALA acceptance line"; exit 1; }

"$py" - "$ckpt" "$work" <<'PY'
import sys, h5py, numpy as np
ckpt, work = sys.argv[1:]
fails = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)

with h5py.File(ckpt, "r") as f:
    a = f.attrs
    lo, hi = float(a["value_min"]), float(a["value_max"])
    scale, shift = float(a["input_scale"]), float(a["input_shift"])
    cum = f["sampler/class_start/cumulative_share"][()]
    mean = f["sampler/class_start/mean"][()].astype(np.float64)
    chol = f["sampler/class_start/chol"][()].astype(np.float64)
    chains = f["sampler/chains"][:50]
k, d = mean.shape
chol = chol.reshape(k, d, d)

# --- uniform in the box
x = h5py.File(f"{work}/uniform.h5")["samples"][()].astype(np.float64)
n = len(x)
w = hi - lo
check(x.min() >= lo and x.max() <= hi, f"uniform: {n}x{d} values inside [{lo}, {hi}]")
se = w / np.sqrt(12 * n)
z = np.abs(x.mean(0) - (lo + hi) / 2) / se
check(z.max() < 5, f"uniform: pixel means within 5 SE of {(lo + hi) / 2} (max {z.max():.2f} SE)")
v = x.var()
se_v = np.sqrt((w ** 4 / 80 - (w ** 2 / 12) ** 2) / x.size)  # 4th central moment w^4/80
check(abs(v - w * w / 12) < 5 * se_v, f"uniform: variance {v:.4f} vs {w * w / 12:.4f} (SE {se_v:.4f})")
u = np.sort(((x - lo) / w).ravel())
m = u.size
ks = max((np.arange(1, m + 1) / m - u).max(), (u - np.arange(m) / m).max())
check(ks < 2.69 / np.sqrt(m), f"uniform: KS {ks:.4f} below {2.69 / np.sqrt(m):.4f}")

# --- the stored class Gaussians, numpy's own draws from them
y = h5py.File(f"{work}/classes.h5")["samples"][()].astype(np.float64)
n = len(y)
rng = np.random.default_rng(7)
share = np.diff(np.concatenate([[0.0], cum]))
pick = rng.choice(k, size=n, p=share / share.sum())
z = rng.standard_normal((n, d))
ref = mean[pick] + np.einsum("nij,nj->ni", chol[pick], z)
box = sorted((scale * lo + shift, scale * hi + shift))
ref = (np.clip(ref, box[0], box[1]) - shift) / scale  # input space -> data units
check(np.isfinite(y).all() and y.min() >= lo - 1e-4 and y.max() <= hi + 1e-4,
      "classes: finite, inside the box")
dm = y.mean(0) - ref.mean(0)
se_m = np.sqrt(y.var(0) / n + ref.var(0) / n) + 1e-12
zm = np.abs(dm) / se_m
check(zm.max() < 6, f"classes: pixel means within 6 SE of numpy's draws (max {zm.max():.2f})")
def centred_products(a):
    c = a - a.mean(0)
    return np.einsum("ni,nj->nij", c, c).reshape(len(a), -1)
py_, pr = centred_products(y), centred_products(ref)
dc = py_.mean(0) - pr.mean(0)
se_c = np.sqrt(py_.var(0) / n + pr.var(0) / n) + 1e-9
zc = np.abs(dc) / se_c
check(zc.max() < 6, f"classes: {d}x{d} covariance entries within 6 SE (max {zc.max():.2f})")
cov_y, cov_r = np.cov(y, rowvar=False), np.cov(ref, rowvar=False)
rel = np.linalg.norm(cov_y - cov_r) / np.linalg.norm(cov_r)
print(f"     (covariance: relative Frobenius difference {rel:.3f})")

# --- the stored chains, unmoved
want = (chains.astype(np.float32) - np.float32(shift)) / np.float32(scale)
for name in ("chains", "from_chains"):
    got = h5py.File(f"{work}/{name}.h5")["samples"][()]
    err = np.abs(got - want).max()
    check(got.shape == want.shape and err <= 1e-5 * max(1.0, np.abs(want).max()),
          f"{name}: the stored chains 0..49 (max difference {err:.2e})")

# --- MALA from uniform
f = h5py.File(f"{work}/mala.h5")
s = f["samples"][()]
acc = float(f.attrs["acceptance"])
check(s.min() >= lo and s.max() <= hi and 0 < acc <= 1,
      f"mala: inside the box, acceptance {acc:.3f} stored, sampler {f.attrs['sampler']}")
sys.exit(1 if fails else 0)
PY
echo "PASS: sample --init starts where it says; MALA stays in the box"
