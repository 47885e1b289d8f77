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
  `selectedLabelOption` (see `view_columns`).
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.format.metadata import JS_WHITESPACE

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
MAX_LISTED_PROBLEMS = 20

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
# The "Color by" menu's first entry (`vz-projector-data-panel.ts`). With a sprite the page
# multiplies each image by its point's colour, which is white without a colour map: this
# is the entry that shows the sprite's own colours.
NO_COLOR_MAP = "No color map"
# The menu offers a column when its values are all numbers or at most this many distinct
# ones (NUM_COLORS_COLOR_MAP in data-provider.ts): up to 50 values get a colour each,
# numbers beyond that a gradient from the smallest to the largest.
COLOR_MAP_VALUES = 50


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
        raise ValueError(f"cannot store {dims}-D coordinates in the {bookmark.view!r} view")
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
        raise ValueError("coordinates must be finite")
    # float32 in the fewest digits that read back to the same float32
    cells = table.astype(str)
    prefixes = [f'"{key}": ' for key in keys]
    return ",\n".join(
        "{" + ", ".join(prefix + cell for prefix, cell in zip(prefixes, row)) + "}" for row in cells.tolist()
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


def default_label_column(header: list[str], rows: list[list[str]]) -> str:
    """The column the page labels points by: the first whose values are not all numbers.

    `header` and `rows` as `metadata.parse_metadata` returns them; without
    metadata the page labels by `__index__`.
    """
    if not rows:
        return "__index__"
    for index, name in enumerate(header):
        if any(not _js_number(row[index]) for row in rows[:PAGE_POINTS] if index < len(row) and row[index] != ""):
            return name
    return header[0]


def view_columns(
    header: list[str],
    rows: list[list[str]],
    *,
    sprite: bool = False,
    color_by: str | None = None,
    label_by: str | None = None,
) -> tuple[str, str | None]:
    """The label column and the "Color by" entry of a bookmark: `(label, colour)`.

    The label is `label_by`, else the page's own choice (`default_label_column`).
    The colour is `color_by`, else with a sprite `NO_COLOR_MAP` (the images in
    their own colours), else the first column of numbers that differ (a
    gradient, or a colour each for up to 50 values), else None (the page keeps
    its choice). `header` and `rows` as `metadata.parse_metadata` returns them.

    Raises:
        ProjectorExportError: `label_by` or `color_by` is not a column, or the
            page does not offer `color_by` in its "Color by" menu.
    """
    if label_by is not None and label_by not in header:
        raise ProjectorExportError(f"`label_by={label_by}` is not a metadata column; the columns are {', '.join(header)}")
    label = label_by if label_by is not None else default_label_column(header, rows)
    if color_by is not None:
        if color_by == NO_COLOR_MAP:
            return label, color_by
        if color_by not in header:
            raise ProjectorExportError(
                f"`color_by={color_by}` is not a metadata column; the columns are {', '.join(header)}"
            )
        numeric, distinct = _column_values(rows, header.index(color_by))
        if not numeric and distinct > COLOR_MAP_VALUES:
            offered = [name for index, name in enumerate(header) if _offered(*_column_values(rows, index))]
            raise ProjectorExportError(
                f"`color_by={color_by}`: the projector colours by columns of numbers or of at most "
                f"{COLOR_MAP_VALUES} values, and {color_by!r} has {distinct:,} different texts; choose "
                + (f"one of {', '.join(offered)}" if offered else "a column of numbers")
            )
        return label, color_by
    if sprite:
        return label, NO_COLOR_MAP
    for index, name in enumerate(header):
        numeric, distinct = _column_values(rows, index)
        if numeric and distinct > 1:
            return label, name
    return label, None


def _column_values(rows: list[list[str]], index: int) -> tuple[bool, int]:
    """Whether a column's values (of the rows the page loads, empty ones skipped, as the
    page skips them) are all numbers, and how many different ones it has."""
    values = {row[index] for row in rows[:PAGE_POINTS] if index < len(row) and row[index] != ""}
    return all(_js_number(value) for value in values), len(values)


def _offered(numeric: bool, distinct: int) -> bool:
    return numeric or distinct <= COLOR_MAP_VALUES


def _js_number(text: str) -> bool:
    """Whether JavaScript's `isNaN(text)` is false (roughly: the text is a number)."""
    text = text.strip(JS_WHITESPACE)
    if text in ("", "Infinity", "+Infinity", "-Infinity"):
        return True
    if text.lower().startswith(("0x", "0o", "0b")):
        try:
            int(text, 0)
            return True
        except ValueError:
            return False
    if any(c not in "0123456789.eE+-" for c in text):
        return False
    try:
        float(text)
        return True
    except ValueError:
        return False


def colour_options(header: list[str], rows: list[list[str]]) -> set[str]:
    """The entries of the page's "Color by" menu for this metadata (see `view_columns`)."""
    return {NO_COLOR_MAP} | {name for index, name in enumerate(header) if _offered(*_column_values(rows, index))}


def check_states(states: Any, rows: int, options: set[str] | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """What stops bookmarks from loading, as the projector reads them.

    Args:
        states: the parsed bookmarks file.
        rows: the tensor's rows (the page loads at most `PAGE_POINTS`).
        options: the "Color by" entries the page offers (`colour_options`), if known.

    Returns:
        (problems as (message, fix) pairs, notes): at most `MAX_LISTED_PROBLEMS`
        of each, then one problem counting the problems not listed.
    """
    fix = "rewrite it with `projector-export layout RUN --method ...` or `projector-export clusters RUN` (or fix the file by hand)"
    if not isinstance(states, list):
        return [(f"the bookmarks file holds a JSON {type(states).__name__}, not an array of states", fix)], []
    points = min(rows, PAGE_POINTS)
    problems: list[tuple[str, str]] = []
    notes: list[str] = []
    unlisted = 0

    def add(problem: tuple[str, str]) -> None:
        nonlocal unlisted
        if len(problems) < MAX_LISTED_PROBLEMS:
            problems.append(problem)
        else:
            unlisted += 1

    for index, state in enumerate(states):
        label = state.get("label") if isinstance(state, dict) else None
        name = f"bookmark {index}" + (f" ({reprlib.repr(label)})" if label else "")
        if not isinstance(state, dict):
            add((f"{name} is a JSON {type(state).__name__}, not an object", fix))
            continue
        missing = [key for key in REQUIRED_FIELDS if key not in state]
        wrong = [
            key for key, kind in REQUIRED_FIELDS.items()
            if key in state and (not isinstance(state[key], kind) or isinstance(state[key], bool))
        ]
        if missing or wrong:
            parts = []
            if missing:
                parts.append("lacks " + ", ".join(missing))
            if wrong:
                parts.append("has the wrong type in " + ", ".join(wrong))
            add(
                (f"{name} {' and '.join(parts)}; the projector's loader throws on it and shows nothing", fix)
            )
            continue
        view = state["selectedProjection"]
        if view not in VIEWS:
            add((f"{name} selects projection {reprlib.repr(view)}; the projector knows {', '.join(VIEWS)}", fix))
            continue
        projections = state["projections"]
        if len(projections) != points:
            add(
                (
                    f"{name} has {len(projections):,} projections but the page loads {points:,} points; "
                    "it needs one per point, in row order",
                    fix,
                )
            )
            continue
        needed = _needed_keys(state)
        if needed is None:
            dimensions = reprlib.repr(state["pcaComponentDimensions"])
            add((f"{name}: pcaComponentDimensions {dimensions} are not indices", fix))
            continue
        bad = _first_bad_point(projections, needed)
        if bad is not None:
            row, key = bad
            add(
                (
                    f"{name}, point {row}: no number under {key!r}, which the {view!r} view of this "
                    "bookmark draws; the point is not drawn",
                    fix,
                )
            )
            continue
        if view != "pca" and _first_bad_point(projections, ["pca-0", "pca-1"]) is not None:
            add(
                (
                    f"{name} stores no pca-* values; after it is clicked the PCA tab draws nothing "
                    "(a bookmark replaces every point's projections)",
                    fix,
                )
            )
        selected = state["selectedPoints"]
        outside = next((p for p in selected if not isinstance(p, int) or isinstance(p, bool) or not 0 <= p < points),
                       None) if selected else None
        if outside is not None:
            add((f"{name} selects point {reprlib.repr(outside)}, but the page's points are numbered 0 to "
                 f"{points - 1:,}; the selection fails", fix))
        colour = state.get("selectedColorOptionName")
        if options is not None and isinstance(colour, str) and colour not in options:
            add((f"{name} colours by {reprlib.repr(colour)}, which the page's Color by menu does not offer (not a "
                 "column, or text of more than 50 values): a click leaves the colours as they were", fix))
        if view == "tsne" and len(notes) < MAX_LISTED_PROBLEMS:
            notes.append(
                f"{name} selects t-SNE: the projector restarts t-SNE from its coordinates on a sample of "
                "10,000 points, so the stored layout does not stay"
            )
    if unlisted:
        problems.append((f"and {unlisted:,} more problems in its {len(states):,} bookmarks, not listed", fix))
    return problems, notes


def _needed_keys(state: dict) -> list[str] | None:
    view = state["selectedProjection"]
    if view == "pca":
        dimensions = state["pcaComponentDimensions"]
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dimensions):
            return None
        return [f"pca-{d}" for d in dimensions]
    if view == "custom":
        return view_keys("custom", 2)
    is_3d = state.get("umapIs3d" if view == "umap" else "tSNEis3d")
    return view_keys(view, 3 if is_3d else 2)


def _first_bad_point(projections: list, keys: list[str]) -> tuple[int, str] | None:
    for row, point in enumerate(projections):
        if not isinstance(point, dict):
            return row, keys[0]
        for key in keys:
            value = point.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                return row, key
    return None
