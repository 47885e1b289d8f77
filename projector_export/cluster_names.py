"""Names for clusters from their members, the `cluster` column, and the table a shell prints.

`name_clusters` names each cluster of `clustering.find_clusters` by its most representative
labels (members near its centre, weighted by how often they occur) or, for labels of several
words, by the words that set it apart; `representative_rows` orders each cluster's rows for
the inspector; `cluster_column` gives the metadata column the projector colours by, within its
50 values; `cluster_table` the sizes and the means of each numeric metadata column. Its
length is the naming rules (which members represent a cluster, words against labels,
subwords as read, names unique and within the page's limit), each a small function.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from projector_export.distances import METRICS, unit_rows
from projector_export.errors import ProjectorExportError

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
    return ids, unit_rows(points) if metric == "cosine" else points, weights


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
