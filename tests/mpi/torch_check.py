#!/usr/bin/python3
"""torch_check.py: rebuilds the network of an ebm_mpi checkpoint in PyTorch
and checks ebm_mpi's output files against it (issue 6).

    torch_check.py dump CKPT DATA DUMP [SPLIT]    # ebm_mpi eval --dump DUMP
    torch_check.py samples CKPT SAMPLES            # ebm_mpi sample --out SAMPLES
    torch_check.py chains CKPT SAMPLES             # sample --from-chains --steps 0

The network is built from the checkpoint alone (torch.nn.Linear layers from
/model/layer{i}/{weight,bias}, torch.nn.ELU between them, the input map
x * input_scale + input_shift from the root attributes) and evaluated in
float64, so it is independent of the C code and more exact than it.

dump: the logits of every example of SPLIT (default test) must match the
dump's, and so must E(x) = -logsumexp f(x), the labels (from the data file)
and argmax f(x).
samples: the samples' energies and predicted classes must match the network
evaluated on the samples; samples must lie in the data file's value range
when the chains were clamped. With --class K, most samples (> 50%) must be
of class K: 20 steps up f(x)[K] from noise reach it even for a model trained
for two epochs (measured 100% on the test fixtures).
chains: with 0 steps, sample --from-chains must return the checkpoint's
first N chains, mapped back to data units.

Tolerance: |c - t| <= 1e-4 * (1 + |t|) per value. ebm_mpi computes in
float32 (unit roundoff 6e-8) with dot products of at most 512 terms over four
layers; a blocked sum's error is then typically ~1e-6 relative (measured
at most 9.4e-7 on a default 64-512-512-512-10 model), so 1e-4 leaves a
100x margin for other BLAS kernels and CPUs, while any real fault (a transposed or misplaced layer,
another activation, a wrong input map, a row written to the wrong place by a
rank) moves logits by O(0.1-10). Argmax is compared only where the top two
reference logits differ by more than that tolerance.
"""
import sys

import h5py
import numpy as np
import torch

RTOL = 1e-4


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def load_network(ckpt):
    """The MLP of an ebm_mpi checkpoint as a float64 torch module, and its input map."""
    with h5py.File(ckpt, "r") as f:
        if int(f.attrs["complete"]) != 1:
            fail(f"{ckpt} is incomplete")
        n_layers = len([k for k in f["model"] if k.startswith("layer")])
        layers = []
        for i in range(n_layers):
            w = torch.from_numpy(np.asarray(f[f"model/layer{i}/weight"], dtype=np.float64))
            b = torch.from_numpy(np.asarray(f[f"model/layer{i}/bias"], dtype=np.float64))
            lin = torch.nn.Linear(w.shape[1], w.shape[0]).double()
            with torch.no_grad():
                lin.weight.copy_(w)
                lin.bias.copy_(b)
            layers.append(lin)
            if i < n_layers - 1:
                layers.append(torch.nn.ELU(alpha=1.0))
        scale = float(f.attrs["input_scale"])
        shift = float(f.attrs["input_shift"])
        clamped = int(f.attrs["clamp_chains"])
        box = (float(f.attrs["value_min"]), float(f.attrs["value_max"]))
    net = torch.nn.Sequential(*layers).eval()
    print(f"{ckpt}: {n_layers} layers "
          f"{[layers[0].in_features] + [l.out_features for l in layers[::2]]}, ELU, "
          f"input map x * {scale} + {shift}")
    return net, scale, shift, clamped, box


def reference(net, scale, shift, x_data_units):
    with torch.no_grad():
        x = torch.from_numpy(np.asarray(x_data_units, dtype=np.float64)) * scale + shift
        logits = net(x)
        energy = -torch.logsumexp(logits, dim=1)
    return logits.numpy(), energy.numpy()


