"""Distances between the rows of a tensor as the projector's inspector measures them, and the
exact nearest rows by them (for `neighbours`, and for UMAP and HDBSCAN of up to 30,000 points)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The inspector's two distances (vz_projector/vector.ts): `cosDist` is 1 - cosine
# similarity, `dist` the Euclidean distance. Cosine is its default.
METRICS = ("cosine", "euclidean")


def unit_rows(points: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero): cosine distance as Euclidean."""
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    return points / np.where(norms > 0, norms, 1)


def nearest_rows(
    vectors: np.ndarray,
    k: int,
    metric: str,
    *,
    rows: Sequence[int] | None = None,
    block_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest rows of each of `rows` (default: all), itself first, by exact cosine or
    Euclidean distance: `(indices (len(rows), k) int64, distances (len(rows), k))`, computed in
    the vectors' float type, as umap-learn's `precomputed_knn` also takes them.

    The distances are computed `block_rows` rows at a time (default: 128 MB of them).
    """
    x = np.asarray(vectors)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms > 0, norms, 1)  # a zero vector is at distance 1 from everything
    squares = (x * x).sum(axis=1)
    queries = np.arange(len(x)) if rows is None else np.asarray(rows, dtype=np.int64)
    indices = np.empty((len(queries), k), dtype=np.int64)
    distances = np.empty((len(queries), k), dtype=x.dtype)
    block = block_rows or max(1, 2**25 // max(len(x), 1))
    for start in range(0, len(queries), block):
        own = queries[start : start + block]
        dot = x[own] @ x.T
        if metric == "cosine":
            far = 1 - dot
        else:
            far = np.sqrt(np.maximum(squares[own, None] + squares[None, :] - 2 * dot, 0))
        far[np.arange(len(own)), own] = -1  # each row is its own first neighbour
        nearest = np.argpartition(far, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(far, nearest, axis=1)
        order = np.argsort(near, axis=1, kind="stable")
        indices[start : start + len(own)] = np.take_along_axis(nearest, order, axis=1)
        distances[start : start + len(own)] = np.maximum(np.take_along_axis(near, order, axis=1), 0)
    return indices, distances
