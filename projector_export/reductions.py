"""Dimension reductions of a tensor's points: PCA as the page computes it, UMAP and t-SNE by
the libraries made for them (umap-learn, openTSNE: the `layouts` extra); a `Layout` says
which, with its settings.

`projector_export.layout` turns their coordinates into bookmarks of a run. A third of the
module is `Layout`'s checks (each setting's type and range, in one message style) and the
degenerate inputs the libraries crash on (identical rows, zero rows, too few points).
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import logging
import math
import numbers
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from projector_export.distances import nearest_rows
from projector_export.errors import ProjectorExportError
from projector_export.format.bookmarks import PAGE_POINTS, PCA_COMPONENTS
from projector_export.machine import usable_cpus

METHODS = ("umap", "tsne", "pca")
METHOD_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
INSTALL = 'pip install "projector-export[layouts]"'
_LIBRARIES = {"umap": ("umap", "umap-learn"), "tsne": ("openTSNE", "openTSNE")}
_DEFAULT_DIMS = {"umap": 3, "tsne": 2, "pca": 3}  # the page's UMAP and PCA are 3-D; openTSNE's fast t-SNE is 2-D
# The page centres and normalises vectors ("Sphereize data") when they have this many dimensions.
_SPHEREIZE_DIMS = 50

Progress = Callable[[str], None]

logger = logging.getLogger(__name__)


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
        color_by: the metadata column a click on the bookmark colours the points by
            (the "Color by" menu); default: a sprite's own colours when there is a
            sprite, else the first column of numbers that differ (see
            `page_columns.view_columns`).
        label_by: the metadata column hovering shows; default: the page's own (the
            first column that is not all numbers).

    Example:

    ```python
    export_embedding("logs/words", vectors, words, layouts=["umap", Layout("tsne", perplexity=50)])
    export_embedding("logs/imdb", vectors, table, layouts=[Layout("umap", color_by="sentiment")])
    ```
    """

    method: str = "umap"
    dims: int | None = None
    seed: int | None = None
    n_neighbors: int = 15
    min_dist: float = 0.1
    perplexity: float = 30.0
    metric: str = "cosine"
    color_by: str | None = None
    label_by: str | None = None

    def __post_init__(self):
        self._check("method", self.method in METHODS, f"one of {', '.join(METHODS)}")
        if self.dims is None:
            object.__setattr__(self, "dims", _DEFAULT_DIMS[self.method])
        self._check("dims", _integer(self.dims) and self.dims in (2, 3), "2 or 3")
        self._check(
            "seed", self.seed is None or (_integer(self.seed) and 0 <= self.seed <= _MAX_SEED),
            f"an integer from 0 to {_MAX_SEED:,} (numpy's seeds)",
        )
        self._check("n_neighbors", _integer(self.n_neighbors) and self.n_neighbors >= 2,
                    "an integer of at least 2 (UMAP's neighbourhood size)")
        self._check("min_dist", _real(self.min_dist) and 0 <= self.min_dist <= 1,
                    "a number from 0 to 1 (UMAP's minimum distance)")
        # a perplexity is an effective number of neighbours: below 1 it has no meaning, and openTSNE
        # looks up int(3 * perplexity) neighbours, none below 1/3
        self._check("perplexity", _real(self.perplexity) and 1 <= self.perplexity < math.inf,
                    "a finite number of at least 1 (t-SNE's perplexity)")
        self._check("metric", self.metric in ("cosine", "euclidean"), "'cosine' or 'euclidean'")
        for name in ("color_by", "label_by"):
            self._check(name, isinstance(getattr(self, name), (str, type(None))), "a metadata column's name")
        # numpy's numbers as Python's, so that the bookmark's JSON can hold them
        for name, kind in (("dims", int), ("seed", int), ("n_neighbors", int), ("min_dist", float),
                           ("perplexity", float)):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, kind(getattr(self, name)))

    def _check(self, name: str, accepted: bool, accepts: str) -> None:
        if not accepted:
            raise ProjectorExportError(f"`{name}={getattr(self, name)!r}`: a layout's {name} must be {accepts}")


_MAX_SEED = 2**32 - 1  # numpy.random.RandomState, which umap-learn and openTSNE seed, takes no more


def _integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


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
        import_library(module)
    except ImportError:
        raise ProjectorExportError(
            f"a {METHOD_NAMES[layout.method]} layout needs the {package} package, which is not installed; "
            f"install the layout libraries with: {INSTALL}   (or: pip install umap-learn openTSNE)"
        ) from None


