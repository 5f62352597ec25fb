#!/bin/bash
# run_fuzz.sh: one timed libFuzzer run from a copy of the seed corpus.
# usage: run_fuzz.sh FUZZER SEED_CORPUS WORKDIR SECONDS
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
rm -rf "$work"
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/"
cd "$work"
# -detect_leaks=0: LeakSanitizer's ptrace tracer fails in some containers
# (tests/unit/run_sanitized.sh); leaks are valgrind's (tests/analysis).
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 \
    -print_final_stats=1 corpus
