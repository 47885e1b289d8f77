"""Text files of vectors: word2vec/GloVe (`word v1 v2 ...`) and TSVs of numbers, read strictly.

Rules, the same for every line:

* word2vec/GloVe: values are separated by runs of spaces or tabs; a line is a
  word and exactly `dim` numbers. The word may hold spaces (GloVe has a few
  such words) but never ends in a number, so a line with one value too many
  is an error, not a label. An optional first line `count dim` is a header
  when both are positive whole numbers; two whole numbers otherwise are an error.
* vector TSV: values are separated by single tabs (the standalone
  projector's format), every row as many as the first; numbers only.
* A byte-order mark before the first line is dropped; blank lines are skipped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.files.fs import is_remote
from projector_export.files.reading import file_size, open_file, utf8_lines
from projector_export.machine import check_memory

_CHUNK_LINES = 50_000
_SEPARATORS_RE = re.compile(r"[ \t]+")
_WHOLE_NUMBER_RE = re.compile(r"[+-]?\d+")
_OTHER_SPACE_RE = re.compile(r"[^\S \t\r\n]")  # whitespace that does not separate values
_NOT_UTF8_FIX = (
    "is it a binary word2vec file? Convert it to text (gensim: save_word2vec_format(..., binary=False))"
)


def read_word_vectors(path: str, max_rows: int | None, progress: Callable[[int], None]):
    """Words and their vectors from a word2vec or GloVe text file.

    Returns:
        (words, float32 matrix, the number of rows the file declares or holds).
    """
    lines = _data_lines(path, fix=_NOT_UTF8_FIX)
    try:
        number, first = next(lines)
    except StopIteration:
        raise ProjectorExportError(f"{path}: the file is empty") from None
    tokens = _split(first)
    declared = None
    if len(tokens) == 2 and all(_WHOLE_NUMBER_RE.fullmatch(token) for token in tokens):
        declared, dims = int(tokens[0]), int(tokens[1])
        if declared < 1 or dims < 1:
            raise ProjectorExportError(
                f"{path}, line {number}: {first.strip()!r} looks like a `count dim` header, but both must be "
                "positive whole numbers; fix the header or remove it"
            )
        pending = []
    else:
        dims = _first_line_dims(path, number, first, tokens)
        pending = [(number, first)]

    rows = _Rows(path, dims, _row_bound(path, declared, max_rows))
    chunk_words: list[str] = []
    chunk_values: list[list[str]] = []
    chunk_lines: list[int] = []
    for number, line in _chain(pending, lines):
        if max_rows is not None and rows.count + len(chunk_words) == max_rows:
            break
        word, values = _word_and_values(path, number, line, dims)
        chunk_words.append(word)
        chunk_values.append(values)
        chunk_lines.append(number)
        if len(chunk_words) == _CHUNK_LINES:
            rows.add(chunk_words, chunk_values, chunk_lines)
            chunk_words, chunk_values, chunk_lines = [], [], []
            progress(rows.count)
    if chunk_words:
        rows.add(chunk_words, chunk_values, chunk_lines)
    if not rows.count:
        raise ProjectorExportError(f"{path}: no vectors after the header")
    if declared is not None and max_rows is None and declared != rows.count:
        raise ProjectorExportError(
            f"{path}, line 1: the header says {declared} words but the file has {rows.count}; "
            f"fix the header to `{rows.count} {dims}` or restore the missing lines"
        )
    return rows.words, rows.matrix(), declared or rows.count


def read_vector_tsv(path: str, max_rows: int | None, progress: Callable[[int], None]) -> np.ndarray:
    """A matrix from a TSV of numbers, one row a line, values separated by tabs."""
    lines = _data_lines(path)
    rows: _Rows | None = None
    chunk: list[list[str]] = []
    chunk_lines: list[int] = []
    for number, line in lines:
        if max_rows is not None and rows is not None and rows.count + len(chunk) == max_rows:
            break
        values = line.rstrip("\r\n").split("\t")
        if rows is None:
            _check_first_tsv_row(path, number, values)
            rows = _Rows(path, len(values), _row_bound(path, None, max_rows))
        elif len(values) != rows.dims:
            raise ProjectorExportError(
                f"{path}, line {number}: {len(values)} values, but the first row has {rows.dims}; "
                "every row needs the same number of tab-separated values"
            )
        chunk.append(values)
        chunk_lines.append(number)
        if len(chunk) == _CHUNK_LINES:
            rows.add(None, chunk, chunk_lines)
            chunk, chunk_lines = [], []
            progress(rows.count)
    if rows is None:
        raise ProjectorExportError(f"{path}: no vectors in the file")
    if chunk:
        rows.add(None, chunk, chunk_lines)
    return rows.matrix()


def _check_first_tsv_row(path: str, number: int, values: list[str]) -> None:
    numeric = [_is_number(value) for value in values]
    if all(numeric):
        return
    if len(values) == 1 and len(_split(values[0])) > 1:
        raise ProjectorExportError(
            f"{path}, line {number}: the values are separated by spaces, not tabs; a vector TSV separates "
            "them with tabs (a word2vec/GloVe text file is read when its name does not end in .tsv)"
        )
    if not any(numeric):
        raise ProjectorExportError(
            f"{path}, line {number}: {values[0][:40]!r}... is not a number: this looks like a header row, "
            "and a vector TSV has none; remove it (column names go in the metadata file)"
        )
    if not numeric[0] and all(numeric[1:]):
        raise ProjectorExportError(
            f"{path}, line {number}: value 1 is {values[0][:40]!r}, not a number; a vector TSV holds only "
            "numbers: put the labels in a file of their own and pass it as `metadata=`"
        )
    column = numeric.index(False)
    raise ProjectorExportError(f"{path}, line {number}: value {column + 1} is {values[column][:40]!r}, not a number")


class _Rows:
    """Parsed rows gathered into one float32 matrix, allocated once when the row count is known."""

    def __init__(self, path: str, dims: int, bound: int | None):
        self.path, self.dims, self.count = path, dims, 0
        self.words: list[str] = []
        self._blocks: list[np.ndarray] = []
        self._matrix = None
        if bound is not None:
            check_memory(bound * dims * 4, f"{path} ({bound:,} x {dims} float32 values)", "pass `max_rows=` to read fewer rows")
            self._matrix = np.empty((bound, dims), np.float32)

    def add(self, words: list[str] | None, values: list[list[str]], line_numbers: list[int]) -> None:
        block = _numbers(values, self.path, line_numbers)
        if self._matrix is not None and self.count + len(block) <= len(self._matrix):
            self._matrix[self.count : self.count + len(block)] = block
        else:
            if self._matrix is not None:  # more rows than counted: gather blocks from here
                self._blocks.append(self._matrix[: self.count])
                self._matrix = None
            self._blocks.append(block)
        self.count += len(block)
        if words is not None:
            self.words.extend(words)

    def matrix(self) -> np.ndarray:
        if self._matrix is not None:
            return self._matrix[: self.count]
        return np.concatenate(self._blocks) if len(self._blocks) > 1 else self._blocks[0]


def _row_bound(path: str, declared: int | None, max_rows: int | None) -> int | None:
    """An upper bound of the rows to read, to allocate the matrix once: the header's count,
    else the lines of a local file (counted fast), capped by `max_rows`; None for a pipe."""
    bound = declared
    if bound is None and not is_remote(path) and file_size(path, "", allow_pipe=True) is not None:
        bound = _count_lines(path, stop=max_rows)
    if max_rows is not None:
        bound = max_rows if bound is None else min(bound, max_rows)
    return bound


def _count_lines(path: str, stop: int | None) -> int:
    count, last = 0, b"\n"
    with open_file(path, "") as f:
        while block := f.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
            if stop is not None and count > stop:
                break
    return count + (last != b"\n")


def _data_lines(path: str, fix: str = "save it as UTF-8") -> Iterator[tuple[int, str]]:
    for number, line in utf8_lines(path, "", fix=fix):
        if line.strip(" \t\r\n"):
            yield number, line


def _chain(pending, lines):
    yield from pending
    yield from lines


def _split(line: str) -> list[str]:
    """A line's values: separated by runs of spaces or tabs, and by nothing else."""
    if line.isascii():
        return line.split()
    return _SEPARATORS_RE.split(line.strip(" \t\r\n"))


