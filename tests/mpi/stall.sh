#!/bin/bash
# stall.sh: the stall watchdog (--stall-timeout, src/par/watchdog.c), timed
# from the event. A rank stops itself (SIGSTOP, EBM_MPI_FAULT_STALL) at a
# chosen point; this script sees it stop (its state in /proc turns T, polled
# every 20 ms) and times from there to mpirun's exit. Every case requires:
#   - exit status 1 (MPI_Abort under mpirun), exactly one `ebm_mpi: error:`
#     line, from the lowest rank that was not stopped, naming the call and
#     the phase, "more than --stall-timeout T s";
#   - the end within [T + turn - 0.5 s, T + turn + MARGIN] of the stop, where
#     turn = min(r, 4) x 5 s is the wait of the speaking rank r > 0 (README
#     "No silent hang": when rank 0 is the stopped one, rank 1 speaks after
#     5 s). MARGIN = 2.5 s: the watchdog looks every 0.25 s, the other ranks
#     finish their share of the work before they wait (a validation pass:
#     well under 0.1 s here), MPI_Abort reaches mpirun and the ranks are
#     ended (SIGTERM, then SIGKILL 1 s later, Open MPI's
#     odls_base_sigkill_timeout, for a rank that catches SIGTERM as train
#     does); measured overshoot 0.05-1.35 s over 10 runs of every case
#     beside two trainings (load average 10-14), so 2.5 s passes a loaded
#     host and fails a watchdog that fires at 1.75x a 4 s timeout. The
#     0.5 s below allows for this script's late look at the stop;
#   - the "waited N s" figure: N >= T + turn (the wait when the line is
#     printed, the turn included), N <= T + turn + 1 (one tick and
#     rounding), and N <= the measured stop-to-exit time + 1 s: no rank can
#     have waited longer than since the stop;
#   - no rank process left.
#
# usage: stall.sh WORKDIR EBM_MPI_BINARY training
#   1-3. Rank 1 stopped at the start of a training step (also with
#        --overlap on, where rank 0 waits in MPI_Wait for its nonblocking
#        sums), before a validation, half-way through a checkpoint write;
#        --stall-timeout 4. The last complete checkpoint holds the epoch
#        before the stall (its model and optimizer bitwise a 1-epoch run's,
#        with --overlap on too).
#   4.   The whole job stopped (rank 1 stops itself at step 25, then
#        SIGSTOP to mpirun and rank 0) for 8 s, twice the timeout, then
#        continued (SIGCONT): it finishes normally, since time during which a
#        rank was itself stopped does not count.
# usage: stall.sh WORKDIR EBM_MPI_BINARY commands CHECKPOINT
#   With --stall-timeout auto, its floor lowered to 3 s for the test
#   (EBM_MPI_FAULT_AUTO_FLOOR): before any training step the timeout is the
#   floor, so each line must say "more than --stall-timeout 3 s".
#   5. Rank 0 stopped before it reads the data file at train's start-up:
#      rank 1 waits in the collective H5Dread, speaks after its 5 s turn, the
#      line names the data file.
#   6. Rank 1 stopped before eval's evaluation and before sample draws its
#      chains: rank 0 waits in the figures' sum; the lines name the command
#      and CHECKPOINT.
#   7. --stall-timeout auto past its floor: floor 2 s, every rank sleeps
#      0.2 s in global step 2 (EBM_MPI_FAULT_SLOW_STEP), rank 1 stops at
#      step 5: the timeout is 20 x the slowest step, so the line says T
#      between 4 s (20 x 0.2) and 6 s (allowing each step 0.1 s more than its
#      sleep, on a loaded host; hidden 16 steps take milliseconds), and the
#      end and the figure follow T.
set -u
work=$1 bin=$2 group=${3:-training}
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
MARGIN_MS=2500
log=
job=
ranks=
fail() {
    echo "FAIL: $*"
    [ -n "$log" ] && [ -f "$log" ] && tail -5 "$log"
    exit 1
}
# On any exit: nothing of ours left running, stopped or not.
cleanup() {
    local p
    [ -n "$job" ] && kill -0 "$job" 2>/dev/null || return 0
    for p in $ranks; do kill -CONT "$p" 2>/dev/null; done
    kill -TERM "$job" 2>/dev/null
    sleep 1
    for p in $ranks $job; do kill -KILL "$p" 2>/dev/null; done
    wait "$job" 2>/dev/null
}
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work" || exit 1
cd "$work" || exit 1
work=$(pwd)

