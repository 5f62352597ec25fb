#!/bin/bash
# ood_auroc.sh: runs an `ebm_mpi eval --ood SET` command that must succeed
# quietly (exit 0, nothing on stderr), print a stdout line matching SET_REGEX
# (which set was scored against which split), and exactly one AUROC line,
#   AUROC: energy score -E(x) A, max softmax B ...
# with A >= MIN_ENERGY and B >= MIN_SOFTMAX (README, "Evaluating and
# sampling": both scores are reported). The bounds are the caller's
# (tests/CMakeLists.txt says where each comes from). Running the command and
# the quiet-success checks are expect_output.sh's.
#
# usage: ood_auroc.sh MIN_ENERGY MIN_SOFTMAX SET_REGEX -- COMMAND [ARGS...]
set -euo pipefail

if [ $# -lt 5 ] || [ "$4" != -- ]; then
    echo "usage: ood_auroc.sh MIN_ENERGY MIN_SOFTMAX SET_REGEX -- COMMAND [ARGS...]" >&2
    exit 2
fi
min_e=$1 min_s=$2 set_re=$3
shift 4
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ood_auroc.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

auroc_re='^ *AUROC: energy score -E\(x\) ([0-9]+\.[0-9]+), max softmax ([0-9]+\.[0-9]+)'
EXPECT_OUTPUT_TIMEOUT=${OOD_AUROC_TIMEOUT:-100} EXPECT_OUTPUT_SAVE=$tmp/out \
    "$here/expect_output.sh" "$set_re" "$auroc_re" -- "$@" || exit 1

fail() {
    echo "FAIL: $*"
    echo "---- stdout:"; cat "$tmp/out"
    exit 1
}
n=$(grep -Ec -- "$auroc_re" "$tmp/out" || true)
[ "$n" -eq 1 ] || fail "expected exactly one AUROC line, got $n"
line=$(grep -E -- "$auroc_re" "$tmp/out")
[[ $line =~ $auroc_re ]] || fail "cannot parse: $line"
e=${BASH_REMATCH[1]} s=${BASH_REMATCH[2]}
grep -E -m1 -- "$set_re" "$tmp/out"
echo "AUROC energy score $e (need >= $min_e), max softmax $s (need >= $min_s)"
awk -v e="$e" -v s="$s" -v me="$min_e" -v ms="$min_s" 'BEGIN { exit !(e >= me && s >= ms) }' ||
    fail "AUROC below its bound: energy $e (>= $min_e), max softmax $s (>= $min_s)"
echo "ok: both AUROCs at or above their bounds"
