"""Named clusters of every point, added to a run: a `cluster` column to colour by, a bookmark per cluster.

`add_clusters` groups every row of a run's tensor (`clustering.find_clusters`: HDBSCAN on
a UMAP of the vectors, points that belong nowhere marked as noise), names each group
from its members (`clustering.name_clusters`) and writes into the run, as one change
under its lock:

* a metadata column `cluster` holding each point's cluster name, which the projector
  offers in its "Color by" menu: it offers a column of text only up to 50 distinct
  values (`NUM_COLORS_COLOR_MAP` in `data-provider.ts`), so the smallest clusters share
  one value when there are more;
* a bookmark per cluster (the largest `bookmarks` of them): the run's layout with the
  cluster's points selected (the inspector lists them, the most representative first)
  and the points coloured by cluster. The layout is the tensor's UMAP bookmark, computed
  when it has none (a PCA for vectors of at most 3 columns, which it shows exactly).

Example:

```python
from projector_export import add_clusters

result = add_clusters("logs/imdb/projector")
for row in result.table[:5]:
    print(row.size, row.name)  # e.g. 412 good · great · best
```
"""

from __future__ import annotations

import json
import os
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from projector_export.cluster_names import ClusterRow, cluster_column, cluster_table, name_clusters, representative_rows
from projector_export.clustering import find_clusters, require_libraries
from projector_export.errors import ProjectorExportError
from projector_export.format.bookmarks import ORIGIN_FIELD, state_text
from projector_export.format.metadata import escape_label
from projector_export.format.page_columns import view_columns
from projector_export.reductions import Layout

CLUSTER_COLUMN = "cluster"
MAX_BOOKMARKS = 30
# The cluster bookmarks repeat the layout's coordinates for every point; past this many
# bytes of them, fewer clusters get one (a 100,000-point run gets about ten).
BOOKMARK_BUDGET = 96 << 20
_KEPT_KEYS = ("umap-0", "umap-1", "umap-2", "pca-0", "pca-1", "pca-2", "linear-x", "linear-y")


@dataclass(frozen=True)
class ClustersResult:
    """The clusters added to a run: each row's cluster, the table a shell prints, where they went."""

    run_dir: str
    tensor: str
    ids: np.ndarray  # each row's cluster, -1 for noise; 0 is the largest
    names: tuple[str, ...]  # each cluster's name, by id
    table: tuple[ClusterRow, ...]  # largest first, then the small ones merged, then the noise
    method: str  # what was run, for a person: `clustering.Clusters.describe`
    bookmarks: int  # cluster bookmarks written
    metadata_path: str
    bookmarks_path: str
    checkpoint_prefix: str  # the run's checkpoint after the change (its number went up)
    out_path: str | None
    seconds: float

    @property
    def clusters(self) -> int:
        return len(self.names)

    @property
    def noise(self) -> int:
        return int((self.ids < 0).sum())


