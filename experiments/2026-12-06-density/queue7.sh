#!/bin/bash
# Seventh wave: a smaller Langevin step at the same Langevin scale (sigma^2 =
# 2 eta), after long-run ULA at the training step left the data (e06).
set -euo pipefail
cd "$(dirname "$0")"
BIN=/tmp/dtrain/runs/bin/ebm_mpi.final AIS_T="300" ./run.sh e12-density-eta0.002 --preset density --step-size 0.002 --noise 0.0632
BIN=/tmp/dtrain/runs/bin/ebm_mpi.final ./evalbase.sh e12-density-eta0.002 1000 3000
