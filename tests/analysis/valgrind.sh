#!/bin/bash
# valgrind.sh: memcheck over a short real run of each command at np 1 (a
# singleton, no launcher under valgrind): train --epochs 1 --hidden 16, eval
# of its best.h5, sample of 16. Uninitialised reads, invalid accesses and
# definite leaks fail the test; those inside Open MPI are suppressed by Open
# MPI's own file and openmpi-leaks.supp (next to this script), and the
# suppressions each run used are listed.
# usage: valgrind.sh WORKDIR EBM_MPI OPENMPI_SUPP
set -euo pipefail
work=$1 bin=$2 ompi_supp=$3
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# No fault hook may be armed by the caller's environment: the run is production's.
while IFS= read -r v; do unset "$v"; done < <(env | sed -n 's/^\(EBM_MPI_FAULT_[A-Z_]*\)=.*/\1/p')
rm -rf "$work"
mkdir -p "$work"
cd "$work"
status=0
run() {
    local name=$1
    shift
    local rc=0
    valgrind -v --log-file="$name.vg" --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite --track-origins=yes \
        --num-callers=30 --suppressions="$ompi_supp" --suppressions="$here/openmpi-leaks.supp" \
        "$bin" "$@" >"$name.out" 2>"$name.err" || rc=$?
    local errors
    errors=$(sed -n 's/^==[0-9]*== ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$name.vg" | tail -1)
    echo "== $name: exit $rc, valgrind errors ${errors:-?}; suppressions used:"
    sed -n 's/^--[0-9]*-- used_suppression: *\([0-9]*\) \([^ ]*\) .*/   \1 \2/p' "$name.vg" | sort -k2 -u
    if [ "$rc" != 0 ] || [ "${errors:-1}" != 0 ]; then
        echo "FAIL: $name under valgrind (exit $rc):"
        grep -v '^--' "$name.vg" | sed -n '/== [A-Z0-9].*\(lost\|uninitiali\|Invalid\|Mismatched\|overlap\|Syscall\)/,/^==[0-9]*== $/p' | head -150
        cat "$name.err"
        status=1
    fi
}
run train train --epochs 1 --hidden 16 --buffer 16 --out out
if [ -f out/best.h5 ]; then
    run eval eval --ckpt out/best.h5
    run sample sample --ckpt out/best.h5 --n 16 --out samples.h5
else
    echo "FAIL: train wrote no out/best.h5"
    status=1
fi
exit "$status"
