# shellcheck shell=bash
# lib.sh: the emulated cluster's nodes, sourced by harness.sh and ssh.sh.
#
# A node is a network namespace plus a UTS namespace (its own hostname),
# held open by one idle anchor process (`sleep infinity` under unshare); its
# one interface, eth0, is a veth pair's end whose other end sits on a bridge
# in a namespace of its own. No node has a default route: the only addresses
# a node reaches are the other nodes' (10.77.0.0/24). The filesystem is
# shared, as a cluster's NFS home is. Every node is recorded in
# $EBM_CLUSTER_DIR/nodes/NAME as "anchor-pid netns-inode address", and its
# namespace in $EBM_CLUSTER_DIR/netns.list; a node is entered only after
# checking that its anchor's namespace is still the one recorded (a PID may be
# reused; a namespace inode is not while it exists).

CL=${EBM_CLUSTER_DIR:?lib.sh: not inside the emulated cluster}

# Refuses to go on unless this process runs inside the harness: in a network
# namespace that the harness made or entered (listed in netns.list) and not
# in the host's (host_netns, read before the harness started).
cluster_require_inside() {
    local me
    me=$(readlink /proc/self/ns/net)
    if [ ! -s "$CL/host_netns" ] || [ "$me" = "$(cat "$CL/host_netns")" ] ||
        [ "$me" = "$(readlink /proc/1/ns/net 2>/dev/null)" ] || ! grep -qxF "$me" "$CL/netns.list"; then
        echo "FAIL: $(basename "$0") runs only inside the emulated cluster's namespaces (tests/cluster/run.sh); this is $me" >&2
        exit 1
    fi
}

# node_field NAME pid|ns|addr
node_field() {
    local pid ns addr
    read -r pid ns addr <"$CL/nodes/$1" 2>/dev/null || return 1
    case $2 in pid) echo "$pid" ;; ns) echo "$ns" ;; addr) echo "$addr" ;; esac
}

# node_pid NAME: the anchor's PID, after checking it still holds the node's
# namespace (else fails: never enter a namespace we did not make).
node_pid() {
    local pid ns
    pid=$(node_field "$1" pid) && ns=$(node_field "$1" ns) || {
        echo "FAIL: no node '$1' in this cluster" >&2
        return 1
    }
    if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$ns" ]; then
        echo "FAIL: node '$1': process $pid no longer holds the namespace $ns" >&2
        return 1
    fi
    echo "$pid"
}

# in_node NAME COMMAND...: runs COMMAND inside the node (its network and
# hostname), keeping the environment. Not `ip netns exec`, which remounts
# /sys and so hides /sys/fs/cgroup from slurmd.
in_node() {
    local pid
    pid=$(node_pid "$1") || return 1
    shift
    nsenter -t "$pid" --net --uts -- "$@"
}

# node_exec NAME COMMAND...: in_node that replaces the calling shell, for
# `node_exec NAME daemon ... &`: $! is then the daemon's own PID (nsenter
# execs it), which is what is stopped at the end.
node_exec() {
    local pid
    pid=$(node_pid "$1") || exit 1
    shift
    exec nsenter -t "$pid" --net --uts -- "$@"
}

# The PIDs whose network namespace is NS (an inode "net:[N]").
procs_in_netns() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
    done
}

# The PIDs of program BIN (by its executable's path) running in node NAME.
node_procs_of() {
    local ns p
    ns=$(node_field "$1" ns) || return 1
    for p in $(procs_in_netns "$ns"); do
        [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$2" ] && echo "$p"
    done
}
