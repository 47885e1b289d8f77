"""Files for the standalone Embedding Projector: vectors.tsv, tensor.bytes, projector_config.json.

projector.tensorflow.org loads a tensor as a TSV of numbers (its Load button),
and a self-hosted standalone projector reads `projector_config.json`, whose
`tensorPath` names raw little-endian float32 bytes. Both parse every value into
a `Float32Array`, so the TSV holds, for each float32, the shortest decimal that
JavaScript's `Number()` (like Python's `float()`) reads back to the same bits.
"""

from __future__ import annotations

import functools
import json
import math
import os
import posixpath
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.export import _normalise_dir, _rename_dir  # _rename_dir: file by file on object stores

VECTORS_FILENAME = "vectors.tsv"
METADATA_FILENAME = "metadata.tsv"
TENSOR_FILENAME = "tensor.bytes"
CONFIG_FILENAME = "projector_config.json"

_CHUNK_VALUES = 1 << 20  # values formatted and written between progress calls
_BLOCK_VALUES = 1 << 15  # values formatted at once: the work arrays stay in the CPU cache
_THREADS = 2  # formatting threads at most; each holds about 30 MB


@dataclass(frozen=True)
class StandaloneResult:
    """The files `export_standalone` wrote; paths are absolute (or full gs:// URLs)."""

    out_dir: str
    name: str
    shape: tuple[int, int]
    vectors_path: str
    tensor_path: str
    config_path: str
    metadata_path: str | None
    sprite_path: str | None