now_us() { local t=${EPOCHREALTIME//[!0-9]/}; echo "$t"; }

# The processes under PID (children first), and among them the ranks: the
# ebm_mpi processes, wherever the launcher put them (tests/mpi/mpirun.sh
# starts the launcher as its child, the launcher the ranks).
descendants() {
    local c
    for c in $(pgrep -P "$1"); do
        echo "$c"
        descendants "$c"
    done
}
rank_pids() {
    local p
    for p in $(descendants "$1"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = ebm_mpi ] && echo "$p"
    done
    return 0
}

# stalled NAME STOPPED_RANK TIMEOUT WHERE_REGEX ENV... -- COMMAND...: runs
# COMMAND (an mpirun.sh line) with the ENV assignments exported, times the
# stop to the exit and checks the rules at the top of this file. TIMEOUT is
# the timeout in seconds the line must name, or LO-HI: the line's, which
# must lie in [LO, HI], is then the T of the rules. Sets rc, elapsed_ms and
# line.
stalled() {
    local name=$1 stopped=$2 timeout=$3 where_re=$4
    local t_lo=${timeout%-*} t_hi=${timeout#*-}
    shift 4
    local env=()
    while [ "$1" != -- ]; do env+=("$1"); shift; done
    shift
    log=$work/$name.txt
    env "${env[@]}" "$@" >"$log" 2>&1 &
    job=$!
    ranks=
    local t0 t_stop='' t_end p st n waited what speaker turn lo hi
    t0=$(now_us)
    # The ranks are the launcher's children; one of them turns T when it stops.
    while [ -z "$t_stop" ]; do
        kill -0 "$job" 2>/dev/null || fail "$name: the job ended before a rank stopped"
        [ $(($(now_us) - t0)) -lt 60000000 ] || fail "$name: no rank stopped within 60 s"
        # shellcheck disable=SC2086  # (both ranks: mpirun starts them one by one)
        [ "$(set -- $ranks; echo $#)" = 2 ] || ranks=$(rank_pids "$job" | tr '\n' ' ')
        for p in $ranks; do
            st=
            read -r _ _ st _ <"/proc/$p/stat" 2>/dev/null
            [ "$st" = T ] && t_stop=$(now_us)
        done
        [ -n "$t_stop" ] || sleep 0.02
    done
    speaker=$((stopped == 0 ? 1 : 0))
    turn=$((speaker < 4 ? speaker * 5 : 20))
    while kill -0 "$job" 2>/dev/null; do
        [ $(($(now_us) - t_stop)) -lt $(((t_hi + turn + 30) * 1000000)) ] ||
            fail "$name: still running $((t_hi + turn + 30)) s after a rank stopped: a hang"
        sleep 0.02
    done
    t_end=$(now_us)
    wait "$job"
    rc=$?
    job=
    elapsed_ms=$(((t_end - t_stop) / 1000))
    [ "$rc" = 1 ] || fail "$name: exit status $rc after a rank stopped, expected 1 (MPI_Abort)"
    n=$(grep -c '^ebm_mpi: error:' "$log")
    [ "$n" = 1 ] || fail "$name: $n error lines, expected one"
    line=$(grep '^ebm_mpi: error:' "$log")
    [[ $line =~ ^ebm_mpi:\ error:\ rank\ ([0-9]+):\ stalled:\ waited\ ([0-9]+)\ s\ in\ (.*)\ for\ the\ other\ ranks,\ more\ than\ --stall-timeout\ ([0-9]+)\ s\; ]] ||
        fail "$name: the error line is not the watchdog's: $line"
    [ "${BASH_REMATCH[1]}" = "$speaker" ] ||
        fail "$name: rank ${BASH_REMATCH[1]} spoke, expected rank $speaker (rank $stopped stopped)"
    waited=${BASH_REMATCH[2]}
    timeout=${BASH_REMATCH[4]}
    if [ "$timeout" -lt "$t_lo" ] || [ "$timeout" -gt "$t_hi" ]; then
        fail "$name: the line says --stall-timeout $timeout s, expected $t_lo-$t_hi s"
    fi
    what=${BASH_REMATCH[3]}
    [[ $what =~ $where_re ]] || fail "$name: the line does not name /$where_re/: $what"
    lo=$(((timeout + turn) * 1000 - 500)) hi=$(((timeout + turn) * 1000 + MARGIN_MS))
    [ "$elapsed_ms" -ge "$lo" ] ||
        fail "$name: ended $elapsed_ms ms after the stop, before the timeout $timeout s + turn $turn s"
    [ "$elapsed_ms" -le "$hi" ] ||
        fail "$name: ended $elapsed_ms ms after the stop, more than $timeout s + turn $turn s + $MARGIN_MS ms"
    [ "$waited" -ge $((timeout + turn)) ] ||
        fail "$name: 'waited $waited s', less than the timeout $timeout s + turn $turn s"
    [ "$waited" -le $((timeout + turn + 1)) ] ||
        fail "$name: 'waited $waited s', more than the timeout $timeout s + turn $turn s + 1 s"
    [ $((waited * 1000)) -le $((elapsed_ms + 1000)) ] ||
        fail "$name: 'waited $waited s', but the job ended $elapsed_ms ms after the stop"
    for _ in $(seq 50); do
        n=
        for p in $ranks; do
            st=
            read -r _ _ st _ <"/proc/$p/stat" 2>/dev/null
            # gone, or a zombie (exited; the new parent reaps it)
            case $st in '' | Z | X) ;; *) n="$n $p($st)" ;; esac
        done
        [ -z "$n" ] && break
        sleep 0.02
    done
    [ -z "$n" ] || fail "$name: rank processes left:$n"
    echo "$name: exit $rc, $elapsed_ms ms after the stop (timeout $timeout s, turn $turn s), waited $waited s: ${line:0:160}..."
    echo "STALL_MS $name $elapsed_ms"
}

case $group in
training)
    args=(train --hidden 64 --seed 1)
    "$here/mpirun.sh" 2 "$bin" "${args[@]}" --epochs 1 --out ref >ref.txt 2>&1 || fail "the 1-epoch reference failed"
    for case in step:30 step:30:overlap eval:2 checkpoint:3; do
        point=${case%:overlap}
        extra=()
        [ "$point" = "$case" ] || extra=(--overlap on)
        out=$work/stall-${point%%:*}${extra:+-overlap}
        case $case in
            step:30) where='^MPI_Allreduce \(a training step, global step 30\)$' ;;
            step:30:overlap) where='^MPI_Wait \(MPI_Iallreduce\) \(a training step, global step 30\)$' ;;
            eval:2) where='^MPI_(Bcast|Allreduce) \(the validation after epoch 2, global step 40\)$' ;;
            checkpoint:3) where="\\(writing $out/(last|best)\\.h5, global step 40\\)\$" ;;
        esac
        stalled "${case//:/-}" 1 4 "$where" EBM_MPI_FAULT_STALL="$point" -- \
            "$here/mpirun.sh" 2 -x EBM_MPI_FAULT_STALL "$bin" "${args[@]}" --epochs 5 --stall-timeout 4 \
            "${extra[@]}" --out "$out"
        "$py" "$here/compare_ckpt.py" ref/last.h5 "$out/last.h5" /model /optimizer >/dev/null ||
            fail "$case: last.h5 is not the complete checkpoint of epoch 1"
    done

    # 4. The whole job stopped and continued: held at a known point (rank 1
    # stops itself at step 25, in epoch 2), then mpirun and rank 0 are
    # stopped too, all for 8 s, and all continued.
    out=$work/whole
    log=$work/whole.txt
    EBM_MPI_FAULT_STALL=step:25 "$here/mpirun.sh" 2 -x EBM_MPI_FAULT_STALL "$bin" "${args[@]}" \
        --epochs 2 --stall-timeout 4 --out "$out" >"$log" 2>&1 &
    job=$!
    held=
    for _ in $(seq 600); do
        ranks=$(rank_pids "$job" | tr '\n' ' ')
        for p in $ranks; do
            st=
            read -r _ _ st _ <"/proc/$p/stat" 2>/dev/null
            [ "$st" = T ] && held=$p
        done
        [ -n "$held" ] && break
        kill -0 "$job" 2>/dev/null || fail "whole: the job ended before rank 1 stopped"
        sleep 0.02
    done
    [ -n "$held" ] || fail "whole: rank 1 did not stop at step 25 within 12 s"
    # Every process of the job: mpirun.sh, the launcher, the ranks.
    [ "$(set -- $ranks; echo $#)" = 2 ] || fail "whole: found ranks '$ranks', expected 2"
    all="$job $(descendants "$job" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill -STOP $all
    sleep 8
    # shellcheck disable=SC2086
    kill -CONT $all
    wait "$job"
    rc=$?
    job=
    [ "$rc" = 0 ] || fail "the job stopped for 8 s and continued exited $rc"
    grep -q '^ebm_mpi: error:' "$log" && fail "the continued job printed an error"
    grep -q "^done in" "$log" || fail "the continued job did not finish"
    echo "PASS: a stopped rank ends the job within the timeout in a step, a validation and a checkpoint write; a stopped and continued job finishes"
    ;;
