#!/bin/bash
# nonfinite.sh: a step whose global gradient is not finite is skipped on every
# rank (Adamax does not advance), training goes on, and 10 such steps in a row
# stop training with an error that leaves the last good checkpoints (README
# "Command line", docs/design.md section 2, src/train/loop.c).
# The NaN is planted by the test-only EBM_MPI_FAULT_NAN_STEPS: rank 1 puts a
# NaN into its local gradient at the listed global steps, so rank 0's own
# part is finite and only the sum tells. np 2, hidden 16, --ema 0 (so
# validation judges each rank's own weights), 20 steps per epoch;
# --stall-timeout 20 ends a job whose ranks took different decisions (one
# waits in the broadcast of an update the other skipped) instead of hanging.
#   1. A NaN at step 21 (the first of epoch 2), stopped after it: /model and
#      every /optimizer dataset and its step are bit for bit those of
#      rollback.h5 (the end of epoch 1, step 20); the checkpoint counts 1
#      skipped step (1 in a row).
#   2. Resumed from there with NaNs at 22-29 and 31 (9 in a row, one good
#      step, one more): the run finishes, 40 steps (10 skipped), metrics.h5
#      skipped_steps 0, 10; the finite weights of last.h5, evaluated on the
#      validation split (eval --dump at np 2, the cross-entropy recomputed
#      here in float64), give the validation figures the 2 ranks computed
#      with their own weights in training: every rank holds rank 0's bits.
#   3. Resumed from (1) with NaNs at 22-30: with step 21 that is 10 in a row:
#      exit status 1, one error line saying so, last.h5, best.h5 and
#      rollback.h5 unchanged (sha256), metrics.h5's rows too; resumed again
#      without the fault: finishes.
# usage: nonfinite.sh WORKDIR EBM_MPI_BINARY
set -euo pipefail
work=$1
bin=$2
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
args=(--hidden 16 --ema 0 --epochs 2 --stall-timeout 20)
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
cd "$work"
export EBM_MPI_FAULT_NAN_STEPS='' EBM_MPI_FAULT_STOP_AT_STEP=0

# run OUT LOG [VAR=VALUE...]: resumes (or starts) OUT at np 2; sets $status.
run() {
    local out=$1 log=$2
    shift 2
    status=0
    env "$@" timeout -k 5 120 "$here/mpirun.sh" 2 -x EBM_MPI_FAULT_NAN_STEPS \
        -x EBM_MPI_FAULT_STOP_AT_STEP "$bin" train "${args[@]}" --out "$out" --resume auto \
        >"$log" 2>&1 || status=$?
}
show() { echo "---- $1 (exit $status):"; grep -v '^    ' "$1" | head -40; }

echo "== 1. a NaN on rank 1 at step 21: the step is skipped"
run a a.log EBM_MPI_FAULT_NAN_STEPS=21 EBM_MPI_FAULT_STOP_AT_STEP=21
[ "$status" = 75 ] || { show a.log; fail "the run with a NaN at step 21 exited $status, not 75"; }
"$py" - a/rollback.h5 a/last.h5 <<'EOF' || fail "step 21 was not skipped (see above)"
import sys, h5py, numpy as np
before, after = (h5py.File(p, "r") for p in sys.argv[1:3])
bad = []
names = []
for g in ("/model", "/optimizer"):
    after[g].visititems(lambda n, o: names.append(g + "/" + n) if isinstance(o, h5py.Dataset) else None)
if not any(n.startswith("/optimizer") for n in names):
    bad.append("no /optimizer datasets")
for n in names:
    a, b = before[n][()], after[n][()]
    if a.shape != b.shape or a.tobytes() != b.tobytes():
        bad.append(f"{n} changed across the skipped step")
if before["/optimizer"].attrs["step"] != after["/optimizer"].attrs["step"]:
    bad.append("Adamax advanced: /optimizer step %s -> %s" % (before["/optimizer"].attrs["step"], after["/optimizer"].attrs["step"]))
for k, want in (("global_step", 21), ("skipped_steps", 1)):
    if after.attrs[k] != want:
        bad.append(f"{k} = {after.attrs[k]}, expected {want}")
for k, want in (("skipped_in_a_row", 1), ("skipped_in_epoch", 1)):
    if after["/data_order"].attrs[k] != want:
        bad.append(f"/data_order {k} = {after['/data_order'].attrs[k]}, expected {want}")
print("\n".join(bad) or f"ok: {len(names)} datasets of /model and /optimizer and the Adamax step unchanged")
sys.exit(1 if bad else 0)
EOF

