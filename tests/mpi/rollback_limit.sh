#!/bin/bash
# rollback_limit.sh: after 5 rollbacks a further divergence ends training
# with an error, the last good checkpoints kept (README "Runs that heal
# themselves", src/train/loop.c roll_back, EBM_MAX_ROLLBACKS).
# The divergence is forced through the real detector as in rollback.sh:
# EBM_MPI_FAULT_DIVERGE_AT_STEP=45 gives global steps 45-49 (epoch 3 of the
# ckpt_valid fixture's 2 finished epochs, np 2, hidden 32) 10^4 times the
# learning rate, and EBM_MPI_FAULT_DIVERGE_TIMES=K repeats it after each
# rollback until K rollbacks were made.
#   1. K = 6: rollbacks 1 to 5 of at most 5, then the sixth divergence ends
#      training: exit status 1, one error line saying so, last.h5, best.h5
#      and rollback.h5 unchanged (sha256), metrics.h5's rows too, no .tmp.
#   2. The same directory resumed with K = 5 (the limit itself): 5 rollbacks
#      and the run finishes, counting them (final line, last.h5, metrics.h5).
# usage: rollback_limit.sh WORKDIR VALID_OUTDIR EBM_MPI_BINARY
set -euo pipefail
work=$1
valid=$2
bin=$3
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
cd "$work"
cp -r "$valid" out
export EBM_MPI_FAULT_DIVERGE_AT_STEP=45

# run LOG TIMES: resumes out at np 2 for a third epoch; sets $status.
run() {
    status=0
    EBM_MPI_FAULT_DIVERGE_TIMES=$2 timeout -k 5 120 "$here/mpirun.sh" 2 \
        -x EBM_MPI_FAULT_DIVERGE_AT_STEP -x EBM_MPI_FAULT_DIVERGE_TIMES \
        "$bin" train --epochs 3 --hidden 32 --buffer 64 --out out --resume auto >"$1" 2>&1 ||
        status=$?
}
show() { echo "---- $1 (exit $status):"; grep -v '^    ' "$1" | head -40; }
rows() {
    "$py" -c "
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    for k in sorted(f): print(k, f[k][()].tobytes().hex())" out/metrics.h5
}
# The rollback lines in order: "1 2 3 ..." if each says "rollback N of at most 5".
counted() { sed -n 's/.*rolled back to the start of epoch 3 (rollback \([0-9]*\) of at most 5).*/\1/p' "$1" | xargs; }

echo "== 1. a sixth divergence after 5 rollbacks ends training"
sums=$(cd out && sha256sum last.h5 best.h5 rollback.h5)
rows >rows.before
run six.log 6
[ "$status" = 1 ] || { show six.log; fail "exit status $status, expected 1"; }
[ "$(counted six.log)" = "1 2 3 4 5" ] || { show six.log; fail "rollbacks said: '$(counted six.log)', expected 1 2 3 4 5"; }
errors=$(grep -c '^ebm_mpi: error:' six.log || true)
[ "$errors" = 1 ] || { show six.log; fail "$errors error lines, expected 1"; }
grep -Eq "^ebm_mpi: error: training diverged again \(.* beyond .*, epoch 3 step [0-9]+\) after 5 rollbacks; out/best.h5 and last.h5 keep the last good state" six.log ||
    { show six.log; fail "the error line does not say it diverged again after 5 rollbacks"; }
[ "$sums" = "$(cd out && sha256sum last.h5 best.h5 rollback.h5)" ] || fail "the checkpoints changed"
rows | cmp -s - rows.before || fail "metrics.h5's rows changed"
[ -n "$(find out -maxdepth 1 \( -name '*.tmp' -o -name '*.tmp.??????' \))" ] && fail "a temporary file (rollback.h5.tmp, <name>.tmp.XXXXXX) was left"

echo "== 2. resumed: 5 rollbacks (the limit) are survived"
run five.log 5
[ "$status" = 0 ] || { show five.log; fail "5 divergences: exit status $status, expected 0"; }
[ "$(counted five.log)" = "1 2 3 4 5" ] || { show five.log; fail "rollbacks said: '$(counted five.log)', expected 1 2 3 4 5"; }
grep -q "rolled back after a divergence" five.log || { show five.log; fail "the final line does not say it rolled back"; }
"$py" -c "
import sys, h5py
with h5py.File('out/last.h5') as f:
    assert f.attrs['epoch'] == 3 and f.attrs['rollbacks'] == 5, (f.attrs['epoch'], f.attrs['rollbacks'])
with h5py.File('out/metrics.h5') as f:
    assert list(f['rollbacks'][()]) == [0, 0, 5], list(f['rollbacks'][()])
" || fail "last.h5 or metrics.h5 do not count 5 rollbacks in epoch 3"
echo "PASS: the sixth divergence ended training after 5 rollbacks with one error, files intact; 5 were survived"