def export_standalone(
    run_dir: str,
    out_dir: str,
    tensor: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> StandaloneResult:
    """Write one tensor of a run folder as files for the standalone projector.

    `out_dir` gets `vectors.tsv` and `metadata.tsv` (for the Load button of
    projector.tensorflow.org), `tensor.bytes` and `projector_config.json` (for
    a self-hosted standalone projector), and the sprite PNG when the run has
    one. The folder is written beside `out_dir` and moved into place, so an
    export that fails leaves nothing half-written.

    Args:
        run_dir: a run folder written by `export_embedding(s)`.
        out_dir: the folder to write. An earlier standalone export there is
            replaced; a folder holding other files is refused.
        tensor: the tensor's name ("final"); by default the one the projector
            opens first.
        progress: called with the number of rows written so far.

    Returns:
        A `StandaloneResult` with the paths, tensor name and shape.

    Raises:
        ProjectorExportError: no such run, no such (or no default) tensor, or
            an `out_dir` that holds other files.

    Example:

    ```python
    import numpy as np
    from projector_export import export_embedding
    from projector_export.standalone import export_standalone

    export_embedding("logs/demo", np.eye(3), ["x", "y", "z"])
    result = export_standalone("logs/demo", "standalone/demo")
    print(result.vectors_path, result.shape)  # .../standalone/demo/vectors.tsv (3, 3)
    ```
    """
    import tensorflow as tf

    from projector_export.runs import read_run_tensor

    run = read_run_tensor(os.fspath(run_dir), tensor)
    matrix = run.vectors
    out_dir = _normalise_dir(out_dir)
    _check_out_dir(out_dir)
    parent, base = posixpath.split(out_dir)
    tf.io.gfile.makedirs(parent or ".")
    staging = posixpath.join(parent, f".{base}.standalone-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tf.io.gfile.makedirs(staging)
    try:
        write_vectors_tsv(posixpath.join(staging, VECTORS_FILENAME), matrix, progress)
        write_vectors_binary(posixpath.join(staging, TENSOR_FILENAME), matrix)
        embedding: dict[str, Any] = {
            "tensorName": run.name,
            "tensorShape": list(matrix.shape),
            "tensorPath": TENSOR_FILENAME,
        }
        metadata_name = sprite_name = None
        if run.metadata_path:
            # Copied byte for byte: its labels are already escaped for the projector.
            metadata_name = METADATA_FILENAME
            tf.io.gfile.copy(run.metadata_path, posixpath.join(staging, metadata_name))
            embedding["metadataPath"] = metadata_name
        if run.sprite_path:
            sprite_name = posixpath.basename(run.sprite_path)
            tf.io.gfile.copy(run.sprite_path, posixpath.join(staging, sprite_name))
            embedding["sprite"] = {"imagePath": sprite_name, "singleImageDim": list(run.single_image_dim)}
        with tf.io.gfile.GFile(posixpath.join(staging, CONFIG_FILENAME), "w") as f:
            f.write(json.dumps({"embeddings": [embedding]}, indent=2) + "\n")
        _replace_dir(staging, out_dir)
    except BaseException:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
        raise

    def inside(name: str | None) -> str | None:
        return None if name is None else posixpath.join(out_dir, name)

    return StandaloneResult(
        out_dir=out_dir,
        name=run.name,
        shape=tuple(matrix.shape),
        vectors_path=inside(VECTORS_FILENAME),
        tensor_path=inside(TENSOR_FILENAME),
        config_path=inside(CONFIG_FILENAME),
        metadata_path=inside(metadata_name),
        sprite_path=inside(sprite_name),
    )


def write_vectors_tsv(path: str, matrix: Any, progress: Callable[[int], None] | None = None) -> None:
    """Write a matrix as TSV, one row a line, each value in the fewest digits that give its float32 back.

    Parsing a value with Python's `float()` (or JavaScript's `Number()`) and
    rounding to float32 gives back exactly the stored float32, for every
    finite value: -0.0, subnormals and the extremes included. Values are
    written like `0.25`, `-1.5e-07`, `3.4028235e+38`: positional for
    1e-4 <= |x| < 1e9 (so whole numbers from 1e7 up are written out in full,
    `423585980`), else with an exponent. The text is built with numpy in
    blocks and streamed, so memory stays small whatever the matrix size.

    Args:
        path: the file to write; a local path or any URL `tf.io.gfile` supports.
        matrix: 2-D array-like of numbers; written as float32.
        progress: called with the number of rows written so far, after each chunk.

    Raises:
        ProjectorExportError: not 2-D, empty, or a value that is NaN or infinite.

    Example:

    ```python
    import numpy as np
    from projector_export.standalone import write_vectors_tsv

    write_vectors_tsv("vectors.tsv", np.array([[0.25, -1.5e-7], [1 / 3, 0.0]], dtype=np.float32))
    print(repr(open("vectors.tsv").read()))  # '0.25\\t-1.5e-07\\n0.33333334\\t0\\n'
    ```
    """
    import tensorflow as tf

    matrix = _as_2d(matrix)
    rows, columns = matrix.shape
    rows_per_chunk = max(1, _CHUNK_VALUES // columns)
    starts = range(0, rows, rows_per_chunk)
    local = threading.local()

    def format_rows(start: int) -> list[bytes]:
        if not hasattr(local, "formatter"):
            local.formatter = _TsvFormatter(_BLOCK_VALUES)
        stop = min(start + rows_per_chunk, rows)
        chunk = _float32_rows(matrix, start, stop)
        following = _float32_rows(matrix, stop, stop + 1) if stop < rows else None
        try:
            return local.formatter.format(chunk, columns, first=start == 0, following=following)
        except _NotFinite as bad:
            row, column = divmod(bad.index, columns)
            raise ProjectorExportError(
                f"{path}: row {start + row}, column {column} holds {matrix[start + row, column].item()!r}; "
                "the projector needs finite numbers, so drop or replace that row"
            ) from None

    # Chunks are formatted on a few threads (numpy releases the GIL while it
    # works) and written in order; at most two chunks per thread are held.
    workers = max(1, min(_THREADS, _usable_cpus(), len(starts)))
    with tf.io.gfile.GFile(path, "wb") as f, ThreadPoolExecutor(workers) as pool:
        try:
            pending: deque = deque()
            for start in starts:
                pending.append((start, pool.submit(format_rows, start)))
                if len(pending) > 2 * workers:
                    _write_next(f, pending, progress, rows_per_chunk, rows)
            while pending:
                _write_next(f, pending, progress, rows_per_chunk, rows)
        except BaseException:
            for _, future in pending:
                future.cancel()
            f.close()
            if tf.io.gfile.exists(path):
                tf.io.gfile.remove(path)
            raise


def _write_next(f, pending: deque, progress, rows_per_chunk: int, rows: int) -> None:
    start, future = pending.popleft()
    for piece in future.result():
        f.write(piece)
    if progress is not None:
        progress(min(start + rows_per_chunk, rows))


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def write_vectors_binary(path: str, matrix: Any) -> None:
    """Write a matrix as raw little-endian float32, row after row (the `tensorPath` format).

    Example:

    ```python
    import numpy as np
    from projector_export.standalone import write_vectors_binary

    write_vectors_binary("tensor.bytes", np.eye(2))
    print(open("tensor.bytes", "rb").read().hex())  # 0000803f00000000000000000000803f
    ```
    """
    import tensorflow as tf

    matrix = _as_2d(matrix)
    rows_per_chunk = max(1, _CHUNK_VALUES // matrix.shape[1])
    with tf.io.gfile.GFile(path, "wb") as f:
        for start in range(0, len(matrix), rows_per_chunk):
            chunk = _float32_rows(matrix, start, start + rows_per_chunk)
            f.write(chunk.astype("<f4", copy=False).tobytes())


def _as_2d(matrix: Any) -> np.ndarray:
    if hasattr(matrix, "numpy"):  # tf.Tensor, tf.Variable
        matrix = matrix.numpy()
    array = np.asarray(matrix)
    if array.ndim != 2 or 0 in array.shape or array.dtype.kind not in "biuf":
        raise ProjectorExportError(
            f"vectors have shape {array.shape} and dtype {array.dtype}; give a 2-D array of numbers "
            "with at least one row and one column"
        )
    return array


def _float32_rows(matrix: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows `start:stop` as C-ordered float32: a view when the matrix already is one."""
    with np.errstate(over="ignore"):  # too large for float32: inf, reported as not finite
        return np.ascontiguousarray(matrix[start:stop], dtype=np.float32)


def _check_out_dir(out_dir: str) -> None:
    """Refuse to replace a folder that is not an earlier standalone export (a log dir, a run)."""
    import tensorflow as tf

    if not tf.io.gfile.exists(out_dir):
        return
    if not tf.io.gfile.isdir(out_dir):
        raise ProjectorExportError(f"{out_dir} exists and is not a folder; choose another output folder")
    if tf.io.gfile.listdir(out_dir) and not tf.io.gfile.exists(posixpath.join(out_dir, CONFIG_FILENAME)):
        raise ProjectorExportError(
            f"{out_dir} holds other files (it is not an earlier standalone export, which has "
            f"{CONFIG_FILENAME}); choose a new or empty output folder"
        )


def _replace_dir(staging: str, out_dir: str) -> None:
    """Move the finished `staging` folder to `out_dir`, replacing an earlier export there."""
    import tensorflow as tf

    if not tf.io.gfile.exists(out_dir):
        _rename_dir(staging, out_dir)
        return
    parent, base = posixpath.split(out_dir)
    old = posixpath.join(parent, f".{base}.standalone-old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    _rename_dir(out_dir, old)
    _rename_dir(staging, out_dir)
    tf.io.gfile.rmtree(old)


# ---------------------------------------------------------------------------
# Float32 to shortest round-trip text, vectorized with numpy.
#
# For a block of values x (|x| as float64 a):
#   1. the decimal exponent e (10**e <= a < 10**(e+1)) from the binary exponent
#      and one comparison, and m9 = a * 10**(8-e): 9 digits and a fraction
#      (9 digits always round-trip a float32);
#   2. the fewest digits whose rounding of m9 stays inside the reals that round
#      to x: within half the gap to the next float32 below |x| (the smaller of
#      the two gaps), less a margin larger than every float64 rounding here, so
#      that a reader who parses the decimal to a double and rounds that to
#      float32 gets x back;
#   3. the text, from table lookups keyed on (exponent, last column or not,
#      sign of the next value, digit count): the digits, spread over 13 places
#      ("0.000123" has 3 zeros first), come from 5- and 4-digit tables of digit
#      values with a gap for the point after the first character; ORing the
#      key's pattern turns them into characters and adds the point, the
#      exponent, the separator and the next value's "-". At most 16 bytes;
#   4. the texts are laid end to end by one scatter of overlapping 16-byte
#      items, in order, each overwriting the unused tail of the one before.
# 10 <= |x| < 1e9 puts the point later ("12.5") and is redone for those values.
# ---------------------------------------------------------------------------

_OFFSET = 50  # a decimal exponent e is table index e + _OFFSET
_EXPONENTS = 100
_NOT_FINITE = _EXPONENTS - 1  # the table index of NaN and infinity
_POSITIONAL = (-4, 8)  # exponents written without "e": 1e-4 <= |x| < 1e9
_KEYS = _EXPONENTS * 40  # key = ((e + _OFFSET) * 4 + last_column * 2 + next_negative) * 10 + digits
_MARGIN = 1 - 1e-6
_FEWER_SCALE = np.array([1e-4, 1e-5, 1e-6, 1e-7, 1e-8])  # m9 in units of the 5th, 4th, ... 1st digit
_FEWER_ALLOWED = np.array([1e-1, 1e-2, 1e-3, 1e-4, 1e-5])  # the 6th digit's unit in those
_M64 = (1 << 64) - 1


class _NotFinite(Exception):
    def __init__(self, index: int):
        self.index = index


@dataclass(frozen=True)
class _Tables:
    exponent: np.ndarray  # float64 exponent field -> e + _OFFSET, or one less
    threshold: np.ndarray  # float64 exponent field -> 10**(e+1), to settle the one less
    scale: np.ndarray  # e + _OFFSET -> 10**(8-e)
    unit: np.ndarray  # key -> 10**-(9 - digits)
    spread: np.ndarray  # key -> 10**(13 - characters): the characters left-aligned in 13 digits
    pattern: np.ndarray  # key -> (low, high) bytes ORed onto the digit values: "0" per digit, the point, the suffix
    length: np.ndarray  # key -> bytes of text
    five_gap: np.ndarray  # 0..99999 -> its 5 digit values at bytes 0, 2..5 (byte 1 for the point)
    four_pair: np.ndarray  # 0..9999 -> its 4 digit values at bytes 6..9 of (low, high)
    four_high: np.ndarray  # 0..9999 -> its 4 digit values at bytes 10..13, in the high word
    five: np.ndarray  # 0..99999 -> "ddddd" (ASCII)
    four: np.ndarray  # 0..9999 -> "dddd" (ASCII)


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    exponent = np.full(2048, _NOT_FINITE, np.int64)
    threshold = np.full(2048, np.nan)
    exponent[0], threshold[0] = _OFFSET, np.inf  # zero: written "0"
    for field in range(1023 - 160, 1023 + 140):  # every float32, subnormals included
        power = field - 1023
        e = math.floor(power * math.log10(2))
        while Fraction(10) ** e > Fraction(2) ** power:
            e -= 1
        while Fraction(10) ** (e + 1) <= Fraction(2) ** power:
            e += 1
        exponent[field] = e + _OFFSET
        threshold[field] = float(Fraction(10) ** (e + 1))
    scale = np.array([float(Fraction(10) ** (8 - i + _OFFSET)) for i in range(_EXPONENTS)])
    scale[_NOT_FINITE] = np.nan  # NaN digits single out the rare values, see _TsvFormatter._rare

    unit, spread = np.zeros(_KEYS), np.zeros(_KEYS)
    pattern = np.zeros((_KEYS, 2), np.uint64)
    length = np.zeros(_KEYS, np.int64)
    low, high = _POSITIONAL
    for index in range(_EXPONENTS):
        e = index - _OFFSET
        exponential = not low <= e <= high
        zeros = -e if low <= e < 0 else 0  # "0.00123": the zeros before the digits
        for ending in range(4):
            last_column, next_negative = divmod(ending, 2)
            tail = b"e%+03d" % e if exponential else b""
            tail += b"\n" if last_column else b"\t"
            tail += b"-" if next_negative else b""
            for digits in range(1, 10):
                key = (index * 4 + ending) * 10 + digits
                characters = zeros + digits
                # the digits' "0" bits, with the point after the first character
                number = b"0" if characters == 1 else b"0." + b"0" * (characters - 1)
                unit[key] = float(Fraction(1, 10 ** (9 - digits)))
                # NaN for 10 <= |x| < 1e9, whose point is not after the first digit
                spread[key] = float(10 ** (13 - characters)) if not 0 < e <= high else np.nan
                bits = int.from_bytes(number + tail, "little")
                pattern[key] = bits & _M64, bits >> 64
                length[key] = len(number) + len(tail)

    def digit_values(count: int) -> np.ndarray:  # byte i: the i-th digit, most significant first
        k = np.arange(10**count, dtype=np.uint64)
        places = [(k // np.uint64(10 ** (count - 1 - i))) % np.uint64(10) for i in range(count)]
        return sum((place << np.uint64(8 * i) for i, place in enumerate(places)), np.uint64(0))

    five, four = digit_values(5), digit_values(4)
    five_gap = (five & np.uint64(0xFF)) | ((five >> np.uint64(8)) << np.uint64(16))
    four_pair = np.stack([four << np.uint64(48), four >> np.uint64(16)], axis=1)
    ascii = np.uint64(0x3030303030303030)
    return _Tables(exponent, threshold, scale, unit, spread, pattern, length,
                   five_gap, four_pair, four << np.uint64(16), five | (ascii >> np.uint64(24)), four | (ascii >> np.uint64(32)))


class _TsvFormatter:
    """Formats float32 values as TSV text, block by block, in reused work arrays."""

    def __init__(self, block: int):
        self.block = block
        self.t = _tables()
        empty = functools.partial(np.empty, block)
        self.f1, self.f2, self.f3, self.f4, self.f5 = (empty(np.float64) for _ in range(5))
        self.u32a, self.u32b = empty(np.uint32), empty(np.uint32)
        self.i1, self.i2, self.i3, self.exp, self.key, self.ends = (empty(np.int64) for _ in range(6))
        self.ok1, self.ok2, self.ok3 = (empty(bool) for _ in range(3))
        self.count = empty(np.uint8)
        self.fields = np.empty((block, 2), np.uint64)
        self.pair = np.empty((block, 2), np.uint64)
        self.text = np.empty(block * 16 + 16, np.uint8)
        self._ending, self._ending_shape = np.empty(0, np.int64), None

    def format(self, chunk: np.ndarray, columns: int, first: bool, following: np.ndarray | None) -> list[bytes]:
        """The text of `chunk` (whole rows of `columns` values, C-ordered float32), in pieces."""
        values = chunk.reshape(-1)
        pieces = []
        if first and np.signbit(values[0]):
            pieces.append(b"-")  # every later sign is written after the separator before it
        block = self.block // columns * columns or self.block  # whole rows, unless a row is longer
        for start in range(0, values.size, block):
            stop = min(start + block, values.size)
            if stop < values.size:
                next_negative = bool(np.signbit(values[stop]))
            else:
                next_negative = following is not None and bool(np.signbit(following.flat[0]))
            try:
                with np.errstate(invalid="ignore"):  # NaN and infinity are found, and reported, below
                    written = self._block(values[start:stop], start % columns, columns, next_negative)
            except _NotFinite as bad:
                raise _NotFinite(start + bad.index) from None
            # a block's text is still in the CPU cache: copied out now, it costs least
            pieces.append(self.text[:written].tobytes())
        return pieces

    def _block(self, x: np.ndarray, column: int, columns: int, next_negative: bool) -> int:
        """Write the text of `x` into self.text; return its length."""
        t, n = self.t, x.size
        f1, f2, f3, f4, f5 = self.f1[:n], self.f2[:n], self.f3[:n], self.f4[:n], self.f5[:n]
        i1, i2, i3, key = self.i1[:n], self.i2[:n], self.i3[:n], self.key[:n]
        ok1, ok2, ok3 = self.ok1[:n], self.ok2[:n], self.ok3[:n]
        fields, pair = self.fields[:n], self.pair[:n]
        bits = x.view(np.uint32)
        magnitude = np.bitwise_and(bits, np.uint32(0x7FFFFFFF), out=self.u32a[:n])
        a32 = magnitude.view(np.float32)
        a = f1
        a[...] = a32

        # 1. the decimal exponent (as a table index) and m9 = |x| * 10**(8-e): 9 digits and a fraction
        field = np.right_shift(a.view(np.int64), 52, out=i1)
        e = t.exponent.take(field, out=self.exp[:n], mode="clip")
        np.add(e, np.greater_equal(a, t.threshold.take(field, out=f2, mode="clip"), out=ok1), out=e)
        power = t.scale.take(e, out=f2, mode="clip")
        m9 = np.multiply(a, power, out=f3)

        # 2. the fewest digits (9, 8, 7, 6 here) whose rounding of m9 stays within
        # half the gap to the next float32 below |x| (the smaller gap), in m9's units
        below = np.maximum(magnitude, np.uint32(1), out=self.u32b[:n])
        below -= np.uint32(1)
        half = np.subtract(a32, below.view(np.float32), out=f4)
        half *= power
        half *= 0.5 * _MARGIN * 0.1
        y, near = f1, f5
        np.multiply(m9, 0.1, out=y)
        fits = (ok1, ok2, ok3)
        for level in range(3):
            if level:
                y *= 0.1
                half *= 0.1
            np.rint(y, out=near)
            near -= y
            np.abs(near, out=near)
            np.less_equal(near, half, out=fits[level])
        np.bitwise_or(ok2, ok3, out=ok2)
        np.bitwise_or(ok1, ok2, out=ok1)
        saved = np.add(ok1.view(np.uint8), ok2.view(np.uint8), out=self.count[:n])
        saved += ok3.view(np.uint8)

        # 3. the key: exponent, last column, sign of the next value, digit count
        np.multiply(e, 40, out=key)
        key += self._endings(n, column, columns)
        negative = np.right_shift(bits, np.uint32(31), out=self.u32b[:n])
        negative *= np.uint32(10)
        np.add(key[:-1], negative[1:], out=key[:-1])
        if next_negative:
            key[-1] += 10
        np.subtract(key, saved, out=key)
        if ok3.any():
            self._fewer_digits(ok3, m9, half, key)

        # the digits as a whole number, then spread over 13 places
        rounded = np.multiply(m9, t.unit.take(key, out=f2, mode="clip"), out=f2)
        np.rint(rounded, out=rounded)
        digits = np.multiply(rounded, t.spread.take(key, out=f1, mode="clip"), out=f4)
        wide = None
        if not digits.max() < 1e13:  # NaN or too big: a rare value, see _rare
            wide = self._rare(e, key, rounded, digits)
        # the 13 digits in groups of 5, 4, 4 (exact: a whole number below 1e13)
        group = np.multiply(digits, 1e-8, out=f1)
        group += 1e-9
        np.floor(group, out=group)
        i1[...] = group
        rest = np.multiply(group, 1e8, out=f3)
        np.subtract(digits, rest, out=rest)
        group = np.multiply(rest, 1e-4, out=f1)
        group += 1e-9
        np.floor(group, out=group)
        i2[...] = group
        group *= 1e4
        rest -= group
        i3[...] = rest
        t.four_pair.take(i2, axis=0, out=fields, mode="clip")
        fields[:, 0] |= t.five_gap.take(i1, mode="clip")
        fields[:, 1] |= t.four_high.take(i3, mode="clip")
        # digit values 0..9 OR "0" are their characters; digits past the number are 0, so
        # the suffix ORed onto them is intact
        fields |= t.pattern.take(key, axis=0, out=pair, mode="clip")
        length = t.length.take(key, out=i3, mode="clip")
        if wide is not None:
            self._point_inside(wide, e, key, digits, fields, length)

        # 4. lay the texts end to end: each 16-byte item overwrites the unused tail of the one before
        ends = np.cumsum(length, out=self.ends[:n])
        total = int(ends[-1])
        ends -= length
        items = np.ndarray(shape=(total + 1,), dtype="V16", buffer=self.text, strides=(1,))
        items[ends] = fields.view("V16").reshape(-1)
        return total

    def _endings(self, n: int, column: int, columns: int) -> np.ndarray:
        """The key's part for 9 digits and the separator: a tab, or a newline after a row's last value."""
        if self._ending_shape != (n, column, columns):
            self._ending = np.full(n, 9, np.int64)
            self._ending[columns - 1 - column :: columns] += 20
            self._ending_shape = (n, column, columns)
        return self._ending

    def _rare(self, e: np.ndarray, key: np.ndarray, rounded: np.ndarray, digits: np.ndarray) -> np.ndarray | None:
        """Deal with the values whose digits came out NaN or too big.

        Raises `_NotFinite` for NaN and infinity. A value rounded up to the
        next power of ten (9.9999999 -> "10") gets one digit and the exponent
        above. 10 <= |x| < 1e9 gets its digits here; their indices are returned
        for `_point_inside` (None when there are none).
        """
        if (e == _NOT_FINITE).any():
            raise _NotFinite(int(np.argmax(e == _NOT_FINITE)))
        up = np.flatnonzero(digits >= 1e13)
        if up.size:
            key[up] += 40 - key[up] % 10 + 1
            e[up] += 1
            rounded[up] = 1
            digits[up] = self.t.spread.take(key[up])
        wide = np.flatnonzero((e > _OFFSET) & (e <= _OFFSET + _POSITIONAL[1]))
        if not wide.size:
            return None
        digits[wide] = rounded[wide] * 10.0 ** (13 - key[wide] % 10)
        return wide

    @staticmethod
    def _fewer_digits(candidates: np.ndarray, m9: np.ndarray, half: np.ndarray, key: np.ndarray) -> None:
        """Lower the digit count of the values that round-trip with 5 digits or fewer.

        `half` is the allowed distance in units of the 6th digit. A value that
        fits with k digits fits with more, so the count of fits is what to drop.
        """
        index = np.flatnonzero(candidates)
        scaled = np.multiply.outer(_FEWER_SCALE, m9[index])  # a row per digit count
        gap = np.rint(scaled)
        gap -= scaled
        fits = np.less_equal(np.abs(gap, out=gap), np.multiply.outer(_FEWER_ALLOWED, half[index]))
        key[index] -= fits.sum(axis=0)

    def _point_inside(self, index, e, key, digits, fields, length) -> None:
        """Redo 10 <= |x| < 1e9, whose point (if any) comes after the integer part."""
        t = self.t
        u = np.uint64
        exponent = e[index] - _OFFSET
        count = key[index] % 10
        ending = key[index] // 10 % 4
        whole = digits[index]
        g0 = np.floor(whole * 1e-8 + 1e-9)
        rest = whole - g0 * 1e8
        g1 = np.floor(rest * 1e-4 + 1e-9)
        g2 = rest - g1 * 1e4
        four = t.four
        lo = t.five[g0.astype(np.intp)] | (four[g1.astype(np.intp)] << u(40))
        hi = (four[g1.astype(np.intp)] >> u(24)) | (four[g2.astype(np.intp)] << u(8))
        point = exponent + 1
        characters = np.maximum(count, point)
        number = characters + (count > point)
        keep_lo, keep_hi = _byte_masks(point)
        shifted_lo, shifted_hi = lo << u(8), (hi << u(8)) | (lo >> u(56))
        after_lo, after_hi = _byte_masks(point + 1)
        dot_shift = u(8) * point.astype(np.uint64)
        dot = np.full(index.size, ord("."), np.uint64)
        lo = (lo & keep_lo) | (dot << dot_shift) | (shifted_lo & ~after_lo)
        hi = (hi & keep_hi) | (dot << (dot_shift - u(64))) | (shifted_hi & ~after_hi)
        cut_lo, cut_hi = _byte_masks(number)
        lo &= cut_lo
        hi &= cut_hi
        suffix = np.array([_word(b"\t"), _word(b"\t-"), _word(b"\n"), _word(b"\n-")], np.uint64)[ending]
        shift = (number * 8).astype(np.uint64)
        lo |= suffix << shift
        hi |= (suffix >> (u(64) - shift)) | (suffix << (shift - u(64)))
        fields[index, 0] = lo
        fields[index, 1] = hi
        length[index] = number + 1 + (ending % 2)


def _byte_masks(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the low `count` bytes of a 128-bit value, as (low word, high word)."""
    bits = (count * 8).astype(np.uint64)
    ones = np.uint64(_M64)
    lo = np.where(bits >= 64, ones, ~(ones << bits))
    hi = np.where(bits > 64, ~(ones << (bits - np.uint64(64))), np.uint64(0))
    return lo, hi


def _word(text: bytes) -> int:
    return int.from_bytes(text, "little")
