#!/bin/bash
# Fourth wave: chains restarted from uniform noise (--chain-init 0) so that the
# network sees the paths from noise (samples from uniform failed with base
# restarts: e03, MALA/ULA 2000 steps, P 0.00, FD 2289/3916).
set -euo pipefail
cd "$(dirname "$0")"
AIS_T="1000" ./run.sh e08-density-init0-20ep --preset density --chain-init 0
./samples_uniform.sh e08-density-init0-20ep 2000
./evalbase.sh e08-density-init0-20ep 1000 3000
