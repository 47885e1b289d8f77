"""Which metadata columns the projector's page labels points by and offers to colour them by.

The data panel (`vz-projector-data-panel.ts`, `data-provider.ts`) labels points by the first
column that is not all numbers, and offers in its "Color by" menu every column of numbers
and every column of at most 50 distinct values; a bookmark's `selectedColorOptionName`
takes effect only when the menu offers it. Columns come as `metadata.parse_metadata`
returns them (cells still escaped).
"""

from __future__ import annotations

from projector_export.errors import ProjectorExportError
from projector_export.format.bookmarks import PAGE_POINTS
from projector_export.format.metadata import JS_WHITESPACE

# The "Color by" menu's first entry (`vz-projector-data-panel.ts`). With a sprite the page
# multiplies each image by its point's colour, which is white without a colour map: this
# is the entry that shows the sprite's own colours.
NO_COLOR_MAP = "No color map"
# The menu offers a column when its values are all numbers or at most this many distinct
# ones (NUM_COLORS_COLOR_MAP in data-provider.ts): up to 50 values get a colour each,
# numbers beyond that a gradient from the smallest to the largest.
COLOR_MAP_VALUES = 50


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