def close(name, got, want):
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        fail(f"{name}: shape {got.shape}, expected {want.shape}")
    dev = np.abs(got - want) / (1.0 + np.abs(want))
    worst = np.unravel_index(int(np.argmax(dev)), dev.shape)
    print(f"{name}: {got.size} values, max |c - t| / (1 + |t|) = {dev.max():.3g} "
          f"(tolerance {RTOL:g}) at {tuple(int(i) for i in worst)}")
    if not np.all(np.isfinite(got)) or dev.max() > RTOL:
        fail(f"{name} differs from PyTorch at {tuple(int(i) for i in worst)}: "
             f"ebm_mpi {got[worst]:.7g}, torch {want[worst]:.7g}")


def same_argmax(name, got, logits):
    top2 = np.sort(logits, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > RTOL * (1.0 + np.abs(top2[:, 1]))
    want = np.argmax(logits, axis=1)
    bad = np.nonzero(clear & (np.asarray(got) != want))[0]
    print(f"{name}: {int(clear.sum())} of {len(want)} rows with a clear argmax compared")
    if len(bad):
        fail(f"{name}: row {bad[0]} says {got[bad[0]]}, torch {want[bad[0]]}")


def check_dump(ckpt, data, dump, split):
    net, scale, shift, _, _ = load_network(ckpt)
    with h5py.File(data, "r") as f:
        images = np.asarray(f[f"{split}/images"], dtype=np.float64)
        labels = np.asarray(f[f"{split}/labels"])
    images = images.reshape(len(images), -1)
    logits, energy = reference(net, scale, shift, images)
    with h5py.File(dump, "r") as f:
        close("logits", f["logits"][()], logits)
        close("energy", f["energy"][()], energy)
        if not np.array_equal(f["label"][()], labels):
            fail("labels in the dump are not the data file's, in file order")
        same_argmax("predicted", f["predicted"][()], logits)
    print(f"ok: ebm_mpi eval --dump matches PyTorch on {len(labels)} {split} examples")


def check_samples(ckpt, path):
    net, scale, shift, clamped, (lo, hi) = load_network(ckpt)
    with h5py.File(path, "r") as f:
        x = np.asarray(f["samples"], dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != net[0].in_features or len(x) == 0:
            fail(f"samples have shape {x.shape}")
        if not np.all(np.isfinite(x)):
            fail("non-finite samples")
        if clamped and (x.min() < lo - 1e-4 * (hi - lo) or x.max() > hi + 1e-4 * (hi - lo)):
            fail(f"clamped samples leave [{lo}, {hi}]: min {x.min()}, max {x.max()}")
        logits, energy = reference(net, scale, shift, x)
        close("sample energy", f["energy"][()], energy)
        same_argmax("sample predicted", f["predicted"][()], logits)
        target = int(f.attrs["class"])
        if target >= 0:
            share = float(np.mean(np.argmax(logits, axis=1) == target))
            print(f"class-conditional on {target}: {share:.0%} of the samples are of it")
            if share <= 0.5:
                fail(f"only {share:.0%} of the samples for class {target} are of class {target}")
    print(f"ok: {len(x)} samples in [{x.min():.3g}, {x.max():.3g}]; energies match PyTorch")


def check_chains(ckpt, path):
    _, scale, shift, _, _ = load_network(ckpt)
    with h5py.File(ckpt, "r") as f:
        chains = np.asarray(f["sampler/chains"], dtype=np.float64)
    with h5py.File(path, "r") as f:
        if int(f.attrs["steps"]) != 0:
            fail(f"{path} was sampled with {int(f.attrs['steps'])} steps; this check needs 0")
        x = np.asarray(f["samples"], dtype=np.float64)
    want = (chains[:len(x)] - shift) / scale
    close("chains in data units", x, want)
    print(f"ok: the {len(x)} samples are the checkpoint's first {len(x)} of "
          f"{len(chains)} chains")


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "dump":
        check_dump(sys.argv[2], sys.argv[3], sys.argv[4],
                   sys.argv[5] if len(sys.argv) > 5 else "test")
    elif len(sys.argv) == 4 and sys.argv[1] == "samples":
        check_samples(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "chains":
        check_chains(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
