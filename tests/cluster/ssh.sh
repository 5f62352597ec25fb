#!/bin/bash
# ssh.sh: the emulated cluster's stand-in for ssh, for Open MPI's rsh
# launcher (mpirun --mca plm_rsh_agent tests/cluster/ssh.sh). Open MPI calls
# it as `ssh.sh [options] HOST COMMAND...` to start its daemon (orted) on
# HOST; this runs COMMAND inside that node with a clean environment and a
# login shell's PATH, as sshd would. Options are ignored. Refuses to run
# outside the harness and to enter anything but a node the harness made.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cluster/lib.sh
. "$here/lib.sh"
cluster_require_inside
while [ $# -gt 0 ]; do
    case $1 in
        -[lpoiF]) shift 2 ;;   # ssh options with an argument
        -*) shift ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || { echo "ssh.sh: usage: ssh.sh [options] HOST COMMAND..." >&2; exit 255; }
host=$1
shift
pid=$(node_pid "$host") || exit 255
exec nsenter -t "$pid" --net --uts -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME="${HOME:-/root}" LANG=C.UTF-8 EBM_CLUSTER_DIR="$CL" /bin/sh -c "$*"
