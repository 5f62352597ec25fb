#!/bin/bash
# Sixth wave, while the host was quieter: the default and the density preset
# back to back (the same period: their time ratio), and a third seed.
set -euo pipefail
cd "$(dirname "$0")"
AIS_T="300" ./run.sh e10-default-ref
AIS_T="300" ./run.sh e11-density-20ep-seed2 --preset density --seed 2
./evalbase.sh e11-density-20ep-seed2 1000 3000
