#!/bin/bash
# train_mpi.sh: ebm_train_mpi (ebm_mpi_mpi.h, through tests/api/train_mpi)
# on NP ranks writes the checkpoints and metrics `ebm_mpi train` writes with
# the same options on the same ranks, bit for bit (the run record's command
# line and the timing columns aside: tests/mpi/compare_ckpt.py), and its
# progress texts are the command's output apart from the timings.
#   usage: train_mpi.sh WORK NP PROGRAM TRAIN_MPI DATA PYTHON [OPTION...]
set -euo pipefail
[ $# -ge 6 ] || { echo "usage: train_mpi.sh WORK NP PROGRAM TRAIN_MPI DATA PYTHON [OPTION...]" >&2; exit 2; }
work=$1 np=$2 prog=$3 lib_prog=$4 data=$5 py=$6
shift 6
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
"$here/../mpi/mpirun.sh" "$np" "$prog" train --data "$data" --out cmd "$@" \
    >command.txt 2>&1 || { cat command.txt; fail "ebm_mpi train"; }
"$here/../mpi/mpirun.sh" "$np" "$lib_prog" "$data" lib "$@" \
    >library.txt 2>&1 || { cat library.txt command.txt; fail "train_mpi"; }
cat library.txt
"$py" "$here/../mpi/compare_ckpt.py" --dirs cmd lib last.h5 best.h5 metrics.h5 \
    || fail "ebm_train_mpi's files differ from ebm_mpi train's"
# The timings masked: seconds, rates and shares of the epoch lines, the
# time table's figures (and their widths), the final line's seconds, the
# --out directory's name.
mask() {
    sed -E -e 's/  [0-9.]+s  [0-9]+ ex\/s  comm [0-9]+%/  Ts  R ex\/s  comm C%/' \
        -e '/^  .* +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+%$/{s/[0-9.]+/N/g;s/ +/ /g}' \
        -e '/^    \(of the two/{s/[0-9.]+/N/g;s/ +/ /g}' -e 's/; out: (cmd|lib)$/; out: DIR/' \
        -e 's/^done in [0-9.]+s/done in Ts/' -e '/^  epoch [0-9]+ step /d' "$1"
}
[ "$(grep -c '^epoch ' command.txt)" -ge 1 ] || fail "the command printed no epoch line"
diff <(mask command.txt) <(mask lib.progress.txt) \
    || fail "ebm_train_mpi's progress texts differ from ebm_mpi train's output"
echo "PASS: ebm_train_mpi on $np ranks writes ebm_mpi train's files bit for bit and tells its output"
