#!/bin/bash
# resume_reshard.sh: a checkpoint written in the middle of an epoch, resumed
# on another number of ranks (README "Resuming": the persistent chains are
# re-sharded by global id, the random streams start anew, and the epoch
# restarts from its first step), shrinking (np 2 -> 1) and growing (np 2 -> 3).
#   A 2-epoch run on np 2 is stopped at global step S + S/2 (epoch 2, step
#   S/2; S = ceil(N/B), worked out here from the data file), then resumed to
#   the end on np 1 and on np 3. Each resumed run must
#   - say so: "1 epoch(s) done, global step S + S/2 (written by 2 ranks:
#     chains re-sharded over P, epoch restarted)", then print epoch 2 once;
#   - count every step it took: epoch 2 restarted means S more steps, so it
#     ends at global step S + S/2 + S (the steps of the abandoned half epoch
#     were taken and stay counted: metrics' "optimiser steps taken so far"),
#     in last.h5 (epoch 2, step 0), the optimizer's step, metrics' global_step
#     column (S, then 2S + S/2) and the final line; continuing mid-epoch
#     instead would end at 2S;
#   - keep the history: metrics.h5 has epochs 1 and 2, row 1 bitwise the
#     np-2 run's (no epoch lost or repeated);
#   - hold a data order of the new shards (row r: a permutation of rank r's
#     ceil/floor(N/P) examples);
#   - have used the stored chains, re-sharded: a step draws one chain per
#     example from the rank's own slice of the buffer (rows offset_r ..
#     offset_r + n_r, by global id), so over the restarted epoch at most
#     shard_r of rank r's rows can change. A row that did not change is the
#     stored row of the same global id; so at least n_r - shard_r rows of
#     each slice must equal the checkpoint's (4096 chains over ~1257 draws:
#     about 3/4 do). Chains read from the wrong rows, or started afresh,
#     leave almost none equal. And each slice was used: at least shard_r / 2
#     rows changed (about 0.86 shard_r distinct chains are drawn).
# usage: resume_reshard.sh WORKDIR EBM_MPI_BINARY
set -u
work=$1
bin=$2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/resume_lib.sh
. "$here/resume_lib.sh"
B=64
N=$(train_examples) || exit 1
S=$(steps_per_epoch $B) || exit 1
half=$((S / 2))
stop=$((S + half))
args=(--hidden 16 --buffer 4096 --batch-size "$B" --seed 5 --epochs 2)

rm -rf "$work" && mkdir -p "$work" || exit 1
cd "$work" || exit 1

echo "== np 2, stopped at global step $stop (epoch 2, step $half of $S)"
EBM_MPI_FAULT_STOP_AT_STEP=$stop run 2 -x EBM_MPI_FAULT_STOP_AT_STEP "$bin" train "${args[@]}" \
    --out stopped > stopped.log 2>&1
status=$?
[ "$status" = 75 ] || fail "the stop request: exit status $status, expected 75: $(tail -5 stopped.log)"
"$py" - stopped/last.h5 "$S" "$half" <<'PY' || fail "stopped/last.h5 is not the mid-epoch checkpoint"
import sys, h5py
a = h5py.File(sys.argv[1], "r").attrs
S, half = int(sys.argv[2]), int(sys.argv[3])
got = tuple(int(a[k]) for k in ("epoch", "step_in_epoch", "global_step", "world_size"))
assert got == (1, half, S + half, 2), got
PY

for np in 1 3; do
    echo "== resumed on np $np"
    cp -r stopped "np$np" || exit 1
    run "$np" "$bin" train "${args[@]}" --out "np$np" --resume auto > "np$np.log" 2>&1 ||
        fail "the resume on np $np failed: $(tail -5 "np$np.log")"
    expect_resumed "np$np.log" "resumed from np$np/last.h5: 1 epoch(s) done, global step $stop (written by 2 ranks: chains re-sharded over $np, epoch restarted)" 2 2
    end=$((stop + S))
    grep -Eq "^done in [0-9.]+s: $end steps \(0 skipped\)" "np$np.log" ||
        fail "np $np: the final line does not count $end steps: $(grep '^done' "np$np.log")"
    "$py" - stopped "np$np" "$np" "$S" "$half" "$N" <<'PY' || fail "np $np: see above"
import sys, h5py, numpy as np
before, after, P, S, half = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ck = h5py.File(f"{before}/last.h5", "r")
last = h5py.File(f"{after}/last.h5", "r")
m0 = h5py.File(f"{before}/metrics.h5", "r")
m = h5py.File(f"{after}/metrics.h5", "r")
end = S + half + S
a = last.attrs
got = tuple(int(a[k]) for k in ("epoch", "step_in_epoch", "global_step", "world_size"))
assert got == (2, 0, end, P), f"last.h5 (epoch, step_in_epoch, global_step, world_size) = {got}, expected {(2, 0, end, P)}"
assert int(last["optimizer"].attrs["step"]) == end - int(a["skipped_steps"]), "optimizer step"
print(f"ok: last.h5 at epoch 2, global step {end} = {S} + {half} + {S}, written by {P} rank(s)")
# The history: epoch 1 kept bit for bit, epoch 2 once.
assert list(m["epoch"][()]) == [1, 2], f"metrics epochs {m['epoch'][()]}"
assert list(m["global_step"][()]) == [S, end], f"metrics global_step {m['global_step'][()]}"
timing = ("wall_seconds", "examples_per_second", "compute_", "comm_", "time_")
assert len(m0["epoch"]) == 1, "the stopped run's metrics.h5 should hold epoch 1 only"
for name in m0:
    if not name.startswith(timing):
        assert m0[name][()].tobytes() == m[name][()][:1].tobytes(), f"metrics row 1, {name}"
        assert np.all(np.isfinite(m[name][()])), f"metrics {name} not finite"
print("ok: metrics.h5: epochs 1, 2; row 1 that of the np-2 run")
N, buffer = int(sys.argv[6]), int(a["buffer"])
def shard(n, r):  # contiguous shards, sizes differing by at most one
    base, extra = divmod(n, P)
    return r * base + min(r, extra), base + (r < extra)
# The data order of the new shards.
order = last["data_order"][()]
assert order.shape == (P, -(-N // P)), f"/data_order shape {order.shape}"
for r in range(P):
    cnt = shard(N, r)[1]
    assert sorted(order[r][:cnt]) == list(range(cnt)) and all(order[r][cnt:] == -1), f"/data_order row {r}"
assert last["rng/state"].shape == (P, 4)
print(f"ok: /data_order holds {P} shard(s) of {N} examples, /rng/state {P} stream(s)")
# The chains: the stored ones, re-sharded by global id.
c0, c1 = ck["sampler/chains"][()], last["sampler/chains"][()]
assert c0.shape == c1.shape == (buffer, 64), (c0.shape, c1.shape)
same = np.all(c0 == c1, axis=1)
for r in range(P):
    off, n_r = shard(buffer, r)
    draws = shard(N, r)[1]
    kept = int(same[off:off + n_r].sum())
    assert kept >= n_r - draws, (f"rank {r}: only {kept} of chains {off}..{off + n_r - 1} are the stored "
                                 f"ones, at most {draws} can have been drawn: not re-sharded by global id")
    assert n_r - kept >= draws / 2, f"rank {r}: only {n_r - kept} of its chains changed ({draws} draws)"
    print(f"ok: rank {r}: chains {off}..{off + n_r - 1}: {kept} are the stored rows, {n_r - kept} "
          f"changed by its {draws} draws")
PY
done
echo "PASS"
