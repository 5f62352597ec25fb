#!/bin/bash
# Eighth wave: a second seed of the smaller step (e12).
set -euo pipefail
cd "$(dirname "$0")"
BIN=/tmp/dtrain/runs/bin/ebm_mpi.final AIS_T="300" ./run.sh e13-density-eta0.002-seed1 --preset density --step-size 0.002 --noise 0.0632 --seed 1
BIN=/tmp/dtrain/runs/bin/ebm_mpi.final ./evalbase.sh e13-density-eta0.002-seed1 1000
