#!/bin/bash
# shellcheck disable=SC2317  # functions run from traps look unreachable
# harness.sh: the emulated cluster and its scenarios. Run only by
# tests/cluster/run.sh, inside a network namespace of its own (unshare --net)
# and a mount namespace of its own; it refuses to start unless its network
# namespace is not the host's, `lo` is its only interface and it has no
# route but loopback's, so nothing it runs can reach an address beyond the
# namespaces it makes.
#
#   usage (from run.sh): harness.sh mpirun|slurm EBM_MPI_BINARY SOURCE_DIR
#
# The cluster (tests/cluster/lib.sh has the node primitives): node1
# 10.77.0.1 and node2 10.77.0.2, and for the slurm group a head 10.77.0.254
# that runs slurmctld; each a network + UTS namespace with its own hostname
# and one veth interface on a bridge in a namespace of its own; no default
# route anywhere. One munged serves all (its socket is a file on the shared
# filesystem). Everything lives in $EBM_CLUSTER_DIR. On exit, also on
# failure: jobs cancelled, daemons stopped by PID, every process left in a
# node's namespace killed (found by namespace inode), the anchors ended: the
# namespaces, veths and bridge go with them.
#
# Timing: Open MPI's ranks see the nodes' cores as free and would busy-poll,
# 4 ranks on the machine's 2 real cores ran 20-40x slower: every launch here
# yields (mpi_yield_when_idle 1). Each scenario has a deadline; the whole
# group has a budget (EBM_CLUSTER_BUDGET, seconds).
set -u
here=$(cd "$(dirname "$0")" && pwd)
group=$1
bin=$2
src=$3   # slurm.sh: slurm/train.sh
export src
t0=$SECONDS
say() { printf '[cluster %s %4ds] %s\n' "$group" $((SECONDS - t0)) "$*"; }
fail() {
    say "FAIL: $*"
    exit 1
}
budget=${EBM_CLUSTER_BUDGET:-200}
deadline=$((SECONDS + budget))

# ------------------------------------------------------------- the safety rule
ip link set lo up || fail "cannot bring loopback up"
me_ns=$(readlink /proc/self/ns/net)
CL=${EBM_CLUSTER_DIR:?harness.sh runs only from tests/cluster/run.sh}
if [ "$me_ns" = "$(cat "$CL/host_netns")" ] || [ "$me_ns" = "$(readlink /proc/1/ns/net)" ]; then
    fail "refusing to start: this is the host's network namespace ($me_ns); run tests/cluster/run.sh"
fi
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
[ "$links" = "lo " ] || fail "refusing to start: interfaces other than lo here: $links"
routes=$(
    ip -o -4 route show table all
    ip -o -6 route show table all
)
if printf '%s\n' "$routes" | grep -v '^$' | grep -qv ' dev lo '; then
    fail "refusing to start: a route not through lo: $(printf '%s\n' "$routes" | grep -v ' dev lo ' | head -n 1)"
fi
echo "$me_ns" >>"$CL/netns.list"
# shellcheck source=tests/cluster/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/lib/slurm_daemons.sh
. "$here/../lib/slurm_daemons.sh"   # stop_pid; munge_start, slurm_conf_policy for slurm.sh
cluster_require_inside
say "harness in $me_ns (only lo, no route out; mounts: ${EBM_CLUSTER_MOUNTS:-?} namespace), cluster in $CL"

export EBM_MPI=$bin OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 HWLOC_COMPONENTS=-gl
for v in $(compgen -e); do
    case "$v" in SLURM_* | EBM_OUT | EBM_LAUNCHER | EBM_MPIRUN_ARGS | EBM_REQUEUE | EBM_MPI_FAULT_*) unset "$v" ;; esac
done
mkdir -p "$CL/nodes" "$CL/log" "$CL/runs" "$CL/run" || fail "mkdir in $CL"

