"""The work of one epoch: the seed preset's shapes and the analytic FLOP
count of the matrix products the training step calls."""

# The seed preset's shapes (docs/design.md section 1): D=64, H=512, K=10, batch 64,
# 20 Langevin steps, 1257 training images.
SEED = dict(d=64, h=512, k=10, examples=1257, batch=64, langevin=20)


def epoch_gflop(d, h, k, examples, langevin, **_):
    """Matrix-product FLOPs of one epoch (2 m n k per product).

    With P = D H + H H + H H + H K (sum of in*out over the layers), per
    example: Langevin steps S x (forward 2P + input gradient 2P); training
    step on 2 rows (data and sample) x (forward 2P + weight gradient 2P +
    input gradient of layers 3..1, 2(P - D H))."""
    p = d * h + 2 * h * h + h * k
    per_example = langevin * 4 * p + 2 * (6 * p - 2 * d * h)
    return examples * per_example * 1e-9