def add_clusters(
    run_dir: str,
    *,
    tensor: str | None = None,
    min_size: int | None = None,
    seed: int | None = None,
    metric: str = "cosine",
    bookmarks: int = MAX_BOOKMARKS,
    out: str | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ClustersResult:
    """Cluster every point of a run's tensor and add the clusters to the run: a `cluster` column and
    a bookmark per cluster.

    Running it again replaces the column and the cluster bookmarks it wrote, and keeps
    everything else. The run is changed as a whole, under its lock: a failure or a kill
    leaves it as it was.

    Args:
        run_dir: a run folder written by projector-export.
        tensor: which tensor (default: the only one, or `final`).
        min_size: the fewest points a cluster has (default: about half the square
            root of the rows, at least 5).
        seed: reproducible clusters (UMAP then runs on one thread).
        metric: `cosine` (the projector's) or `euclidean` (for embeddings trained on
            distances, such as the colour model's).
        bookmarks: the most cluster bookmarks to add (the largest clusters get them).
        out: also write each point's label and cluster to this TSV: a new file outside
            the run folder, or one `overwrite` lets it replace.
        overwrite: replace an existing `out` file.
        progress: called with a short description of the current stage.

    Returns:
        A `ClustersResult`.

    Raises:
        ProjectorExportError: no such run or tensor, the libraries are not installed
            (the message says what to install), a metadata column `cluster` that this
            tool did not write, `out` may not be written, or the tensor changed
            meanwhile; the run is unchanged then.
    """
    from projector_export.files.writing import check_file_target
    from projector_export.read import read_embedding

    require_libraries()
    if not isinstance(bookmarks, int) or isinstance(bookmarks, bool) or bookmarks < 0:
        raise ProjectorExportError(f"`bookmarks={bookmarks!r}`: give how many cluster bookmarks to add, 0 or more")
    if out is not None:
        check_file_target(out, what="clusters file", overwrite=overwrite)
    report = progress or (lambda stage: None)
    report("reading the tensor")
    run = read_embedding(os.fspath(run_dir), tensor)
    header, rows = run.page_view()
    start = time.monotonic()
    found = find_clusters(run.vectors, min_size=min_size, seed=seed, metric=metric, progress=progress)
    labels = run.labels()
    counts = _counts(header, rows)
    names = name_clusters(found.ids, labels, run.vectors, counts=counts, metric=metric)
    column = cluster_column(found.ids, names)
    table = cluster_table(found.ids, names, header, rows)
    order = representative_rows(found.ids, run.vectors, counts=counts, metric=metric)
    seconds = time.monotonic() - start

    report("writing the clusters")
    with _run_update(run) as update:
        states = update.states()
        _check_column(header, states, run.run_dir)
        new_header, new_rows = _with_column(header, rows, column)
        layout = _layout_state(states, run, new_header, new_rows, report)
        chosen = _cluster_bookmarks(layout, names, order, found.ids, bookmarks, found.describe())
        kept = [state for state in states if not _ours(state)]
        if layout is not None and layout not in states:
            kept.append(layout)  # computed here: the layout itself is worth keeping too
        metadata_name = _metadata_name(update)
        old_metadata = update.entry.metadata_path
        update.refuse_if_yours(metadata_name, "metadata file")
        update.write(metadata_name, _tsv(new_header, new_rows))
        update.entry.metadata_path = metadata_name
        bookmarks_name = update.file_name(update.entry.bookmarks_path, _bookmarks_name(run.name))
        update.write(bookmarks_name, _states_text(kept, chosen))
        update.entry.bookmarks_path = bookmarks_name
        update.write_config()
        update.remove_unused(old_metadata)
        out_path = _write_out(out, labels, column, overwrite) if out is not None else None
    from projector_export.format.checkpoint import latest_prefix

    return ClustersResult(
        run_dir=run.run_dir,
        tensor=run.name,
        ids=found.ids,
        names=tuple(names),
        table=tuple(table),
        method=found.describe(),
        bookmarks=len(chosen),
        metadata_path=posixpath.join(run.run_dir, metadata_name),
        bookmarks_path=posixpath.join(run.run_dir, bookmarks_name),
        checkpoint_prefix=latest_prefix(run.run_dir),
        out_path=out_path,
        seconds=seconds,
    )


def _run_update(run):
    from projector_export.run_update import updating

    return updating(run)


def _counts(header: list[str], rows: list[list[str]]) -> np.ndarray | None:
    """A `count` column's numbers (how often each label occurs), to weigh the names by."""
    if "count" not in header:
        return None
    index = header.index("count")
    values = []
    for row in rows:
        try:
            values.append(float(row[index]) if index < len(row) else 0.0)
        except ValueError:
            return None
    return np.asarray(values)


def _check_column(header: list[str], states: list[dict], run_dir: str) -> None:
    """Refuse to overwrite a `cluster` column this tool did not write (no cluster bookmark records it)."""
    if CLUSTER_COLUMN in header and not any(_ours(state) for state in states):
        raise ProjectorExportError(
            f"{run_dir}: the metadata already has a column {CLUSTER_COLUMN!r} that projector-export did not write; "
            "rename that column and export the run again, or keep it and do without the clusters"
        )


def _ours(state) -> bool:
    origin = state.get(ORIGIN_FIELD) if isinstance(state, dict) else None
    return isinstance(origin, dict) and origin.get("method") == "clusters"


def _with_column(header: list[str], rows: list[list[str]], column: list[str]) -> tuple[list[str], list[list[str]]]:
    """The metadata with the `cluster` column set (in its place if there is one, else last)."""
    cells = [escape_label(value) for value in column]
    if not header:  # no metadata: the column alone (the page then labels points by it)
        return [CLUSTER_COLUMN], [[cell] for cell in cells]
    width = len(header)
    new_rows = [(list(row) + [""] * width)[:width] for row in rows]
    if CLUSTER_COLUMN in header:
        index = header.index(CLUSTER_COLUMN)
        for row, cell in zip(new_rows, cells):
            row[index] = cell
        return list(header), new_rows
    return [*header, CLUSTER_COLUMN], [row + [cell] for row, cell in zip(new_rows, cells)]


def _tsv(header: list[str], rows: list[list[str]]) -> str:
    """The metadata file: a header line whenever there are several columns, cells as given (escaped)."""
    lines = (["\t".join(header)] if len(header) > 1 else []) + ["\t".join(row) for row in rows]
    return "\n".join(lines) + "\n"


def _metadata_name(update) -> str:
    """The tensor's own metadata file: the one it has, unless other tensors share it (snapshots)."""
    current = update.entry.metadata_path
    shared = current and any(
        e.metadata_path == current for e in update.config.embeddings if e is not update.entry
    )
    if current and not shared and posixpath.dirname(current) == "":
        return current
    return f"{_safe(update.run.name)}.clusters.metadata.tsv"


def _bookmarks_name(name: str) -> str:
    from projector_export.layout import bookmarks_filename

    return bookmarks_filename(name)


def _safe(name: str) -> str:
    from projector_export.format.checkpoint import safe_tensor_name

    return safe_tensor_name(name)


def _layout_state(states: list[dict], run, header: list[str], rows: list[list[str]], report) -> dict | None:
    """The layout the cluster bookmarks show: the tensor's UMAP bookmark, else one computed (a PCA
    for vectors of at most 3 columns, which it shows exactly)."""
    from projector_export.layout import layout_bookmark

    for method in ("umap", "pca"):
        for state in states:
            origin = state.get(ORIGIN_FIELD) if isinstance(state, dict) else None
            if isinstance(origin, dict) and origin.get("method") == method and isinstance(state.get("projections"), list):
                return state
    columns = run.vectors.shape[1] - int(np.all(run.vectors[:, -1] == 0))  # a zero column added for the page
    layout = Layout("pca" if columns <= 3 else "umap")
    report(f"computing a {layout.method.upper()} layout for the cluster bookmarks")
    bookmark = layout_bookmark(run.vectors, layout)
    label, colour = view_columns(header, rows, sprite=run.sprite_path is not None)
    return json.loads(state_text(bookmark, label_column=label, color_option=colour))


def _cluster_bookmarks(layout, names, order, ids, limit, method) -> list[dict]:
    """A bookmark a cluster, the largest first: the layout, the cluster's points selected, coloured by cluster."""
    if layout is None or not names or limit == 0:
        return []
    points = len(layout["projections"])
    projections = [{key: point[key] for key in _KEPT_KEYS if key in point} for point in layout["projections"]]
    per_bookmark = len(json.dumps(projections))
    count = min(limit, len(names), max(1, BOOKMARK_BUDGET // max(per_bookmark, 1)))
    chosen = []
    for cluster in range(count):
        if names[cluster] in {state[ORIGIN_FIELD]["cluster"] for state in chosen}:
            continue  # the small clusters share one name: one bookmark is enough for them
        selected = [int(row) for row in order[cluster] if row < points]
        state = dict(layout)
        state.update(
            label=f"cluster: {names[cluster]} ({len(order[cluster]):,} points)",
            isSelected=False,
            selectedPoints=selected,
            selectedColorOptionName=CLUSTER_COLUMN,
            forceCategoricalColoring=False,
            pcaComponentDimensions=[d for d in layout.get("pcaComponentDimensions", [0, 1, 2]) if d < 3] or [0, 1],
            projections=projections,
        )
        state[ORIGIN_FIELD] = {"method": "clusters", "cluster": names[cluster], "column": CLUSTER_COLUMN,
                               "clustering": method, "points": points}
        chosen.append(state)
    return chosen


def _states_text(kept: list[dict], added: list[dict]) -> str:
    return "[\n" + ",\n".join(json.dumps(state, ensure_ascii=False) for state in [*kept, *added]) + "\n]\n"


def _write_out(out: str, labels: list[str], column: list[str], overwrite: bool) -> str:
    from projector_export.files.writing import write_file

    lines = ["label\tcluster"] + [f"{escape_label(label)}\t{escape_label(name)}" for label, name in zip(labels, column)]
    return write_file(out, "\n".join(lines) + "\n", what="clusters file", overwrite=overwrite)