echo "== 2. NaNs at 22-29 and 31: 9 in a row, one good step, one more; the run goes on"
cp -r a b
run b b.log EBM_MPI_FAULT_NAN_STEPS=22-29,31
[ "$status" = 0 ] || { show b.log; fail "the run with 9 NaN steps in a row did not finish (exit $status)"; }
grep -q "^done in .*: 40 steps (10 skipped)" b.log || { show b.log; fail "the final line does not count 10 skipped steps"; }
timeout -k 5 60 "$here/mpirun.sh" 2 "$bin" eval --ckpt b/last.h5 --split val --dump val.h5 >eval.log 2>&1 ||
    { cat eval.log; fail "eval --dump of the last checkpoint failed"; }
"$py" - b/last.h5 b/metrics.h5 val.h5 <<'EOF' || fail "the ranks do not agree (see above)"
import sys, h5py, numpy as np
ck, met, dump = (h5py.File(p, "r") for p in sys.argv[1:4])
bad = []
if list(met["skipped_steps"][()]) != [0, 10]:
    bad.append(f"metrics.h5 skipped_steps {list(met['skipped_steps'][()])}, expected [0, 10]")
if ck.attrs["skipped_steps"] != 10 or ck["/data_order"].attrs["skipped_in_a_row"] != 0:
    bad.append("last.h5 counts %s skipped (%s in a row), expected 10 (0)"
               % (ck.attrs["skipped_steps"], ck["/data_order"].attrs["skipped_in_a_row"]))
if ck["/optimizer"].attrs["step"] != 30:
    bad.append(f"/optimizer step {ck['/optimizer'].attrs['step']}, expected 40 - 10 skipped = 30")
for l in range(4):
    if not np.isfinite(ck[f"/model/layer{l}/weight"][()]).all():
        bad.append(f"/model/layer{l}/weight is not finite")
# The validation of epoch 2 ran on 2 ranks, each with its own copy of the
# weights on its shard; eval loaded rank 0's (last.h5) on both. float64 CE
# from the dumped logits; 1e-6 relative is ~100x the float32 rounding of the
# two sums, a rank whose weights missed one Adamax step differs by ~1e-3.
lg = dump["logits"][()].astype(np.float64)
y = dump["label"][()]
m = lg.max(1)
ce = (m + np.log(np.exp(lg - m[:, None]).sum(1)) - lg[np.arange(len(y)), y]).mean()
err = (lg.argmax(1) != y).mean()
vce, verr = met["val_ce"][-1], met["val_error"][-1]
if not abs(ce - vce) <= 1e-6 * abs(ce):
    bad.append(f"validation CE in training {vce!r}, of last.h5's weights {ce!r}")
if err != verr:
    bad.append(f"validation error in training {verr!r}, of last.h5's weights {err!r}")
print("\n".join(bad) or f"ok: 10 skipped, 30 Adamax steps, validation CE {vce:.8f} = {ce:.8f}")
sys.exit(1 if bad else 0)
EOF

echo "== 3. NaNs at 22-30: with step 21, 10 in a row stop training"
cp -r a c
sums=$(cd c && sha256sum last.h5 best.h5 rollback.h5)
"$py" -c "
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    for k in sorted(f): print(k, f[k][()].tobytes().hex())" c/metrics.h5 >rows.before
run c c.log EBM_MPI_FAULT_NAN_STEPS=22-30
[ "$status" = 1 ] || { show c.log; fail "10 NaN steps in a row: exit status $status, expected 1"; }
errors=$(grep -c '^ebm_mpi: error:' c.log || true)
[ "$errors" = 1 ] || { show c.log; fail "$errors error lines, expected 1"; }
grep -q "^ebm_mpi: error: training diverged: 10 non-finite gradients in a row (epoch 2, step 10); c/best.h5 and last.h5 keep the last good state" c.log ||
    { show c.log; fail "the error line does not say 10 non-finite gradients in a row at epoch 2 step 10"; }
[ "$sums" = "$(cd c && sha256sum last.h5 best.h5 rollback.h5)" ] || fail "the checkpoints changed"
"$py" -c "
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    for k in sorted(f): print(k, f[k][()].tobytes().hex())" c/metrics.h5 | cmp -s - rows.before ||
    fail "metrics.h5's rows changed"
[ -n "$(find c -maxdepth 1 \( -name '*.tmp' -o -name '*.tmp.??????' \))" ] && fail "a temporary file (rollback.h5.tmp, <name>.tmp.XXXXXX) was left"
run c c2.log
[ "$status" = 0 ] || { show c2.log; fail "the resume after the stop did not finish (exit $status)"; }
grep -q "^done in .*: 40 steps (1 skipped)" c2.log || { show c2.log; fail "the resumed run's final line"; }
echo "PASS: a NaN step skipped on every rank (model and optimizer unchanged), 9 in a row survived, 10 in a row stopped with one error and intact, resumable checkpoints"
