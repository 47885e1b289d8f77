"""Layouts of every point (UMAP, t-SNE, PCA), computed here and stored as projector bookmarks.

The projector's page lays out a sample: t-SNE of 10,000 points, UMAP of 5,000,
PCA of 50,000 (`vz_projector/data.ts`). `add_layout` computes a layout of every
point the page loads (the first 100,000 rows) with umap-learn or openTSNE and
adds it to the tensor's bookmarks: one click in the Bookmarks tray shows it.

Example:

```python
from projector_export import add_layout

result = add_layout("logs/imdb/projector", "umap")
print(result.label)  # UMAP (3-D) of all 8,185 points, n_neighbors 15, min_dist 0.1
```
"""

from __future__ import annotations

import dataclasses
import logging
import os
import posixpath
import re
import time
from dataclasses import dataclass

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.format._float_text import float32_cells
from projector_export.format.bookmarks import (
    BOOKMARKS_SUFFIX,
    PAGE_POINTS,
    Bookmark,
    merge_states,
    origin_key,
    read_states,
    state_text,
)
from projector_export.format.checkpoint import key_of, name_of_key
from projector_export.format.config import read_config
from projector_export.format.page_columns import view_columns
from projector_export.reductions import (
    METHOD_NAMES,
    METHODS,
    Layout,
    Progress,
    compute_layout,
    projector_pca,
    projector_vectors,
    require_libraries,
    tsne_perplexity,
    umap_neighbours,
)

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class LayoutResult:
    """A layout added to a run: where it went and what its bookmark says."""

    run_dir: str
    tensor: str  # the tensor's name
    method: str
    dims: int
    points: int  # rows laid out: every row, up to the 100,000 the page loads
    rows: int  # rows of the tensor
    label: str  # the bookmark's label in the projector's Bookmarks tray
    coordinates: np.ndarray
    seconds: float
    bookmarks_path: str
    coordinates_path: str | None = None


def as_layout(layout: Layout | str) -> Layout:
    """`layout` as a `Layout`: a method name gets the default settings."""
    if isinstance(layout, Layout):
        return layout
    if isinstance(layout, str):
        return Layout(layout)
    raise ProjectorExportError(f"a layout is a Layout or one of {', '.join(METHODS)}, not {layout!r}")


