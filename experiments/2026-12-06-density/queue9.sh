#!/bin/bash
# Ninth wave: seed 2 of the chosen configuration (the committed preset).
set -euo pipefail
cd "$(dirname "$0")"
AIS_T="300" ./run.sh e14-density-seed2 --preset density --seed 2
BIN=/tmp/dtrain/runs/bin/ebm_mpi.e14-density-seed2 ./evalbase.sh e14-density-seed2 1000
