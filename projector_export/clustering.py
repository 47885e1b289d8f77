"""Clusters of every point, named from their members: the computing core of `add_clusters`.

`find_clusters` groups a tensor's rows with scikit-learn's HDBSCAN and marks the
points that belong nowhere as noise; `name_clusters` names each group by its
most representative labels; `cluster_column` gives the metadata column the
projector colours by; `cluster_table` the summary a shell prints. Pure
computation over numpy arrays: no files are read or written here.

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
from projector_export.clustering import cluster_column, find_clusters, name_clusters

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
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from projector_export.arrays import as_matrix, usable_cpus
from projector_export.errors import ProjectorExportError
from projector_export.neighbours import nearest_rows
from projector_export.reductions import EXACT_NEIGHBOURS_POINTS, INSTALL

Progress = Callable[[str], None]

# The projector colours a metadata column by category only while it holds at most this many
# distinct values (NUM_COLORS_COLOR_MAP in vz_projector/data-provider.ts; `analyzeMetadata`
# sets `tooManyUniqueValues` past it). A text column with more is not offered under "Color by".
CATEGORICAL_LIMIT = 50
NOISE_NAME = "(no cluster)"
SMALL_CLUSTERS_NAME = "(small clusters)"
# How many labels (or words) name a cluster, and the separator between them.
NAME_PARTS = 3
NAME_SEPARATOR = " · "
NAME_PART_CHARS = 24

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
METRICS = ("cosine", "euclidean")


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
            imported = importlib.import_module(module)
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
    unit = _unit_rows(points) if metric == "cosine" else points
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


def _unit_rows(points: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    return points / np.where(norms > 0, norms, 1)


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

        unit = _unit_rows(points) if metric == "cosine" else points
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
    from umap.umap_ import nearest_neighbors

    indices, distances, index = nearest_neighbors(
        points, k, metric, {}, False, np.random.RandomState(seed), low_memory=True,
        n_jobs=1 if seed is not None else usable_cpus(),
    )
    return (indices, distances), index


def _umap(points, knn, knn_index, neighbours, metric, seed, report: Progress) -> np.ndarray:
    import umap

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


def name_clusters(
    ids: np.ndarray,
    labels: Sequence[str],
    vectors: np.ndarray,
    *,
    counts: Sequence[float] | np.ndarray | None = None,
    metric: str = "cosine",
    limit: int = CATEGORICAL_LIMIT,
) -> list[str]:
    """A name for each cluster (index = cluster id) from its most representative members.

    A member is representative when it lies near its cluster's centre in the
    original `vectors` and, where `counts` are given, when it is frequent
    (among members near the centre: see `_closeness`). Single-word labels name
    a cluster by its 3 most representative labels (`good · great · best`);
    multi-word labels (`DarkSlateGrey`, `dark slate grey`) by the 3 words that
    most set it apart from the other clusters (class-based TF-IDF). Subword
    labels (`great_`, `<byte 0x41>`) are shown as read (`great`, `A`). Names
    are unique, never empty and never one of the reserved values; when the
    clusters and the noise would give the column more than `limit` distinct
    values, the smallest clusters are all named `SMALL_CLUSTERS_NAME`.

    The centre is measured in the original vectors, not in the UMAP the
    clusters were found in: UMAP keeps neighbours, not distances to a centre,
    and the members nearest its centres are arbitrary (`voxment- · foer` where
    the vectors give `good · great · best`).

    Args:
        ids: each row's cluster (-1 for noise), as `Clusters.ids`.
        labels: each row's label (the first metadata column).
        vectors: (rows, dims) the vectors clustered.
        counts: each row's weight (e.g. occurrences); missing, negative or
            non-finite counts weigh as 0.
        metric: "cosine" (directions: rows scaled to unit length) or "euclidean",
            as given to `find_clusters`.
        limit: the most distinct values the column may hold (the projector's 50).

    Returns:
        One name a cluster, for cluster ids 0, 1, ...

    Example:

    ```python
    names = name_clusters(found.ids, labels, vectors, counts=counts)
    ```
    """
    ids, points, weights = _checked(ids, vectors, counts, metric, labels=labels)
    if limit < 2:
        raise ProjectorExportError(f"`limit={limit}`: the column needs room for at least 2 values")
    clusters = int(ids.max()) + 1 if len(ids) else 0
    if clusters == 0:
        return []
    shown = _readable_labels(labels)
    named = _named_clusters(clusters, limit - int((ids < 0).any()))
    score = _closeness(ids, points, clusters) * weights
    labels_first = [_representative_labels(np.flatnonzero(ids == c), shown, score) for c in range(named)]
    if _multi_word(shown):
        names = _unique_names(_distinguishing_words(ids, shown, weights, clusters, named), labels_first)
    else:
        names = _unique_names(labels_first)
    return names + [SMALL_CLUSTERS_NAME] * (clusters - named)


def representative_rows(
    ids: np.ndarray,
    vectors: np.ndarray,
    *,
    counts: Sequence[float] | np.ndarray | None = None,
    metric: str = "cosine",
) -> list[np.ndarray]:
    """Each cluster's rows, the most representative first (as `name_clusters` ranks them).

    For a bookmark that selects a cluster: the projector's inspector lists the
    first 100 selected points in the order given.

    Example:

    ```python
    rows = representative_rows(found.ids, vectors, counts=counts)[0]  # the largest cluster's rows
    ```
    """
    ids, points, weights = _checked(ids, vectors, counts, metric)
    clusters = int(ids.max()) + 1 if len(ids) else 0
    score = _closeness(ids, points, clusters) * weights
    members = [np.flatnonzero(ids == cluster) for cluster in range(clusters)]
    return [rows[np.lexsort((rows, -score[rows]))] for rows in members]


def _checked(ids, vectors, counts, metric: str, labels: Sequence[str] | None = None):
    """(ids, the vectors as the metric measures them, each row's weight), or a clear error."""
    ids = np.asarray(ids, dtype=np.int64)
    points = np.asarray(vectors, dtype=np.float64)
    rows = len(ids)
    if ids.ndim != 1 or points.ndim != 2 or len(points) != rows or (labels is not None and len(labels) != rows):
        given = f", {len(labels):,} labels" if labels is not None else ""
        raise ProjectorExportError(
            f"one cluster id{' and label' if labels is not None else ''} and one vector a row: "
            f"{rows:,} ids{given}, vectors of shape {points.shape}"
        )
    if metric not in METRICS:
        raise ProjectorExportError(f"`metric={metric}` is not one of {', '.join(METRICS)}")
    weights = np.ones(rows) if counts is None else _weights(counts, rows)
    return ids, _unit_rows(points) if metric == "cosine" else points, weights


def cluster_column(ids: np.ndarray, names: Sequence[str]) -> list[str]:
    """The metadata column: each row's cluster name, `NOISE_NAME` for noise.

    Example:

    ```python
    column = cluster_column(found.ids, name_clusters(found.ids, labels, vectors))
    ```
    """
    values = np.array([*names, NOISE_NAME], dtype=object)
    return values[np.asarray(ids, dtype=np.int64)].tolist()  # -1 picks the last: noise


@dataclass(frozen=True)
class ClusterRow:
    """One line of the clusters' table: a cluster (or the small ones merged, or the noise)."""

    ids: tuple[int, ...]  # the cluster ids it covers; (-1,) for noise
    name: str
    size: int
    means: dict  # {numeric column: mean over the rows with a value}


def cluster_table(
    ids: np.ndarray, names: Sequence[str], header: Sequence[str], rows: Sequence[Sequence[str]]
) -> list[ClusterRow]:
    """Rows of (cluster, size, name, the mean of each numeric metadata column): largest first,
    then the small clusters merged, then the noise.

    A column is numeric when every value it holds reads as a number, as the
    projector decides (empty cells aside), e.g. `sentiment`, `r`, `g`, `b`.

    Args:
        ids: each row's cluster, as `Clusters.ids`.
        names: `name_clusters`' names.
        header: the metadata's column names; rows: its cells (`parse_metadata`).

    Example:

    ```python
    for line in cluster_table(found.ids, names, header, rows):
        print(line.name, line.size, line.means.get("sentiment"))
    ```
    """
    ids = np.asarray(ids, dtype=np.int64)
    if rows and len(rows) != len(ids):
        raise ProjectorExportError(f"the metadata has {len(rows):,} rows and the clusters {len(ids):,}")
    values = _numeric_columns(header, rows)
    groups: dict[str, list[int]] = {}
    for cluster, name in enumerate(names):
        groups.setdefault(name, []).append(cluster)
    table = []
    for name, members in groups.items():
        table.append(_table_row(tuple(members), name, np.isin(ids, members), values))
    if (ids < 0).any():
        table.append(_table_row((-1,), NOISE_NAME, ids < 0, values))
    return table


def _table_row(members: tuple[int, ...], name: str, mask: np.ndarray, values: dict) -> ClusterRow:
    means = {}
    for column, column_values in values.items():
        chosen = column_values[mask]
        chosen = chosen[~np.isnan(chosen)]
        means[column] = float(chosen.mean()) if len(chosen) else math.nan
    return ClusterRow(members, name, int(mask.sum()), means)


_JS_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _numeric_columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    """{column: values as floats (NaN where empty)} for each column whose values are all numbers."""
    columns = {}
    for index, name in enumerate(header):
        cells = [row[index].strip() if index < len(row) else "" for row in rows]
        present = [cell for cell in cells if cell]
        if present and all(_JS_NUMBER.fullmatch(cell) for cell in present):
            columns[name] = np.array([float(cell) if cell else math.nan for cell in cells])
    return columns


def _weights(counts, rows: int) -> np.ndarray:
    try:
        weights = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProjectorExportError("counts must be numbers, one a row") from None
    if weights.shape != (rows,):
        raise ProjectorExportError(f"counts have shape {weights.shape}; give one number a row ({rows:,})")
    weights = np.where(np.isfinite(weights) & (weights > 0), weights, 0)
    # Logarithmic: a word 1,000 times as frequent counts 4 times as much, not 1,000 times,
    # so that frequency picks among members near the centre rather than overruling the centre.
    return 1 + np.log1p(weights)


def _named_clusters(clusters: int, room: int) -> int:
    """How many clusters get names of their own when `room` values are left beside the noise."""
    if clusters <= room:
        return clusters
    return room - 1  # the rest share one value


def _closeness(ids: np.ndarray, points: np.ndarray, clusters: int) -> np.ndarray:
    """Each member's closeness to its cluster's centre: exp(-4 d / the cluster's median d), 1 at
    the centre, 1/55 at the median distance; 0 for noise.

    So steep that a weight (at most about 14 for a count of a million) picks among the members
    near the centre and never brings in one from the edge: in the IMDB run, `good · great ·
    best` rather than the frequent `movie · a · in` that lie farther out.
    """
    closeness = np.zeros(len(ids))
    for cluster in range(clusters):
        members = np.flatnonzero(ids == cluster)
        if not len(members):
            continue
        cluster_points = points[members]
        distance = np.linalg.norm(cluster_points - cluster_points.mean(axis=0), axis=1)
        typical = np.median(distance)
        closeness[members] = np.exp(-4 * distance / typical) if typical > 0 else 1.0
    return closeness


def _representative_labels(members: np.ndarray, shown: list[str], score: np.ndarray) -> list[str]:
    """The cluster's labels, most representative first, each once (labels that read alike too)."""
    order = members[np.lexsort((members, -score[members]))]
    chosen, seen = [], set()
    for row in order:
        label = shown[row]
        key = label.casefold().rstrip("-")  # `excellent-` (a word's start) reads as `excellent`
        if label and key not in seen:
            seen.add(key)
            chosen.append(label)
        if len(chosen) == NAME_PARTS + 3:  # a few spare, to tell apart clusters named alike
            break
    return chosen


_LETTERS = re.compile(r"[^\W\d_]+")


def _words(label: str) -> list[str]:
    """The words of a label, lower case: runs of letters, split where camel case starts a word
    (`DarkSlateGrey2` -> dark, slate, grey; `XMLFile` -> xml, file); digits and marks dropped."""
    words = []
    for run in _LETTERS.findall(label):
        start = 0
        for i in range(1, len(run)):
            if run[i].isupper() and (run[i - 1].islower() or (i + 1 < len(run) and run[i + 1].islower())):
                words.append(run[start:i])
                start = i
        words.append(run[start:])
    return [word.casefold() for word in words]


def _multi_word(shown: list[str]) -> bool:
    """Whether the labels are names of several words (a quarter of them or more)."""
    present = [label for label in shown if label]
    if not present:
        return False
    several = sum(len(_words(label)) >= 2 for label in present)
    return several >= len(present) / 4


def _distinguishing_words(ids, shown, weights, clusters: int, named: int) -> list[list[str]]:
    """The words that most set each cluster apart (class-based TF-IDF), best first.

    A word's weight in a cluster is the summed weight (count) of the members
    that use it, scaled by log(1 + average words a cluster / its weight in all
    clusters): frequent in this cluster, rare in the others. Every member
    counts, not only those near the centre: a word is distinguishing when
    the cluster uses it throughout.
    """
    weight: list[Counter] = [Counter() for _ in range(clusters)]
    for row in np.flatnonzero(ids >= 0):
        for word in set(_words(shown[row])):
            weight[ids[row]][word] += weights[row]
    total = Counter()
    for counter in weight:
        total.update(counter)
    average = sum(total.values()) / clusters
    parts = []
    for cluster in range(named):
        ranked = sorted(
            weight[cluster].items(),
            key=lambda item: (-item[1] * math.log(1 + average / total[item[0]]), item[0]),
        )
        parts.append([word for word, _ in ranked[: NAME_PARTS + 3]])
    return parts


def _unique_names(parts: list[list[str]], fallback: list[list[str]] | None = None) -> list[str]:
    """Names of up to `NAME_PARTS` parts, unique: clusters named alike get their next parts,
    then their `fallback` parts (their labels, where `parts` are words), then a number."""
    if fallback is not None:  # no word at all (labels without letters): the labels
        parts = [p or f for p, f in zip(parts, fallback)]
    parts = [[_shortened(part) for part in p] for p in parts]
    size = [min(NAME_PARTS, len(p)) for p in parts]

    def clashes() -> list[int]:
        names = [NAME_SEPARATOR.join(p[:n]) for p, n in zip(parts, size)]
        repeated = Counter(names)
        return [i for i, name in enumerate(names) if repeated[name] > 1]

    for round_ in range(4):
        if round_ == 3 and fallback is not None:
            for i in clashes():
                parts[i] = [_shortened(part) for part in fallback[i]]
                size[i] = min(NAME_PARTS, len(parts[i]))
        longer = [i for i in clashes() if size[i] < len(parts[i])]
        for i in longer:
            size[i] += 1
    unique, seen = [], {NOISE_NAME, SMALL_CLUSTERS_NAME}
    for i, (p, n) in enumerate(zip(parts, size)):
        name = NAME_SEPARATOR.join(p[:n]) or f"cluster {i}"
        candidate, number = name, 2
        while candidate in seen:
            candidate, number = f"{name} ({number})", number + 1
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _shortened(part: str) -> str:
    """A label short enough for the projector's legend: at most `NAME_PART_CHARS` characters."""
    return part if len(part) <= NAME_PART_CHARS else part[: NAME_PART_CHARS - 1].rstrip() + "…"


# Labels of a subword vocabulary (tfds's SubwordTextEncoder, as the IMDB run exports them).
_BYTE = re.compile(r"<byte 0x([0-9a-fA-F]{2})>")


def _readable_labels(labels: Sequence[str]) -> list[str]:
    """The labels as a person reads them, whitespace tidied; subwords as words when the labels
    are a subword vocabulary (`great_` -> `great`, `<byte 0x41>` -> `A`, a word's start `gre` -> `gre-`)."""
    raw = [str(label) for label in labels]
    if _subword_vocabulary(raw):
        raw = [_readable_subword(label) for label in raw]
    return [" ".join(label.split()) for label in raw]


def _subword_vocabulary(labels: list[str]) -> bool:
    """Whether a third of the labels or more end a word with `_` or are byte tokens, as the
    labels of tfds's SubwordTextEncoder (where a trailing `_` ends a word) are."""
    if not labels:
        return False
    marked = sum(label.endswith("_") or bool(_BYTE.fullmatch(label)) for label in labels)
    return marked >= len(labels) / 3


def _readable_subword(label: str) -> str:
    byte = _BYTE.fullmatch(label)
    if byte:
        value = int(byte[1], 16)
        return chr(value) if 0x21 <= value < 0x7F else label  # printable ASCII as itself
    if label.endswith("_") and label.strip("_ "):
        return label[:-1]
    if label[-1:].isalnum():
        return label + "-"  # the start of a longer word
    return label
