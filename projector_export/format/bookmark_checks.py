"""What stops a tensor's bookmarks from loading in the projector, checked as its loader reads them.

`loadState` (`vz-projector.ts`) throws on a bookmark that lacks a field it reads; a bookmark
must hold one projection per point the page loads, with a number under every key its view
draws; its selection must name points the page has, and its colour option one the "Color by"
menu offers. `validate` reports each, at most `MAX_LISTED_PROBLEMS` a file.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any

from projector_export.format.bookmarks import PAGE_POINTS, REQUIRED_FIELDS, VIEWS, view_keys

MAX_LISTED_PROBLEMS = 20


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
        for message in _state_problems(state, name, points, options):
            add((message, fix))
        if isinstance(state, dict) and state.get("selectedProjection") == "tsne" and len(notes) < MAX_LISTED_PROBLEMS:
            notes.append(
                f"{name} selects t-SNE: the projector restarts t-SNE from its coordinates on a sample of "
                "10,000 points, so the stored layout does not stay"
            )
    if unlisted:
        problems.append((f"and {unlisted:,} more problems in its {len(states):,} bookmarks, not listed", fix))
    return problems, notes


def _state_problems(state, name: str, points: int, options: set[str] | None) -> list[str]:
    """What in one bookmark stops it from loading or from showing what it should: a list of messages."""
    if not isinstance(state, dict):
        return [f"{name} is a JSON {type(state).__name__}, not an object"]
    fields = _field_problem(state, name)
    if fields:
        return [fields]
    view = state["selectedProjection"]
    if view not in VIEWS:
        return [f"{name} selects projection {reprlib.repr(view)}; the projector knows {', '.join(VIEWS)}"]
    projections = state["projections"]
    if len(projections) != points:
        return [f"{name} has {len(projections):,} projections but the page loads {points:,} points; "
                "it needs one per point, in row order"]
    drawing = _drawing_problem(state, name, view, projections)
    if drawing:
        return [drawing]
    return [problem for problem in (
        _pca_problem(name, view, projections),
        _selection_problem(state, name, points),
        _colour_problem(state, name, options),
    ) if problem]


def _field_problem(state: dict, name: str) -> str | None:
    """The fields `loadState` reads without a default: missing or of the wrong type, it throws."""
    missing = [key for key in REQUIRED_FIELDS if key not in state]
    wrong = [
        key for key, kind in REQUIRED_FIELDS.items()
        if key in state and (not isinstance(state[key], kind) or isinstance(state[key], bool))
    ]
    if not missing and not wrong:
        return None
    parts = (["lacks " + ", ".join(missing)] if missing else []) + (
        ["has the wrong type in " + ", ".join(wrong)] if wrong else [])
    return f"{name} {' and '.join(parts)}; the projector's loader throws on it and shows nothing"


def _drawing_problem(state: dict, name: str, view: str, projections: list) -> str | None:
    """A point without a number under a key the bookmark's view draws."""
    needed = _needed_keys(state)
    if needed is None:
        return f"{name}: pcaComponentDimensions {reprlib.repr(state['pcaComponentDimensions'])} are not indices"
    bad = _first_bad_point(projections, needed)
    if bad is None:
        return None
    row, key = bad
    return (f"{name}, point {row}: no number under {key!r}, which the {view!r} view of this bookmark draws; "
            "the point is not drawn")


def _pca_problem(name: str, view: str, projections: list) -> str | None:
    if view != "pca" and _first_bad_point(projections, ["pca-0", "pca-1"]) is not None:
        return (f"{name} stores no pca-* values; after it is clicked the PCA tab draws nothing "
                "(a bookmark replaces every point's projections)")
    return None


def _selection_problem(state: dict, name: str, points: int) -> str | None:
    selected = state["selectedPoints"]
    outside = next((p for p in selected if not isinstance(p, int) or isinstance(p, bool) or not 0 <= p < points),
                   None) if selected else None
    if outside is None:
        return None
    return (f"{name} selects point {reprlib.repr(outside)}, but the page's points are numbered 0 to "
            f"{points - 1:,}; the selection fails")


def _colour_problem(state: dict, name: str, options: set[str] | None) -> str | None:
    colour = state.get("selectedColorOptionName")
    if options is None or not isinstance(colour, str) or colour in options:
        return None
    return (f"{name} colours by {reprlib.repr(colour)}, which the page's Color by menu does not offer (not a "
            "column, or text of more than 50 values): a click leaves the colours as they were")


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
