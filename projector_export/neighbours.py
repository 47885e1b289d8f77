"""Nearest neighbours of a point by cosine distance, as the projector's inspector lists them."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.runs import read_run_tensor


@dataclass(frozen=True)
class Neighbour:
    """A point near the query: its row, label and cosine distance (1 - cosine similarity)."""

    row: int
    label: str
    distance: float


def nearest_neighbours(run_dir: str, query: str, k: int = 10, tensor: str | None = None) -> list[Neighbour]:
    """The `k` points nearest to the point labelled `query`, nearest first.

    Args:
        run_dir: a run folder written by projector-export.
        query: a label (first metadata column); without metadata, a row number.
        k: how many neighbours.
        tensor: which tensor of the run (default: the only one, or `final`).

    Example:

    ```python
    from projector_export import nearest_neighbours

    for n in nearest_neighbours("logs/colours-3d/projector", "red", k=5):
        print(n.label, round(n.distance, 3))
    ```
    """
    if k < 1:
        raise ProjectorExportError(f"`k={k}`: ask for at least 1 neighbour")
    run = read_run_tensor(run_dir, tensor)
    labels = run.labels()
    row = _find(query, labels, run.run_dir)

    norms = np.linalg.norm(run.vectors, axis=1)
    norms[norms == 0] = 1.0  # a zero vector is at distance 1 from everything
    unit = run.vectors / norms[:, np.newaxis]
    distances = 1.0 - unit @ unit[row]
    distances[row] = np.inf
    k = min(k, len(labels) - 1)
    nearest = np.argpartition(distances, k - 1)[:k] if k else np.array([], dtype=int)
    nearest = nearest[np.argsort(distances[nearest], kind="stable")]
    return [Neighbour(int(i), labels[i], float(distances[i])) for i in nearest]


def _find(query: str, labels: list[str], run_dir: str) -> int:
    try:
        return labels.index(query)
    except ValueError:
        pass
    close = difflib.get_close_matches(query, labels, n=5)
    hint = f"; did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
    raise ProjectorExportError(f"{run_dir}: no point labelled {query!r}{hint}")