def _first_line_dims(path: str, number: int, line: str, tokens: list[str]) -> int:
    """The dimensions of a file without header, from its first line: a word and numbers."""
    dims = len(tokens) - 1
    if dims < 1 or not all(_is_number(token) for token in tokens[1:]):
        raise ProjectorExportError(
            f"{path}, line {number}: this does not look like word vectors: {line.strip()[:60]!r}; expected "
            "`word v1 v2 ...` (numbers separated by spaces or tabs), optionally after a `count dim` header"
            + _separator_hint(line)
        )
    return dims


def _word_and_values(path: str, number: int, line: str, dims: int) -> tuple[str, list[str]]:
    tokens = _split(line)
    if len(tokens) == dims + 1:
        return tokens[0], tokens[1:]
    values = 0
    while values < len(tokens) - 1 and _is_number(tokens[-1 - values]):
        values += 1
    if len(tokens) > dims + 1 and values == dims:  # a word with spaces: "new york 0.1 0.2"
        return " ".join(tokens[:-dims]), tokens[-dims:]
    counted = values if len(tokens) > dims + 1 else len(tokens) - 1
    raise ProjectorExportError(
        f"{path}, line {number}: {counted} values after the word, expected {dims}; every line must be "
        f"`word` and then {dims} numbers separated by spaces or tabs" + _separator_hint(line)
    )


def _separator_hint(line: str) -> str:
    other = _OTHER_SPACE_RE.search(line)
    if other is None:
        return ""
    char = other.group()
    return f" (the line holds U+{ord(char):04X} {unicodedata.name(char, 'a space')}, which does not separate values)"


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _numbers(rows: list[list[str]], path: str, line_numbers: list[int]) -> np.ndarray:
    """Parse string rows into float32, naming the line and value that is not a number."""
    try:
        return np.array(rows, dtype=np.float32)
    except ValueError:
        pass
    for line, row in zip(line_numbers, rows):
        for column, token in enumerate(row, start=1):
            if not _is_number(token):
                raise ProjectorExportError(f"{path}, line {line}: value {column} is {token.strip()[:40]!r}, not a number")
    raise ProjectorExportError(f"{path}: rows near line {line_numbers[0]} are not all numbers")
