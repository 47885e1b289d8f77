"""The vectors people arrive with: `.npy`, vector TSVs, word2vec/GloVe text, Keras models; and `export_file`.

Each reader holds at most the matrix it returns plus a bounded working set:
`.npy` files are memory-mapped (`max_rows` reads only those rows), declared
sizes are checked against the memory this process has before anything is
allocated, and text is parsed in chunks into one preallocated matrix.
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.files.fs import is_remote
from projector_export.files.reading import file_size, open_file, utf8_lines
from projector_export.machine import check_memory, format_bytes

logger = logging.getLogger(__name__)

# Above this the projector gets slow: it samples 100,000 points for PCA and t-SNE.
LARGE_ROWS = 100_000


@dataclass(frozen=True)
class Source:
    """Tensors read from one input file, with labels when the file carries them."""

    path: str
    tensors: dict[str, np.ndarray]
    labels: list[str] | None = None
    total_rows: int | None = None  # before max_rows


def read_source(path: str, *, max_rows: int | None = None, progress: Callable[[int], None] | None = None) -> Source:
    """Read vectors from `path`, choosing the reader by its extension.

    `.npy`: a 2-D array. `.keras`: every Embedding layer, named after its layer.
    `.tsv`: numbers separated by tabs, one row a line. Anything else: word2vec or
    GloVe text (`word v1 v2 ...`, with or without a `count dim` first line),
    the word becoming the label.

    Args:
        path: the input file (local or any URL `tf.io.gfile` reads).
        max_rows: keep only the first rows (the most common words of a
            frequency-sorted vocabulary).
        progress: called with the number of rows read so far, for long text files.
    """
    from projector_export.inputs.keras_models import read_keras
    from projector_export.inputs.word_vectors import read_vector_tsv, read_word_vectors

    path = os.fspath(path)
    if max_rows is not None and max_rows < 1:
        raise ProjectorExportError(f"`max_rows={max_rows}`: keep at least 1 row")
    file_size(path, "", allow_pipe=True)
    progress = progress or (lambda rows: None)
    suffix = posixpath.splitext(path)[1].lower()
    if suffix == ".npy":
        return _read_npy(path, max_rows)
    if suffix == ".keras":
        tensors = read_keras(path, max_rows)
        return Source(path, tensors, total_rows=None if max_rows else max(len(t) for t in tensors.values()))
    if suffix == ".tsv":
        matrix = read_vector_tsv(path, max_rows, progress)
        return Source(path, {"embedding": matrix}, total_rows=len(matrix))
    words, matrix, total = read_word_vectors(path, max_rows, progress)
    return Source(path, {"embedding": matrix}, labels=words, total_rows=total)


def warn_if_large(source: Source, max_rows: int | None) -> None:
    """Log a warning, with the `max_rows` to pass, when more rows are exported than the projector handles well."""
    total = source.total_rows
    if total is not None and total > LARGE_ROWS and (max_rows is None or max_rows > LARGE_ROWS):
        logger.warning(
            "%s has %s rows; the projector slows down above %s points and samples that many for "
            "PCA and t-SNE. Pass `max_rows=%d` to export only the first rows (in a frequency-sorted "
            "vocabulary, the most common words).",
            source.path, f"{total:,}", f"{LARGE_ROWS:,}", LARGE_ROWS,
        )


def _read_npy(path: str, max_rows: int | None) -> Source:
    """A 2-D `.npy` array, memory-mapped where the file is local: only the rows kept are read."""
    shape, dtype, fortran, offset = _npy_header(path)
    size = file_size(path, "", allow_pipe=True)
    needed = int(np.prod(shape)) * dtype.itemsize
    if size is not None and offset + needed > size:
        raise ProjectorExportError(
            f"{path}: its header declares a {shape} {dtype} array ({format_bytes(needed)}), but the file holds "
            f"{format_bytes(size - offset)} of data; the file is truncated or not what it claims"
        )
    rows = shape[0] if max_rows is None else min(shape[0], max_rows)
    check_memory(rows * shape[1] * 4, f"{path} ({rows:,} x {shape[1]:,} as float32)", "pass `max_rows=` to read fewer rows")
    if not is_remote(path) and size is not None:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    else:
        check_memory(needed, f"{path} ({format_bytes(needed)})", "copy the file to a local disk, or save fewer rows")
        array = _load_whole(path)
    return Source(path, {"embedding": array[:rows]}, total_rows=shape[0])


def _npy_header(path: str):
    """(shape, dtype, fortran order, data offset) of a `.npy` file, read without its data."""
    with open_file(path, "", allow_pipe=True) as f:
        try:
            version = np.lib.format.read_magic(f)
            read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}[version]
            shape, fortran, dtype = read(f)
        except (ValueError, KeyError, EOFError, OSError) as error:
            raise ProjectorExportError(f"{path}: not a readable .npy array ({error or 'unsupported version'})") from None
        offset = f.tell()
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ProjectorExportError(f"{path}: the array holds {dtype}, not numbers; save a float array")
    if len(shape) != 2:
        raise ProjectorExportError(f"{path}: the array has shape {shape}; give a 2-D (rows, dims) array")
    return shape, dtype, fortran, offset


def _load_whole(path: str) -> np.ndarray:
    import io

    with open_file(path, "", allow_pipe=True) as f:
        try:
            return np.load(io.BytesIO(f.read()), allow_pickle=False)
        except ValueError as error:
            raise ProjectorExportError(f"{path}: not a readable .npy array ({error})") from None


def read_labels(path: str) -> list[str] | dict[str, list[str]]:
    """A metadata file: one label a line, or a TSV whose first line (with tabs) is the header.

    Every line is one row, blank ones included (they become visible
    placeholders when exported), so rows stay aligned with the vectors. A
    byte-order mark before the first line is dropped.
    """
    path = os.fspath(path)
    lines = [line.rstrip("\n").removesuffix("\r") for _, line in utf8_lines(path, "metadata file")]
    if not lines:
        raise ProjectorExportError(f"{path}: the metadata file is empty")
    if "\t" not in lines[0]:
        return lines
    header = lines[0].split("\t")
    columns: dict[str, list[str]] = {name: [] for name in header}
    if len(columns) != len(header):
        raise ProjectorExportError(f"{path}, line 1: a column name appears twice in the header")
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise ProjectorExportError(
                f"{path}, line {number}: {len(cells)} columns, but the header has {len(header)}; "
                "give every row one value per column, separated by tabs"
            )
        for name, cell in zip(header, cells):
            columns[name].append(cell)
    return columns