def projector_vectors(vectors: np.ndarray) -> np.ndarray:
    """The vectors as the page holds them: the first 100,000 rows, and at 50 or more
    dimensions centred and scaled to unit length ("Sphereize data", on by default there)."""
    points = np.asarray(vectors[:PAGE_POINTS], dtype=np.float32)
    if points.shape[1] < _SPHEREIZE_DIMS:
        return points
    points = points - points.mean(axis=0, dtype=np.float64).astype(np.float32)
    # in float64, as the page's JavaScript sums: squares of float32 values over 1e19 overflow float32
    norms = np.sqrt(np.einsum("ij,ij->i", points, points, dtype=np.float64))[:, None]
    return points / np.where(norms > 0, norms, 1)


def projector_pca(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The PCA tab's components of every point and the variance share of each.

    As `projectPCA` computes them, but exact: on every point (the page samples
    50,000) and every dimension (it projects over 200 randomly). The page does
    not centre the vectors (it decomposes X'X / n), so neither do we: the PCA
    tab then shows the same picture after a bookmark was clicked.
    """
    x = points.astype(np.float64)
    rows, columns = x.shape
    components = min(PCA_COMPONENTS, columns)
    if rows >= columns:
        eigenvalues, eigenvectors = _eigen(x.T @ x / rows)
        eigenvectors = eigenvectors[:, :components]
    else:
        # Wider than tall: X'X / n (columns x columns) shares its nonzero eigenvalues with
        # XX' / n (rows x rows), whose eigenvectors u give X'X's as X'u / |X'u|; the cost
        # then grows with the data's size, not with the square of its columns.
        eigenvalues, left = _eigen(x @ x.T / rows)
        eigenvectors = x.T @ left[:, :components]
        lengths = np.linalg.norm(eigenvectors, axis=0)
        eigenvectors /= np.where(lengths > 0, lengths, 1)
    found = eigenvectors.shape[1]  # fewer than `components` when a wide tensor has fewer rows
    # one sign for each component, whichever way it was found: its largest entry positive
    eigenvectors *= np.where(eigenvectors[np.abs(eigenvectors).argmax(axis=0), range(found)] < 0, -1, 1)
    total = eigenvalues.sum()
    share = np.zeros(components)
    share[:found] = eigenvalues[:found] / total if total > 0 else 0
    projected = np.zeros((rows, components), dtype=np.float32)  # components beyond the rows: zeros
    projected[:, :found] = x @ eigenvectors
    return projected, share


def _eigen(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (largest first, none below 0) and eigenvectors of a symmetric matrix."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    order = np.argsort(eigenvalues)[::-1]
    return np.clip(eigenvalues[order], 0, None), eigenvectors[:, order]


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
    name = METHOD_NAMES[layout.method]
    if len(points) < 4:
        raise ProjectorExportError(
            f"a {name} layout needs at least 4 points, and the tensor has {len(points)}; use the pca method"
        )
    points = _unit_scaled(points)
    if _all_alike(points, layout.metric):
        # Nothing to lay out, and openTSNE crashes (SIGSEGV) on it: every point goes to the origin.
        logger.warning(
            "all %s points are the same vector%s: the %s layout puts every point at the origin",
            f"{len(points):,}", " (by cosine distance)" if layout.metric == "cosine" else "", name,
        )
        return np.zeros((len(points), layout.dims), dtype=np.float32)
    if layout.method == "tsne" and layout.metric == "cosine":
        _refuse_zero_rows(points)
    if layout.method == "umap":
        coordinates = _umap(points, layout, report)
    else:
        coordinates = _tsne(points, layout, report)
    coordinates = np.asarray(coordinates, dtype=np.float32)
    if not np.isfinite(coordinates).all():
        raise ProjectorExportError(
            f"the {name} layout came out with non-finite coordinates; "
            "check the vectors for duplicates or zero rows, or try another seed"
        )
    return coordinates


def _unit_scaled(points: np.ndarray) -> np.ndarray:
    """`points` times the power of two that brings the largest magnitude into [0.5, 1), exactly.

    A layout does not depend on the scale of its input, but float32 does: the
    squared distances of values near 1e30 overflow, of values near 1e-30 vanish.
    """
    largest = float(np.abs(points).max())
    if largest == 0:
        return points
    return np.ldexp(points, -np.frexp(largest)[1]).astype(np.float32)


def _all_alike(points: np.ndarray, metric: str) -> bool:
    """Whether every row is the same vector (by cosine distance: the same direction, or all zero)."""
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", points, points, dtype=np.float64)).astype(points.dtype)[:, None]
        points = points / np.where(norms > 0, norms, 1)
    return bool((points == points[0]).all())


def _refuse_zero_rows(points: np.ndarray) -> None:
    """openTSNE's cosine distance divides by each row's length: a zero row gives NaN."""
    zero = np.flatnonzero(~points.any(axis=1))
    if len(zero):
        raise ProjectorExportError(
            f"row {zero[0]} ({len(zero):,} row(s) in all) is all zeros, which has no direction for the cosine "
            "distance of a t-SNE layout; drop those rows, or use `metric=euclidean`"
        )


def umap_neighbours(layout: Layout, points: int) -> int:
    return min(layout.n_neighbors, points - 1)


def tsne_perplexity(layout: Layout, points: int) -> float:
    # openTSNE needs 3 * perplexity nearest neighbours.
    return min(layout.perplexity, (points - 1) / 3)


# Up to this many points UMAP gets each point's exact nearest neighbours (`nearest_rows`), in
# numpy in seconds (8,213 x 16: 1.5 s), instead of pynndescent's approximate ones, whose
# compilation alone takes half a minute in every new process.
EXACT_NEIGHBOURS_POINTS = 30_000


# umap-learn's modules of numba functions, which it compiles on their first call in each process
_UMAP_NUMBA_MODULES = ("umap.umap_", "umap.layouts", "umap.utils", "umap.spectral", "umap.distances", "umap.sparse")


def import_umap():
    """umap-learn, imported without TensorFlow where this process has not loaded it, its numba
    functions compiled once per machine rather than once per process.

    umap-learn's package imports its ParametricUMAP, and with it TensorFlow (~5 s), whenever
    TensorFlow is installed; a layout or a clustering never uses it. Where TensorFlow is not
    loaded yet, umap-learn is imported as on a machine without TensorFlow (its `ParametricUMAP`
    is then its placeholder; `import umap.parametric_umap` still gives the real one)."""
    if "umap" not in sys.modules and "tensorflow" not in sys.modules:
        sys.modules["umap.parametric_umap"] = None  # umap-learn's __init__ then skips it
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ImportWarning)  # "Tensorflow not installed; ParametricUMAP..."
                import umap  # noqa: F401
        finally:
            del sys.modules["umap.parametric_umap"]
    import umap

    _cache_numba_compilations(_UMAP_NUMBA_MODULES)
    return umap


def import_library(module: str):
    """A layout or clustering library's `module`: umap-learn's through `import_umap`, others as they are."""
    return import_umap() if module == "umap" else importlib.import_module(module)


def _cache_numba_compilations(modules: tuple[str, ...]) -> None:
    """Turn on numba's own on-disk cache for the modules' numba functions that lack it.

    pynndescent declares its functions `cache=True`; umap-learn does not, so the first UMAP of
    every process compiled its functions anew (~10 s, most of a small layout's time). Cached,
    the compilation is paid once: numba keeps it beside the package's sources (`__pycache__`),
    or where that is read-only in the user's cache folder (or `NUMBA_CACHE_DIR`), keyed by the
    source file, so an upgrade compiles again. A numba without `enable_caching` only loses the
    speed-up."""
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        return
    for name in modules:
        module = sys.modules.get(name)
        for value in vars(module).values() if module is not None else ():
            if isinstance(value, Dispatcher) and isinstance(getattr(value, "_cache", None), NullCache):
                value.enable_caching()


def _umap(points: np.ndarray, layout: Layout, report: Progress) -> np.ndarray:
    umap = import_umap()

    report(f"UMAP of {len(points):,} points: nearest neighbours and graph")
    neighbours = umap_neighbours(layout, len(points))
    known = (None, None, None)  # umap-learn's own search (pynndescent)
    # umap-learn's spectral start needs more points than dims + 1 (scipy's eigsh raises a TypeError)
    start = "spectral" if len(points) > layout.dims + 1 else "random"
    if len(points) <= EXACT_NEIGHBOURS_POINTS:
        known = (*nearest_rows(points, neighbours, layout.metric), None)
    model = umap.UMAP(
        precomputed_knn=known,
        n_components=layout.dims,
        n_neighbors=neighbours,
        min_dist=layout.min_dist,
        metric=layout.metric,
        init=start,
        random_state=layout.seed,
        n_jobs=1 if layout.seed is not None else usable_cpus(),
        low_memory=True,
        verbose=False,
        # umap-learn's own progress bar, turned into our progress calls
        tqdm_kwds={"disable": False, "file": _EpochSink(report, f"UMAP of {len(points):,} points: epoch"),
                   "bar_format": "{n}/{total}\n", "mininterval": 0.5},
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*overridden to 1 by setting random_state.*")
        # the exact neighbours come without a search index: only `transform` needs one
        warnings.filterwarnings("ignore", message=".*knn_search_index.*is not an NNDescent object.*")
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
        perplexity=tsne_perplexity(layout, len(points)),
        metric=layout.metric,
        early_exaggeration_iter=early,
        n_iter=main,
        n_jobs=usable_cpus(),
        random_state=layout.seed,
        # the fast FFT gradient is for 1-2 dimensions; Barnes-Hut for 3
        negative_gradient_method="fft" if layout.dims == 2 else "bh",
        callbacks=callback,
        callbacks_every_iters=every,
        verbose=False,
    )
    return np.asarray(model.fit(points))
