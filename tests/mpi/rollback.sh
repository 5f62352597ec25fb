#!/bin/bash
# rollback.sh: a divergence is rolled back (src/core/diverge.h, loop.c).
# A divergence is forced through the real detector: EBM_MPI_FAULT_DIVERGE_AT_STEP=45
# gives global steps 45-49 (epoch 3 of 20 steps) 10^4 times the learning
# rate until the first rollback, so the energies run off.
#   1. The run says it rolled back to the start of epoch 3, counts it in
#      metrics.h5 (rollbacks 0, 0, 1, 1, 1) and last.h5, and ends with a
#      finite model that eval reads; exit 0.
#   2. The same run again: bitwise the same files (the rollback is
#      deterministic).
#   3. Stopped before the divergence (step 43) and resumed: the resumed run
#      diverges and rolls back exactly as the uninterrupted one, ending
#      bitwise equal; stopped after the rollback (step 50 of the second
#      attempt) and resumed: equal too.
#   4. Without the forced divergence nothing rolls back (rollbacks all 0).
# usage: rollback.sh WORKDIR EBM_MPI_BINARY
set -u
work=$1
bin=$2
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
fail() { echo "FAIL: $*"; exit 1; }
args=(--hidden 64 --buffer 128 --epochs 5 --seed 2)
groups=(/model /optimizer /sampler /rng /data_order /metrics)
diverge=(env EBM_MPI_FAULT_DIVERGE_AT_STEP=45)
run() { # OUT [ENV...] -- extra args
    local out=$1; shift
    "$@" "$here/mpirun.sh" 2 -x EBM_MPI_FAULT_DIVERGE_AT_STEP -x EBM_MPI_FAULT_STOP_AT_STEP \
        "$bin" train "${args[@]}" --out "$out" --resume auto
}
rm -rf "$work" && mkdir -p "$work" || exit 1
cd "$work" || exit 1
export EBM_MPI_FAULT_DIVERGE_AT_STEP=0 EBM_MPI_FAULT_STOP_AT_STEP=0

rollbacks() { "$py" -c "
import h5py, sys
with h5py.File(sys.argv[1]) as f:
    print(' '.join(str(int(v)) for v in f['rollbacks'][()]))" "$1"; }

echo "== 1. forced divergence at global step 45"
run a "${diverge[@]}" > a.log 2>&1 || fail "the diverging run failed: $(tail -5 a.log)"
grep -Eq "^  epoch 3 step [0-9]+: .* beyond .*: rolled back to the start of epoch 3 \(rollback 1 of at most 5\)" a.log ||
    fail "no rollback line: $(grep -n 'epoch' a.log | head)"
[ "$(rollbacks a/metrics.h5)" = "0 0 1 1 1" ] || fail "metrics.h5 rollbacks: $(rollbacks a/metrics.h5)"
"$py" -c "
import h5py, sys, numpy as np
with h5py.File(sys.argv[1]) as f:
    assert f.attrs['rollbacks'] == 1, f.attrs['rollbacks']
    for k in ('layer0', 'layer3'):
        assert np.isfinite(f['/model/%s/weight' % k][()]).all()
" a/last.h5 || fail "last.h5 does not count the rollback or holds a non-finite model"
"$bin" eval --ckpt a/last.h5 > a_eval.log 2>&1 || fail "eval of the rolled-back model failed"
grep -q "rolled back after a divergence" a.log || fail "the final line does not say it rolled back"

echo "== 2. the same run again"
run b "${diverge[@]}" > b.log 2>&1 || fail "second run failed"
"$py" "$here/compare_ckpt.py" a/last.h5 b/last.h5 "${groups[@]}" || fail "two runs differ"
"$py" "$here/compare_ckpt.py" a/metrics.h5 b/metrics.h5 / || fail "two runs' metrics differ"

echo "== 3. stopped before the divergence (step 43), resumed"
run c "${diverge[@]}" EBM_MPI_FAULT_STOP_AT_STEP=43 > c1.log 2>&1
[ $? = 75 ] || fail "the stop at step 43 did not exit 75"
run c "${diverge[@]}" > c2.log 2>&1 || fail "the resume before the divergence failed"
grep -q "rolled back to the start of epoch 3" c2.log || fail "the resumed run did not roll back"
"$py" "$here/compare_ckpt.py" a/last.h5 c/last.h5 "${groups[@]}" || fail "stop/resume before the rollback differs"
"$py" "$here/compare_ckpt.py" a/metrics.h5 c/metrics.h5 / || fail "stop/resume metrics differ"

echo "== 3b. stopped after the rollback (step 50 of the second attempt), resumed"
run d "${diverge[@]}" EBM_MPI_FAULT_STOP_AT_STEP=50 > d1.log 2>&1
[ $? = 75 ] || fail "the stop at step 50 did not exit 75"
grep -q "rolled back" d1.log || fail "the first part did not roll back before stopping"
run d "${diverge[@]}" > d2.log 2>&1 || fail "the resume after the rollback failed"
grep -q "1 rollback(s)" d2.log || fail "the resume note does not count the rollback"
"$py" "$here/compare_ckpt.py" a/last.h5 d/last.h5 "${groups[@]}" || fail "stop/resume after the rollback differs"

echo "== 4. no forced divergence: no rollback"
run e > e.log 2>&1 || fail "the normal run failed"
[ "$(rollbacks e/metrics.h5)" = "0 0 0 0 0" ] || fail "a normal run rolled back: $(rollbacks e/metrics.h5)"
echo "PASS: rolled back once at step 45, counted, finite; identical twice and across stop/resume before and after it"
