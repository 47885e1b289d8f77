"""What users hand the exporters, as numpy: tensors, matrices and per-point rows.

One place turns `tf.Tensor`s, Keras variables, lists and arrays into numpy and
checks that a matrix is what the projector can take, so that both exporters
(the run folder and the standalone files) accept and refuse the same things.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from projector_export.errors import ProjectorExportError

_FINITE_CHUNK_ROWS = 1 << 16


def to_numpy(value: Any) -> Any:
    """`value` as numpy when it is a TensorFlow or Keras tensor or variable; anything else as it is."""
    if hasattr(value, "numpy") and not hasattr(value, "iloc"):  # not a pandas Series
        return value.numpy()
    return value


def numeric_matrix(vectors: Any, name: str = "embedding") -> np.ndarray:
    """`vectors` as a 2-D numpy array of numbers, not copied or converted where it already is one.

    Raises:
        ProjectorExportError: ragged rows, values that are not numbers, not 2-D, or empty.
    """
    vectors = to_numpy(vectors)
    try:
        array = np.asarray(vectors)
    except ValueError:
        array = np.asarray(vectors, dtype=object)
    if array.dtype == object:
        _raise_ragged(vectors, name)
    if array.dtype.kind not in "biuf":
        raise ProjectorExportError(f"vectors of {name!r} have dtype {array.dtype}; give numbers (floats or ints)")
    if array.ndim != 2:
        raise ProjectorExportError(
            f"vectors of {name!r} have shape {array.shape}; give a 2-D array, one row per "
            "point (a single vector v is v.reshape(1, -1))"
        )
    if 0 in array.shape:
        raise ProjectorExportError(f"vectors of {name!r} are empty (shape {array.shape}); give at least one row")
    return array


def as_matrix(vectors: Any, name: str = "embedding") -> np.ndarray:
    """`vectors` as a C-ordered float32 (rows, dims) array of finite numbers, or a clear error.

    A float32 C-ordered array (a memory-mapped `.npy` too) is returned as it is;
    anything else is converted once.
    """
    array = numeric_matrix(vectors, name)
    matrix = float32_rows(array, 0, len(array))
    for start in range(0, len(matrix), _FINITE_CHUNK_ROWS):
        block = matrix[start : start + _FINITE_CHUNK_ROWS]
        finite = np.isfinite(block)
        if not finite.all():
            row, column = np.argwhere(~finite)[0]
            raise not_finite_error(name, array, start + row, column)
    return matrix


def float32_rows(matrix: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows `start:stop` as C-ordered float32: a view when the matrix already is one.

    Values too large for float32 become infinite; `as_matrix` and the TSV
    writer report them with `not_finite_error`.
    """
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(matrix[start:stop], dtype=np.float32)


def not_finite_error(name: str, array: np.ndarray, row: int, column: int) -> ProjectorExportError:
    """The error for a value that is NaN, infinite, or too large for float32, quoting the original."""
    original = array[row, column].item()
    too_large = " (too large for float32)" if np.isfinite(original) else ""
    return ProjectorExportError(
        f"vectors of {name!r}: row {row}, column {column} holds {original!r}{too_large}; "
        "the projector needs finite numbers, so drop or replace that row"
    )


def per_point_rows(value: Any) -> int:
    """How many points a per-point value covers: the length of a list or array, of a
    dict's first column, or of a DataFrame. Used for metadata and sprites alike."""
    value = to_numpy(value)
    if hasattr(value, "columns") and hasattr(value, "index"):  # a pandas DataFrame
        return len(value.index)
    if isinstance(value, Mapping):
        return len(next(iter(value.values()))) if value else 0
    return len(value)


def _raise_ragged(vectors: Any, name: str) -> None:
    width = None
    for index, row in enumerate(vectors):
        try:
            length = len(row)
        except TypeError:
            raise ProjectorExportError(f"vectors of {name!r}: row {index} is {row!r}, not a row of numbers") from None
        if width is None:
            width = length
        elif length != width:
            raise ProjectorExportError(
                f"vectors of {name!r} are ragged: row 0 has {width} values but row {index} "
                f"has {length}; every row needs the same number of dimensions"
            )
    raise ProjectorExportError(f"vectors of {name!r} are not numbers; give a 2-D array of floats")
