#!/bin/bash
# stall.sh: the stall watchdog (--stall-timeout, src/par/watchdog.c).
#   1-3. Rank 1 stops itself (SIGSTOP, EBM_MPI_FAULT_STALL) at the start of a
#        training step, before a validation, half-way through a checkpoint
#        write; with --stall-timeout 4 the job ends within 4 + 8 s with a
#        non-zero status, exactly one `ebm_mpi: error:` line saying it stalled
#        and in what, no process left, and the last complete checkpoint holds
#        the epoch before the stall (its model equal to a 1-epoch run's).
#        The step case runs twice: with one MPI_Allreduce per step and with
#        --overlap on, where rank 0 waits in MPI_Wait for its nonblocking
#        sums (and its last.h5 must still equal the reference's bits).
#   4.   The whole job stopped (SIGSTOP to mpirun and both ranks) for 8 s,
#        twice the timeout, then continued (SIGCONT): it finishes normally,
#        since time during which a rank was itself stopped does not count.
# usage: stall.sh WORKDIR EBM_MPI_BINARY
set -u
work=$1 bin=$2
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
fail() { echo "FAIL: $*"; [ -f "$work/run.txt" ] && tail -5 "$work/run.txt"; exit 1; }
rm -rf "$work" && mkdir -p "$work" || exit 1
cd "$work" || exit 1
work=$(pwd) # absolute: the --out paths below name this test's processes alone
args=(train --hidden 64 --seed 1)

"$here/mpirun.sh" 2 "$bin" "${args[@]}" --epochs 1 --out ref >ref.txt 2>&1 || fail "the 1-epoch reference failed"

for case in step:30 step:30:overlap eval:2 checkpoint:3; do
    point=${case%:overlap}
    extra=()
    [ "$point" = "$case" ] || extra=(--overlap on)
    out=$work/stall-${point%%:*}${extra:+-overlap}
    start=$(date +%s%N)
    EBM_MPI_FAULT_STALL=$point "$here/mpirun.sh" 2 -x EBM_MPI_FAULT_STALL "$bin" "${args[@]}" \
        --epochs 5 --stall-timeout 4 "${extra[@]}" --out "$out" >run.txt 2>&1 &
    pid=$!
    waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$waited" -ge 300 ]; then
            kill -KILL "$pid"; wait "$pid"
            fail "$case: still running 30 s after a rank stopped: a hang"
        fi
        sleep 0.1; waited=$((waited + 1))
    done
    wait "$pid"
    rc=$?
    secs=$((($(date +%s%N) - start) / 1000000))
    [ "$rc" != 0 ] || fail "$case: exit status 0 after a rank stopped"
    [ "$secs" -le 12000 ] || fail "$case: ended after $secs ms, more than 4 + 8 s"
    n=$(grep -c '^ebm_mpi: error:' run.txt)
    [ "$n" = 1 ] || fail "$case: $n error lines, expected one"
    grep -q "^ebm_mpi: error: rank [0-9]*: stalled: waited [0-9]* s in .*more than --stall-timeout 4 s" run.txt ||
        fail "$case: the error line does not say it stalled"
    if [ ${#extra[@]} -gt 0 ]; then
        grep -q "^ebm_mpi: error: rank [0-9]*: stalled: waited [0-9]* s in MPI_Wait (MPI_Iallreduce)" run.txt ||
            fail "$case: the error line does not name the nonblocking sum's wait"
    fi
    sleep 0.5
    pgrep -f -- "--out $out" >/dev/null && fail "$case: processes left: $(pgrep -a -f -- "--out $out")"
    "$py" "$here/compare_ckpt.py" ref/last.h5 "$out/last.h5" /model /optimizer >/dev/null ||
        fail "$case: last.h5 is not the complete checkpoint of epoch 1"
    echo "$case: exit $rc after $secs ms: $(grep '^ebm_mpi: error:' run.txt | cut -c1-150)..."
done

# 4. The whole job stopped and continued.
out=$work/whole
"$here/mpirun.sh" 2 "$bin" "${args[@]}" --epochs 100 --stall-timeout 4 --out "$out" >run.txt 2>&1 &
pid=$!
for _ in $(seq 100); do [ -f "$out/last.h5" ] && break; sleep 0.05; done
ranks=$(pgrep -P "$pid")
[ -n "$ranks" ] || fail "no ranks found under mpirun $pid"
kill -STOP "$pid" $ranks
sleep 8
kill -CONT "$pid" $ranks
wait "$pid"
rc=$?
[ "$rc" = 0 ] || fail "the job stopped for 8 s and continued exited $rc"
grep -q '^ebm_mpi: error:' run.txt && fail "the continued job printed an error"
grep -q "^done in" run.txt || fail "the continued job did not finish"
echo "PASS: a stopped rank ends the job within the timeout in a step, a validation and a checkpoint write; a stopped and continued job finishes"
