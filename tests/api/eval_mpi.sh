#!/bin/bash
# eval_mpi.sh: ebm_eval_mpi (ebm_mpi_mpi.h) through tests/api/eval_mpi on NP
# ranks prints the figures `ebm_mpi eval` prints on the same ranks: loss,
# cross-entropy, generative term, error, calibration error, mean energy and
# the confusion matrix, line for line at the command's precision.
#   usage: eval_mpi.sh WORK NP PROGRAM EVAL_MPI CKPT DATA SPLIT
set -euo pipefail
[ $# -eq 7 ] || { echo "usage: eval_mpi.sh WORK NP PROGRAM EVAL_MPI CKPT DATA SPLIT" >&2; exit 2; }
work=$1 np=$2 prog=$3 lib_prog=$4 ckpt=$5 data=$6 split=$7
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
"$here/../mpi/mpirun.sh" "$np" "$prog" eval --ckpt "$ckpt" --data "$data" --split "$split" \
    >command.txt 2>&1 || { cat command.txt; fail "ebm_mpi eval"; }
"$here/../mpi/mpirun.sh" "$np" "$lib_prog" "$ckpt" "$data" "$split" \
    >library.txt 2>&1 || { cat library.txt; fail "eval_mpi"; }
cat library.txt
figures() {  # the lines both print; the energy line without the command's sample part
    grep -E '^  (loss|error) |^  mean energy: |^  +[0-9]+ +[0-9]' "$1" | sed 's/, fresh samples.*//'
}
[ "$(figures command.txt | wc -l)" -ge 13 ] || fail "the command's output lacks its figures"
diff <(figures command.txt) <(figures library.txt) || fail "ebm_eval_mpi's figures differ from ebm_mpi eval's"
echo "PASS: ebm_eval_mpi on $np ranks (C and Fortran handles) prints ebm_mpi eval's figures"
