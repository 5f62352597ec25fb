#!/bin/bash
# out_dir.sh: one run owns one output directory (src/core/dir_lock.h).
#   1. two trainings into the same --out at once: the second is refused with
#      one error line naming the holder (host, pid), and leaves the lock as
#      it was; the first ends normally and its files are its own. The first
#      is held alive by an event, not by its length: its rank 0 stops itself
#      (SIGSTOP, EBM_MPI_FAULT_STALL=step:5, after taking the lock; no
#      watchdog) until the second has been refused, then is continued;
#   2. a fresh run (no --resume) into a directory that holds a run: refused,
#      pointing at --resume auto and --overwrite, the files unchanged
#      (checksums); --overwrite then starts afresh;
#   3. a run killed with SIGKILL (every rank: its lock is left behind) is
#      resumed: the lock of the dead run is taken over, and said so;
#   4. the same command with --resume auto twice in a row (what
#      scripts/quickstart.sh train does): the second reports the finished run.
#
# usage: out_dir.sh WORKDIR PROGRAM
set -u
if [ $# -ne 2 ]; then
    echo "usage: out_dir.sh WORKDIR PROGRAM" >&2
    exit 2
fi
work=$1 bin=$2
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work" || exit 1
out=$work/out
lock=$out/ebm_mpi.lock
train=(train --hidden 32)

a=
holder_pid=
# On any exit: the held run continued or ended, nothing of ours left.
cleanup() {
    [ -n "$a" ] && kill -0 "$a" 2>/dev/null || return 0
    [ -n "$holder_pid" ] && kill -CONT "$holder_pid" 2>/dev/null
    kill -TERM "$a" 2>/dev/null
    sleep 1
    kill -KILL "$a" 2>/dev/null
    wait "$a" 2>/dev/null
}
trap cleanup EXIT

wait_for_lock() {
    for _ in $(seq 300); do [ -s "$lock" ] && return 0; sleep 0.05; done
    fail "no lock appeared in $out"
}

# 1. Two runs at once: the first held at global step 5 by its rank 0.
EBM_MPI_FAULT_STALL=step:5 EBM_MPI_FAULT_STALL_RANK=0 "$here/mpirun.sh" 2 \
    -x EBM_MPI_FAULT_STALL -x EBM_MPI_FAULT_STALL_RANK "$bin" "${train[@]}" --epochs 2 \
    --stall-timeout 0 --out "$out" >"$work/a.txt" 2>&1 &
a=$!
wait_for_lock
holder_pid=$(sed -n 's/^pid //p' "$lock")
state=
for _ in $(seq 600); do
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$holder_pid/status" 2>/dev/null)
    [ "$state" = T ] && break
    kill -0 "$a" 2>/dev/null || { cat "$work/a.txt"; fail "the first run ended before its rank 0 stopped at step 5"; }
    sleep 0.05
done
[ "$state" = T ] || fail "the first run's rank 0 (pid $holder_pid, the lock's) did not stop at step 5 within 30 s"
lock_before=$(cat "$lock")
"$here/expect_error.sh" "^ebm_mpi: error: --out '$out' is in use by another run: host $(hostname), pid $holder_pid, .*started .*Wait for it to end or use another --out" \
    "$here/mpirun.sh" 2 "$bin" "${train[@]}" --epochs 2 --out "$out" --resume auto ||
    fail "the second run into a busy --out was not refused as expected"
[ "$(cat "$lock" 2>/dev/null)" = "$lock_before" ] || fail "the refused run changed the first run's lock"
[ -e "$out/last.h5" ] && fail "the refused run wrote $out/last.h5 while the first was held before its first checkpoint"
kill -CONT "$holder_pid"
wait "$a" || { cat "$work/a.txt"; fail "the first run did not end normally"; }
a=
[ -e "$lock" ] && fail "the lock outlived its run"
grep -q "^done in" "$work/a.txt" || fail "the first run did not finish"
echo "1. concurrent run refused, naming pid $holder_pid; the first finished"

# 2. A fresh run over a finished one.
sums=$(cd "$out" && sha256sum best.h5 last.h5 metrics.h5)
"$here/expect_error.sh" "^ebm_mpi: error: --out '$out' holds a run \(last\.h5\): continue it with --resume auto, or start afresh over it with --overwrite" \
    "$here/mpirun.sh" 2 "$bin" "${train[@]}" --epochs 2 --out "$out" ||
    fail "a fresh run into a used --out was not refused as expected"
[ "$sums" = "$(cd "$out" && sha256sum best.h5 last.h5 metrics.h5)" ] || fail "the refused run changed the files"
"$here/mpirun.sh" 2 "$bin" "${train[@]}" --epochs 2 --out "$out" --overwrite >"$work/o.txt" 2>&1 ||
    { cat "$work/o.txt"; fail "--overwrite did not start afresh"; }
/usr/bin/python3 -c "
import h5py, sys
with h5py.File(sys.argv[1]) as f:
    assert f.attrs['epoch'] == 2, f.attrs['epoch']
with h5py.File(sys.argv[2]) as f:
    assert len(f['epoch']) == 2, len(f['epoch'])
" "$out/last.h5" "$out/metrics.h5" || fail "after --overwrite the files are not the new run's 2 epochs"
echo "2. fresh run into a used --out refused, files unchanged; --overwrite started afresh"

# 3. A killed run leaves its lock; the resume takes it over.
rm -rf "$out"
"$here/mpirun.sh" 2 "$bin" "${train[@]}" --epochs 400 --out "$out" >"$work/k.txt" 2>&1 &
k=$!
wait_for_lock
for _ in $(seq 300); do [ -f "$out/last.h5" ] && break; sleep 0.05; done
dead_pid=$(sed -n 's/^pid //p' "$lock")
kill -KILL "$dead_pid" # rank 0, the holder; mpirun then ends the others
wait "$k"
sleep 0.5
[ -s "$lock" ] || fail "the killed run left no lock (the test needs one)"
"$here/mpirun.sh" 2 "$bin" "${train[@]}" --epochs 2 --out "$out" --resume auto >"$work/r.txt" 2>&1 ||
    { cat "$work/r.txt"; fail "the resume after a kill was blocked"; }
grep -q "took over the lock of the run on $(hostname) (pid $dead_pid.*is gone" "$work/r.txt" ||
    { cat "$work/r.txt"; fail "the resume did not say it took over the dead run's lock"; }
echo "3. the lock of a killed run (pid $dead_pid) was taken over by the resume"

# 4. The same --resume auto command twice.
rm -rf "$out"
for round in 1 2; do
    "$here/mpirun.sh" 2 "$bin" "${train[@]}" --epochs 2 --out "$out" --resume auto >"$work/t$round.txt" 2>&1 ||
        { cat "$work/t$round.txt"; fail "round $round of the same command failed"; }
done
grep -q "resumed from $out/last.h5: 2 epoch(s) done" "$work/t2.txt" || fail "the second round did not resume"
grep -q "^done in .*best.h5 = epoch" "$work/t2.txt" || fail "the second round did not report the run"
echo "PASS: one run per --out; refusals name the holder or the way out; a dead run's lock is taken over"
