#!/bin/bash
# expect_error.sh: runs a command that must fail the way docs/design.md section 2 says
# ebm_mpi fails: exit status 1 (README, "Output and errors": 1 is an error),
# exactly ONE line of the program's own on stderr, `ebm_mpi: error: <what>`,
# matching REGEX (an extended regex that checks the message names the file,
# option or problem), and nothing else from the program on stdout or stderr.
#
# mpirun may add its own notices (before or after the error line). They are
# told apart by their shape, not their words: Open MPI frames its help/abort
# messages between rules of dashes, and prefixes its aggregated notes with
# "[host:pid]". So a line other than the error line is accepted only when it
# is blank, a rule of 20+ dashes, inside a (closed) pair of rules, or starts
# with "[something:digits]" -- and never when it starts with "ebm_mpi" or
# mentions HDF5-DIAG (HDF5's automatic error stack must be off).
#
# usage: expect_error.sh [--status N] REGEX COMMAND [ARGS...]
#   --status N: the status the command must exit with instead of 1, for a
#   case where another status is documented (none of the suite's needs it
#   today: every error path, with or without mpirun, exits 1).
#   EXPECT_ERROR_TIMEOUT (seconds, default 120) bounds the command: a hang is
#   reported as such (the ctest TIMEOUT is a second line of defence).
#   EXPECT_TRAIL=REGEX1[;REGEX2...]: the error line must be followed by its
#   trail (EBM_MPI_DEBUG=1), `ebm_mpi: at <file>:<line> (<function>)` lines,
#   at least two; the first must match REGEX1 (the origin) and each further
#   REGEX some later frame. Without it a trail line is rejected like any
#   other line of the program.
set -u

want_status=1
if [ "${1:-}" = --status ]; then
    want_status=${2:-}
    shift 2 || true
    case $want_status in
        [1-9] | [1-9][0-9] | 1[01][0-9] | 12[0-5]) ;;
        *) echo "expect_error.sh: --status needs an exit status 1-125, got '$want_status'" >&2
           exit 2 ;;
    esac
fi
if [ $# -lt 2 ]; then
    echo "usage: expect_error.sh [--status N] REGEX COMMAND [ARGS...]" >&2
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
[ "$status" -eq "$want_status" ] || fail "exit status $status, expected $want_status"

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
            "ebm_mpi: at "*)
                if [ -n "${EXPECT_TRAIL:-}" ] && [ "$name" = stderr ]; then
                    printf '%s\n' "$line" >&4
                    continue
                fi
                echo "FAIL: unexpected $name line $n from the program: $line"
                return 1 ;;
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

check_stream stdout "$tmp/out" 3>"$tmp/errlines.out" 4>/dev/null || { show; exit 1; }
check_stream stderr "$tmp/err" 3>"$tmp/errlines" 4>"$tmp/trail" || { show; exit 1; }

count=$(wc -l <"$tmp/errlines")
[ "$count" -eq 1 ] || fail "expected exactly one 'ebm_mpi: error:' line on stderr, got $count"
errline=$(cat "$tmp/errlines")
[[ $errline =~ $regex ]] || fail "the error line does not match /$regex/: $errline"
if [ -n "${EXPECT_TRAIL:-}" ]; then
    frame_re='^ebm_mpi: at [^ :]+:[0-9]+ \([A-Za-z_][A-Za-z0-9_]*\)$'
    frames=$(wc -l <"$tmp/trail")
    [ "$frames" -ge 2 ] || fail "expected a trail of at least 2 frames after the error line, got $frames"
    while IFS= read -r f; do
        [[ $f =~ $frame_re ]] || fail "trail line not of the form 'ebm_mpi: at FILE:LINE (FUNCTION)': $f"
    done <"$tmp/trail"
    IFS=';' read -r -a want <<<"$EXPECT_TRAIL"
    first=$(head -1 "$tmp/trail")
    [[ $first =~ ${want[0]} ]] || fail "the trail's origin does not match /${want[0]}/: $first"
    for re in "${want[@]:1}"; do
        tail -n +2 "$tmp/trail" | grep -Eq -- "$re" || fail "no later trail frame matches /$re/"
    done
    echo "ok: trail of $frames frames, origin $first"
fi

echo "ok: exit status $status, one error line matching /$regex/: $errline"
exit 0
