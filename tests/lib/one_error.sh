# shellcheck shell=bash
# one_error.sh: the check of a failed command's status and stderr, for tests
# whose command may print on stdout before it fails (eval prints its results
# before it writes its dump), so that tests/mpi/expect_error.sh, which
# allows nothing else, does not fit. Sourced by tests/mpi/error_reasons.sh
# and permission_denied.sh.

# one_error STATUS STDERR-FILE REGEX WHAT: STATUS must be 1 and the file hold
# exactly one `ebm_mpi: error:` line, matching the extended REGEX after
# `ebm_mpi: error: .*`. Prints `ok: <the line>`, or FAIL with WHAT and the
# file; returns 0 or 1.
one_error() {
    local rc=$1 err=$2 re=$3 what=$4 lines
    lines=$(grep -c '^ebm_mpi: error:' "$err" || true)
    if [ "$rc" = 1 ] && [ "$lines" = 1 ] && grep -Eq "^ebm_mpi: error: .*$re" "$err"; then
        echo "ok: $(grep '^ebm_mpi: error:' "$err")"
        return 0
    fi
    echo "FAIL: $what: exit $rc, $lines error line(s), expected 1 and /$re/:"
    cat "$err"
    return 1
}
