#!/bin/bash
# special_files.sh: every option that names an input file (--data of train,
# eval and sample, --resume, --ckpt of eval and sample, --ood) given a FIFO
# without a writer, /dev/zero or /dev/stdin (stdin closed) is refused within
# seconds: exit 1, one error line naming the file (expect_error.sh, bounded
# by EXPECT_ERROR_TIMEOUT); on main a FIFO or /dev/zero as --data blocked forever.
# usage: special_files.sh WORKDIR NP EBM_MPI CHECKPOINT
#   CHECKPOINT: a valid checkpoint (the ckpt_np1 fixture's last.h5).
set -euo pipefail
work=$1 np=$2 bin=$3 ckpt=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cd "$work"
mkfifo fifo
export EXPECT_ERROR_TIMEOUT=${EXPECT_ERROR_TIMEOUT:-20}
failed=0 cases=0
for special in "$work/fifo" /dev/zero /dev/stdin; do
    # The refusal names the file; /dev/stdin with stdin closed may not exist.
    re="'$special'.*(is not a regular file|No such file)"
    while IFS='|' read -r what args; do
        read -r -a argv <<<"${args//@F@/$special}"
        cases=$((cases + 1))
        start=$SECONDS
        if "$here/expect_error.sh" "$re" bash -c 'exec 0<&-; exec "$@"' close_stdin \
                "$here/mpirun.sh" "$np" "$bin" "${argv[@]}" >"case$cases.log" 2>&1; then
            echo "ok: $what with $special refused in $((SECONDS - start)) s"
        else
            echo "FAIL: $what with $special:"
            cat "case$cases.log"
            failed=$((failed + 1))
        fi
    done <<EOC
train --data|train --data @F@ --epochs 1 --hidden 16 --out out$cases
train --resume|train --resume @F@ --epochs 2 --hidden 16 --buffer 16 --out res$cases
eval --ckpt|eval --ckpt @F@
eval --data|eval --ckpt $ckpt --data @F@
eval --ood|eval --ckpt $ckpt --ood @F@
sample --ckpt|sample --ckpt @F@ --n 4 --out s$cases.h5
sample --data|sample --ckpt $ckpt --data @F@ --n 4 --out s$cases.h5
EOC
done
echo "$failed of $cases cases failed"
[ "$failed" = 0 ]
