#!/usr/bin/python3
"""Imports Fashion-MNIST (Debian's dataset-fashion-mnist) into the data layout
ebm_mpi reads (docs/design.md section 3), so a larger problem trains without code
changes: 28x28 = 784 inputs, 10 classes, pixel values 0..255.

    apt-get install dataset-fashion-mnist
    /usr/bin/python3 scripts/make_fashion_mnist.py [--out data/fashion_mnist.h5]
    tests/mpi/mpirun.sh 2 build/bin/ebm_mpi train --data data/fashion_mnist.h5 --epochs 1

Split, in file order: the first 50000 of the 60000 training images -> /train,
the last 10000 -> /val, the 10000 test images -> /test. The file is about
220 MB (float32 pixels, as ebm_mpi reads them) and is git-ignored.
"""
import argparse
import gzip
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_digits import write_dataset  # noqa: E402  (the same writer as digits.h5)

SOURCE_DIR = "/usr/share/datasets/fashion-mnist"  # `dpkg -L dataset-fashion-mnist`
N_VAL = 10000


def read_idx(path, magic, dims):
    """An IDX file (big-endian header: magic, then one uint32 per dimension)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = np.frombuffer(raw, dtype=">u4", count=1 + dims)
    if header[0] != magic:
        raise SystemExit(f"{path}: magic {header[0]:#x}, expected {magic:#x}")
    shape = tuple(int(v) for v in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + dims))
    if data.size != int(np.prod(shape)):
        raise SystemExit(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


def load(kind, source_dir):
    images = read_idx(os.path.join(source_dir, f"{kind}-images-idx3-ubyte.gz"), 0x803, 3)
    labels = read_idx(os.path.join(source_dir, f"{kind}-labels-idx1-ubyte.gz"), 0x801, 1)
    if images.shape[0] != labels.shape[0]:
        raise SystemExit(f"{kind}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images.reshape(images.shape[0], -1).astype(np.float32), labels.astype(np.int32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/fashion_mnist.h5")
    parser.add_argument("--source", default=SOURCE_DIR,
                        help="directory with the four *-idx?-ubyte.gz files")
    args = parser.parse_args()
    if not os.path.isdir(args.source):
        raise SystemExit(f"{args.source}: not found; apt-get install dataset-fashion-mnist")

    x_train, y_train = load("train", args.source)
    x_test, y_test = load("t10k", args.source)
    n_train = x_train.shape[0] - N_VAL
    splits = {
        "train": (x_train[:n_train], y_train[:n_train]),
        "val": (x_train[n_train:], y_train[n_train:]),
        "test": (x_test, y_test),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_dataset(
        args.out, splits, num_classes=10, height=28, width=28, value_min=0.0, value_max=255.0,
        source="Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research), 28x28 "
               "grayscale 0..255, from Debian's dataset-fashion-mnist "
               f"({args.source}); train = first {n_train} training images, val = last "
               f"{N_VAL}, test = t10k",
        license_text="MIT (Expat), Copyright 2017 Zalando SE")
    for name, (images, labels) in splits.items():
        print(f"{name}: {images.shape[0]} images, classes {np.bincount(labels).tolist()}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
