#!/bin/bash
# Third wave: the density preset at the default length, and a stronger energy
# regulariser (a smoother network part may anneal better). Uniform AIS at one
# T only (it cannot measure these models); the base-AIS series after each.
set -euo pipefail
cd "$(dirname "$0")"
while ! [ "$(grep -c '^e05-' results-base.tsv 2>/dev/null)" -ge 1 ]; do sleep 10; done
AIS_T="1000" ./run.sh e06-density-20ep --preset density
./evalbase.sh e06-density-20ep 1000 3000 10000
AIS_T="1000" ./run.sh e07-density-ereg0.1-10ep --preset density --epochs 10 --energy-reg 0.1
./evalbase.sh e07-density-ereg0.1-10ep 1000 3000
