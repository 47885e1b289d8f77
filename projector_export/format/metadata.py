"""Metadata TSVs that survive the Embedding Projector's parser.

The projector frontend (tensorboard/plugins/projector, `parseMetadata`) reads a
metadata file like this:

* it splits the text on ``\\n`` only and skips every line that JavaScript's
  ``trim()`` leaves empty;
* if the first kept line contains a tab, it is the header (column names);
* every other kept line is a point, its columns split on ``\\t``.

So a label that is empty, whitespace only, or holds a tab or newline shifts
every later label onto the wrong point. `escape_label` rewrites such labels
visibly and reversibly (`unescape_label` undoes it):

* ``\\`` becomes ``\\\\``; tab, line feed and carriage return become ``\\t``,
  ``\\n``, ``\\r``; a byte-order mark becomes ``\\ufeff``;
* the empty label becomes ``(empty)`` (a real label ``(empty)`` is written
  ``\\(empty)``);
* a label made only of whitespace has each character written as an escape:
  space is ``\\s``, others ``\\uXXXX`` (e.g. ``" "`` -> ``\\s``).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping, MappingView, Set
from dataclasses import dataclass
from typing import Any

import numpy as np

from projector_export.arrays import to_numpy
from projector_export.errors import ProjectorExportError

EMPTY_LABEL = "(empty)"

# What JavaScript's String.prototype.trim() strips (WhiteSpace and
# LineTerminator in ECMA-262); Python's str.isspace() differs from it.
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)

_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\ufeff": "\\ufeff"}
# Lone surrogates cannot be written as UTF-8; keep them as escapes too.
_ESCAPES.update({chr(c): f"\\u{c:04x}" for c in range(0xD800, 0xE000)})
_ESCAPE_TABLE = str.maketrans(_ESCAPES)
_UNESCAPES = {"t": "\t", "n": "\n", "r": "\r", "s": " "}
_UNESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def escape_label(label: str) -> str:
    """Return `label` as one metadata cell the projector reads back intact."""
    if label == "":
        return EMPTY_LABEL
    if label == EMPTY_LABEL:
        return "\\" + label
    if label.strip(JS_WHITESPACE) == "":
        return "".join(_escape_whitespace(c) for c in label)
    return label.translate(_ESCAPE_TABLE)


def _escape_whitespace(char: str) -> str:
    if char == " ":
        return "\\s"
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def unescape_label(cell: str) -> str:
    """Invert `escape_label`: the original label of a metadata cell."""
    if cell == EMPTY_LABEL:
        return ""
    return _UNESCAPE_RE.sub(_unescape_match, cell)


def _unescape_match(match: re.Match) -> str:
    code = match.group(1)
    if len(code) == 5:
        return chr(int(code[1:], 16))
    return _UNESCAPES.get(code, code)


@dataclass(frozen=True)
class MetadataTable:
    """Metadata ready to write: column names (None for one headerless column) and rows."""

    header: list[str] | None
    columns: list[list[str]]

    @property
    def num_rows(self) -> int:
        return len(self.columns[0])

    def page_view(self) -> tuple[list[str], list[list[str]]]:
        """(column names, rows of escaped cells) as the projector reads `to_tsv()` (see `parse_metadata`)."""
        escaped = [[escape_label(value) for value in column] for column in self.columns]
        return list(self.header or ["label"]), [list(row) for row in zip(*escaped)]

    def to_tsv(self) -> str:
        """The file's text: escaped cells, a header only when there are several columns."""
        lines = []
        if self.header is not None:
            lines.append("\t".join(escape_label(name) for name in self.header))
        escaped = [[escape_label(value) for value in column] for column in self.columns]
        lines.extend("\t".join(row) for row in zip(*escaped))
        return "\n".join(lines) + "\n"


def _is_data_frame(metadata: Any) -> bool:
    return hasattr(metadata, "columns") and hasattr(metadata, "iloc")