def add_layout(
    run_dir: str,
    layout: Layout | str = "umap",
    *,
    tensor: str | None = None,
    out: str | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> LayoutResult:
    """Compute a layout of every point of a run's tensor and add it to the tensor's bookmarks.

    The projector lists the bookmark in its Bookmarks tray; a click shows the
    layout, coloured and labelled by the layout's `color_by` and `label_by`
    (defaults: see `Layout`). Adding a layout of the same method and dims replaces that bookmark
    and keeps the others. The run's files are replaced as a whole, as by every
    export: a layout that fails or is killed leaves the run as it was.

    Args:
        run_dir: a run folder written by projector-export.
        layout: `umap`, `tsne`, `pca` or a `Layout` with settings.
        tensor: which tensor (default: the only one, or `final`).
        out: also write the coordinates with the metadata columns to this TSV: a
            new file outside the run folder, or one `overwrite` lets it replace.
        overwrite: replace an existing `out` file.
        progress: called with a short description of the current stage.

    Returns:
        A `LayoutResult`.

    Raises:
        ProjectorExportError: no such run or tensor, the layout library is not
            installed (the message says what to install), `out` may not be
            written, or the tensor changed while it was laid out; the run is
            unchanged then.

    Example:

    ```python
    from projector_export import add_layout

    add_layout("logs/imdb/projector", "tsne", out="imdb-tsne.tsv")
    ```
    """
    from projector_export.files.writing import check_file_target
    from projector_export.read import read_embedding

    layout = as_layout(layout)
    require_libraries(layout)
    if out is not None:  # refused now, not after minutes of layout
        check_file_target(out, what="coordinates file", overwrite=overwrite)
    if progress:
        progress("reading the tensor")
    run = read_embedding(os.fspath(run_dir), tensor)
    header, rows = ["label"], []
    if run.metadata_text is not None:  # read from inside the run folder, checked as UTF-8
        header, rows = run.page_view()
    label_column, color_option = view_columns(
        header, rows, sprite=run.sprite_path is not None, color_by=layout.color_by, label_by=layout.label_by
    )
    start = time.monotonic()
    bookmark = layout_bookmark(run.vectors, layout, progress=progress)
    seconds = time.monotonic() - start
    text = state_text(bookmark, label_column=label_column, color_option=color_option)
    filename = bookmarks_filename(run.name)
    if progress:
        progress("writing the bookmark")
    coordinates = None
    if out is not None:
        coordinates = lambda: write_coordinates(  # noqa: E731 - written under the run's lock, before its swap
            out, bookmark.coordinates, header if rows else None, rows, overwrite=overwrite
        )
    written, coordinates_path = _add_bookmark(
        run, filename, {(layout.method, layout.dims): text}, also=coordinates
    )
    return LayoutResult(
        run_dir=run.run_dir,
        tensor=run.name,
        method=layout.method,
        dims=layout.dims,
        points=len(bookmark.coordinates),
        rows=len(run.vectors),
        label=bookmark.label,
        coordinates=bookmark.coordinates,
        seconds=seconds,
        bookmarks_path=posixpath.join(run.run_dir, written),
        coordinates_path=coordinates_path,
    )


def bookmarks_filename(name: str) -> str:
    """The bookmarks file of the tensor named `name`, in its run folder."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) + BOOKMARKS_SUFFIX


def layout_bookmark(vectors: np.ndarray, layout: Layout, *, progress: Progress | None = None) -> Bookmark:
    """Lay out the rows the page loads and describe them as a bookmark, PCA included."""
    rows = len(vectors)
    points = projector_vectors(vectors)
    pca, variance = projector_pca(points)
    if layout.method == "pca" and pca.shape[1] < layout.dims:
        raise ProjectorExportError(
            f"the vectors have {pca.shape[1]} columns, too few for a {layout.dims}-D PCA; use dims=2"
        )
    coordinates = compute_layout(points, layout, progress=progress, pca=pca)
    name = METHOD_NAMES[layout.method]
    settings: dict = {"metric": layout.metric}
    if layout.method == "umap":
        settings.update(n_neighbors=umap_neighbours(layout, len(points)), min_dist=layout.min_dist)
        detail = f", n_neighbors {settings['n_neighbors']}, min_dist {layout.min_dist:g}"
        view = "umap"
    elif layout.method == "tsne":
        settings.update(perplexity=tsne_perplexity(layout, len(points)))
        # Not the t-SNE view: clicking a bookmark of it restarts t-SNE in the page.
        view = "custom" if layout.dims == 2 else "umap"
        shown = "the Custom view" if view == "custom" else "the UMAP tab"
        detail = f", perplexity {settings['perplexity']:g}; computed once, shown in {shown}"
    else:
        view = "pca"
        detail = f", exact: {100 * variance[: layout.dims].sum():.1f}% of variance"
        del settings["metric"]
    if layout.seed is not None:
        settings["seed"] = layout.seed
    if rows > PAGE_POINTS:
        which = f"the first {PAGE_POINTS:,} of {rows:,} points (the page loads {PAGE_POINTS:,})"
    else:
        which = f"all {rows:,} points"
    return Bookmark(
        label=f"{name} ({layout.dims}-D) of {which}{detail}",
        view=view,
        coordinates=coordinates,
        pca=pca,
        columns=vectors.shape[1],
        origin={"method": layout.method, "dims": layout.dims, "points": len(points), **settings},
    )


def layout_views(layouts, page_view: tuple[list[str], list[list[str]]], *, sprite: bool) -> tuple:
    """Each layout's label column and "Color by" entry (see `page_columns.view_columns`), for metadata
    as the page reads it (`MetadataTable.page_view`); refused now, before minutes of layout."""
    header, rows = page_view
    return tuple(
        view_columns(header, rows, sprite=sprite, color_by=layout.color_by, label_by=layout.label_by) for layout in layouts
    )


def layout_states(prepared) -> dict[str, dict[tuple[str, int], str]]:
    """The bookmark states of the layouts each tensor of an export asks for (`name`, `vectors`,
    `layouts` and their `views`): {name: {(method, dims): state}}."""
    found = {}
    for item in prepared:
        if not item.layouts:
            continue
        found[item.name] = {}
        for layout, (label_column, color_option) in zip(item.layouts, item.views):
            logger.debug("computing a %d-D %s layout of %r", layout.dims, layout.method, item.name)
            bookmark = layout_bookmark(item.vectors, layout)
            found[item.name][(layout.method, layout.dims)] = state_text(
                bookmark, label_column=label_column, color_option=color_option
            )
    return found


def kept_bookmarks(stage, prepared) -> dict[str, list[dict]]:
    """The bookmarks of the current run's tensors whose vectors this export leaves unchanged.

    Read under the export's lock, from inside the run folder only.
    """
    from projector_export.files.paths import inside
    from projector_export.files.reading import read_bytes
    from projector_export.format.checkpoint import Checkpoint

    run_dir = stage.target
    if not stage.exists:
        return {}
    try:
        config = read_config(run_dir)
        checkpoint = Checkpoint(run_dir)
    except Exception:  # noqa: BLE001 - a run that does not read has no bookmarks to keep
        return {}
    items = {item.name: item for item in prepared}
    kept = {}
    for entry in config.embeddings:
        key = key_of(entry.tensor_name)
        item = items.get(name_of_key(key))
        if not entry.bookmarks_path or item is None:
            continue
        try:
            path = inside(run_dir, posixpath.join(run_dir, entry.bookmarks_path), "bookmarks file")
            states = read_states(read_bytes(path, "bookmarks file"), path)
            old_vectors = checkpoint.read(key)
        except (ProjectorExportError, KeyError) as error:
            logger.warning("the old bookmarks of tensor %r are not kept: %s", item.name, error)
            continue
        if old_vectors.shape == item.vectors.shape and np.array_equal(old_vectors, item.vectors):
            kept[item.name] = states
            continue
        replaced = {(layout.method, layout.dims) for layout in item.layouts}
        dropped = [state for state in states if origin_key(state) not in replaced]
        if dropped:
            logger.warning(
                "tensor %r has new vectors, so %s (%s) are dropped: they show the old vectors; add layouts "
                "again with `projector-export layout` or layouts=[...]",
                item.name, "its old bookmark" if len(dropped) == 1 else f"its {len(dropped)} old bookmarks",
                ", ".join(repr(s.get("label", "")) for s in dropped if isinstance(s, dict)),
            )
    return kept


def write_bookmarks(stage, entries: list, new: dict[str, dict], old: dict[str, list[dict]]) -> list:
    """Write each tensor's bookmarks file (its new layouts over the old bookmarks it keeps) into the run
    being written; return the config entries naming them."""
    bookmarks = {name: merge_states(old.get(name, []), new.get(name, {})) for name in {*new, *old}}
    written = []
    for entry in entries:
        if entry.tensor_name in bookmarks:
            filename = bookmarks_filename(entry.tensor_name)
            stage.write(filename, bookmarks[entry.tensor_name])
            entry = dataclasses.replace(entry, bookmarks_path=filename)
        written.append(entry)
    return written


def write_coordinates(
    path: str, coordinates: np.ndarray, header: list[str] | None, rows: list[list[str]], *, overwrite: bool = False
) -> str:
    """Write a TSV of the coordinates (`x`, `y`, `z`) and the metadata columns, row by row.

    Metadata cells are written as the run stores them (escaped, see
    `metadata.escape_label`). The file is written beside `path` and renamed
    into place; an existing file is replaced only with `overwrite`.
    """
    from projector_export.files.writing import write_file

    axes = ["x", "y", "z"][: coordinates.shape[1]]
    columns = [] if header is None else list(header)
    lines = ["\t".join(axes + columns)]
    cells = float32_cells(coordinates)
    for index, values in enumerate(cells):
        extra = rows[index] if index < len(rows) else []
        extra = (list(extra) + [""] * len(columns))[: len(columns)]
        lines.append("\t".join(values + extra))
    return write_file(path, "\n".join(lines) + "\n", what="coordinates file", overwrite=overwrite)


def _add_bookmark(run, filename: str, new: dict[tuple[str, int], str], *, also=None) -> tuple[str, str | None]:
    """Merge `new` bookmark states into the tensor's bookmarks file under the run's lock (so
    that a layout written meanwhile is not lost; see `run_update`), then call `also()` (the
    coordinates file) before the run is swapped in. Returns the bookmarks file's name in the
    run folder and what `also` returned."""
    from projector_export.run_update import updating

    with updating(run) as update:
        filename = update.file_name(update.entry.bookmarks_path, filename)
        update.write(filename, merge_states(update.states(), new))
        update.entry.bookmarks_path = filename
        update.write_config()
        result = also() if also is not None else None
    return filename, result
