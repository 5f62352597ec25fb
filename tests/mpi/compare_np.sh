#!/bin/bash
# compare_np.sh: "different P, statistically equivalent results" (docs/design.md
# section 2). Reads the final summary lines of two finished trainings (the
# stdout.txt that tests/mpi/train_ok.sh keeps in each WORKDIR) and checks that
# the test errors of their best.h5 are within MAX_POINTS percentage points of
# each other. As a sanity check each must also be below 50% (10 classes:
# chance is 90%), so two equally broken runs do not pass.
#
# usage: compare_np.sh MAX_POINTS WORKDIR_A WORKDIR_B
set -u

if [ $# -ne 3 ]; then
    echo "usage: compare_np.sh MAX_POINTS WORKDIR_A WORKDIR_B" >&2
    exit 2
fi
max=$1

test_error() {
    local last
    last=$(tail -n 1 "$1/stdout.txt" 2>/dev/null) || return 1
    echo "$1: $last" >&2
    printf '%s\n' "$last" | sed -nE 's/^done in .*test error ([0-9]+(\.[0-9]+)?)%.*/\1/p'
}

a=$(test_error "$2")
b=$(test_error "$3")
[ -n "$a" ] || { echo "FAIL: no test error on the final line of $2/stdout.txt"; exit 1; }
[ -n "$b" ] || { echo "FAIL: no test error on the final line of $3/stdout.txt"; exit 1; }

if awk -v a="$a" -v b="$b" -v m="$max" 'BEGIN {
        d = a - b; if (d < 0) d = -d
        printf "test errors %.2f%% and %.2f%%: difference %.2f points (limit %s)\n", a, b, d, m
        exit !(d <= m && a < 50 && b < 50)
    }'; then
    echo "ok"
    exit 0
fi
echo "FAIL: test errors $a% and $b% differ by more than $max points, or one is not below 50%"
exit 1
