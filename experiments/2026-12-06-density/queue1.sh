#!/bin/bash
# Second wave: dequantised training data (the density that is measured).
set -euo pipefail
cd "$(dirname "$0")"
common="--base pixels --energy-reg 0.01 --chain-init 2 --buffer 10000 --reinit 0.05 --step-decay 1 --step-size 0.005 --noise 0.1 --langevin-steps 60"
AIS_T="300 1000" ./run.sh e04-base-dequant --epochs 10 $common --gen-weight 1 --train-dequant 1 --train-noise 0
AIS_T="300 1000" ./run.sh e05-base-dequant-w0.3 --epochs 10 $common --gen-weight 0.3 --train-dequant 1 --train-noise 0
