#!/bin/bash
# eval_mpi.sh: ebm_eval_mpi (ebm_mpi_mpi.h) through tests/api/eval_mpi on NP
# ranks gives the figures `ebm_mpi eval` prints on the same ranks: loss,
# cross-entropy, generative term, error, calibration error, mean energy
# within half a unit of the command's last printed digit, the confusion
# matrix exactly.
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
# The command's printed figures against the library's full-precision ones:
# each within half a unit of the printed last digit (the error in percent),
# the confusion matrix exactly.
awk '
    function ulp(text,  dot) { dot = index(text, "."); return dot ? 0.5 * 10 ^ -(length(text) - dot) : 0.5 }
    function expect(name, text) { if (!(name in want)) nwant++; want[name] = text }
    FNR == NR {  # command.txt
        if ($1 == "loss") { expect("loss", $2); expect("cross_entropy", $4); expect("generative", $7) }
        if ($1 == "error") { e = $2; sub("%", "", e); expect("error", e); expect("ece", $8) }
        if ($1 == "mean" && $2 == "energy:") { d = $4; sub(",", "", d); expect("energy_data", d) }
        if (/confusion matrix/) { inconf = 1; header = 1; next }
        if (inconf && $0 ~ /^ +[0-9]+( +[0-9]+)+$/) { if (header) header = 0; else crow[rows++] = $0 }
        next
    }
    $1 == "figure" { if (!($2 in got)) ngot++; got[$2] = $3 }
    $1 == "confusion" { line = ""; for (i = 2; i <= NF; i++) line = line " " $i; lrow[nl++] = line }
    END {
        bad = 0
        if (nwant != 6 || ngot != 6) { print "figures missing: " nwant " printed, " ngot " from the library"; exit 1 }
        for (f in want) {
            v = got[f] * (f == "error" ? 100 : 1)
            if ((v - want[f]) ^ 2 > (ulp(want[f]) + 1e-9) ^ 2) { print f ": the command printed " want[f] ", the library has " got[f]; bad = 1 }
        }
        if (nl < 2 || nl != rows) { print "confusion: " rows " rows printed, " nl " from the library"; exit 1 }
        for (i = 0; i < nl; i++) {
            split(crow[i], c); n = split(lrow[i], l)
            for (j = 1; j <= n; j++) if (c[j + 1] != l[j]) { print "confusion[" i "][" j - 1 "]: " c[j + 1] " vs " l[j]; bad = 1 }
        }
        exit bad
    }' command.txt library.txt || fail "ebm_eval_mpi's figures differ from ebm_mpi eval's"
echo "PASS: ebm_eval_mpi on $np ranks (C and Fortran handles) prints ebm_mpi eval's figures"
