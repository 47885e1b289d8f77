"""Clustered embeddings with the awkward structure of real ones, and a measure of kept neighbourhoods.

For the layout tests and `benchmarks/layouts.py`.
"""

from __future__ import annotations

import numpy as np


def clustered_matrix(rows: int, dims: int, clusters: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows, dims) float32 vectors and each row's cluster (-1 for noise).

    Gaussian clusters of very different sizes (Dirichlet shares), spreads
    (0.3x to 3x) and shapes (each stretched along a few random directions),
    some centres close to each other, in a random order, and 3% of the points
    spread over the whole space as noise: what UMAP and t-SNE must separate,
    and where a sample of a few thousand points misses the small clusters.
    """
    rng = np.random.default_rng(seed)
    noise = rows * 3 // 100
    shares = rng.dirichlet(np.full(clusters, 0.6))
    sizes = np.maximum(np.round(shares * (rows - noise)).astype(int), 5)
    sizes[np.argmax(sizes)] -= sizes.sum() - (rows - noise)
    centres = rng.normal(size=(clusters, dims)) * 4.0
    near = rng.choice(clusters, size=clusters // 4, replace=False)  # some pairs of neighbouring clusters
    centres[near] = centres[(near + 1) % clusters] + rng.normal(size=(len(near), dims)) * 1.5
    vectors = np.empty((rows, dims), dtype=np.float32)
    labels = np.full(rows, -1)
    start = 0
    for cluster, size in enumerate(sizes):
        spread = rng.uniform(0.3, 3.0)
        stretch = rng.normal(size=(3, dims)) * rng.uniform(0.5, 2.0)
        points = rng.normal(size=(size, dims)) * spread + rng.normal(size=(size, 3)) @ stretch
        vectors[start : start + size] = centres[cluster] + points
        labels[start : start + size] = cluster
        start += size
    vectors[start:] = rng.uniform(-10, 10, size=(rows - start, dims))
    order = rng.permutation(rows)
    return vectors[order], labels[order]


def knn_preservation(
    original: np.ndarray, layout: np.ndarray, k: int = 10, *, metric: str = "cosine",
    queries: np.ndarray | None = None,
) -> float:
    """Share of each point's `k` nearest neighbours in `original` that stay among its `k` nearest
    in `layout` (euclidean there), averaged over `queries` (default: every point).

    `metric` is the original space's distance; `cosine` is the projector's own.
    About k / N for a random layout, 1.0 for a perfect one. Exact, in blocks.
    """
    queries = np.arange(len(original)) if queries is None else np.asarray(queries)
    x = np.asarray(original, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms > 0, norms, 1)
    y = np.asarray(layout, dtype=np.float32)
    kept = 0
    for start in range(0, len(queries), 2048):
        block = queries[start : start + 2048]
        near_x = _nearest(x, block, k)
        near_y = _nearest(y, block, k)
        kept += sum(len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(near_x, near_y))
    return kept / (len(queries) * k)


def _nearest(points: np.ndarray, block: np.ndarray, k: int) -> np.ndarray:
    squared = (points * points).sum(axis=1)
    distances = squared[block, None] - 2 * points[block] @ points.T + squared[None, :]
    distances[np.arange(len(block)), block] = np.inf
    return np.argpartition(distances, k, axis=1)[:, :k]
