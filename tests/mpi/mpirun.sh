#!/bin/bash
# mpirun for the tests, through the launcher layer (scripts/lib/launcher.sh):
# the build's launcher (EBM_LAUNCHER_ENV=<build>/launcher.env, set by
# tests/CMakeLists.txt), oversubscribed (these machines have 2 cores), BLAS at
# one thread, root allowed only when we are root (CI).
# usage: tests/mpi/mpirun.sh NP [-x VAR]... [--mca KEY VALUE]... [--] program args...
#   The launcher: $EBM_LAUNCHER_ENV, else $EBM_BUILD_DIR/launcher.env, else
#   the launcher.env of the build tree holding the program (<build>/bin/ebm_mpi).
#   -x VAR           VAR's value reaches every rank (any MPI)
#   --mca KEY VALUE  Open MPI only: refused (exit 2) with another MPI
# After the run, if the program printed its banner, the banner's world size
# must be NP and its MPI the build's (an MPICH binary started by Open MPI's
# mpirun runs as NP one-rank jobs, each saying "1 ranks"): else exit 1 with
# a `launcher:` line. The launcher is the child of this script (not exec'd:
# the banner is checked after it ends); TERM, INT, HUP, USR1 and USR2 sent to
# this script are passed on to it, and it gets SIGTERM if this script dies.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib/launcher.sh
. "$here/../../scripts/lib/launcher.sh"
np=$1; shift
xs=() mca=()
while [ $# -gt 0 ]; do
    case $1 in
        -x) xs+=(-x "$2"); shift 2 ;;
        --mca) mca+=(--mca "$2" "$3"); shift 3 ;;
        --) shift; break ;;
        *) break ;;
    esac
done
# Run by hand (README: tests/mpi/mpirun.sh 2 build/bin/ebm_mpi ...), without
# EBM_LAUNCHER_ENV or EBM_BUILD_DIR: the launcher of the build tree the
# program lives in (<build>/bin/ebm_mpi -> <build>/launcher.env).
if [ -z "${EBM_LAUNCHER_ENV:-}" ] && [ -z "${EBM_BUILD_DIR:-}" ] && [ $# -gt 0 ]; then
    prog=$(command -v -- "$1" 2>/dev/null || true)
    [ -n "$prog" ] && [ -r "$(dirname "$(dirname "$prog")")/launcher.env" ] &&
        EBM_LAUNCHER_ENV=$(dirname "$(dirname "$prog")")/launcher.env
fi
ebm_launcher_load || exit 2
if [ ${#mca[@]} -gt 0 ] && [ "$EBM_MPI_VENDOR" != openmpi ]; then
    echo "mpirun.sh: --mca is Open MPI's; this build's MPI is $EBM_MPI_VENDOR ($EBM_MPIEXEC)" >&2
    exit 2
fi
export OPENBLAS_NUM_THREADS=1
# The unit tests' harness (tests/unit/harness.c) checks its world size against
# this: they print no banner.
export EBM_TEST_NP=$np
# hwloc's OpenGL/X11 probe resolves "localhost" at every MPI start: 5 s each
# where that name is not in /etc/hosts (a minimal chroot). The tests need no
# GPU topology.
export HWLOC_COMPONENTS=${HWLOC_COMPONENTS:--gl}
ebm_launch_argv --oversubscribe -x EBM_TEST_NP "${xs[@]}" "$np"

log=$(mktemp "${TMPDIR:-/tmp}/ebm_mpirun.XXXXXX") || exit 2
exec 3> >(tee "$log")
tee_pid=$!
setpriv --pdeathsig TERM "${EBM_ARGV[@]}" "${mca[@]}" "$@" >&3 &
pid=$!
exec 3>&-
got=0
for s in TERM INT HUP USR1 USR2; do
    # shellcheck disable=SC2064
    trap "got=1; kill -$s $pid 2>/dev/null" "$s"
done
while :; do
    got=0
    wait "$pid"
    rc=$?
    [ "$got" = 1 ] || break
done
trap - TERM INT HUP USR1 USR2
wait "$tee_pid" 2>/dev/null
if ! ebm_banner_check "$np" "$log"; then
    rm -f "$log"
    exit 1
fi
rm -f "$log"
exit "$rc"
