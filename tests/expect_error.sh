#!/bin/bash
# expect_error.sh: runs a command that must fail the way DESIGN section 2 says
# ebm_mpi fails: a non-zero exit status, exactly ONE line of the program's own
# on stderr, `ebm_mpi: error: <what>`, matching REGEX (an extended regex that
# checks the message names the file, option or problem), and nothing else
# from the program on stdout or stderr.
#
# mpirun may add its own notices (before or after the error line). They are
# told apart by their shape, not their words: Open MPI frames its help/abort
# messages between rules of dashes, and prefixes its aggregated notes with
# "[host:pid]". So a line other than the error line is accepted only when it
# is blank, a rule of 20+ dashes, inside a (closed) pair of rules, or starts
# with "[something:digits]" -- and never when it starts with "ebm_mpi" or
# mentions HDF5-DIAG (HDF5's automatic error stack must be off).
#
# usage: expect_error.sh REGEX COMMAND [ARGS...]
#   EXPECT_ERROR_TIMEOUT (seconds, default 120) bounds the command: a hang is
#   reported as such (the ctest TIMEOUT is a second line of defence).
set -u

if [ $# -lt 2 ]; then
    echo "usage: expect_error.sh REGEX COMMAND [ARGS...]" >&2
    exit 2
fi
regex=$1
shift

tmp=$(mktemp -d "${TMPDIR:-/tmp}/expect_error.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

printf 'expect_error.sh: running:'; printf ' %q' "$@"; printf '\n'
timeout -k 10 "${EXPECT_ERROR_TIMEOUT:-120}" "$@" >"$tmp/out" 2>"$tmp/err"
status=$?

show() {
    echo "---- exit status: $status"
    echo "---- stdout:"; cat "$tmp/out"
    echo "---- stderr:"; cat "$tmp/err"
    echo "----"
}
fail() {
    echo "FAIL: $*"
    show
    exit 1
}

[ "$status" -ne 124 ] || fail "command timed out (hang?)"
[ "$status" -ne 0 ] || fail "command exited 0, expected a non-zero status"
[ "$status" -lt 126 ] || fail "command did not exit normally (status $status: not found or killed by a signal)"

# Checks one captured stream; prints the error lines it finds to fd 3.
# Returns non-zero (after printing why) on a line that is not allowed.
check_stream() {
    local name=$1 file=$2 inblock=0 n=0 line
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        case $line in
            "ebm_mpi: error:"*)
                if [ "$name" = stdout ]; then
                    echo "FAIL: error line on stdout (line $n), expected on stderr: $line"
                    return 1
                fi
                printf '%s\n' "$line" >&3
                continue ;;
            ebm_mpi*)
                echo "FAIL: unexpected $name line $n from the program: $line"
                return 1 ;;
            *HDF5-DIAG*)
                echo "FAIL: HDF5 error stack on $name (line $n): $line"
                return 1 ;;
        esac
        if [[ $line =~ ^-{20,}[[:space:]]*$ ]]; then
            inblock=$((1 - inblock))
            continue
        fi
        [ "$inblock" = 1 ] && continue
        [[ $line =~ ^[[:space:]]*$ ]] && continue
        [[ $line =~ ^\[[^]:]+:[0-9]+\] ]] && continue
        echo "FAIL: unexpected $name line $n (neither the error line nor an mpirun notice): $line"
        return 1
    done <"$file"
    if [ "$inblock" = 1 ]; then
        echo "FAIL: unterminated dash-framed block on $name"
        return 1
    fi
    return 0
}

check_stream stdout "$tmp/out" 3>"$tmp/errlines.out" || { show; exit 1; }
check_stream stderr "$tmp/err" 3>"$tmp/errlines" || { show; exit 1; }

count=$(wc -l <"$tmp/errlines")
[ "$count" -eq 1 ] || fail "expected exactly one 'ebm_mpi: error:' line on stderr, got $count"
errline=$(cat "$tmp/errlines")
[[ $errline =~ $regex ]] || fail "the error line does not match /$regex/: $errline"

echo "ok: exit status $status, one error line matching /$regex/: $errline"
exit 0
