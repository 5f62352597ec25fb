#!/bin/bash
# expect_output.sh: runs a command that must succeed quietly: exit status 0,
# nothing on stderr, and for each REGEX (extended regex) a line of stdout
# that matches it. For --help and --version, and under the checks that parse
# a command's output (ood_auroc.sh).
#   EXPECT_OUTPUT_TIMEOUT  seconds before the command is killed [60]
#   EXPECT_OUTPUT_SAVE     a file to receive the command's stdout on success
#
# usage: expect_output.sh REGEX [REGEX...] -- COMMAND [ARGS...]
set -u

regexes=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    regexes+=("$1")
    shift
done
if [ $# -lt 2 ] || [ ${#regexes[@]} -eq 0 ]; then
    echo "usage: expect_output.sh REGEX [REGEX...] -- COMMAND [ARGS...]" >&2
    exit 2
fi
shift # the --

tmp=$(mktemp -d "${TMPDIR:-/tmp}/expect_output.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

printf 'expect_output.sh: running:'; printf ' %q' "$@"; printf '\n'
timeout -k 10 "${EXPECT_OUTPUT_TIMEOUT:-60}" "$@" >"$tmp/out" 2>"$tmp/err"
status=$?

fail() {
    echo "FAIL: $*"
    echo "---- exit status: $status"
    echo "---- stdout:"; cat "$tmp/out"
    echo "---- stderr:"; cat "$tmp/err"
    exit 1
}

[ "$status" -eq 0 ] || fail "exit status $status, expected 0"
[ ! -s "$tmp/err" ] || fail "unexpected output on stderr"
for re in "${regexes[@]}"; do
    grep -Eq -- "$re" "$tmp/out" || fail "no stdout line matches /$re/"
    echo "ok: stdout matches /$re/"
done
echo "ok: exit 0, nothing on stderr ($(wc -l <"$tmp/out") lines on stdout)"
if [ -n "${EXPECT_OUTPUT_SAVE:-}" ]; then
    cp "$tmp/out" "$EXPECT_OUTPUT_SAVE" || exit 1
fi
exit 0
