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

import importlib
import importlib.util
import io
import logging
import os
import posixpath
import re
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from projector_export.bookmarks import (
    BOOKMARKS_SUFFIX,
    PAGE_POINTS,
    PCA_COMPONENTS,
    Bookmark,
    default_label_column,
    merge_states,
    read_states,
    state_text,
)
from projector_export.errors import ProjectorExportError

logger = logging.getLogger(__name__)

METHODS = ("umap", "tsne", "pca")
INSTALL = 'pip install "projector-export[layouts]"'
_LIBRARIES = {"umap": ("umap", "umap-learn"), "tsne": ("openTSNE", "openTSNE")}
_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
_DEFAULT_DIMS = {"umap": 3, "tsne": 2, "pca": 3}  # the page's UMAP and PCA are 3-D; openTSNE's fast t-SNE is 2-D
# The page centres and normalises vectors ("Sphereize data") when they have this many dimensions.
_SPHEREIZE_DIMS = 50

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Layout:
    """A layout to compute: the method and its settings.

    Args:
        method: `umap` (umap-learn), `tsne` (openTSNE) or `pca` (exact, numpy).
        dims: 2 or 3; by default 3 for UMAP and PCA (as the projector's own
            views), 2 for t-SNE (openTSNE's fast gradient is 2-D).
        seed: a seed makes the layout reproducible; UMAP then runs on one thread.
        n_neighbors: UMAP's neighbourhood size (the projector's default, 15).
        min_dist: UMAP's minimum distance (the projector's default, 0.1).
        perplexity: t-SNE's perplexity.
        metric: distance between vectors; `cosine` is the projector's own.

    Example:

    ```python
    export_embedding("logs/words", vectors, words, layouts=["umap", Layout("tsne", perplexity=50)])
    ```
    """

    method: str = "umap"
    dims: int | None = None
    seed: int | None = None
    n_neighbors: int = 15
    min_dist: float = 0.1
    perplexity: float = 30.0
    metric: str = "cosine"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ProjectorExportError(f"layout method {self.method!r} is not one of {', '.join(METHODS)}")
        if self.dims is None:
            object.__setattr__(self, "dims", _DEFAULT_DIMS[self.method])
        if self.dims not in (2, 3):
            raise ProjectorExportError(f"layout dims must be 2 or 3, not {self.dims!r}")
        if not (isinstance(self.n_neighbors, int) and self.n_neighbors >= 2):
            raise ProjectorExportError(f"n_neighbors must be an integer of at least 2, not {self.n_neighbors!r}")
        if not 0 <= self.min_dist <= 1:
            raise ProjectorExportError(f"min_dist must lie between 0 and 1, not {self.min_dist!r}")
        if not self.perplexity > 0:
            raise ProjectorExportError(f"perplexity must be positive, not {self.perplexity!r}")
        if self.metric not in ("cosine", "euclidean"):
            raise ProjectorExportError(f"metric must be 'cosine' or 'euclidean', not {self.metric!r}")


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


def installed(method: str) -> bool:
    """Whether the library that computes `method` layouts is installed (PCA needs none).

    Example:

    ```python
    layouts = ["umap"] if installed("umap") else []
    ```
    """
    if method not in _LIBRARIES:
        return method in METHODS
    return importlib.util.find_spec(_LIBRARIES[method][0]) is not None


def require_libraries(layout: Layout) -> None:
    """Raise a `ProjectorExportError` saying what to install when `layout`'s library is missing."""
    if layout.method not in _LIBRARIES:
        return
    module, package = _LIBRARIES[layout.method]
    try:
        importlib.import_module(module)
    except ImportError:
        raise ProjectorExportError(
            f"a {_NAMES[layout.method]} layout needs the {package} package, which is not installed; "
            f"install the layout libraries with: {INSTALL}   (or: pip install umap-learn openTSNE)"
        ) from None


