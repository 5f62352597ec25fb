#!/bin/bash
# Fifth wave: a second seed of the density preset (validation only).
set -euo pipefail
cd "$(dirname "$0")"
while kill -0 "$QUEUE4_PID" 2>/dev/null; do sleep 10; done
BIN=/tmp/dtrain/runs/bin/ebm_mpi.e06-density-20ep AIS_T="1000" ./run.sh e09-density-20ep-seed1 --preset density --seed 1
./evalbase.sh e09-density-20ep-seed1 1000 3000
