#!/usr/bin/python3
"""Regenerates data/digits.h5 from the digits data that ships with scikit-learn
(Debian's python3-sklearn), in the layout ebm_mpi reads (docs/design.md section 3).

The split follows the course notebook: file order, 70 % / 15 % / 15 %
(int(0.7 * 1797) = 1257 train, int(0.85 * 1797) - 1257 = 270 val, 270 test).

    /usr/bin/python3 scripts/make_digits.py [--out data/digits.h5]
"""
import argparse

import h5py
import numpy as np
from sklearn.datasets import load_digits


def write_dataset(path, splits, num_classes, height, width, value_min, value_max, source,
                  license_text):
    """Writes splits = {"train": (images, labels), ...} in ebm_mpi's layout."""
    with h5py.File(path, "w") as f:
        for name, (images, labels) in splits.items():
            g = f.create_group(name)
            g.create_dataset("images", data=np.ascontiguousarray(images, dtype=np.float32))
            g.create_dataset("labels", data=np.ascontiguousarray(labels, dtype=np.int32))
        f.attrs["num_classes"] = np.int32(num_classes)
        f.attrs["height"] = np.int32(height)
        f.attrs["width"] = np.int32(width)
        f.attrs["value_min"] = np.float32(value_min)
        f.attrs["value_max"] = np.float32(value_max)
        f.attrs["source"] = np.bytes_(source)
        f.attrs["license"] = np.bytes_(license_text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/digits.h5")
    args = parser.parse_args()

    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int32)
    n = x.shape[0]
    n_train = int(0.7 * n)
    n_val_end = int((0.7 + 0.15) * n)
    splits = {
        "train": (x[:n_train], y[:n_train]),
        "val": (x[n_train:n_val_end], y[n_train:n_val_end]),
        "test": (x[n_val_end:], y[n_val_end:]),
    }
    write_dataset(
        args.out, splits, num_classes=10, height=8, width=8, value_min=0.0, value_max=16.0,
        source="UCI ML hand-written digits (optdigits), 8x8 images with 0..16 counts, "
               "as shipped by scikit-learn (sklearn.datasets.load_digits)",
        license_text="CC BY 4.0 (UCI Machine Learning Repository: Optical Recognition of "
                     "Handwritten Digits, Alpaydin & Kaynak 1998)")
    for name, (images, labels) in splits.items():
        print(f"{name}: {images.shape[0]} images, classes {np.bincount(labels).tolist()}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
