#!/bin/bash
# run_sanitized.sh TEST [ARGS...]: runs a unit test of the sanitizer build
# (AddressSanitizer + UBSan, LeakSanitizer at exit).
#
# LeakSanitizer checks for leaks at exit from a tracer task it clones, which
# ptrace-attaches every thread and scans the globals of every module, the
# threads' stacks and TLS and the heap. When that tracer faults, LSan prints
# "Tracer caught signal 11: addr=... pc=..." and "LeakSanitizer has
# encountered a fatal error", and the test exits non-zero with no leak
# checked. That happened to all 28 tests in 2 of 4 fresh-root CI runs
# (CI's chroot: a debootstrap'd Debian 12 root, /proc, /dev, /dev/pts
# bound, /sys rbound, env -i, CI=true) and never on the host.
# Looked for and not reproduced (issue 25, a VM of this kind: Debian 12,
# GCC 12.2 libasan8, glibc 2.36, kernel 6.18, AMD EPYC): 0 tracer crashes
# in 2 host runs of the 28 tests (one under env -i CI=true), in 3 runs in a
# chroot of the host's own root (the same packages; no debootstrap'd base
# was at hand) mounted as CI mounts its root (bound /proc /dev
# /dev/pts, rbound /sys, a fresh /dev/shm, env -i CI=true; also without
# /etc/hosts, serial as quickstart.sh runs them and -j2, at a load of
# 10-20) and in 45 direct runs there. Known reports of the message
# (google/sanitizers#1353, #1342, #764; travis-ci#9033) are ptrace refused
# in containers (a failed attach, not a fault), glibc 2.32's TLS change
# (fixed before GCC 12) or unexplained. This kernel has no Yama
# (ptrace_scope), the tests run as root, and at exit only the main thread
# is left (MPI_Finalize joined Open MPI's; test_blas also keeps an OpenBLAS
# worker), so the attach is the less likely suspect; the scan reading
# memory that is mapped unreadable, or gone, the likelier: a page of a
# module's writable segment made unreadable gives exactly these messages.
# To name the cause the next time, the retries run with LSAN_OPTIONS
# log_threads=1 and ASAN_OPTIONS print_module_map=1, and this script prints
# the mapping that holds the faulting address and the module of the pc.
#
# So: a tracer crash with nothing else wrong (no leak, no ASan/UBSan report,
# no failed test) runs the test again, with leak detection, up to 2 more
# times; the first clean run counts. Only if all 3 crash does it run once
# more with detect_leaks=0, say so in capitals, and exit 77: ctest counts
# the test as skipped (SKIP_RETURN_CODE), listed in its summary, never as
# passed. A leak report, an ASan/UBSan error or a failed test, in any of
# the runs, fails the test.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: run_sanitized.sh TEST [ARGS...]" >&2; exit 2; }
attempts=3
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# run LABEL [VAR=VALUE...]: the test with these variables; output in $out
# (and shown), status in rc.
run() {
    echo "run_sanitized.sh: $1"
    shift
    rc=0
    env "$@" "${cmd[@]}" >"$out" 2>&1 || rc=$?
    cat "$out"
}
tracer_crash() {
    [ "$rc" -ne 0 ] && grep -aq 'LeakSanitizer has encountered a fatal error' "$out" &&
        ! grep -aq 'ERROR: LeakSanitizer: detected memory leaks' "$out" &&
        ! grep -aq 'ERROR: AddressSanitizer\|runtime error:\|FAILED' "$out"
}
# Which mapping holds the tracer's faulting address and pc (the memory map
# that print_module_map=1 prints when LSan dies).
where() {
    local line addr pc
    grep -aq 'Process memory map follows' "$out" || return 0
    line=$(grep -a -m1 'Tracer caught signal' "$out") || return 0
    addr=$(sed -n 's/.*addr=\(0x[0-9a-f]*\).*/\1/p' <<<"$line")
    pc=$(sed -n 's/.* pc=\(0x[0-9a-f]*\).*/\1/p' <<<"$line")
    for what in "address:$addr" "pc:$pc"; do
        awk -v name="${what%%:*}" -v a="${what#*:}" '
            function num(h,  i, n, c) { n = 0; h = tolower(substr(h, 3))
                for (i = 1; i <= length(h); i++) { c = index("0123456789abcdef", substr(h, i, 1)) - 1; n = n * 16 + c }
                return n }
            BEGIN { x = num(a) }
            $1 ~ /^0x[0-9a-f]+-0x[0-9a-f]+$/ { split($1, r, "-"); lo = num(r[1]); hi = num(r[2])
                if (x >= lo && x < hi) { found = 1
                    printf "run_sanitized.sh: the tracer'"'"'s faulting %s %s is in %s (+0x%x)\n", name, a, ($2 == "" ? "an anonymous mapping " $1 : $2 " " $1), x - lo } }
            END { if (!found) printf "run_sanitized.sh: the tracer'"'"'s faulting %s %s is in no mapping\n", name, a }' "$out"
    done
}

cmd=("$@")
run "leak detection on (run 1 of $attempts)"
n=1
while tracer_crash && [ "$n" -lt "$attempts" ]; do
    n=$((n + 1))
    echo "run_sanitized.sh: LeakSanitizer's tracer crashed, no leak reported: again with leak detection"
    where
    run "leak detection on (run $n of $attempts), with the tracer's log" \
        "LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}log_threads=1" \
        "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}print_module_map=1"
done
# A test's own status 77 is a failure, not the skip that means "leaks not checked".
status() { if [ "$rc" -eq 77 ]; then echo 1; else echo "$rc"; fi; }
if ! tracer_crash; then
    [ "$rc" -ne 0 ] || [ "$n" -eq 1 ] ||
        echo "run_sanitized.sh: passed with leak detection on run $n (the tracer crashed on the $((n - 1)) before)"
    exit "$(status)"
fi
where
echo "run_sanitized.sh: ********************************************************************"
echo "run_sanitized.sh: LEAK CHECK NOT DONE: LeakSanitizer's tracer crashed in all $attempts runs."
echo "run_sanitized.sh: Running once more with detect_leaks=0 (ASan and UBSan only); if that"
echo "run_sanitized.sh: passes, the test is reported SKIPPED (77), not passed."
echo "run_sanitized.sh: ********************************************************************"
run "leak detection OFF" "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
[ "$rc" -eq 0 ] || exit "$(status)"
echo "run_sanitized.sh: SKIPPED: passed under ASan and UBSan, but its leaks were not checked"
exit 77
