#!/bin/bash
# fixture_check.sh: the current binary reads the checkpoint and metrics files
# that earlier versions wrote (tests/fixtures/vN, described in its README).
#   resume  FIXDIR WORK PROGRAM: resumes midepoch/ (2 ranks) to the end of
#           epoch 2; the result must equal buffer/last.h5 (model, optimizer,
#           chains, RNG, data order) and metrics.h5's non-timing columns must
#           equal buffer/metrics.h5, bit for bit when this machine's BLAS core
#           is the one that wrote the fixture (else: it must finish).
#   eval    FIXDIR WORK PROGRAM: eval --split val of buffer/best.h5 and
#           seed/best.h5 reproduces the validation error stored in each file.
#   sample  FIXDIR WORK PROGRAM: sample (fresh chains, --class, --from-chains)
#           from buffer/best.h5 and seed/best.h5 writes finite samples inside
#           the data range.
# Needs EBM_PYTHON (h5py) and tests/mpi/mpirun.sh.
set -u
if [ $# -ne 4 ]; then
    echo "usage: fixture_check.sh resume|eval|sample FIXDIR WORK PROGRAM" >&2
    exit 2
fi
mode=$1 fix=$(readlink -f "$2") work=$3 prog=$(readlink -f "$4")
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
rm -rf "$work" && mkdir -p "$work" || exit 1
cd "$work" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
run() {
    echo "== $*"
    "$@" >run.log 2>&1
    local rc=$?
    cat run.log
    [ $rc -eq 0 ] || fail "exit status $rc: $*"
}
attr() { "$py" -c "import h5py,sys; v=h5py.File(sys.argv[1])['/'].attrs[sys.argv[2]]; print(v.decode() if isinstance(v, bytes) else v)" "$1" "$2"; }

case "$mode" in
resume)
    mkdir out && cp "$fix"/midepoch/last.h5 "$fix"/midepoch/metrics.h5 out/ || exit 1
    # The fixtures were trained with the stable preset as it was then: the
    # options it has changed since (the rate, the sampler, w, the average)
    # given as the file stores them (a resume must repeat them; absent in
    # older files: the values they read as).
    read -r -a then < <("$py" - "$fix"/midepoch/last.h5 <<'PY'
import sys, h5py
a = h5py.File(sys.argv[1], "r").attrs
absent = {"chain-init": 0, "step-decay": 1, "lr-schedule": "const", "warmup": 0, "lr-floor": 0,
          "ema": 0}
out = []
for name in ("lr", "gen-weight", "chain-init", "step-decay", "lr-schedule", "warmup", "lr-floor", "ema"):
    v = a[name] if name in a else absent[name]
    v = v.decode() if isinstance(v, bytes) else v
    out += [f"--{name}", v if isinstance(v, str) else repr(float(v))]
print(" ".join(out))
PY
)
    [ ${#then[@]} -eq 16 ] || fail "cannot read the fixture's options"
    run "$here/mpirun.sh" 2 "$prog" train --hidden 16 --epochs 2 --buffer 16 --seed 3 \
        "${then[@]}" --out out --resume auto
    grep -q "resumed from out/last.h5: 1 epoch(s) done, continuing after step 5/20" run.log \
        || fail "no mid-epoch resume line"
    core_then=$(attr "$fix"/buffer/last.h5 blas_version | sed -n 's/.*core //p')
    core_now=$(attr out/last.h5 blas_version | sed -n 's/.*core //p')
    if [ "$core_then" != "$core_now" ]; then
        echo "BLAS core $core_now here, $core_then in the fixture: bitwise comparison not meaningful"
        exit 0
    fi
    # Format 3 added the rollbacks column, which older files lack.
    "$py" "$here/compare_ckpt.py" --newer-has rollbacks "$fix"/buffer/last.h5 out/last.h5 \
        /model /optimizer /sampler /rng /data_order /metrics || fail "resumed checkpoint differs"
    # The root of metrics.h5 is the run record of the version that wrote it
    # (format_version, git_revision, data_file, the hyperparameters it knew).
    "$py" "$here/compare_ckpt.py" --newer-has rollbacks --no-root-attrs "$fix"/buffer/metrics.h5 \
        out/metrics.h5 / || fail "metrics.h5 differs"
    echo "PASS: resumed fixture equals the uninterrupted run (BLAS core $core_now)"
    ;;
eval)
    for f in buffer/best.h5 seed/best.h5; do
        run "$here/mpirun.sh" 2 "$prog" eval --ckpt "$fix/$f" --split val
        want=$("$py" -c "import h5py,sys; print('%.2f%%' % (100*h5py.File(sys.argv[1]).attrs['best_val_error']))" "$fix/$f")
        grep -Eq "error +$want" run.log || grep -q "error $want" run.log \
            || fail "$f: eval does not print the stored validation error $want"
    done
    echo "PASS: eval reproduces the stored validation errors"
    ;;
sample)
    run "$here/mpirun.sh" 2 "$prog" sample --ckpt "$fix"/buffer/best.h5 --n 30 --out u.h5
    run "$here/mpirun.sh" 2 "$prog" sample --ckpt "$fix"/buffer/best.h5 --n 10 --class 3 --out c.h5
    run "$here/mpirun.sh" 2 "$prog" sample --ckpt "$fix"/buffer/best.h5 --from-chains --n 16 --out ch.h5
    run "$here/mpirun.sh" 1 "$prog" sample --ckpt "$fix"/seed/best.h5 --n 12 --out s.h5
    "$py" - "$fix" <<'PY' || fail "samples"
import sys, h5py, numpy as np
fix = sys.argv[1]
for name, n, ck in [("u.h5", 30, "buffer"), ("c.h5", 10, "buffer"), ("ch.h5", 16, "buffer"),
                    ("s.h5", 12, None)]:
    x = h5py.File(name)["samples"][()]
    assert x.shape == (n, 64), (name, x.shape)
    assert np.isfinite(x).all(), name
    if ck:  # stable preset: chains clamped to the data range
        a = h5py.File(f"{fix}/{ck}/best.h5").attrs
        assert x.min() >= a["value_min"] - 1e-4 and x.max() <= a["value_max"] + 1e-4, name
print("samples: shapes, finite, inside the data range")
PY
    echo "PASS: sample works on the fixtures"
    ;;
*) fail "unknown mode $mode" ;;
esac
