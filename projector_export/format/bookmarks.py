"""Bookmarks: the saved views that a tensor's `bookmarks_path` offers in the projector.

The file is a JSON array of the frontend's `State` (`vz_projector/data.ts`). The
Bookmarks tray lists them by `label`; nothing loads until one is clicked. Then
`loadState` (`vz-projector.ts`):

* replaces every point's `projections` with the bookmark's, row by row, so a
  view's coordinates are stored per point under keys such as `umap-0`, `pca-3`
  or `linear-x`, and the PCA tab draws nothing afterwards unless the `pca-*`
  values are stored too;
* throws, leaving the old picture and one console error, when any field of
  `REQUIRED_FIELDS` is missing;
* shows `selectedProjection` from the stored coordinates, except `tsne`, which
  it restarts from them (`restoreUIFromBookmark` calls `runTSNE()`). So a
  t-SNE layout is stored in a view that is not recomputed: the Custom view
  (`linear-x`, `linear-y`; 2-D only) or, in 3-D, the UMAP tab's keys;
* sets the data panel's "Color by" to `selectedColorOptionName` when the menu
  offers that name (else leaves it), and labels hovered points by the column
  `selectedLabelOption` (see `page_columns.view_columns`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.format._float_text import float32_cells

BOOKMARKS_SUFFIX = ".bookmarks.json"
# The page loads the first 100,000 rows of a tensor (LIMIT_NUM_POINTS in
# data-provider-server.ts); a bookmark holds one projection per loaded point.
PAGE_POINTS = 100_000
# The page computes 10 principal components (NUM_PCA_COMPONENTS in data.ts).
PCA_COMPONENTS = 10
# Where our bookmarks record what made them; the page ignores unknown fields.
ORIGIN_FIELD = "projectorExport"
# What projector-export reads of a bookmarks file, so that parsing one takes at most about 1 GB of
# memory whatever it holds: a parsed JSON value takes up to 100 bytes (a short string under a key
# of its own), an array or object up to 200. A state of our own of 100,000 points (the most the page
# loads) takes about 30 MB, 2,700,000 values and 100,000 objects (one a point), nested 4 deep (array,
# state, projections, point): a file holds three such states, or any number of smaller ones.
MAX_BOOKMARKS_BYTES = 256 << 20
MAX_JSON_VALUES = 10_000_000
MAX_JSON_CONTAINERS = 1_000_000
MAX_JSON_DEPTH = 32
# Problems listed for one bookmarks file; the rest are counted.

# Fields `loadState` reads without a default: a bookmark lacking one does not load.
REQUIRED_FIELDS = {
    "selectedProjection": str,
    "pcaComponentDimensions": list,
    "tSNEPerplexity": (int, float),
    "tSNELearningRate": (int, float),
    "tSNEIteration": (int, float),
    "selectedPoints": list,
    "customXLeftText": str,
    "customXRightText": str,
    "customYUpText": str,
    "customYDownText": str,
    "projections": list,
}
VIEWS = ("umap", "pca", "custom", "tsne")

@dataclass(frozen=True)
class Bookmark:
    """One saved view: per-point coordinates shown in one of the projector's views.

    Args:
        label: what the Bookmarks tray shows, e.g. "UMAP of all 8,185 points".
        view: the projector view that shows `coordinates`: `umap` (2 or 3
            columns), `pca` (2 or 3) or `custom` (2).
        coordinates: (points, 2 or 3) array, one row per point the page loads.
        pca: (points, components) principal components, stored so that the
            PCA tab still draws after the bookmark was clicked.
        columns: the tensor's columns (the State's `dataSetDimensions`).
        origin: what made it (method, settings); stored under `projectorExport`.
    """

    label: str
    view: str
    coordinates: np.ndarray
    pca: np.ndarray
    columns: int
    origin: dict = field(default_factory=dict)


def view_keys(view: str, dims: int) -> list[str]:
    """The per-point projection keys the projector reads for `view` in `dims` dimensions."""
    if view == "custom":
        return ["linear-x", "linear-y"]
    return [f"{view}-{d}" for d in range(dims)]


def state_text(bookmark: Bookmark, *, label_column: str, color_option: str | None = None) -> str:
    """The bookmark as one JSON `State` object with every field `loadState` reads.

    `label_column` is the metadata column the page labels points by (hovering
    shows it); `color_option` the "Color by" entry a click selects (a column,
    or `NO_COLOR_MAP`; None leaves the page's choice). `view_columns` chooses both.
    """
    rows, dims = bookmark.coordinates.shape
    if bookmark.view not in ("umap", "pca", "custom") or (bookmark.view == "custom" and dims != 2):
        raise ProjectorExportError(f"`view={bookmark.view!r}` cannot show {dims}-D coordinates; use umap, pca or (2-D) custom")
    components = bookmark.pca.shape[1]
    state = {
        "label": bookmark.label,
        "isSelected": False,
        "selectedProjection": bookmark.view,
        "dataSetDimensions": [rows, bookmark.columns],
        # The page's own t-SNE and UMAP settings, so their tabs behave as before.
        "tSNEIteration": 0,
        "tSNEPerplexity": max(5, math.ceil(math.sqrt(rows) / 4)),
        "tSNELearningRate": 10,
        "tSNEis3d": True,
        "umapIs3d": dims == 3 if bookmark.view == "umap" else True,
        "umapNeighbors": int(bookmark.origin.get("n_neighbors", 15)),
        "umapMinDist": float(bookmark.origin.get("min_dist", 0.1)),
        "pcaComponentDimensions": list(range(dims if bookmark.view == "pca" else min(3, components))),
        "customSelectedSearchByMetadataOption": label_column,
        "customXLeftText": "",
        "customXLeftRegex": False,
        "customXRightText": "",
        "customXRightRegex": False,
        "customYUpText": "",
        "customYUpRegex": False,
        "customYDownText": "",
        "customYDownRegex": False,
        "selectedPoints": [],
        "selectedLabelOption": label_column,
        **({"selectedColorOptionName": color_option} if color_option is not None else {}),
        "forceCategoricalColoring": False,
        ORIGIN_FIELD: bookmark.origin,
        "projections": None,
    }
    head = json.dumps(state, ensure_ascii=False).removesuffix('"projections": null}')
    return head + '"projections": [\n' + _projections_text(bookmark) + "\n]}"


def _projections_text(bookmark: Bookmark) -> str:
    # Every bookmark stores the PCA tab's components; a PCA bookmark shows some of them.
    keys, values = [f"pca-{d}" for d in range(bookmark.pca.shape[1])], [bookmark.pca]
    if bookmark.view != "pca":
        keys = view_keys(bookmark.view, bookmark.coordinates.shape[1]) + keys
        values.insert(0, bookmark.coordinates)
    table = np.hstack(values).astype(np.float32)
    if not np.isfinite(table).all():
        raise ProjectorExportError("a layout's coordinates must be finite numbers; this one holds NaN or infinity")
    # float32 in the fewest digits that read back to the same float32
    prefixes = [f'"{key}": ' for key in keys]
    return ",\n".join(
        "{" + ", ".join(prefix + cell for prefix, cell in zip(prefixes, row)) + "}" for row in float32_cells(table)
    )


def read_states(data: bytes, path: str) -> list:
    """Parse a bookmarks file as a JSON array, within bounds that the projector's own files keep.

    Refused before parsing: more than `MAX_BOOKMARKS_BYTES`, `MAX_JSON_VALUES` or
    `MAX_JSON_CONTAINERS`; while parsing: nesting deeper than `MAX_JSON_DEPTH`,
    and numbers that JavaScript's `JSON.parse` does not read as finite numbers
    (NaN, Infinity, 1e999, an integer of 400 digits). So a hostile file costs an
    error, not the memory, stack or time of its reader.

    Raises:
        ProjectorExportError: naming `path` and what is wrong with the file.
    """
    if len(data) > MAX_BOOKMARKS_BYTES:
        raise ProjectorExportError(
            f"{path} is {len(data):,} bytes, more than the {MAX_BOOKMARKS_BYTES >> 20} MB projector-export reads "
            "(a bookmark of 100,000 points takes about 30 MB)"
        )
    # Upper bounds of what parsing would create, so that a file's memory stays near 1 GB whatever it
    # holds: every value but a container's first follows a comma or a colon.
    containers = data.count(b"[") + data.count(b"{")
    values = data.count(b",") + data.count(b":") + containers + 1
    if containers > MAX_JSON_CONTAINERS or values > MAX_JSON_VALUES:
        raise ProjectorExportError(
            f"{path} holds up to {values:,} JSON values in {containers:,} arrays and objects, more than the "
            f"{MAX_JSON_VALUES:,} in {MAX_JSON_CONTAINERS:,} projector-export reads (a bookmark of "
            f"{PAGE_POINTS:,} points holds about 2,700,000 in {PAGE_POINTS:,})"
        )
    try:
        states = json.loads(
            data.decode("utf-8"), parse_int=_js_int, parse_float=_js_float, parse_constant=_not_json
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProjectorExportError(f"{path} is not JSON ({error})") from None
    except _Unreadable as error:
        raise ProjectorExportError(f"{path} {error}") from None
    except RecursionError:  # Python's parser stops near 1,000 levels
        raise _too_deep(path) from None
    if _depth(states) > MAX_JSON_DEPTH:
        raise _too_deep(path)
    if not isinstance(states, list):
        raise ProjectorExportError(f"{path} holds a JSON {type(states).__name__}, not an array of bookmarks")
    return states


def _too_deep(path: str) -> ProjectorExportError:
    return ProjectorExportError(f"{path} nests JSON deeper than the {MAX_JSON_DEPTH} levels projector-export reads")


class _Unreadable(Exception):
    """A value `JSON.parse` would not give back as a finite number."""


def _js_int(text: str) -> int:
    if math.isinf(float(text)):  # float() of any length, where int() stops at 4,300 digits
        raise _Unreadable(f"holds a number of {len(text.lstrip('-')):,} digits, beyond JavaScript's numbers")
    return int(text)


def _js_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Unreadable(f"holds the number {text[:40]}, beyond JavaScript's numbers")
    return value


def _not_json(text: str) -> None:
    raise _Unreadable(f"holds {text}, which is not JSON: the projector's JSON.parse refuses the whole file")


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in `value` (a number or string: 0), without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        pending.extend((item, depth + 1) for item in value if isinstance(item, (list, dict)))
    return deepest


def merge_states(existing: Sequence[dict], new: dict[tuple[str, int], str]) -> str:
    """The bookmarks file: `existing` states with those of the same method and dimensions
    replaced by `new` (JSON texts keyed by (method, dims)), in place; the rest appended."""
    pending = dict(new)
    texts = []
    for state in existing:
        key = origin_key(state)
        if key in new:
            if key in pending:
                texts.append(pending.pop(key))
            continue
        texts.append(json.dumps(state, ensure_ascii=False))
    texts.extend(pending.values())
    return "[\n" + ",\n".join(texts) + "\n]\n"


def origin_key(state: Any) -> tuple[str, int] | None:
    """(method, dims) of a bookmark projector-export wrote, None for any other."""
    origin = state.get(ORIGIN_FIELD) if isinstance(state, dict) else None
    if not isinstance(origin, dict):
        return None
    method, dims = origin.get("method"), origin.get("dims")
    if isinstance(method, str) and isinstance(dims, int) and not isinstance(dims, bool):
        return method, dims
    return None
