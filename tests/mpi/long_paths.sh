#!/bin/bash
# long_paths.sh: file names of any length are either used or refused up front,
# never truncated and never fatal inside a library. A name MPI-IO opens may
# have at most 238 characters (src/io/h5file.h: Open MPI 4.1 builds
# "<name>.locktest.<rank>" in 256 bytes); the derived names count too (the
# longest under --out is "<out>/metrics.h5.tmp.XXXXXX", the temporary file).
#   - at the edge (an --out whose metrics.h5.tmp.XXXXXX is 238 characters, a --data
#     of 238): train on 2 ranks, then eval and sample on what it wrote, work;
#   - one character longer, for --out, --data, --ckpt, --dump and sample's
#     --out: exit 1 and one error line naming the option (expect_error.sh),
#     nothing written;
#   - a value beyond the option buffer (2000 characters): refused the same way.
#
# usage: long_paths.sh WORKDIR PROGRAM DATAFILE
set -u
if [ $# -ne 3 ]; then
    echo "usage: long_paths.sh WORKDIR PROGRAM DATAFILE" >&2
    exit 2
fi
work=$1 bin=$2 data=$3
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work" || exit 1
work=$(cd "$work" && pwd)

# A directory path of exactly n characters under $work (components of <= 200).
dir_of_length() {
    local n=$1 path=$work/d
    while [ $((${#path} + 201)) -lt "$n" ]; do path=$path/$(printf 'a%.0s' $(seq 200)); done
    local rest=$((n - ${#path} - 1))
    [ "$rest" -ge 1 ] || fail "cannot build a path of $n characters under $work"
    echo "$path/$(printf 'b%.0s' $(seq "$rest"))"
}
edge=238
out=$(dir_of_length $((edge - 22)))
[ $((${#out} + 22)) = $edge ] || fail "the edge directory is ${#out} characters"
data_dir=$(dir_of_length $((edge - 8)))
mkdir -p "$out" "$data_dir" || exit 1
edge_data=$data_dir/data.h5 # 238 characters
cp "$data" "$edge_data" || exit 1
[ ${#edge_data} = $edge ] || fail "the edge data path is ${#edge_data} characters"

# At the edge: everything works, and eval and sample read what train wrote.
"$here/mpirun.sh" 2 "$bin" train --epochs 1 --hidden 16 --data "$edge_data" --out "$out" \
    >"$work/train.txt" 2>&1 || { cat "$work/train.txt"; fail "train at the edge length failed"; }
"$bin" eval --ckpt "$out/best.h5" --data "$edge_data" --dump "$out/d.h5" \
    >"$work/eval.txt" 2>&1 || { cat "$work/eval.txt"; fail "eval on what train wrote failed"; }
"$bin" sample --ckpt "$out/last.h5" --n 5 --out "$out/s.h5" >"$work/sample.txt" 2>&1 ||
    { cat "$work/sample.txt"; fail "sample on what train wrote failed"; }
[ -f "$out/s.h5" ] || fail "sample wrote no file"
echo "edge (238 characters): train, eval and sample work"

# One character longer: refused up front, naming the option.
long_out=${out}x
long_data_dir=${data_dir}x
mkdir -p "$long_data_dir" && cp "$data" "$long_data_dir/data.h5" || exit 1
long_ckpt=$long_data_dir/ckpt.h5 # 239 characters, as a checkpoint name
cp "$out/best.h5" "$long_ckpt" || exit 1
re='is 2(39|4[0-9]) characters; a file opened through MPI-IO may have at most 238'
check() { # OPTION-NAME COMMAND...
    local opt=$1; shift
    "$here/expect_error.sh" "^ebm_mpi: error: --$opt: the file name .*$re" "$@" ||
        fail "--$opt of 239 characters: not refused as expected"
}
check out "$bin" train --epochs 1 --hidden 16 --out "$long_out"
[ -e "$long_out" ] && fail "the refused run created $long_out"
check data "$bin" train --epochs 1 --hidden 16 --data "$long_data_dir/data.h5" --out "$work/o2"
check ckpt "$bin" eval --ckpt "$long_ckpt"
check ckpt "$bin" sample --ckpt "$long_ckpt"
check dump "$bin" eval --ckpt "$out/best.h5" --dump "$long_data_dir/d.h5"
check out "$bin" sample --ckpt "$out/best.h5" --out "$long_data_dir/s.h5"
[ -e "$long_data_dir/d.h5" ] || [ -e "$long_data_dir/s.h5" ] && fail "a refused command wrote a file"
"$here/expect_error.sh" "^ebm_mpi: error: --out: value longer than 1023 characters" \
    "$bin" train --out "$work/$(printf 'c%.0s' $(seq 2000))" || fail "a 2000-character --out"
echo "PASS: 239 characters refused for every option, 238 used; eval and sample read what train wrote"
