"""Readers of the vectors people arrive with: .npy, vector TSVs, word2vec/GloVe text, Keras models."""

from __future__ import annotations

import io
import itertools
import json
import logging
import posixpath
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.export import safe_tensor_name

logger = logging.getLogger(__name__)

# Above this the projector gets slow: it samples 100,000 points for PCA and t-SNE.
LARGE_ROWS = 100_000
_CHUNK_LINES = 50_000


@dataclass(frozen=True)
class Source:
    """Tensors read from one input file, with labels when the file carries them."""

    path: str
    tensors: dict[str, np.ndarray]
    labels: list[str] | None = None
    total_rows: int | None = None  # before --max-rows


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
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        raise ProjectorExportError(f"{path}: no such file; check the path")
    if max_rows is not None and max_rows < 1:
        raise ProjectorExportError(f"--max-rows must be at least 1, not {max_rows}")
    suffix = posixpath.splitext(path)[1].lower()
    reader = {".npy": _read_npy, ".keras": _read_keras, ".tsv": _read_vector_tsv}.get(suffix, _read_word_vectors)
    return reader(path, max_rows, progress or (lambda rows: None))


def warn_if_large(source: Source, max_rows: int | None) -> None:
    """Log a warning, with the `--max-rows` to pass, when more rows are exported than the projector handles well."""
    total = source.total_rows
    if total is not None and total > LARGE_ROWS and (max_rows is None or max_rows > LARGE_ROWS):
        logger.warning(
            "%s has %s rows; the projector slows down above %s points and samples that many for "
            "PCA and t-SNE. Pass --max-rows %d to export only the first rows (in a frequency-sorted "
            "vocabulary, the most common words).",
            source.path, f"{total:,}", f"{LARGE_ROWS:,}", LARGE_ROWS,
        )


def _read_npy(path: str, max_rows: int | None, progress) -> Source:
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "rb") as f:
        try:
            array = np.load(io.BytesIO(f.read()), allow_pickle=False)
        except ValueError as error:
            raise ProjectorExportError(f"{path}: not a readable .npy array ({error})") from None
    if array.ndim != 2:
        raise ProjectorExportError(f"{path}: the array has shape {array.shape}; give a 2-D (rows, dims) array")
    return Source(path, {"embedding": array[:max_rows]}, total_rows=len(array))


def _read_vector_tsv(path: str, max_rows: int | None, progress) -> Source:
    rows = []
    width = None
    for line_number, line in _lines(path):
        if max_rows is not None and len(rows) == max_rows:
            break
        if not line.strip():
            continue
        values = line.split("\t")
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise ProjectorExportError(
                f"{path}, line {line_number}: {len(values)} values, but the first row has {width}; "
                "every row needs the same number of tab-separated values"
            )
        rows.append(values)
    if not rows:
        raise ProjectorExportError(f"{path}: no vectors in the file")
    matrix = _numbers(rows, path, first_line=1, skip_columns=0)
    return Source(path, {"embedding": matrix}, total_rows=len(matrix))


def _read_word_vectors(path: str, max_rows: int | None, progress) -> Source:
    lines = _lines(path)
    try:
        first_number, first = next(lines)
    except StopIteration:
        raise ProjectorExportError(f"{path}: the file is empty") from None
    header = first.split()
    declared = None
    pending = [(first_number, first)]
    if len(header) == 2 and all(token.isdigit() for token in header):
        declared, dims = int(header[0]), int(header[1])
        pending = []
    else:
        dims = len(header) - 1
        if dims < 1:
            raise ProjectorExportError(
                f"{path}, line 1: {first.strip()[:40]!r} is neither a `count dim` header nor "
                "`word v1 v2 ...`; give a word2vec/GloVe text file"
            )

    words: list[str] = []
    blocks: list[np.ndarray] = []
    chunk: list[list[str]] = []
    chunk_start = None
    for line_number, line in itertools.chain(pending, lines):
        if max_rows is not None and len(words) + len(chunk) == max_rows:
            break
        if not line.strip():
            continue
        # The last `dims` tokens are numbers; the word is the rest (GloVe has words with spaces).
        tokens = line.rstrip("\r\n").rstrip(" ").rsplit(" ", dims)
        if len(tokens) != dims + 1 or not tokens[0]:
            raise ProjectorExportError(
                f"{path}, line {line_number}: {len(line.split()) - 1} values after the word, expected "
                f"{dims}; every line must be `word` and then {dims} numbers separated by spaces"
            )
        if chunk_start is None:
            chunk_start = line_number
        chunk.append(tokens)
        if len(chunk) == _CHUNK_LINES:
            words.extend(tokens[0] for tokens in chunk)
            blocks.append(_numbers(chunk, path, first_line=chunk_start, skip_columns=1))
            chunk, chunk_start = [], None
            progress(len(words))
    if chunk:
        words.extend(tokens[0] for tokens in chunk)
        blocks.append(_numbers(chunk, path, first_line=chunk_start, skip_columns=1))
    if not words:
        raise ProjectorExportError(f"{path}: no vectors after the header")
    if declared is not None and max_rows is None and declared != len(words):
        raise ProjectorExportError(
            f"{path}, line 1: the header says {declared} words but the file has {len(words)}; "
            f"fix the header to `{len(words)} {dims}` or restore the missing lines"
        )
    matrix = np.concatenate(blocks)
    return Source(path, {"embedding": matrix}, labels=words, total_rows=declared or len(words))


