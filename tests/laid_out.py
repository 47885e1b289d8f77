"""The session's two runs that take long to write, in a child process on one core.

First the clustered run (6,000 points with named clusters, ~10 CPU-s, which the browser
test of clusters reads), then the laid-out run (6,000 clustered points with a UMAP, a t-SNE
and a PCA bookmark: ~45 CPU-s, the t-SNE alone ~30). `conftest` starts them as the session
begins (`python laid_out.py CLUSTERED LAID_OUT`), while the tests before the first that
reads each run go on.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np

from clusters import clustered_matrix

ROWS = 6000  # more than the 5,000 points the page's own UMAP samples
RUN = "layouts"
CLUSTERED_RUN = "groups"
CLUSTERS_RESULT = "clusters-result.pickle"  # beside the log dir, once the clustered run is whole


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


def write_clustered(folder: Path) -> None:
    """`folder/logs/groups`: 6,000 points in 8 clusters with a PCA bookmark, then `add_clusters`;
    `add_clusters`' result is pickled to `folder/CLUSTERS_RESULT` last, which says the run is done."""
    from projector_export import add_clusters, export_embedding

    vectors, _ = clustered_matrix(ROWS, 16, clusters=8, seed=4)
    run = Path(folder) / "logs" / CLUSTERED_RUN
    export_embedding(run, vectors, {"word": [f"w{i}" for i in range(ROWS)]}, name="final", layouts=["pca"])
    result = add_clusters(run, seed=0, bookmarks=3)
    partial = Path(folder) / (CLUSTERS_RESULT + ".partial")
    partial.write_bytes(pickle.dumps(result))
    partial.rename(Path(folder) / CLUSTERS_RESULT)


if __name__ == "__main__":
    # one core: the tests go on on the other, and UMAP and t-SNE run single-threaded
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    write_clustered(Path(sys.argv[1]))
    write_laid_out(Path(sys.argv[2]))
