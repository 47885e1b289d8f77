"""The session's laid-out run: 6,000 clustered points with a UMAP, a t-SNE and a PCA bookmark.

Its layouts take ~45 CPU-s (the t-SNE alone ~30), so `conftest` starts them as the session
begins, in a child process on one core (`python laid_out.py LOGS`), while the tests before
the first that reads the run go on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from clusters import clustered_matrix

ROWS = 6000  # more than the 5,000 points the page's own UMAP samples
RUN = "layouts"


def laid_out_data() -> tuple[np.ndarray, dict[str, list[str]], np.ndarray]:
    """The run's vectors, its metadata table and the table's `score` column as numbers."""
    vectors, clusters = clustered_matrix(ROWS, 16, clusters=15, seed=2)
    # `score`, the first column of numbers, is what a click on a bookmark colours by
    score = np.linalg.norm(vectors, axis=1)
    table = {"word": [f"w{i}" for i in range(ROWS)], "score": [f"{v:.3f}" for v in score],
             "cluster": [str(c) for c in clusters]}
    return vectors, table, score


def write_laid_out(logs: Path) -> None:
    """`export_embedding(..., layouts=["umap", "tsne", "pca"])` of the run into `logs`."""
    from projector_export import export_embedding

    vectors, table, _ = laid_out_data()
    export_embedding(Path(logs) / RUN, vectors, table, name="final", layouts=["umap", "tsne", "pca"])


if __name__ == "__main__":
    # one core: the tests go on on the other, and UMAP and t-SNE run single-threaded
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    write_laid_out(Path(sys.argv[1]))