def add_layout(
    run_dir: str,
    layout: Layout | str = "umap",
    *,
    tensor: str | None = None,
    out: str | None = None,
    progress: Progress | None = None,
) -> LayoutResult:
    """Compute a layout of every point of a run's tensor and add it to the tensor's bookmarks.

    The projector lists the bookmark in its Bookmarks tray; a click shows the
    layout. Adding a layout of the same method and dims replaces that bookmark
    and keeps the others. The run's files are replaced as a whole, as by every
    export: a layout that fails or is killed leaves the run as it was.

    Args:
        run_dir: a run folder written by projector-export.
        layout: `umap`, `tsne`, `pca` or a `Layout` with settings.
        tensor: which tensor (default: the only one, or `final`).
        out: also write the coordinates with the metadata columns to this TSV.
        progress: called with a short description of the current stage.

    Returns:
        A `LayoutResult`.

    Raises:
        ProjectorExportError: no such run or tensor, or the layout library is
            not installed (the message says what to install).

    Example:

    ```python
    from projector_export import add_layout

    add_layout("logs/imdb/projector", "tsne", out="imdb-tsne.tsv")
    ```
    """
    from projector_export.metadata import parse_metadata
    from projector_export.runs import read_run_tensor

    layout = as_layout(layout)
    require_libraries(layout)
    if progress:
        progress("reading the tensor")
    run = read_run_tensor(os.fspath(run_dir), tensor)
    header, rows = ["label"], []
    if run.metadata is not None:  # read from inside the run folder, checked as UTF-8
        header, rows = parse_metadata(run.metadata.decode("utf-8").removeprefix("\ufeff"))
    start = time.monotonic()
    bookmark = layout_bookmark(run.vectors, layout, progress=progress)
    seconds = time.monotonic() - start
    text = state_text(bookmark, label_column=default_label_column(header, rows))
    filename = bookmarks_filename(run.name)
    if progress:
        progress("writing the bookmark")
    written = _add_bookmark(run.run_dir, run.key, filename, {(layout.method, layout.dims): text})
    coordinates_path = None
    if out is not None:
        coordinates_path = write_coordinates(out, bookmark.coordinates, header if rows else None, rows)
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
    name = _NAMES[layout.method]
    settings: dict = {"metric": layout.metric}
    if layout.method == "umap":
        settings.update(n_neighbors=_neighbours(layout, len(points)), min_dist=layout.min_dist)
        detail = f", n_neighbors {settings['n_neighbors']}, min_dist {layout.min_dist:g}"
        view = "umap"
    elif layout.method == "tsne":
        settings.update(perplexity=_perplexity(layout, len(points)))
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


def projector_vectors(vectors: np.ndarray) -> np.ndarray:
    """The vectors as the page holds them: the first 100,000 rows, and at 50 or more
    dimensions centred and scaled to unit length ("Sphereize data", on by default there)."""
    points = np.asarray(vectors[:PAGE_POINTS], dtype=np.float32)
    if points.shape[1] < _SPHEREIZE_DIMS:
        return points
    points = points - points.mean(axis=0, dtype=np.float64).astype(np.float32)
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    return points / np.where(norms > 0, norms, 1)


