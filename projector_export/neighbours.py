"""Nearest neighbours of a point, as the projector's inspector lists them (cosine or Euclidean)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.read import read_embedding

# The inspector's two distances (vz_projector/vector.ts): `cosDist` is 1 - cosine
# similarity, `dist` the Euclidean distance. Cosine is its default.
METRICS = ("cosine", "euclidean")


@dataclass(frozen=True)
class Neighbour:
    """A point near the query: its row, label and distance (cosine: 1 - cosine similarity)."""

    row: int
    label: str
    distance: float


def nearest_neighbours(
    run_dir: str, query: str, k: int = 10, tensor: str | None = None, metric: str = "cosine"
) -> list[Neighbour]:
    """The `k` points nearest to the point labelled `query`, nearest first.

    Args:
        run_dir: a run folder written by projector-export.
        query: a label (first metadata column); without metadata, a row number.
        k: how many neighbours.
        tensor: which tensor of the run (default: the only one, or `final`).
        metric: "cosine" (the projector's default) or "euclidean". Use Euclidean
            for embeddings trained on distances, such as the colour model.

    Example:

    ```python
    from projector_export import nearest_neighbours

    for n in nearest_neighbours("logs/colours-3d/projector", "red", k=5, metric="euclidean"):
        print(n.label, round(n.distance, 3))
    ```
    """
    return nearest_neighbours_of_each(run_dir, [query], k=k, tensor=tensor, metric=metric)[query]


def nearest_neighbours_of_each(
    run_dir: str, queries: Sequence[str], k: int = 10, tensor: str | None = None, metric: str = "cosine"
) -> dict[str, list[Neighbour]]:
    """`nearest_neighbours` for several queries, reading the run once: {query: neighbours}."""
    if metric not in METRICS:
        raise ProjectorExportError(f"`metric={metric}` is not one of {', '.join(METRICS)}")
    if k < 1:
        raise ProjectorExportError(f"`k={k}`: ask for at least 1 neighbour")
    run = read_embedding(run_dir, tensor)
    labels = run.labels()
    rows = {query: _find(query, labels, run.run_dir) for query in queries}
    vectors = run.vectors.astype(np.float64)
    # each query's k nearest after itself
    indices, distances = nearest_rows(vectors, min(k, len(labels) - 1) + 1, metric, rows=list(rows.values()))
    return {
        query: [Neighbour(int(i), labels[i], float(d)) for i, d in zip(indices[n, 1:], distances[n, 1:])]
        for n, query in enumerate(rows)
    }


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


def _find(query: str, labels: list[str], run_dir: str) -> int:
    try:
        return labels.index(query)
    except ValueError:
        pass
    close = difflib.get_close_matches(query, labels, n=5)
    hint = f"; did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
    raise ProjectorExportError(f"{run_dir}: no point labelled {query!r}{hint}")
