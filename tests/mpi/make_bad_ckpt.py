#!/usr/bin/python3
"""make_bad_ckpt.py: from a valid checkpoint, writes the broken ones the
refusal tests load: truncated (half the bytes), not HDF5 (text), incomplete
(no `complete` attribute), another format version (99); and a data file
whose images do not match the checkpoint (7x7 pixels instead of 8x8).

usage: make_bad_ckpt.py VALID.h5 OUTDIR
"""
import os
import shutil
import sys

import h5py
import numpy as np

valid, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

data = open(valid, "rb").read()
with open(os.path.join(out, "truncated.h5"), "wb") as f:
    f.write(data[: len(data) // 2])
with open(os.path.join(out, "text.h5"), "w") as f:
    f.write("this is not a checkpoint\n")
for name, edit in (("incomplete.h5", lambda a: a.__delitem__("complete")),
                   ("version99.h5", lambda a: a.__setitem__("format_version", np.int64(99)))):
    path = os.path.join(out, name)
    shutil.copyfile(valid, path)
    with h5py.File(path, "r+") as f:
        edit(f.attrs)

rng = np.random.default_rng(0)
with h5py.File(os.path.join(out, "pixels49.h5"), "w") as f:
    for split, n in (("train", 20), ("val", 10), ("test", 10)):
        g = f.create_group(split)
        g["images"] = rng.integers(0, 17, size=(n, 49)).astype(np.float32)
        g["labels"] = rng.integers(0, 10, size=n).astype(np.int32)
    f.attrs.update(num_classes=np.int32(10), height=np.int32(7), width=np.int32(7),
                   value_min=np.float32(0), value_max=np.float32(16),
                   source=np.bytes_("random 7x7 test images"), license=np.bytes_("none"))
print(f"wrote broken checkpoints and pixels49.h5 to {out}")
