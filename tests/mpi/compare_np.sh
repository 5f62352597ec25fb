#!/bin/bash
# compare_np.sh: "different P, statistically equivalent results" (docs/design.md
# section 2). Reads the final summary lines of two finished trainings (the
# stdout.txt that tests/mpi/train_ok.sh keeps in each WORKDIR) and checks that
# the test errors of their best.h5 are within MAX_POINTS percentage points of
# each other, and that each is below MAX_ERROR percent, so that two runs made
# equally worse do not pass as "equivalent". Both bounds are statistical: the
# caller derives them from the measured spread of the runs it compares
# (tests/CMakeLists.txt states the derivation beside the test).
#
# usage: compare_np.sh MAX_POINTS MAX_ERROR WORKDIR_A WORKDIR_B
set -u

if [ $# -ne 4 ]; then
    echo "usage: compare_np.sh MAX_POINTS MAX_ERROR WORKDIR_A WORKDIR_B" >&2
    exit 2
fi
max=$1
ceiling=$2

test_error() {
    local last
    last=$(tail -n 1 "$1/stdout.txt" 2>/dev/null) || return 1
    echo "$1: $last" >&2
    printf '%s\n' "$last" | sed -nE 's/^done in .*test error ([0-9]+(\.[0-9]+)?)%.*/\1/p'
}

a=$(test_error "$3")
b=$(test_error "$4")
[ -n "$a" ] || { echo "FAIL: no test error on the final line of $3/stdout.txt"; exit 1; }
[ -n "$b" ] || { echo "FAIL: no test error on the final line of $4/stdout.txt"; exit 1; }

awk -v a="$a" -v b="$b" -v m="$max" -v c="$ceiling" 'BEGIN {
        d = a - b; if (d < 0) d = -d
        printf "test errors %.2f%% and %.2f%%: difference %.2f points (limit %s), each below %s%%?\n", a, b, d, m, c
        if (a >= c || b >= c) {
            printf "FAIL: test error %.2f%% / %.2f%%: not below %s%% (the default model scores about 8%%)\n", a, b, c
            exit 1
        }
        if (d > m) {
            printf "FAIL: test errors %.2f%% and %.2f%% differ by %.2f points, more than %s\n", a, b, d, m
            exit 1
        }
    }' || exit 1
echo "ok"
exit 0
