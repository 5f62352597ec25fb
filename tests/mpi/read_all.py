#!/usr/bin/python3
"""read_all.py: h5py (as a user would) reads every dataset and attribute of
an ebm_mpi output directory's best.h5, last.h5 and metrics.h5, and checks that
the layout of docs/design.md section 3 is there with consistent shapes.

usage: read_all.py OUTDIR HIDDEN RANKS
"""
import sys

import h5py
import numpy as np

out, hidden, ranks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
REQUIRED_ATTRS = [
    "format_version", "program_version", "git_revision", "mpi_version", "hdf5_version",
    "blas_version", "data_file", "data_checksum_fnv1a64", "world_size", "epoch",
    "global_step", "best_epoch", "best_val_error", "best_val_loss", "complete",
    "epochs", "batch-size", "lr", "hidden", "langevin-steps", "step-size", "noise",
    "buffer", "reinit", "energy-reg", "gen-weight", "train-noise", "preset", "seed",
    "chain-init", "step-decay", "lr-schedule", "warmup", "lr-floor", "ema"]


def read_everything(path):
    n_values = 0
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            nonlocal n_values
            for key in obj.attrs:
                _ = obj.attrs[key]
            if isinstance(obj, h5py.Dataset):
                n_values += np.asarray(obj[()]).size
        for key in f.attrs:
            _ = f.attrs[key]
        f.visititems(visit)
    return n_values


for name in ("best.h5", "last.h5"):
    path = f"{out}/{name}"
    n = read_everything(path)
    with h5py.File(path, "r") as f:
        missing = [a for a in REQUIRED_ATTRS if a not in f.attrs]
        assert not missing, f"{path}: missing attributes {missing}"
        assert f.attrs["complete"] == 1
        assert f.attrs["world_size"] == ranks, f.attrs["world_size"]
        d = f["model/layer0/weight"].shape[1]
        shapes = [f[f"model/layer{i}/weight"].shape for i in range(4)]
        assert shapes[:3] == [(hidden, d), (hidden, hidden), (hidden, hidden)], shapes
        for i in range(4):
            for part in ("weight", "bias"):
                # With --ema > 0 the trained weights beside the moments
                # (/model is then their average).
                for moment in ("exp_avg", "exp_inf") + (("online",) if f.attrs["ema"] > 0 else ()):
                    assert f[f"optimizer/layer{i}/{moment}/{part}"].shape == \
                        f[f"model/layer{i}/{part}"].shape
        assert ("online" in f["optimizer/layer0"]) == (f.attrs["ema"] > 0)
        assert f["optimizer"].attrs["step"] == f.attrs["global_step"] - f.attrs["skipped_steps"]
        assert f["sampler/chains"].shape == (f.attrs["buffer"], d)
        assert f["rng/state"].shape == (ranks, 4)
        assert f["data_order"].shape[0] == ranks
        epochs = int(f.attrs["epoch"])
        assert all(f[f"metrics/{c}"].shape == (epochs,) for c in f["metrics"])
    print(f"ok: {path}: read {n} values and every attribute")

n = read_everything(f"{out}/metrics.h5")
with h5py.File(f"{out}/metrics.h5", "r") as f:
    rows = {len(f[c]) for c in f}
    assert len(rows) == 1, rows
    assert list(f["epoch"][()]) == list(range(1, rows.pop() + 1))
    for c in f:
        assert "description" in f[c].attrs, c
print(f"ok: {out}/metrics.h5: read {n} values")
