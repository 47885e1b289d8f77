"""What users hand the exporters, as numpy: tensors, matrices, per-point rows, and their memory.

One place turns `tf.Tensor`s, Keras variables, lists and arrays into numpy and
checks that a matrix is what the projector can take, so that both exporters
(the run folder and the standalone files) accept and refuse the same things.
"""

from __future__ import annotations

import os
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


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, as in a container), for worker counts."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_memory(nbytes: int, what: str, fix: str) -> None:
    """Refuse to allocate `nbytes` for `what` when this process cannot have them.

    Declared sizes (an `.npy` header, an HDF5 dataset, a word2vec header) are
    checked before anything is allocated, so a lying header costs an error
    message, not the machine's memory.
    """
    available = available_memory()
    if available is not None and nbytes > available:
        raise ProjectorExportError(
            f"{what} needs {format_bytes(nbytes)} of memory, but this process has {format_bytes(available)}; {fix}"
        )


def available_memory() -> int | None:
    """Bytes this process may still allocate: the system's available memory, lowered by a
    cgroup limit and by RLIMIT_AS/RLIMIT_DATA; None where none of these can be read."""
    limits = []
    meminfo = _read_key_values("/proc/meminfo")
    if "MemAvailable" in meminfo:
        limits.append(meminfo["MemAvailable"])
    cgroup = _cgroup_room()
    if cgroup is not None:
        limits.append(cgroup)
    try:
        import resource
    except ImportError:  # not on Unix
        return min(limits, default=None)
    status = _read_key_values("/proc/self/status")
    for limit, used in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
        soft = resource.getrlimit(limit)[0]
        if soft != resource.RLIM_INFINITY and used in status:
            limits.append(max(0, soft - status[used]))
    return min(limits, default=None)


def _read_key_values(path: str) -> dict[str, int]:
    """`Key:   123 kB` lines of a /proc file, in bytes."""
    values = {}
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    except OSError:
        pass
    return values


def _cgroup_room() -> int | None:
    """What a cgroup v2 memory limit leaves, if this process has one."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as f:
            path = next((line.split("::", 1)[1].strip() for line in f if line.startswith("0::")), None)
        if path is None:
            return None
        folder = os.path.join("/sys/fs/cgroup", path.lstrip("/"))
        with open(os.path.join(folder, "memory.max"), encoding="ascii") as f:
            limit = f.read().strip()
        with open(os.path.join(folder, "memory.current"), encoding="ascii") as f:
            current = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - current)


def format_bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


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
