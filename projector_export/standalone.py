"""Files for the standalone Embedding Projector: vectors.tsv, tensor.bytes, projector_config.json.

projector.tensorflow.org loads a tensor as a TSV of numbers (its Load button),
and a self-hosted standalone projector reads `projector_config.json`, whose
`tensorPath` names raw little-endian float32 bytes. Both parse every value into
a `Float32Array`, so the TSV holds, for each float32, the shortest decimal that
JavaScript's `Number()` (like Python's `float()`) reads back to the same bits.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from projector_export.arrays import float32_rows, not_finite_error, numeric_matrix
from projector_export.filenames import STANDALONE_CONFIG_FILENAME, VECTORS_FILENAME
from projector_export.files.reading import read_bytes
from projector_export.files.staging import STANDALONE, staged_folder
from projector_export.files.writing import replacing
from projector_export.format._float_text import NotFiniteError, format_float32_rows
from projector_export.machine import usable_cpus

METADATA_FILENAME = "metadata.tsv"
TENSOR_FILENAME = "tensor.bytes"

_CHUNK_VALUES = 1 << 20  # values formatted and written between progress calls
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
    from projector_export.read import read_embedding

    run = read_embedding(os.fspath(run_dir), tensor)
    matrix = run.vectors
    with staged_folder(out_dir, STANDALONE) as stage:
        with stage.file(VECTORS_FILENAME) as f:
            _write_tsv(f, matrix, progress, VECTORS_FILENAME)
        with stage.file(TENSOR_FILENAME) as f:
            _write_binary(f, matrix, TENSOR_FILENAME)
        embedding: dict[str, Any] = {
            "tensorName": run.name,
            "tensorShape": list(matrix.shape),
            "tensorPath": TENSOR_FILENAME,
        }
        metadata_name = sprite_name = None
        if run.metadata_text is not None:
            # Copied byte for byte: its labels are already escaped for the projector.
            metadata_name = METADATA_FILENAME
            stage.write(metadata_name, run.metadata_text)
            embedding["metadataPath"] = metadata_name
        if run.sprite_path:
            sprite_name = posixpath.basename(run.sprite_path)
            stage.write(sprite_name, read_bytes(run.sprite_path, f"{run.run_dir}: sprite image"))
            embedding["sprite"] = {"imagePath": sprite_name, "singleImageDim": list(run.single_image_dim)}
        stage.write(STANDALONE_CONFIG_FILENAME, json.dumps({"embeddings": [embedding]}, indent=2) + "\n")
    out_dir = stage.target

    def inside(name: str | None) -> str | None:
        return None if name is None else posixpath.join(out_dir, name)

    return StandaloneResult(
        out_dir=out_dir,
        name=run.name,
        shape=tuple(matrix.shape),
        vectors_path=inside(VECTORS_FILENAME),
        tensor_path=inside(TENSOR_FILENAME),
        config_path=inside(STANDALONE_CONFIG_FILENAME),
        metadata_path=inside(metadata_name),
        sprite_path=inside(sprite_name),
    )


def write_vectors_tsv(
    path: str, matrix: Any, progress: Callable[[int], None] | None = None, *, overwrite: bool = False
) -> None:
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
            It is written beside and moved into place; an existing file is
            replaced only with `overwrite`.
        matrix: 2-D array-like of numbers; written as float32.
        progress: called with the number of rows written so far, after each chunk.
        overwrite: replace an existing file at `path`.

    Raises:
        ProjectorExportError: not 2-D, empty, or a value that is NaN or infinite;
            `path` is a folder, a link or an existing file (without `overwrite`).

    Example:

    ```python
    import numpy as np
    from projector_export.standalone import write_vectors_tsv

    write_vectors_tsv("vectors.tsv", np.array([[0.25, -1.5e-7], [1 / 3, 0.0]], dtype=np.float32))
    print(repr(open("vectors.tsv").read()))  # '0.25\\t-1.5e-07\\n0.33333334\\t0\\n'
    ```
    """
    with replacing(path, what="vectors file", overwrite=overwrite) as f:
        _write_tsv(f, matrix, progress, str(path))


def _write_tsv(f, matrix: Any, progress: Callable[[int], None] | None, name: str) -> None:
    matrix = numeric_matrix(matrix, name=name)  # not converted: rows go to float32 chunk by chunk
    rows, columns = matrix.shape
    rows_per_chunk = max(1, _CHUNK_VALUES // columns)
    starts = range(0, rows, rows_per_chunk)

    def format_rows(start: int) -> list[bytes]:
        stop = min(start + rows_per_chunk, rows)
        chunk = float32_rows(matrix, start, stop)
        following = float32_rows(matrix, stop, stop + 1) if stop < rows else None
        try:
            return format_float32_rows(chunk, first=start == 0, following=following)
        except NotFiniteError as bad:
            row, column = divmod(bad.index, columns)
            raise not_finite_error(name, matrix, start + row, column) from None

    # Chunks are formatted on a few threads (numpy releases the GIL while it
    # works) and written in order; at most two chunks per thread are held.
    workers = max(1, min(_THREADS, usable_cpus(), len(starts)))
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        try:
            for start in starts:
                pending.append((start, pool.submit(format_rows, start)))
                if len(pending) > 2 * workers:
                    _write_next(f, pending, progress, rows_per_chunk, rows)
            while pending:
                _write_next(f, pending, progress, rows_per_chunk, rows)
        except BaseException:
            for _, future in pending:
                future.cancel()
            raise


def _write_next(f, pending: deque, progress, rows_per_chunk: int, rows: int) -> None:
    start, future = pending.popleft()
    for piece in future.result():
        f.write(piece)
    if progress is not None:
        progress(min(start + rows_per_chunk, rows))


def write_vectors_binary(path: str, matrix: Any, *, overwrite: bool = False) -> None:
    """Write a matrix as raw little-endian float32, row after row (the `tensorPath` format).

    Example:

    ```python
    import numpy as np
    from projector_export.standalone import write_vectors_binary

    write_vectors_binary("tensor.bytes", np.eye(2))
    print(open("tensor.bytes", "rb").read().hex())  # 0000803f00000000000000000000803f
    ```
    """
    with replacing(path, what="tensor file", overwrite=overwrite) as f:
        _write_binary(f, matrix, str(path))


def _write_binary(f, matrix: Any, name: str) -> None:
    matrix = numeric_matrix(matrix, name=name)
    rows_per_chunk = max(1, _CHUNK_VALUES // matrix.shape[1])
    for start in range(0, len(matrix), rows_per_chunk):
        chunk = float32_rows(matrix, start, start + rows_per_chunk)
        f.write(chunk.astype("<f4", copy=False).tobytes())