# ------------------------------------------------------------------- cleanup
anchors=()
daemons=()   # "pid name" of every daemon started, stopped in reverse order
cleanup() {
    local rc=$? i n ns p left=
    trap - EXIT INT TERM
    [ "$rc" = 0 ] || [ -z "${current_log:-}" ] || [ ! -f "$current_log" ] || {
        say "last lines of $current_log:"
        tail -n 25 "$current_log" | sed 's/^/    | /'
    }
    if [ "$group" = slurm ] && [ -n "${ctld_pid:-}" ] && kill -0 "$ctld_pid" 2>/dev/null; then
        in_node head scancel --quiet --user=root 2>/dev/null
        for _ in $(seq 30); do
            [ -z "$(in_node head squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
        # shellcheck disable=SC2086  # "pid name"
        stop_pid ${daemons[i]}
    done
    # munge_start fails before slurm.sh can list its munged: stop it here too
    # (stop_pid passes over a PID already stopped or empty).
    stop_pid "${munged_pid:-}" munged
    # Whatever is left in a node (ranks, orted, slurmstepd, job shells):
    # found by the node's namespace, killed, then the anchors end.
    for n in "$CL"/nodes/*; do
        [ -f "$n" ] || continue
        read -r p ns _ <"$n"
        for q in $(procs_in_netns "$ns"); do
            [ "$q" = "$p" ] && continue
            left="$left $q($(basename "$n"): $(tr "\0" " " <"/proc/$q/cmdline" 2>/dev/null | cut -c1-40))"
            kill -KILL "$q" 2>/dev/null
        done
    done
    if [ -n "$left" ]; then
        say "cleanup: killed processes left in the nodes after the daemons stopped:$left"
        [ "$rc" = 0 ] && { say "FAIL: the teardown left processes"; rc=1; }
    fi
    for p in "${anchors[@]}"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    say "cluster removed (${#anchors[@]} namespaces); exit $rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# --------------------------------------------------------------- the nodes
unshare --net sleep infinity &
bridge=$!
anchors+=("$bridge")
sleep 0.1
bridge_ns=$(readlink "/proc/$bridge/ns/net")
if [ -z "$bridge_ns" ] || [ "$bridge_ns" = "$me_ns" ]; then fail "the bridge's namespace was not made"; fi
echo "$bridge_ns" >>"$CL/netns.list"
nsenter -t "$bridge" --net ip link add br0 type bridge || fail "no bridge"
nsenter -t "$bridge" --net ip link set br0 up

make_node() {   # make_node NAME ADDRESS
    local name=$1 addr=$2 pid ns
    unshare --net --uts sleep infinity &
    pid=$!
    anchors+=("$pid")
    for _ in $(seq 50); do
        ns=$(readlink "/proc/$pid/ns/net")
        [ -n "$ns" ] && [ "$ns" != "$me_ns" ] && break
        sleep 0.02
    done
    [ "$ns" != "$me_ns" ] || fail "node $name: no namespace of its own"
    echo "$ns" >>"$CL/netns.list"
    echo "$pid $ns $addr" >"$CL/nodes/$name"
    ip link add "v-$name" type veth peer name eth0 netns "$pid" || fail "node $name: veth"
    ip link set "v-$name" netns "$bridge" || fail "node $name: veth to the bridge"
    nsenter -t "$bridge" --net ip link set "v-$name" master br0
    nsenter -t "$bridge" --net ip link set "v-$name" up
    in_node "$name" ip addr add "$addr/24" dev eth0 || fail "node $name: address"
    in_node "$name" ip link set eth0 up
    in_node "$name" ip link set lo up
    in_node "$name" hostname "$name"
    [ "$(in_node "$name" hostname)" = "$name" ] || fail "node $name: hostname"
    [ -z "$(in_node "$name" ip route show default)" ] || fail "node $name has a default route"
}
make_node node1 10.77.0.1
make_node node2 10.77.0.2
[ "$group" = slurm ] && make_node head 10.77.0.254
# A node reaches another over the bridge (bash's /dev/tcp, no ping needed).
in_node node2 timeout 5 bash -c 'exec 3<>/dev/tcp/10.77.0.1/9' 2>"$CL/log/probe" ||
    grep -q 'refused' "$CL/log/probe" || fail "node2 cannot reach node1: $(cat "$CL/log/probe")"
say "nodes up: $(for n in "$CL"/nodes/*; do printf '%s=%s ' "$(basename "$n")" "$(node_field "$(basename "$n")" addr)"; done)(bridge in its own namespace)"

# ---------------------------------------------------------------- helpers
settings=(--hidden 64 --seed 7 --batch-size 64)
current_log=

left_for() {   # left_for SECONDS: that, or what is left of the budget
    local left=$((deadline - SECONDS))
    [ "$left" -gt 5 ] || fail "the harness budget ($budget s) is used up"
    [ "$1" -lt "$left" ] && echo "$1" || echo "$left"
}

h5attr() {   # h5attr FILE ATTR
    h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *//p' | head -n 1
}

same_model() {   # same_model A B WHAT GROUP...
    local a=$1 b=$2 what=$3 g
    shift 3
    for g in "$@"; do
        h5diff "$a" "$b" "$g" "$g" >"$CL/h5diff.out" 2>&1 ||
            { head -n 20 "$CL/h5diff.out"; fail "$what: $g differs between $a and $b"; }
    done
    say "$what: $* bitwise identical to the one-host run (h5diff)"
}

checksums() {   # checksums DIR: the complete files' sha256, sorted
    (cd "$1" && sha256sum -- *.h5 2>/dev/null | sort -k2)
}

# Nothing of ours in any node but the anchors and the daemons.
nothing_left() {   # nothing_left WHAT
    local n p ns q keep extra=
    keep=" ${anchors[*]} "
    for d in "${daemons[@]}"; do keep="$keep${d%% *} "; done
    for n in "$CL"/nodes/*; do
        read -r p ns _ <"$n"
        for q in $(procs_in_netns "$ns"); do
            case $keep in *" $q "*) continue ;; esac
            # a daemon's own helpers (slurmctld's slurmscriptd) belong to it
            case $keep in *" $(awk '/^PPid:/ {print $2}' "/proc/$q/status" 2>/dev/null) "*) continue ;; esac
            extra="$extra $q:$(basename "$n"):$(tr '\0' ' ' <"/proc/$q/cmdline" 2>/dev/null | cut -c1-60)"
        done
    done
    [ -z "$extra" ] || fail "$1: processes left in the nodes:$extra"
}

proc_state() { sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null; }

# wait_stopped NODE TIMEOUT: a rank of ours in NODE stopped itself; t_stop=
# when this was seen (ms). The node's 2 ranks are found once (a scan of
# /proc takes a while), then their state is read every 20 ms, so t_stop is
# within a few tens of ms of the stop.
wait_stopped() {
    local end=$((SECONDS + $2)) p st pids=
    while [ "$SECONDS" -lt "$end" ]; do
        # shellcheck disable=SC2086
        [ "$(set -- $pids; echo $#)" -ge 2 ] || pids=$(node_procs_of "$1" "$bin")
        for p in $pids; do
            st=
            read -r _ _ st _ <"/proc/$p/stat" 2>/dev/null
            [ "$st" = T ] && { t_stop=$(now_ms); return 0; }
        done
        kill -0 "$launcher_pid" 2>/dev/null || fail "the job ended before a rank on $1 stopped"
        sleep 0.02
    done
    fail "no rank on $1 stopped within $2 s"
}

wait_exit() {   # wait_exit PID TIMEOUT: rc= its status (fails after TIMEOUT)
    local end=$((SECONDS + $2))
    while kill -0 "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || fail "process $1 did not end within $2 s"
        sleep 0.02
    done
    wait "$1"
    rc=$?
}

now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((t / 1000)); }

# -------------------------------------------------------------- mpirun group
# mpirun is started inside node1; ranks 0-1 on node1, 2-3 on node2.
printf 'node1 slots=2\nnode2 slots=2\n' >"$CL/hostfile"
# shellcheck disable=SC2054  # commas inside one MCA value
mpi_common=(--mca btl tcp,vader,self --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0
    --mca mpi_yield_when_idle 1 --bind-to none -x OPENBLAS_NUM_THREADS -x HWLOC_COMPONENTS)
# A machine that pins OpenBLAS's kernels (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE)
# pins them on every node: ssh.sh starts the remote daemons with a clean
# environment, and a rank on another core rounds differently, so the bitwise
# comparison with the one-host run would compare two kernels, not two layouts.
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
    [ -n "${!v:-}" ] && mpi_common+=(-x "$v")
done
mpirun_2nodes() {   # mpirun_2nodes NP LOG [mpirun options] -- PROGRAM ARGS: in the background
    local np=$1 log=$2
    shift 2
    node_exec node1 mpirun -np "$np" --hostfile "$CL/hostfile" --mca plm_rsh_agent "$here/ssh.sh" \
        "${mpi_common[@]}" "$@" >"$log" 2>&1 &
    launcher_pid=$!
}
mpirun_1node() {   # mpirun_1node NODE NP LOG [mpirun options] -- PROGRAM ARGS: in the background
    local node=$1 np=$2 log=$3
    shift 3
    node_exec "$node" mpirun -np "$np" --oversubscribe "${mpi_common[@]}" "$@" >"$log" 2>&1 &
    launcher_pid=$!
}

# lose_node NODE OUT WHAT: SIGKILLs every rank of the job on NODE; the job
# must end with a non-zero status within 30 s (the time is printed), leave
# nothing in any node, and leave OUT's complete files as they were.
lose_node() {
    local node=$1 out=$2 what=$3 before after ranks t_kill t_end
    before=$(checksums "$out")
    ranks=$(node_procs_of "$node" "$bin" | tr '\n' ' ')
    t_kill=$(now_ms)
    # shellcheck disable=SC2086
    kill -KILL $ranks
    wait_exit "$launcher_pid" 30
    t_end=$(now_ms)
    [ "$rc" != 0 ] || fail "$what: the job ended with status 0 after losing $node's ranks"
    say "$what: killed ranks $ranks on $node; mpirun exited with status $rc after $((t_end - t_kill)) ms"
    sleep 0.5
    nothing_left "$what"
    after=$(checksums "$out")
    [ "$before" = "$after" ] || fail "$what: the complete checkpoints changed: before $before after $after"
    say "$what: nothing left on any node; $(echo "$after" | awk '{printf "%s %s.. ", $2, substr($1,1,12)}')unchanged"
}

group_mpirun() {
    local out ref rc t_kill t_end

    # 1. Training over 2 nodes equals the same 4 ranks on one host.
    say "1: mpirun --hostfile over node1 + node2, 4 ranks, 3 epochs; the same on node1 alone"
    out=$CL/runs/two ref=$CL/runs/one
    current_log=$CL/log/two.log
    mpirun_2nodes 4 "$current_log" -- "$bin" train --out "$out" "${settings[@]}" --epochs 3
    local two=$launcher_pid
    mpirun_1node node1 4 "$CL/log/one.log" -- "$bin" train --out "$ref" "${settings[@]}" --epochs 3
    local one=$launcher_pid
    wait_exit "$two" "$(left_for 90)"
    [ "$rc" = 0 ] || fail "1: the 2-node run ended with status $rc"
    wait_exit "$one" "$(left_for 60)"
    [ "$rc" = 0 ] || { current_log=$CL/log/one.log; fail "1: the one-host run ended with status $rc"; }
    grep -q '^  hosts: 2 (node1: ranks 0-1; node2: ranks 2-3)$' "$current_log" ||
        fail "1: the banner does not show ranks 0-1 on node1 and 2-3 on node2: $(grep -m1 'hosts:' "$current_log")"
    grep -q '^  hosts: 1 (node1: ranks 0-3)$' "$CL/log/one.log" || fail "1: the one-host run is not on node1 alone"
    say "1: $(grep -m1 '^  hosts:' "$current_log" | sed 's/^ *//'); $(grep -m1 '^done in' "$current_log")"
    same_model "$out/last.h5" "$ref/last.h5" "1" /model /optimizer /sampler /rng
    same_model "$out/best.h5" "$ref/best.h5" "1 (best.h5)" /model
    # The gradient sums overlapped with the backward pass (nonblocking, over
    # TCP between the nodes) give the same bits.
    current_log=$CL/log/two-overlap.log
    mpirun_2nodes 4 "$current_log" -- "$bin" train --out "$CL/runs/two-overlap" "${settings[@]}" --epochs 3 --overlap on
    wait_exit "$launcher_pid" "$(left_for 90)"
    [ "$rc" = 0 ] || fail "1: the 2-node run with --overlap on ended with status $rc"
    same_model "$CL/runs/two-overlap/last.h5" "$ref/last.h5" "1 (--overlap on)" /model /optimizer /sampler /rng

    # 2. node2 lost in the middle of an epoch (ranks 2 and 3 SIGKILLed at
    # global step 50 = epoch 3, step 10 of 20), then the resume on node1.
    say "2: node2 lost in an epoch: rank 2 stops at step 50, every rank on node2 SIGKILLed"
    out=$CL/runs/lost-step
    current_log=$CL/log/lost-step.log
    mpirun_2nodes 4 "$current_log" -x EBM_MPI_FAULT_STALL=step:50 -x EBM_MPI_FAULT_STALL_RANK=2 -- \
        "$bin" train --out "$out" "${settings[@]}" --epochs 6 --stall-timeout 0
    wait_stopped node2 "$(left_for 60)"
    lose_node node2 "$out" 2
    current_log=$CL/log/lost-step-resume.log
    mpirun_1node node1 2 "$current_log" -- "$bin" train --out "$out" "${settings[@]}" --epochs 6 --resume auto
    wait_exit "$launcher_pid" "$(left_for 60)"
    [ "$rc" = 0 ] || fail "2: the resume on node1 with 2 ranks ended with status $rc"
    grep -Eq 'resumed from .*last\.h5' "$current_log" || fail "2: the resume did not say 'resumed from'"
    grep -q 'took over the lock' "$current_log" || fail "2: the resume did not take over the dead run's lock"
    say "2: resumed on node1 with 2 ranks: $(grep -m1 -o 'resumed from [^:]*: [^,]*' "$current_log"); $(grep -m1 -o 'took over the lock[^:]*' "$current_log"); $(grep -m1 '^done in' "$current_log")"

    # 3. node1 (rank 0's node, where mpirun runs) loses its ranks in the
    # middle of a checkpoint write; the run resumes on node2.
    say "3: node1 lost in a checkpoint write: rank 0 stops half-way through checkpoint 3, ranks 0 and 1 SIGKILLed"
    out=$CL/runs/lost-ckpt
    current_log=$CL/log/lost-ckpt.log
    mpirun_2nodes 4 "$current_log" -x EBM_MPI_FAULT_STALL=checkpoint:3 -x EBM_MPI_FAULT_STALL_RANK=0 -- \
        "$bin" train --out "$out" "${settings[@]}" --epochs 6 --stall-timeout 0
    wait_stopped node1 "$(left_for 60)"
    ls "$out"/*.tmp.* >/dev/null 2>&1 || fail "3: no checkpoint was being written when rank 0 stopped"
    say "3: $(cd "$out" && ls -- *.tmp.* | tr '\n' ' ')was being written"
    lose_node node1 "$out" 3
    # From node2 the lock of node1's run cannot be judged: refused, with the
    # hint; --break-lock lets the resume through.
    current_log=$CL/log/lost-ckpt-refused.log
    mpirun_1node node2 2 "$current_log" -- "$bin" train --out "$out" "${settings[@]}" --epochs 6 --resume auto
    wait_exit "$launcher_pid" "$(left_for 60)"
    [ "$rc" != 0 ] || fail "3: a resume on node2 took node1's lock without --break-lock"
    grep -q "^ebm_mpi: error: --out '.*' is in use by another run: host node1, .*pass --break-lock" "$current_log" ||
        fail "3: the refusal on node2 does not name node1 and --break-lock"
    say "3: on node2 without --break-lock: refused (status $rc): $(grep -m1 -o 'is in use by another run: host node1, pid [0-9]*' "$current_log")"
    current_log=$CL/log/lost-ckpt-resume.log
    mpirun_1node node2 2 "$current_log" -- "$bin" train --out "$out" "${settings[@]}" --epochs 6 --resume auto --break-lock
    wait_exit "$launcher_pid" "$(left_for 60)"
    [ "$rc" = 0 ] || fail "3: the resume on node2 with --break-lock ended with status $rc"
    grep -Eq 'resumed from .*last\.h5' "$current_log" || fail "3: the resume did not say 'resumed from'"
    ls "$out"/*.tmp.?????? >/dev/null 2>&1 && fail "3: the half-written <name>.tmp.XXXXXX is still there after the resume"
    say "3: resumed on node2 with 2 ranks (--break-lock): $(grep -m1 -o 'resumed from [^:]*: [^,]*' "$current_log"); $(grep -m1 '^done in' "$current_log")"

    # 4. A rank stops answering, in a step (rank 3, on node2), in the
    # validation after epoch 2 (rank 2, node2) and half-way through a
    # checkpoint write (rank 0, node1: another rank must speak): the
    # watchdog ends the job with one error line, from the lowest rank not
    # stopped (rank 1 when rank 0 is the stopped one, after its turn of
    # 5 s), timed from the stop (seen within 20 ms) to mpirun's exit: within
    # [T + turn - 0.5 s, T + turn + STALL_MARGIN_MS]. The margin: the
    # watchdog's 0.25 s tick, MPI_Abort reaching mpirun on node1 and the
    # orted on node2 over TCP, and the ranks ended there (SIGTERM, which
    # training catches as a stop request, then SIGKILL 1 s later, on each
    # node); measured overshoot 2.1-3.4 s over 7 runs, 6 of them beside
    # two trainings (load average 11-14.5; docs/cluster.md), so 5 s, which
    # still fails a watchdog at twice the 3 s timeout. The "waited N s"
    # figure: N >= T + turn, N <= T + turn + 1, and not more than the
    # stop-to-exit time.
    local point at rank node speaker turn waited elapsed line
    local T=3 STALL_MARGIN_MS=5000
    for point in step:30:3:node2 eval:2:2:node2 checkpoint:2:0:node1; do
        IFS=: read -r point at rank node <<<"$point"
        say "4: rank $rank ($node) stops itself at $point $at, --stall-timeout $T"
        out=$CL/runs/stall-$point
        current_log=$CL/log/stall-$point.log
        mpirun_2nodes 4 "$current_log" -x EBM_MPI_FAULT_STALL="$point:$at" -x EBM_MPI_FAULT_STALL_RANK="$rank" -- \
            "$bin" train --out "$out" "${settings[@]}" --epochs 6 --stall-timeout "$T"
        wait_stopped "$node" "$(left_for 60)"
        speaker=$((rank == 0 ? 1 : 0))
        turn=$((speaker < 4 ? speaker * 5 : 20))
        wait_exit "$launcher_pid" $((T + turn + 20))
        t_end=$(now_ms)
        elapsed=$((t_end - t_stop))
        [ "$rc" = 1 ] || fail "4 ($point): the stalled job ended with status $rc, expected 1 (MPI_Abort)"
        [ "$(grep -c '^ebm_mpi: error:' "$current_log")" = 1 ] || fail "4 ($point): not exactly one error line"
        line=$(grep '^ebm_mpi: error:' "$current_log")
        [[ $line =~ ^ebm_mpi:\ error:\ rank\ ([0-9]+):\ stalled:\ waited\ ([0-9]+)\ s\ in\ .*more\ than\ --stall-timeout\ $T\ s ]] ||
            fail "4 ($point): the error line is not the watchdog's: $line"
        [ "${BASH_REMATCH[1]}" = "$speaker" ] || fail "4 ($point): rank ${BASH_REMATCH[1]} spoke, expected rank $speaker"
        waited=${BASH_REMATCH[2]}
        [ "$elapsed" -ge $(((T + turn) * 1000 - 500)) ] ||
            fail "4 ($point): ended $elapsed ms after the stop, before the timeout $T s + turn $turn s"
        [ "$elapsed" -le $(((T + turn) * 1000 + STALL_MARGIN_MS)) ] ||
            fail "4 ($point): ended $elapsed ms after the stop, more than $T s + turn $turn s + $STALL_MARGIN_MS ms"
        if [ "$waited" -lt $((T + turn)) ] || [ "$waited" -gt $((T + turn + 1)) ]; then
            fail "4 ($point): 'waited $waited s', expected $((T + turn))-$((T + turn + 1)) s"
        fi
        [ $((waited * 1000)) -le $((elapsed + 1000)) ] ||
            fail "4 ($point): 'waited $waited s', but the job ended $elapsed ms after the stop"
        sleep 0.5
        nothing_left "4 ($point)"
        say "4 ($point): status $rc, $elapsed ms after rank $rank stopped (T $T s + turn $turn s): $(cut -c1-150 <<<"$line")..."
        echo "STALL_MS cluster-$point $elapsed"
    done

    # 5. The whole job stopped (every rank on both nodes) for twice the
    # timeout, then continued: it must finish normally.
    say "5: every rank on both nodes SIGSTOPped for 7 s (--stall-timeout 3), then SIGCONT"
    out=$CL/runs/pause
    current_log=$CL/log/pause.log
    mpirun_2nodes 4 "$current_log" -- "$bin" train --out "$out" "${settings[@]}" --epochs 4 --stall-timeout 3
    local end=$((SECONDS + 60)) all=
    while [ "$SECONDS" -lt "$end" ]; do
        grep -q '^epoch *2/' "$current_log" 2>/dev/null && break
        kill -0 "$launcher_pid" 2>/dev/null || fail "5: the job ended before epoch 2"
        sleep 0.1
    done
    all="$(node_procs_of node1 "$bin") $(node_procs_of node2 "$bin")"
    # shellcheck disable=SC2086
    kill -STOP $all
    sleep 7
    # shellcheck disable=SC2086
    kill -CONT $all
    wait_exit "$launcher_pid" "$(left_for 60)"
    [ "$rc" = 0 ] || fail "5: the stopped and continued job ended with status $rc"
    grep -q '^ebm_mpi: error:' "$current_log" && fail "5: the continued job printed an error"
    say "5: ranks ${all//$'\n'/ } stopped 7 s and continued: status 0, $(grep -m1 '^done in' "$current_log")"
}

# ------------------------------------------------------- bench (not a test)
# The communication share on one host and on two nodes, 4 ranks each, for
# docs/cluster.md: EBM_CLUSTER_BENCH_ARGS are the train options (default: the
# default model, 3 epochs), EBM_CLUSTER_BENCH_REPEAT the runs per placement.
group_bench() {
    local args=() place log i
    read -r -a args <<<"${EBM_CLUSTER_BENCH_ARGS:---epochs 3 --seed 0}"
    for place in one-host two-nodes; do
        for i in $(seq "${EBM_CLUSTER_BENCH_REPEAT:-1}"); do
            log=$CL/log/bench-$place-$i.log
            if [ $place = one-host ]; then
                mpirun_1node node1 4 "$log" -- "$bin" train --out "$CL/runs/b-$place-$i" "${args[@]}"
            else
                mpirun_2nodes 4 "$log" -- "$bin" train --out "$CL/runs/b-$place-$i" "${args[@]}"
            fi
            wait_exit "$launcher_pid" "$(left_for 3000)"
            [ "$rc" = 0 ] || { current_log=$log; fail "bench $place: status $rc"; }
            # epochs after the first: seconds and communication share
            awk -v place="$place" -v run="$i" '
                /^epoch / { n++; if (n > 1) { for (f = 1; f <= NF; f++) { if ($f ~ /^[0-9.]+s$/) { s += $f + 0 } if ($f == "comm") { c += $(f + 1) + 0 } } m++ } }
                /^  (gradient allreduce|parameter broadcast|Langevin sampling|forward\/backward of the batch) / { printf "    %s %s: %s\n", place, run, $0 }
                END { if (m) printf "BENCH %s run %s: %d epochs after the first: %.2f s per epoch, communication %.0f%% of the step\n", place, run, m, s / m, c / m }' "$log"
            grep -m1 '^  hosts:' "$log"
        done
    done
}

case $group in
    bench) EBM_CLUSTER_BUDGET=${EBM_CLUSTER_BUDGET:-3000}; deadline=$((t0 + EBM_CLUSTER_BUDGET)); group_bench ;;
    mpirun) group_mpirun ;;
    slurm) . "$here/slurm.sh" ;;
esac
say "all passed in $((SECONDS - t0)) s"
