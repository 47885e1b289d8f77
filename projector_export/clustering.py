"""Clusters of every point: the computing core of `add_clusters` (`cluster_names` names them).

`find_clusters` groups a tensor's rows with scikit-learn's HDBSCAN and marks the
points that belong nowhere as noise. Pure computation over numpy arrays: no files
are read or written here. A fifth of the module is the measurement below, which
the numbers in the code rest on.

The method, chosen by measurement (`python benchmarks/clusters.py --only compare`;
adjusted Rand index on points in a true cluster and a found one / share of true noise
marked; 10 blobs + 10% noise, 40 awkward clusters + 3% noise, both 20,000 x 64):

* **Groups**: HDBSCAN (excess of mass) on a 5-D UMAP of the vectors (n_neighbors 15,
  min_dist 0, 100 epochs). UMAP separates touching groups that HDBSCAN on the raw vectors
  merges (0.967 against 0.907 on the awkward clusters; PCA to 10-D: 0.896); 8 and 10
  dimensions did no better than 5 (0.968), nor did 200 or 500 epochs than 100.
* **Noise**: UMAP pulls every point towards its neighbours, so points that belong nowhere
  end up inside groups (0.0% and 0.0% of the true noise marked). Density in the original
  space tells them apart: HDBSCAN on the vectors' own 15-nearest-neighbour graph marks
  96.7% and 93.8% (HDBSCAN on every pair of vectors: 98.5%, 100%, in 36-42 s), and a
  point it calls noise is noise in the result. Where groups are as sparse as the noise
  (the 16-D stand-in of the IMDB run), it takes their sparse members too: 30% of them.
* Both passes run HDBSCAN on a nearest-neighbour graph (`_graph_hdbscan`), which gives
  its clusters on every pair (adjusted Rand index 0.99 to 1 between the two) in seconds:
  100,000 x 64 takes 10 s beyond its UMAP on 2 cores, where scikit-learn's search of the
  spanning tree over every pair takes minutes.
* Vectors of 5 or fewer columns, or fewer than 50 rows, are clustered as they are,
  without UMAP.

Example:

```python
from projector_export.cluster_names import cluster_column, name_clusters
from projector_export.clustering import find_clusters

found = find_clusters(vectors, seed=0)
names = name_clusters(found.ids, labels, vectors, counts=counts)
column = cluster_column(found.ids, names)  # one value per row: a name, or "(no cluster)"
```
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from projector_export.arrays import as_matrix
from projector_export.distances import METRICS, nearest_rows, unit_rows
from projector_export.errors import ProjectorExportError
from projector_export.machine import usable_cpus
from projector_export.reductions import EXACT_NEIGHBOURS_POINTS, INSTALL, import_library, import_umap

Progress = Callable[[str], None]

# The method (see the module's docstring for the measurements behind each number).
UMAP_DIMS = 5
UMAP_NEIGHBOURS = 15
# Clusters come out the same after 50, 100, 200 or 500 epochs (umap-learn's defaults are 500 up
# to 10,000 points, 200 above); a layout for the eye needs more than one for HDBSCAN.
UMAP_EPOCHS = 100
MIN_UMAP_POINTS = 50
MAX_MIN_SAMPLES = 15
# HDBSCAN's graph holds this many times `min_samples` neighbours of each point.
HDBSCAN_NEIGHBOURS = 4
KD_TREE_DIMS = 16


@dataclass(frozen=True)
class Clusters:
    """Every point's cluster and how they were found.

    Attributes:
        ids: (rows,) int64: each row's cluster, 0 the largest, -1 for noise.
        sizes: (clusters,) int64: the rows of each cluster, largest first.
        space: (rows, dims) float32: the points HDBSCAN grouped (the UMAP, or
            the vectors themselves, unit length for cosine).
        reduction: "umap" or "none".
        metric: "cosine" or "euclidean", between the original vectors.
        min_size: HDBSCAN's `min_cluster_size`: the fewest rows of a cluster.
        min_samples: HDBSCAN's `min_samples` (the density's neighbourhood).
        n_neighbors: UMAP's neighbourhood, also that of the noise pass (0 when neither ran).
        seed: UMAP's seed (None: not reproducible, and faster on several cores).
        seconds: time of each stage: "neighbours", "umap", "hdbscan".
    """

    ids: np.ndarray
    sizes: np.ndarray
    space: np.ndarray
    reduction: str
    metric: str
    min_size: int
    min_samples: int
    n_neighbors: int
    seed: int | None
    seconds: dict = field(default_factory=dict)

    @property
    def count(self) -> int:
        """How many clusters were found."""
        return len(self.sizes)

    @property
    def noise(self) -> int:
        """How many rows belong to no cluster."""
        return int((self.ids < 0).sum())

    def describe(self) -> str:
        """One line saying what was run, e.g. for a bookmark or a log."""
        hdbscan = f"HDBSCAN (min_cluster_size {self.min_size}, min_samples {self.min_samples})"
        if self.reduction == "umap":
            where = f"a {self.space.shape[1]}-D UMAP ({self.metric}, n_neighbors {self.n_neighbors}, min_dist 0)"
            noise = f"; noise by density among each point's {self.n_neighbors} nearest {self.metric} neighbours"
        else:
            where = "the vectors" + (" scaled to unit length (cosine)" if self.metric == "cosine" else "")
            noise = ""
        return f"{hdbscan} on {where}{noise}: {self.count} clusters, {self.noise:,} of {len(self.ids):,} points noise"


def default_min_size(rows: int) -> int:
    """The fewest members of a cluster for `rows` points: half the square root, at least 5.

    About 12 for 550 colours, 45 for 8,185 tokens, 158 for 100,000 points:
    clusters grow with the data without a large set losing its small groups.
    """
    return max(5, round(math.sqrt(rows) / 2))


def installed() -> bool:
    """Whether the libraries `find_clusters` needs (scikit-learn 1.3+ and umap-learn) are
    installed, without importing them."""
    if importlib.util.find_spec("umap") is None or importlib.util.find_spec("sklearn") is None:
        return False
    try:
        major, minor = (int(part) for part in importlib.metadata.version("scikit-learn").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (1, 3)


def require_libraries() -> None:
    """Raise a `ProjectorExportError` saying what to install when scikit-learn's HDBSCAN
    (scikit-learn 1.3 or later) or umap-learn is missing."""
    for module, package in (("sklearn.cluster", "scikit-learn 1.3 or later"), ("umap", "umap-learn")):
        try:
            imported = import_library(module)
        except ImportError:
            imported = None
        if imported is None or (module == "sklearn.cluster" and not hasattr(imported, "HDBSCAN")):
            raise ProjectorExportError(
                f"clustering needs {package}, which is not installed; "
                f"install the layout libraries with: {INSTALL}"
            )


def find_clusters(
    vectors: np.ndarray,
    *,
    min_size: int | None = None,
    seed: int | None = None,
    metric: str = "cosine",
    progress: Progress | None = None,
) -> Clusters:
    """Cluster every row of `vectors` with HDBSCAN; rows that belong nowhere get -1.

    Args:
        vectors: (rows, dims) numbers, finite.
        min_size: the fewest rows a cluster may have (default: `default_min_size(rows)`).
        seed: makes the result reproducible; UMAP then runs on one thread.
        metric: "cosine" (the projector's default) or "euclidean" (for
            embeddings trained on distances, such as the colour runs).
        progress: called with a short description of each stage.

    Returns:
        `Clusters`, numbered by size: 0 is the largest.

    Raises:
        ProjectorExportError: a value that is not finite, fewer rows than
            `min_size`, a bad setting, or scikit-learn/umap-learn missing.

    Example:

    ```python
    found = find_clusters(vectors, min_size=20, seed=0)
    print(found.describe())
    ```
    """
    report = progress or (lambda stage: None)
    points = as_matrix(vectors)
    rows = len(points)
    if metric not in METRICS:
        raise ProjectorExportError(f"`metric={metric}` is not one of {', '.join(METRICS)}")
    if min_size is None:
        min_size = default_min_size(rows)
    if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)) or min_size < 2:
        raise ProjectorExportError(f"`min_size={min_size}`: a cluster needs at least 2 points; give 2 or more")
    min_size = int(min_size)
    if rows < min_size:
        raise ProjectorExportError(
            f"the tensor has {rows:,} points, fewer than the {min_size:,} of one cluster (`min_size={min_size}`); "
            f"give a smaller `min_size=`, at least 2"
        )
    require_libraries()
    min_samples = min(min_size, MAX_MIN_SAMPLES, rows - 1)
    unit = unit_rows(points) if metric == "cosine" else points
    if rows == 1 or not np.any(unit != unit[0]):
        # One point repeated (all-zero rows included): one cluster, nothing to search.
        return Clusters(np.zeros(rows, dtype=np.int64), np.array([rows]), unit, "none", metric,
                        min_size, min_samples, 0, seed, {})
    seconds: dict[str, float] = {}
    if points.shape[1] <= UMAP_DIMS or rows < MIN_UMAP_POINTS:
        report(f"HDBSCAN of {rows:,} points")
        start = time.perf_counter()
        ids = _hdbscan(unit, min_size, min_samples)
        seconds["hdbscan"] = time.perf_counter() - start
        return _result(ids, unit, "none", metric, min_size, min_samples, 0, seed, seconds)

    neighbours = min(UMAP_NEIGHBOURS, rows - 1)
    report(f"nearest neighbours of {rows:,} points")
    start = time.perf_counter()
    knn, knn_index = _nearest(points, neighbours + 1, metric, seed)
    seconds["neighbours"] = time.perf_counter() - start
    start = time.perf_counter()
    space = _umap(points, knn, knn_index, neighbours, metric, seed, report)
    seconds["umap"] = time.perf_counter() - start
    report(f"HDBSCAN of {rows:,} points")
    start = time.perf_counter()
    ids = _hdbscan(space, min_size, min_samples)
    noise = _graph_hdbscan(*knn, min(min_samples, neighbours), min(min_samples, neighbours)) < 0
    seconds["hdbscan"] = time.perf_counter() - start
    ids[noise] = -1
    return _result(ids, space, "umap", metric, min_size, min_samples, neighbours, seed, seconds)


def _result(ids, space, reduction, metric, min_size, min_samples, neighbours, seed, seconds) -> Clusters:
    """Clusters renumbered by size (0 the largest); those the noise pass left under `min_size` become noise."""
    ids = np.asarray(ids, dtype=np.int64)
    labels, first, sizes = np.unique(ids[ids >= 0], return_index=True, return_counts=True)
    keep = sizes >= min_size
    labels, first, sizes = labels[keep], first[keep], sizes[keep]
    order = np.lexsort((first, -sizes))  # largest first; equal sizes in order of their first row
    renumber = np.full(int(ids.max()) + 2 if len(ids) else 1, -1, dtype=np.int64)
    renumber[labels[order]] = np.arange(len(order))
    ids = np.where(ids >= 0, renumber[ids], -1)
    return Clusters(ids, sizes[order].astype(np.int64), np.ascontiguousarray(space, dtype=np.float32), reduction,
                    metric, min_size, min_samples, neighbours, seed, seconds)


def _hdbscan(space: np.ndarray, min_size: int, min_samples: int) -> np.ndarray:
    """HDBSCAN's clusters of low-dimensional points, on the graph of each point's
    `HDBSCAN_NEIGHBOURS` x `min_samples` nearest (in seconds for 100,000 points, where
    scikit-learn's own search of the spanning tree over every pair takes minutes)."""
    from scipy.spatial import cKDTree

    k = min(len(space), HDBSCAN_NEIGHBOURS * min_samples + 1)
    distances, indices = cKDTree(space).query(space, k=k, workers=usable_cpus())
    return _graph_hdbscan(indices, distances, min_size, min_samples)


def _nearest(points: np.ndarray, k: int, metric: str, seed: int | None):
    """Each row's `k` nearest rows, itself first, as `(indices, distances)`, and the search index
    umap-learn may keep (None).

    Exact, by a k-d tree up to `KD_TREE_DIMS` columns (0.7 s for 8,185 x 16, where comparing
    every pair takes 2.5 s; past about 20 columns a k-d tree is slower than that), then by
    every pair up to `EXACT_NEIGHBOURS_POINTS` rows; above, pynndescent's, as umap-learn finds them.
    """
    if points.shape[1] <= KD_TREE_DIMS:
        from scipy.spatial import cKDTree

        unit = unit_rows(points) if metric == "cosine" else points
        distances, indices = cKDTree(unit).query(unit, k=k, workers=usable_cpus())
        if metric == "cosine":
            distances = distances**2 / 2  # 1 - cos between unit vectors
        rows = np.arange(len(points))
        # Duplicates are as near as the row itself: put the row first.
        own = np.argmax(indices == rows[:, None], axis=1)
        own[indices[rows, own] != rows] = 0
        indices[rows, own], distances[rows, own] = indices[:, 0], distances[:, 0]
        indices[:, 0], distances[:, 0] = rows, 0
        return (indices, distances.astype(np.float32)), None
    if len(points) <= EXACT_NEIGHBOURS_POINTS:
        return nearest_rows(points, k, metric), None
    indices, distances, index = import_umap().umap_.nearest_neighbors(
        points, k, metric, {}, False, np.random.RandomState(seed), low_memory=True,
        n_jobs=1 if seed is not None else usable_cpus(),
    )
    return (indices, distances), index


def _umap(points, knn, knn_index, neighbours, metric, seed, report: Progress) -> np.ndarray:
    umap = import_umap()

    report(f"UMAP ({UMAP_DIMS}-D) of {len(points):,} points")
    indices, distances = knn
    model = umap.UMAP(
        precomputed_knn=(indices[:, :neighbours], distances[:, :neighbours], knn_index),
        n_components=UMAP_DIMS,
        n_neighbors=neighbours,
        min_dist=0.0,  # packed clusters: the layout is for HDBSCAN, not for the eye
        n_epochs=UMAP_EPOCHS,
        metric=metric,
        random_state=seed,
        n_jobs=1 if seed is not None else usable_cpus(),
        low_memory=True,
        verbose=False,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*overridden to 1 by setting random_state.*")
        warnings.filterwarnings("ignore", message=".*knn_search_index.*is not an NNDescent object.*")
        space = model.fit_transform(points)
    space = np.asarray(space, dtype=np.float32)
    if not np.isfinite(space).all():
        raise ProjectorExportError(
            "the UMAP for clustering came out with non-finite coordinates; "
            "check the vectors for duplicates or zero rows, or try another `seed=`"
        )
    return space


def _graph_hdbscan(indices: np.ndarray, distances: np.ndarray, min_size: int, min_samples: int) -> np.ndarray:
    """HDBSCAN (excess of mass) on a nearest-neighbour graph: each point's cluster, -1 for noise.

    The density of a point is the distance to its `min_samples`-th nearest (itself the first,
    as scikit-learn counts on dense input), which the graph holds; groups the graph leaves
    apart are joined at a distance larger than any in it, so they stay apart. On the data
    sets measured it gives HDBSCAN's clusters on every pair (adjusted Rand index 0.99 to 1
    between the two) in a fraction of the time.
    """
    from scipy import sparse
    from scipy.sparse import csgraph
    from sklearn.cluster import HDBSCAN

    rows, k = indices.shape
    sources = np.repeat(np.arange(rows), k)
    targets = indices.ravel()
    # pynndescent marks missing neighbours -1; each point is left out of its own row
    valid = (targets >= 0) & (targets != sources)
    # An absent entry of a sparse matrix means "no edge": identical rows keep a tiny distance.
    weights = np.maximum(distances.ravel()[valid].astype(np.float64), 1e-12)
    graph = sparse.csr_matrix((weights, (sources[valid], targets[valid])), shape=(rows, rows))
    graph = graph.maximum(graph.T).tocsr()
    parts, part = csgraph.connected_components(graph, directed=False)
    if parts > 1:
        firsts = np.unique(part, return_index=True)[1]
        far = np.full(parts - 1, 2 * float(graph.data.max()) + 1)
        bridges = sparse.csr_matrix((far, (firsts[1:], np.full(parts - 1, firsts[0]))), shape=(rows, rows))
        graph = graph.maximum(bridges).maximum(bridges.T).tocsr()
    # On a sparse matrix scikit-learn counts neighbours without the point itself.
    model = HDBSCAN(min_cluster_size=min_size, min_samples=max(1, min_samples - 1), metric="precomputed", copy=True)
    return model.fit_predict(graph)