def projector_pca(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The PCA tab's components of every point and the variance share of each.

    As `projectPCA` computes them, but exact: on every point (the page samples
    50,000) and every dimension (it projects over 200 randomly). The page does
    not centre the vectors (it decomposes X'X / n), so neither do we: the PCA
    tab then shows the same picture after a bookmark was clicked.
    """
    components = min(PCA_COMPONENTS, points.shape[1])
    x = points.astype(np.float64)
    eigenvalues, eigenvectors = np.linalg.eigh(x.T @ x / len(x))
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = np.clip(eigenvalues[order], 0, None), eigenvectors[:, order[:components]]
    eigenvectors *= np.where(eigenvectors[np.abs(eigenvectors).argmax(axis=0), range(components)] < 0, -1, 1)
    total = eigenvalues.sum()
    share = eigenvalues / total if total > 0 else np.zeros_like(eigenvalues)
    return (x @ eigenvectors).astype(np.float32), share[:components]


def compute_layout(
    points: np.ndarray, layout: Layout, *, progress: Progress | None = None, pca: np.ndarray | None = None
) -> np.ndarray:
    """(points, dims) float32 coordinates of `points` by `layout`'s method.

    `pca` (from `projector_pca`) saves recomputing the components for a PCA layout.
    """
    report = progress or (lambda stage: None)
    if layout.method == "pca":
        if pca is None:
            pca = projector_pca(points)[0]
        return np.ascontiguousarray(pca[:, : layout.dims], dtype=np.float32)
    require_libraries(layout)
    if len(points) < 4:
        raise ProjectorExportError(
            f"a {_NAMES[layout.method]} layout needs at least 4 points, and the tensor has {len(points)}; "
            "use the pca method"
        )
    if layout.method == "umap":
        coordinates = _umap(points, layout, report)
    else:
        coordinates = _tsne(points, layout, report)
    coordinates = np.asarray(coordinates, dtype=np.float32)
    if not np.isfinite(coordinates).all():
        raise ProjectorExportError(
            f"the {_NAMES[layout.method]} layout came out with non-finite coordinates; "
            "check the vectors for duplicates or zero rows, or try another seed"
        )
    return coordinates


def _neighbours(layout: Layout, points: int) -> int:
    return min(layout.n_neighbors, points - 1)


def _perplexity(layout: Layout, points: int) -> float:
    # openTSNE needs 3 * perplexity nearest neighbours.
    return min(layout.perplexity, (points - 1) / 3)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _umap(points: np.ndarray, layout: Layout, report: Progress) -> np.ndarray:
    import umap

    report(f"UMAP of {len(points):,} points: nearest neighbours and graph")
    model = umap.UMAP(
        n_components=layout.dims,
        n_neighbors=_neighbours(layout, len(points)),
        min_dist=layout.min_dist,
        metric=layout.metric,
        random_state=layout.seed,
        n_jobs=1 if layout.seed is not None else _cpus(),
        low_memory=True,
        verbose=False,
        # umap-learn's own progress bar, turned into our progress calls
        tqdm_kwds={"disable": False, "file": _EpochSink(report, f"UMAP of {len(points):,} points: epoch"),
                   "bar_format": "{n}/{total}\n", "mininterval": 0.5},
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*overridden to 1 by setting random_state.*")
        return model.fit_transform(points)


class _EpochSink(io.TextIOBase):
    """A file for umap-learn's tqdm bar (formatted "n/total"): each update becomes a progress call."""

    def __init__(self, report: Progress, label: str):
        self.report = report
        self.label = label

    def write(self, text: str) -> int:
        found = re.findall(r"(\d+)/(\d+)", text)
        if found:
            done, total = found[-1]
            self.report(f"{self.label} {int(done):,} of {int(total):,}")
        return len(text)

    def flush(self) -> None:
        pass


def _tsne(points: np.ndarray, layout: Layout, report: Progress) -> np.ndarray:
    from openTSNE import TSNE

    label = f"t-SNE of {len(points):,} points"
    report(f"{label}: nearest neighbours and affinities")
    every = 10
    early, main = 250, 500  # openTSNE's defaults: early exaggeration, then the main phase
    done = [0]

    def callback(iteration, error, embedding):
        done[0] += every
        report(f"{label}: iteration {min(done[0], early + main):,} of {early + main:,}")
        return False  # True would stop the optimisation

    model = TSNE(
        n_components=layout.dims,
        perplexity=_perplexity(layout, len(points)),
        metric=layout.metric,
        early_exaggeration_iter=early,
        n_iter=main,
        n_jobs=_cpus(),
        random_state=layout.seed,
        # the fast FFT gradient is for 1-2 dimensions; Barnes-Hut for 3
        negative_gradient_method="fft" if layout.dims == 2 else "bh",
        callbacks=callback,
        callbacks_every_iters=every,
        verbose=False,
    )
    return np.asarray(model.fit(points))


def write_coordinates(path: str, coordinates: np.ndarray, header: list[str] | None, rows: list[list[str]]) -> str:
    """Write a TSV of the coordinates (`x`, `y`, `z`) and the metadata columns, row by row.

    Metadata cells are written as the run stores them (escaped, see
    `metadata.escape_label`). The file is written beside `path` and renamed
    into place.
    """
    import tensorflow as tf

    axes = ["x", "y", "z"][: coordinates.shape[1]]
    columns = [] if header is None else list(header)
    lines = ["\t".join(axes + columns)]
    cells = coordinates.astype(np.float32).astype(str).tolist()
    for index, values in enumerate(cells):
        extra = rows[index] if index < len(rows) else []
        extra = (list(extra) + [""] * len(columns))[: len(columns)]
        lines.append("\t".join(values + extra))
    path = os.fspath(path)
    parent = posixpath.dirname(path)
    if parent:
        tf.io.gfile.makedirs(parent)
    temporary = posixpath.join(parent, f".{posixpath.basename(path)}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
    with tf.io.gfile.GFile(temporary, "wb") as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8"))
    tf.io.gfile.rename(temporary, path, overwrite=True)
    return path


def _add_bookmark(run_dir: str, key: str, filename: str, new: dict[tuple[str, int], str]) -> str:
    """Merge `new` bookmark states into the tensor's bookmarks file and write the run.

    The run is copied into a staging folder under its export lock, the bookmarks
    read there (so that a layout written meanwhile is not lost), merged and
    written with the config naming them, the checkpoint renumbered (a running
    TensorBoard re-reads a run's config only when its checkpoint path changes),
    and the copy swapped in as every export is. Returns the bookmarks file's
    name in the run folder.
    """
    import tensorflow as tf

    from projector_export.checkpoint import checkpoint_number, renumber_checkpoint
    from projector_export.config import CONFIG_FILENAME, read_config, with_bookmarks_path
    from projector_export.files import inside, read_bytes
    from projector_export.staging import RUN, staged_folder

    with staged_folder(run_dir, RUN, copy_current=True) as stage:
        config = read_config(stage.path)
        entry = next(e for e in config.embeddings if e.tensor_name.removesuffix(":0") == key)
        existing = []
        if entry.bookmarks_path:
            path = inside(stage.path, posixpath.join(stage.path, entry.bookmarks_path), "bookmarks file")
            if tf.io.gfile.exists(path):
                existing = read_states(read_bytes(path, "bookmarks file"), path)
            if posixpath.dirname(entry.bookmarks_path) == "":
                filename = entry.bookmarks_path  # keep the file the config already names
        files = {filename: merge_states(existing, new), CONFIG_FILENAME: with_bookmarks_path(config, key, filename)}
        for name, text in files.items():
            _write_file(posixpath.join(stage.path, name), text)
        renumber_checkpoint(stage.path, checkpoint_number(stage.target) + 1)
    return filename


def _write_file(path: str, text: str) -> None:
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(text.encode("utf-8"))