def _numbers(rows: list[list[str]], path: str, first_line: int, skip_columns: int) -> np.ndarray:
    """Parse string rows into float32, naming the line and value that is not a number."""
    try:
        return np.array([row[skip_columns:] for row in rows], dtype=np.float32)
    except ValueError:
        pass
    line = first_line
    for row in rows:
        for column, token in enumerate(row[skip_columns:], start=1):
            try:
                float(token)
            except ValueError:
                raise ProjectorExportError(
                    f"{path}, line {line}: value {column} is {token.strip()[:40]!r}, not a number"
                ) from None
        line += 1
    raise ProjectorExportError(f"{path}: rows near line {first_line} are not all numbers")


def _lines(path: str):
    """(line number, text) of a text file, read through tf.io.gfile."""
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ProjectorExportError(
                    f"{path}, line {number}: not UTF-8 text; is it a binary word2vec file? "
                    "Convert it to text (gensim: save_word2vec_format(..., binary=False))"
                ) from None


def _read_keras(path: str, max_rows: int | None, progress) -> Source:
    """Every Embedding layer of a `.keras` file, read from its config and weights.

    The archive is read directly rather than through `keras.saving.load_model`,
    so models with Lambda layers or unregistered custom layers load too and no
    code stored in the file runs.
    """
    import h5py
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        config = json.loads(archive.read("config.json"))
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise ProjectorExportError(f"{path}: not a Keras 3 .keras model file ({error})") from None
    tensors: dict[str, np.ndarray] = {}
    with weights:
        for layer_name, h5_path in _embedding_layers(config, ""):
            if h5_path not in weights:
                raise ProjectorExportError(f"{path}: no weights stored for Embedding layer {layer_name!r}")
            array = weights[h5_path][: max_rows if max_rows else None]
            tensors[_tensor_name(layer_name, tensors)] = np.asarray(array)
    if not tensors:
        raise ProjectorExportError(
            f"{path}: the model has no Embedding layer; export the layer's weights as a .npy "
            "file instead (np.save('vectors.npy', layer.get_weights()[0]))"
        )
    total = max(len(t) for t in tensors.values()) if not max_rows else None
    return Source(path, tensors, total_rows=total)


def _embedding_layers(layer: dict, h5_prefix: str):
    """(layer name, weights path) of every Embedding layer under a serialized layer.

    Keras stores a container's layers under `layers/<snake_case class name>`,
    numbering repeats (`embedding`, `embedding_1`), in the order of the
    container's `layers` (which for Sequential leaves out the InputLayer).
    """
    config = layer.get("config", {})
    children = config.get("layers") if isinstance(config, dict) else None
    if layer.get("class_name") == "Embedding":
        yield config.get("name", "embedding"), f"{h5_prefix}vars/0"
    if not children:
        return
    used: dict[str, int] = {}
    for child in children:
        if layer.get("class_name") == "Sequential" and child.get("class_name") == "InputLayer":
            continue
        name = _snake_case(child.get("class_name", "layer"))
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        yield from _embedding_layers(child, f"{h5_prefix}layers/{name}/")


def _snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _tensor_name(layer_name: str, taken: dict[str, Any]) -> str:
    name = safe_tensor_name(layer_name) or "embedding"
    while name in taken:
        name += "_"
    return name


def read_labels(path: str) -> list[str] | dict[str, list[str]]:
    """A metadata file: one label a line, or a TSV whose first line (with tabs) is the header.

    Every line is one row, blank ones included (they become visible
    placeholders when exported), so rows stay aligned with the vectors.
    """
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        raise ProjectorExportError(f"{path}: no such metadata file; check the path")
    with tf.io.gfile.GFile(path, "rb") as f:
        try:
            text = f.read().decode("utf-8")
        except UnicodeDecodeError as error:
            raise ProjectorExportError(f"{path}: not UTF-8 text ({error})") from None
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
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