commands)
    ckpt=${4:?usage: stall.sh WORKDIR EBM_MPI_BINARY commands CHECKPOINT}
    [ -f "$ckpt" ] || fail "no checkpoint $ckpt"
    floor=(EBM_MPI_FAULT_AUTO_FLOOR=3)
    x=(-x EBM_MPI_FAULT_STALL -x EBM_MPI_FAULT_STALL_RANK -x EBM_MPI_FAULT_AUTO_FLOOR -x EBM_MPI_FAULT_SLOW_STEP)
    # 5. Rank 0 stopped in the data reading at start-up.
    stalled read 0 3 '^a collective H5Dread \(reading data file .*/digits\.h5\)$' \
        "${floor[@]}" EBM_MPI_FAULT_STALL=read:1 EBM_MPI_FAULT_STALL_RANK=0 -- \
        "$here/mpirun.sh" 2 "${x[@]}" "$bin" train --hidden 16 --epochs 1 --out "$work/read"
    [ -e "$work/read/last.h5" ] && fail "read: a checkpoint was written by a run that stalled before training"
    # 6. eval and sample.
    stalled eval-command 1 3 "^MPI_Allreduce \(evaluating $ckpt on the test split\)\$" \
        "${floor[@]}" EBM_MPI_FAULT_STALL=eval-command:1 -- \
        "$here/mpirun.sh" 2 "${x[@]}" "$bin" eval --ckpt "$ckpt"
    stalled sample-command 1 3 "^MPI_Allreduce \(sampling from $ckpt\)\$" \
        "${floor[@]}" EBM_MPI_FAULT_STALL=sample-command:1 -- \
        "$here/mpirun.sh" 2 "${x[@]}" "$bin" sample --ckpt "$ckpt" --n 8 --steps 5 --out "$work/s.h5"
    [ -e "$work/s.h5" ] && fail "sample-command: a sample file was written by a stalled job"
    # 7. auto past its floor.
    stalled auto 1 4-6 '^MPI_Allreduce \(a training step, global step 5\)$' \
        EBM_MPI_FAULT_AUTO_FLOOR=2 EBM_MPI_FAULT_SLOW_STEP=2:200 EBM_MPI_FAULT_STALL=step:5 -- \
        "$here/mpirun.sh" 2 "${x[@]}" "$bin" train --hidden 16 --epochs 1 --out "$work/auto"
    echo "PASS: stalls in train's data reading, eval and sample end the job within the timeout, naming the phase; --stall-timeout auto is the floor before any step and 20 x the slowest step after"
    ;;
*)
    fail "unknown group '$group'"
    ;;
esac
