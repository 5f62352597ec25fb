#!/bin/bash
# After queue1: the base-AIS figures of e03-e05 (uniform AIS cannot measure them).
set -euo pipefail
cd "$(dirname "$0")"
while ! grep -q "^e05-" results.tsv; do sleep 10; done
./evalbase.sh e04-base-dequant 1000 3000
./evalbase.sh e05-base-dequant-w0.3 1000 3000
