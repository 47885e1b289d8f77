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

import logging
import os
import posixpath
import re
import time
from dataclasses import dataclass

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.format._float_text import float32_cells
from projector_export.format.bookmarks import BOOKMARKS_SUFFIX, PAGE_POINTS, Bookmark, merge_states, state_text
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
