#!/bin/bash
# The emulated cluster's entry point (ctest runs it): checks what it needs,
# then runs tests/cluster/harness.sh inside a network namespace of its own
# that has only loopback, and inside a mount namespace of its own, so that
# nothing the harness runs can reach an address outside the namespaces it
# makes, nor change the host's mounts.
#
#   usage: tests/cluster/run.sh mpirun|slurm|bench EBM_MPI_BINARY SOURCE_DIR
#
# mpirun: 2 nodes, `mpirun --hostfile` across them (bitwise equal to one
# host), a node lost in an epoch and in a checkpoint write (and the resume on
# the surviving node), a rank that stops answering, a whole-job stop and
# continue. slurm: 2 nodes and a head, slurmctld + one slurmd per node; sbatch
# -N 2 through both launchers of slurm/train.sh, each stopped by the warning,
# requeued and resumed, bitwise equal to one host. bench (not a test): epoch
# time and communication share of 4 ranks on one host and on two nodes
# (EBM_CLUSTER_BENCH_ARGS, EBM_CLUSTER_BENCH_REPEAT). tests/cluster/harness.sh
# says how the nodes are made.
#
# Exit 0 passed, 1 failed (the FAIL line says what), 77 skipped (not root;
# under CI=true that is a failure instead). After the harness ends, this
# script looks once more for any process left in the namespaces it made
# (found by namespace inode, never by name), ends it and fails if there was
# one; then it removes the cluster's directory (EBM_CLUSTER_KEEP=1 keeps it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
say() { printf '[cluster %s] %s\n' "${group:-?}" "$*"; }

if [ $# -ne 3 ]; then
    echo "usage: $0 mpirun|slurm|bench EBM_MPI_BINARY SOURCE_DIR" >&2
    exit 2
fi
group=$1
case $group in mpirun | slurm | bench) ;; *) echo "$0: unknown group '$group'" >&2; exit 2 ;; esac
bin=$(readlink -f "$2")
src=$(readlink -f "$3")

if [ "$(id -u)" != 0 ]; then
    if [ "${CI:-}" = true ]; then
        echo "FAIL: CI=true but not root: the emulated cluster cannot run"
        exit 1
    fi
    echo "SKIP: the emulated cluster makes network namespaces and runs daemons as root; run as root (CI does)"
    exit 77
fi
need="unshare nsenter ip mpirun h5diff h5dump sha256sum"
[ "$group" = slurm ] && need="$need munged munge unmunge slurmctld slurmd sbatch scontrol scancel squeue sinfo srun"
missing=
for c in $need; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done
if [ -n "$missing" ]; then
    echo "FAIL: missing commands:$missing (Debian packages iproute2 util-linux openmpi-bin hdf5-tools slurm-wlm munge)"
    exit 1
fi
[ -x "$bin" ] || { echo "FAIL: not an executable: $bin"; exit 1; }
if ! unshare --net true 2>/dev/null; then
    echo "FAIL: cannot make a network namespace here (unshare --net)"
    exit 1
fi

T=$(mktemp -d /tmp/ebm_cluster.XXXXXX) || { echo "FAIL: mktemp"; exit 1; }
chmod 711 "$T"   # munged wants every directory above its socket searchable
readlink /proc/self/ns/net >"$T/host_netns"
: >"$T/netns.list"   # the harness's and every node's namespace, as made

# A private mount namespace keeps the harness's mounts off the host; in a
# chroot (CI's fresh root) "/" is not a mount point and cannot be made
# private, and a namespace that keeps the propagation is used instead (the
# harness then makes no mount; it makes none today either way).
prop=private
unshare --mount --propagation private true 2>/dev/null || prop=unchanged
EBM_CLUSTER_DIR=$T EBM_CLUSTER_MOUNTS=$prop \
    unshare --net --mount --propagation "$prop" -- bash "$here/harness.sh" "$group" "$bin" "$src"
rc=$?

# The safety net: any process still in one of our namespaces.
left=
while read -r ns; do
    [ -n "$ns" ] || continue
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$ns" ] || continue
        left="$left ${p#/proc/}"
        kill -KILL "${p#/proc/}" 2>/dev/null
    done
done <"$T/netns.list"
if [ -n "$left" ]; then
    say "FAIL: processes left in the cluster's namespaces after the harness:$left (killed)"
    [ "$rc" = 0 ] && rc=1
fi
if [ "${EBM_CLUSTER_KEEP:-0}" = 1 ]; then
    say "kept $T"
else
    rm -rf "$T"
fi
exit "$rc"
