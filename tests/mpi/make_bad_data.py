#!/usr/bin/python3
# make_bad_data.py: writes the data files the bad-input tests feed to ebm_mpi.
# Each file copies the layout of data/digits.h5 (docs/design.md section 3) and breaks
# exactly one thing, so a test can require the error message to name it.
# Run with Debian's interpreter (it has h5py and numpy); ctest runs it as the
# FIXTURES_SETUP test mpi.bad_data.
# usage: make_bad_data.py SOURCE.h5 OUTDIR
import os
import sys

import h5py
import numpy as np

SPLITS = ("train", "val", "test")


def load(path):
    """The source file as {split: (images, labels)} and its root attributes."""
    with h5py.File(path, "r") as f:
        data = {s: (f[s]["images"][()], f[s]["labels"][()]) for s in SPLITS}
        attrs = dict(f.attrs.items())
    return data, attrs


def write(path, data, attrs):
    """Writes {split: (images, labels)} with attrs on /; None skips a dataset."""
    with h5py.File(path, "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        for s, (images, labels) in data.items():
            g = f.create_group(s)
            if images is not None:
                g.create_dataset("images", data=images)
            if labels is not None:
                g.create_dataset("labels", data=labels)


def copy(data):
    return {s: (im.copy(), lab.copy()) for s, (im, lab) in data.items()}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_bad_data.py SOURCE.h5 OUTDIR")
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    good, attrs = load(src)
    ntrain = good["train"][0].shape[0]
    made = []

    def emit(name, data, a=None):
        path = os.path.join(out, name)
        write(path, data, attrs if a is None else a)
        made.append(name)

    # A valid file, as a control: the tests' own copy of the layout trains.
    emit("good.h5", copy(good))

    # Not HDF5 at all: a text file with an .h5 name.
    with open(os.path.join(out, "not_hdf5.h5"), "w") as f:
        f.write("this is not an HDF5 file\n" * 20)
    made.append("not_hdf5.h5")

    # HDF5, root attributes present, but none of the expected groups/datasets.
    with h5py.File(os.path.join(out, "no_datasets.h5"), "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        f.create_dataset("something_else", data=np.zeros((4, 64), np.float32))
    made.append("no_datasets.h5")

    # Everything there except /val/labels.
    d = copy(good)
    d["val"] = (d["val"][0], None)
    emit("no_val_labels.h5", d)

    # /train/labels one shorter than /train/images.
    d = copy(good)
    d["train"] = (d["train"][0], d["train"][1][:-1])
    emit("label_count.h5", d)

    # A train label equal to num_classes, in the LAST example: at np = 2 only
    # rank 1 reads it (its shard), so only that rank can see the problem.
    d = copy(good)
    d["train"][1][ntrain - 1] = int(attrs["num_classes"])
    emit("label_range.h5", d)

    # A negative label in the val split.
    d = copy(good)
    d["val"][1][5] = -1
    emit("label_negative.h5", d)

    # A NaN pixel in the last train example (rank 1's shard at np = 2).
    d = copy(good)
    d["train"][0][ntrain - 1, 10] = np.nan
    emit("nan_pixel.h5", d)

    # An infinite pixel in the test split.
    d = copy(good)
    d["test"][0][0, 3] = np.inf
    emit("inf_pixel.h5", d)

    # A pixel above value_max (16) in the first train example (rank 0's shard).
    d = copy(good)
    d["train"][0][0, 20] = float(attrs["value_max"]) + 1.0
    emit("pixel_range.h5", d)

    # Train images 3-D [N, 8, 8] instead of [N, 64].
    d = copy(good)
    d["train"] = (d["train"][0].reshape(ntrain, 8, 8), d["train"][1])
    emit("images_3d.h5", d)

    # Val images with 49 pixels per example while train has 64.
    d = copy(good)
    nval = d["val"][0].shape[0]
    d["val"] = (np.ascontiguousarray(d["val"][0][:, :49]), d["val"][1])
    assert d["val"][0].shape == (nval, 49)
    emit("val_pixels.h5", d)

    # A valid file with only 3 train examples: fine at np <= 3, an error at np = 4.
    d = copy(good)
    d["train"] = (d["train"][0][:3].copy(), d["train"][1][:3].copy())
    d["val"] = (d["val"][0][:20].copy(), d["val"][1][:20].copy())
    d["test"] = (d["test"][0][:20].copy(), d["test"][1][:20].copy())
    emit("tiny3.h5", d)

    # A value range that is not finite: the input map would be 0 * x + nan.
    emit("inf_range.h5", copy(good), dict(attrs, value_max=np.float32(np.inf)))

    # No test examples: training works, the report says there is no test.
    d = copy(good)
    d["test"] = (d["test"][0][:0].copy(), d["test"][1][:0].copy())
    emit("empty_test.h5", d)

    # A regular file, so that <file>/sub can never be created as a directory
    # (root ignores permission bits; this fails for root too).
    with open(os.path.join(out, "regular_file"), "w") as f:
        f.write("a regular file, not a directory\n")
    made.append("regular_file")

    print("make_bad_data.py: wrote %d files in %s: %s" % (len(made), out, " ".join(made)))


if __name__ == "__main__":
    main()
