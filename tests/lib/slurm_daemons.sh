# shellcheck shell=bash
# slurm_daemons.sh: what the single-node SLURM harness (tests/slurm/harness.sh)
# and the emulated cluster's slurm group (tests/cluster/slurm.sh) share,
# sourced by both: stopping a daemon by its PID, a private munged, and the
# slurm.conf settings that are not about paths or nodes. The caller defines
# say (a progress line) and fail (say FAIL and exit 1).

# stop_pid PID NAME: SIGTERM, up to 10 s for it to go, then SIGKILL. Only a
# PID this harness started is ever passed (never a name).
stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "cleanup: $2 (pid $pid) ignored SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
}

# munge_start DIR: a munged of our own with a fresh key in DIR/munge, its
# socket DIR/msock/munge.socket (AuthInfo=socket=... points SLURM there, so a
# munged the machine already runs is left alone), its pid, seed and logs in
# DIR/run and DIR/log. Sets munged_pid and munge_socket; fails unless a
# credential goes through within 10 s. munged wants every directory above
# its socket searchable by all.
munge_start() {
    local d=$1
    mkdir -p "$d/munge" "$d/msock" "$d/run" "$d/log" || fail "mkdir in $d"
    chmod 700 "$d/munge"
    chmod 755 "$d/msock"
    head -c 1024 /dev/urandom >"$d/munge/munge.key"
    chmod 400 "$d/munge/munge.key"
    munge_socket=$d/msock/munge.socket
    munged -F --socket="$munge_socket" --key-file="$d/munge/munge.key" --pid-file="$d/run/munged.pid" \
        --seed-file="$d/munge/munged.seed" --log-file="$d/log/munged.log" \
        >"$d/log/munged.out" 2>&1 &
    munged_pid=$!
    for _ in $(seq 50); do
        munge -S "$munge_socket" -n 2>/dev/null | unmunge -S "$munge_socket" >/dev/null 2>&1 && return 0
        kill -0 "$munged_pid" 2>/dev/null || break
        sleep 0.2
    done
    cat "$d/log/munged.out"
    fail "munged did not start"
}

# slurm_conf_policy: the slurm.conf lines both test clusters use, after the
# caller's host, path and port lines and before its node lines. Root daemons
# (as in CI); munge on $munge_socket. cred_expire=10 and the 2 s scheduler
# interval let a requeued job start ~11 s after its requeue (~135 s with the
# defaults: a requeued job becomes eligible cred_expire s after its requeue,
# then waits for the next backfill pass). config_overrides: the nodes
# declare more CPUs than the machine has.
slurm_conf_policy() {
    cat <<EOF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket,cred_expire=10
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
JobRequeue=1
MinJobAge=900
KillWait=10
EOF
}
