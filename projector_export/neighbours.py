"""Nearest neighbours of a point, as the projector's inspector lists them (cosine or Euclidean)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from projector_export.distances import METRICS, nearest_rows
from projector_export.errors import ProjectorExportError
from projector_export.read import read_embedding


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


def _find(query: str, labels: list[str], run_dir: str) -> int:
    try:
        return labels.index(query)
    except ValueError:
        pass
    close = difflib.get_close_matches(query, labels, n=5)
    hint = f"; did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
    raise ProjectorExportError(f"{run_dir}: no point labelled {query!r}{hint}")