def metadata_table(metadata: Any, num_rows: int) -> MetadataTable:
    """Check `metadata` against a tensor of `num_rows` rows and turn it into a table.

    Args:
        metadata: a sequence of labels (one column, no header), a dict of
            columns, or a pandas DataFrame (several columns get a header row).
        num_rows: the tensor's row count; every column must have this many values.

    Raises:
        ProjectorExportError: for a wrong row count, a duplicate column name,
            or a value that is not one label per row.
    """
    if isinstance(metadata, (str, bytes)):
        raise ProjectorExportError(
            f"metadata is a single string ({_shorten(metadata)!r}); pass one label per "
            "row as a list, or a dict/DataFrame of columns"
        )
    if isinstance(metadata, (Set, MappingView)):
        raise ProjectorExportError(
            f"metadata is a {type(metadata).__name__}, which has no order, so labels would land on "
            "arbitrary points; pass a list in the order of the rows"
        )
    if _is_data_frame(metadata):
        names = [str(name) for name in metadata.columns]
        columns = {name: metadata.iloc[:, i] for i, name in enumerate(names)}
        if len(set(names)) != len(names):
            duplicate = next(name for name in names if names.count(name) > 1)
            raise ProjectorExportError(
                f"metadata column {duplicate!r} appears twice; give each column a unique name"
            )
    elif isinstance(metadata, Mapping):
        names = [str(name) for name in metadata]
        columns = dict(zip(names, metadata.values()))
    else:
        names = None
        columns = {"labels": metadata}
    if names is not None and not names:
        raise ProjectorExportError("metadata has no columns; pass None for no metadata")

    cells = [_column_cells(name, values, num_rows) for name, values in columns.items()]
    # A one-column file must not have a header: the projector only takes a
    # first line with a tab as a header, so the name would become a point.
    header = names if names is not None and len(names) > 1 else None
    return MetadataTable(header=header, columns=cells)


def _column_cells(name: str, values: Any, num_rows: int) -> list[str]:
    values = to_numpy(values)
    if isinstance(values, (str, bytes)):
        raise ProjectorExportError(
            f"metadata column {name!r} is a single string ({_shorten(values)!r}), not one label per row; "
            "pass a list of labels"
        )
    if isinstance(values, (Set, MappingView, Mapping)):
        raise ProjectorExportError(
            f"metadata column {name!r} is a {type(values).__name__}, which has no row order; "
            "pass a list of labels in the order of the rows"
        )
    if getattr(values, "ndim", 1) != 1:
        raise ProjectorExportError(
            f"metadata column {name!r} has shape {values.shape}; each column must be "
            "1-D, one value per row (for several columns pass a dict or DataFrame)"
        )
    if not isinstance(values, Iterable):
        raise ProjectorExportError(
            f"metadata column {name!r} is a {type(values).__name__}, not a sequence of labels"
        )
    cells = [_cell_text(value) for value in values]
    if len(cells) != num_rows:
        raise ProjectorExportError(
            f"metadata column {name!r} has {len(cells)} rows but the tensor has {num_rows}; "
            "give exactly one label per row of vectors, in the same order"
        )
    return cells


def _cell_text(value: Any) -> str:
    """A value as its label; every kind of missing value (None, NaN, pandas NA and NaT,
    numpy NaT) as the empty label, written `(empty)`."""
    if isinstance(value, str):
        return value
    if _is_missing(value):
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, np.generic):
        return _cell_text(value.item())
    return str(value)


def _is_missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    if isinstance(value, np.floating):
        return bool(np.isnan(value))
    pandas = sys.modules.get("pandas")  # pandas' missing values exist only once pandas is imported
    return pandas is not None and (value is pandas.NA or value is pandas.NaT)


def _shorten(text: Any, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def parse_metadata(text: str) -> tuple[list[str], list[list[str]]]:
    """Read metadata text exactly as the projector frontend does.

    Returns:
        (column names, rows), with the frontend's default column name
        ``label`` when the first line holds no tab. Cells are still escaped.
    """
    header = None
    rows = []
    for line in text.split("\n"):
        if line.strip(JS_WHITESPACE) == "":
            continue
        if header is None and not rows and "\t" in line:
            header = line.split("\t")
        else:
            rows.append(line.split("\t"))
    return header or ["label"], rows
