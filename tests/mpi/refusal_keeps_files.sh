#!/bin/bash
# refusal_keeps_files.sh: a resume that is refused (here: a changed --lr)
# must leave every file of the output directory as it was.
# usage: refusal_keeps_files.sh WORKDIR VALID_OUTDIR EBM_MPI_BINARY
set -u
work=$1 valid=$2 bin=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work" && cp -r "$valid" "$work/out" || exit 1
before=$(cd "$work/out" && md5sum ./* | sort)
"$here/mpirun.sh" 2 "$bin" train --epochs 3 --hidden 32 --buffer 64 --lr 0.0005 \
    --out "$work/out" --resume auto > "$work/log" 2>&1
status=$?
[ "$status" = 1 ] || { echo "FAIL: exit status $status, expected 1"; cat "$work/log"; exit 1; }
grep -q "ebm_mpi: error: cannot resume.*trained with --lr 0.00[0-9]*, this run has --lr 0.0005" "$work/log" ||
    { echo "FAIL: no error naming --lr"; cat "$work/log"; exit 1; }
after=$(cd "$work/out" && md5sum ./* | sort)
[ "$before" = "$after" ] || { echo "FAIL: files changed:"; diff <(echo "$before") <(echo "$after"); exit 1; }
echo "PASS: refused, nothing changed"
