"""Gaussian blobs of unequal sizes and spreads with uniform noise: a clustering's known answer.

For `tests/test_clusters.py` and `benchmarks/clusters.py`.
"""

from __future__ import annotations

import numpy as np


def noisy_blobs(
    rows: int = 20_000, dims: int = 64, blobs: int = 10, *, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, dims) float32 vectors and each row's blob (-1 for noise), in a random order.

    Blob sizes are Dirichlet shares (the largest about 10 times the smallest, none
    under 2% of the points), spreads 0.5 to 2 around centres drawn at random (so
    their distances vary); `noise` of the rows lie uniformly in the box that holds
    every blob, belonging to none.
    """
    rng = np.random.default_rng(seed)
    noisy = round(rows * noise)
    shares = 0.02 + 0.98 * rng.dirichlet(np.full(blobs, 1.5))
    sizes = np.floor(shares / shares.sum() * (rows - noisy)).astype(int)
    sizes[np.argmax(sizes)] += rows - noisy - sizes.sum()
    centres = rng.normal(size=(blobs, dims)) * 3.0
    spreads = rng.uniform(0.5, 2.0, size=blobs)
    parts = [centres[b] + rng.normal(size=(size, dims)) * spreads[b] for b, size in enumerate(sizes)]
    points = np.concatenate(parts)
    low, high = points.min(axis=0), points.max(axis=0)
    vectors = np.concatenate([points, rng.uniform(low, high, size=(noisy, dims))]).astype(np.float32)
    truth = np.concatenate([np.repeat(np.arange(blobs), sizes), np.full(noisy, -1)])
    order = rng.permutation(rows)
    return vectors[order], truth[order]
