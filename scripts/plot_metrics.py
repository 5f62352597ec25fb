#!/usr/bin/python3
"""Training curves from an ebm_mpi metrics file (<out>/metrics.h5) to a PNG:
train/val loss, classification error, generative term and energies per epoch.

    /usr/bin/python3 scripts/plot_metrics.py checkpoints/metrics.h5 -o curves.png

The file can be read while training runs (it is closed between epochs).
"""
import argparse

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("metrics", nargs="?", default="checkpoints/metrics.h5")
    ap.add_argument("-o", "--output", default="curves.png")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()

    with h5py.File(args.metrics, "r") as f:
        m = {name: f[name][()] for name in f.keys()}
    if len(m["epoch"]) == 0:
        raise SystemExit(f"{args.metrics}: no epoch finished yet")
    epoch = m["epoch"]

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    ax = axes[0]
    ax.plot(epoch, m["train_loss"], label="train")
    ax.plot(epoch, m["val_loss"], label="val")
    ax.set_title("loss (CE + w gen)")
    ax.legend()
    ax = axes[1]
    ax.plot(epoch, 100 * m["train_error"], label="train")
    ax.plot(epoch, 100 * m["val_error"], label="val")
    ax.set_title("classification error (%)")
    ax.legend()
    ax = axes[2]
    ax.plot(epoch, m["train_gen"], label="train")
    ax.plot(epoch, m["val_gen"], label="val (fresh chains)")
    ax.set_title("generative term")
    ax.legend()
    ax = axes[3]
    ax.plot(epoch, m["energy_data"], label="E(data)")
    ax.plot(epoch, m["energy_sample"], label="E(samples)")
    ax.set_title("mean energy")
    ax.legend()
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.suptitle(args.title or args.metrics)
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
