"""The colour table and the labelled pairs the colour model learns from.

`load_colours` reads the bundled X11 colours or a CSV in one of three layouts;
`make_pairs` draws pairs of colours and labels them similar or not, as the post does.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from projector_export import ProjectorExportError
from projector_export.files import read_text

X11_COLOURS = Path(__file__).parent.parent / "data" / "x11_colours.csv"
_KAGGLE_NAME, _KAGGLE_RGB = "Color Name", "R;G;B Dec"
_LAYOUTS = "'name,r,g,b' (0-255), 'name,hex' (#rrggbb), or the Kaggle file's 'Color Name' and 'R;G;B Dec'"
_CHANNEL_RE = re.compile(r"\d+(\.0*)?")
_HEX_RE = re.compile(r"#?([0-9a-fA-F]{6})")


def load_colours(path: str | None = None) -> pd.DataFrame:
    """Read a colour table: the bundled X11 list, or a CSV of your own.

    A CSV may have the columns `name,r,g,b` (integers 0-255), `name,hex` (`#rrggbb` or
    `rrggbb`), or be the post's Kaggle file (`Color Name` and `R;G;B Dec` such as
    `95;158;160`; rows without a name are dropped, as the post does). Other columns are
    ignored.

    Args:
        path: the CSV, local or any URL `tf.io.gfile` reads; `None` for the X11 colours.

    Returns:
        One row per colour, numbered from 0, with columns `name`, `r`, `g`, `b` (0-255)
        and `hex`.

    Raises:
        ProjectorExportError: no such file, a folder or anything but a file, not UTF-8,
            missing columns, a channel out of range or unparsable, an empty or duplicate
            name; the message names the file and the line.
    """
    source = str(X11_COLOURS if path is None else path)
    text = read_text(source, "colour file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = _rows(reader, source)
    header = [cell.strip() for cell in next(rows, [])]
    lower = {cell.lower(): index for index, cell in enumerate(header)}
    if _KAGGLE_NAME in header and _KAGGLE_RGB in header:
        name_at, parse = header.index(_KAGGLE_NAME), _parse_kaggle(header.index(_KAGGLE_RGB))
    elif {"name", "r", "g", "b"} <= lower.keys():
        name_at, parse = lower["name"], _parse_channels([lower["r"], lower["g"], lower["b"]], header)
    elif {"name", "hex"} <= lower.keys():
        name_at, parse = lower["name"], _parse_hex(lower["hex"], header)
    else:
        raise ProjectorExportError(
            f"{source}: the header {','.join(header) or '(empty)'} has no known colour columns; "
            f"use {_LAYOUTS}"
        )

    names, rgb, first_line = [], [], {}
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        name = _cell(row, name_at)
        if not name:
            if _KAGGLE_NAME in header:
                continue
            raise ProjectorExportError(
                f"{source}, line {line}: the column {header[name_at]!r} is empty; give every colour a name"
            )
        if name in first_line:
            raise ProjectorExportError(
                f"{source}, line {line}: the colour name {name!r} is already on line "
                f"{first_line[name]}; names must be unique, so rename or delete one"
            )
        first_line[name] = line
        try:
            rgb.append(parse(row))
        except ProjectorExportError as error:
            raise ProjectorExportError(f"{source}, line {line}: {error}") from None
        names.append(name)

    if len(names) < 2:
        raise ProjectorExportError(f"{source}: found {len(names)} colours; at least 2 are needed to make pairs")
    colours = pd.DataFrame(np.array(rgb, dtype=np.int64).reshape(-1, 3), columns=["r", "g", "b"])
    colours.insert(0, "name", names)
    colours["hex"] = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]
    return colours


def _rows(reader, source: str):
    """The CSV's rows; what the csv module cannot read (a NUL byte, a cell over its size
    limit, a quote left open) as an error naming the line."""
    try:
        yield from reader
    except csv.Error as error:
        raise ProjectorExportError(
            f"{source}, line {reader.line_num}: not readable as CSV ({error}); save it as plain CSV text"
        ) from None


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _channel(text: str, column: str) -> int:
    if not _CHANNEL_RE.fullmatch(text) or int(float(text)) > 255:
        raise ProjectorExportError(f"{column} is {text!r}; it must be a whole number from 0 to 255")
    return int(float(text))


def _parse_channels(indices: list[int], header: list[str]):
    def parse(row: list[str]) -> tuple[int, int, int]:
        r, g, b = (_channel(_cell(row, index), f"column {header[index]!r}") for index in indices)
        return r, g, b

    return parse


def _parse_hex(index: int, header: list[str]):
    def parse(row: list[str]) -> tuple[int, int, int]:
        match = _HEX_RE.fullmatch(_cell(row, index))
        if not match:
            raise ProjectorExportError(
                f"column {header[index]!r} is {_cell(row, index)!r}; it must be six hex digits such as #5f9ea0"
            )
        value = int(match.group(1), 16)
        return value >> 16, (value >> 8) & 255, value & 255

    return parse


def _parse_kaggle(index: int):
    def parse(row: list[str]) -> tuple[int, int, int]:
        parts = _cell(row, index).split(";")
        if len(parts) != 3:
            raise ProjectorExportError(
                f"column {_KAGGLE_RGB!r} is {_cell(row, index)!r}; it must be three numbers 0-255 "
                "separated by ';' such as 95;158;160"
            )
        r, g, b = (_channel(part.strip(), f"column {_KAGGLE_RGB!r}") for part in parts)
        return r, g, b

    return parse


@dataclass(frozen=True)
class Pairs:
    """Training pairs: colour numbers `x` (n, 2), labels `y` (1 = similar) and their `diff`."""

    x: np.ndarray
    y: np.ndarray
    diff: np.ndarray

    @property
    def positive_share(self) -> float:
        return float(self.y.mean())


def make_pairs(colours: pd.DataFrame, n: int = 100_000) -> Pairs:
    """Draw `n` pairs of colours and label them as the post does.

    Each side is drawn with replacement (seeds 0 and 42, as `DataFrame.sample` draws them),
    `diff` is the mean squared difference of the RGB channels scaled to [0, 1], and a pair is
    similar when `diff < 0.2 * u**2` with `u` uniform from numpy's seed 0: about a quarter
    of the pairs for the X11 colours.
    """
    if n < 1:
        raise ProjectorExportError(f"`pairs={n}`: make at least 1 pair")
    rgb = colours[["r", "g", "b"]].to_numpy() / 255
    first = np.random.RandomState(0).choice(len(colours), size=n, replace=True)
    second = np.random.RandomState(42).choice(len(colours), size=n, replace=True)
    diff = ((rgb[first] - rgb[second]) ** 2).sum(axis=1) / 3
    similar = diff < 0.2 * np.random.RandomState(0).random_sample(n) ** 2
    return Pairs(
        x=np.stack([first, second], axis=1).astype(np.int32),
        y=similar.astype(np.float32),
        diff=diff,
    )
