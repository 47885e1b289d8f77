"""Run folders the Embedding Projector opens: `export_embedding` and `export_embeddings`.

A run folder holds a TF2 checkpoint with every embedding, `projector_config.pbtxt`
with paths relative to the folder, metadata TSVs, sprite PNGs and an event
file, without which `tensorboard --logdir PARENT` does not list the run.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import posixpath
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from projector_export.checkpoint import checkpoint_number, write_checkpoint
from projector_export.config import CONFIG_FILENAME, ConfigEntry, config_text
from projector_export.errors import ProjectorExportError
from projector_export.metadata import MetadataTable, metadata_table
from projector_export.sprite import Sprite, make_sprite

logger = logging.getLogger(__name__)

_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_NOT_NAME_RE = re.compile(r"[^A-Za-z0-9_-]")
# Sibling folders an export writes before moving into place; `validate` and
# later exports recognise them as leftovers of an export that was killed.
STAGING_RE = re.compile(r"^\.(?P<run>.+)\.(?:export|old)-(?P<pid>\d+)-[0-9a-f]+$")
_FINITE_CHUNK_ROWS = 1 << 16
# Tensors of fewer columns get columns of zeros: see _projector_shaped.
MIN_COLUMNS = 3


@dataclass(frozen=True)
class Embedding:
    """One tensor of a run, with its optional metadata and sprite.

    Args:
        vectors: 2-D array-like of numbers, one row per point, at least 2 rows.
            Fewer than 3 columns are stored with columns of zeros added (the
            projector draws nothing for 2 columns; see `_projector_shaped`).
        metadata: a list of labels, a dict of columns, or a pandas DataFrame.
        name: tensor name: letters, digits, `_` and `-`.
        sprite: per-point images (N, H, W[, C]) or per-point colours ((N, 3),
            (N, 4) or colour strings), see `make_sprite`.
        sprite_cell_size: swatch size in pixels when `sprite` holds colours.
    """

    vectors: Any
    metadata: Any = None
    name: str = "embedding"
    sprite: Any = None
    sprite_cell_size: int | None = None


@dataclass(frozen=True)
class ExportedTensor:
    """Where one exported tensor went; paths are absolute (or full gs:// URLs).

    `name` is also the tensor's checkpoint key and what the projector lists.
    """

    name: str
    shape: tuple[int, int]
    metadata_path: str | None
    sprite_path: str | None


@dataclass(frozen=True)
class ExportResult:
    """The run folder an export wrote and what it holds."""

    run_dir: str
    config_path: str
    checkpoint_prefix: str
    tensors: tuple[ExportedTensor, ...]

    @property
    def name(self) -> str:
        """The first tensor's name, as the projector lists it."""
        return self.tensors[0].name

    @property
    def shape(self) -> tuple[int, int]:
        return self.tensors[0].shape


def export_embedding(
    run_dir: str,
    vectors: Any,
    metadata: Any = None,
    *,
    name: str = "embedding",
    sprite: Any = None,
    sprite_cell_size: int | None = None,
) -> ExportResult:
    """Write one embedding as a run folder that TensorBoard's projector opens.

    Args:
        run_dir: the run folder, e.g. `logs/words`; `tensorboard --logdir logs`
            then lists it. A local path or any URL `tf.io.gfile` supports.
        vectors: 2-D array-like (numpy, lists, tf tensors), at least 2 rows;
            stored as float32, with columns of zeros added up to 3 (the
            projector's default 3-D view draws nothing for 2 columns).
        metadata: one label per row (list), or several columns (dict or DataFrame).
        name: tensor name, letters, digits, `_` and `-`.
        sprite: per-point images or colours (see `Embedding`).
        sprite_cell_size: swatch size in pixels for colour sprites.

    Returns:
        An `ExportResult` with the paths, tensor name and shape.

    Raises:
        ProjectorExportError: bad input; nothing is written then.

    Example:

    ```python
    import numpy as np
    from projector_export import export_embedding

    vectors = np.random.default_rng(0).normal(size=(3, 8))
    result = export_embedding("logs/demo", vectors, ["cat", "dog", "fish"])
    print(result.name, result.shape)  # embedding (3, 8)
    ```
    """
    return export_embeddings(
        run_dir,
        [Embedding(vectors, metadata, name=name, sprite=sprite, sprite_cell_size=sprite_cell_size)],
    )


def export_embeddings(run_dir: str, embeddings: Iterable[Embedding]) -> ExportResult:
    """Write several embeddings (epochs, layers) into one run folder.

    Everything is checked before anything is written. The folder is written
    beside `run_dir` and then moved into place, so a failed or killed export
    leaves the previous run as it was. The files of an existing run are
    replaced whole; its subfolders (such as the `train/` and `validation/`
    runs of Keras's TensorBoard callback) are kept.

    Identical metadata and sprites are written once and shared.
    """
    import tensorflow as tf

    prepared = _prepare(list(embeddings))
    run_dir = _normalise_dir(run_dir)
    parent, base = posixpath.split(run_dir)
    tf.io.gfile.makedirs(parent or ".")
    _recover_leftovers(parent, base)

    staging = posixpath.join(parent, f".{base}.export-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tf.io.gfile.makedirs(staging)
    try:
        entries, files = _write_assets(staging, prepared)
        number = checkpoint_number(run_dir) + 1
        prefix = write_checkpoint(staging, {item.name: item.vectors for item in prepared}, number)
        _write_text(posixpath.join(staging, CONFIG_FILENAME), config_text(entries))
        # Last: from here TensorBoard lists the folder as a run.
        _write_event_file(staging)
        _move_into_place(staging, run_dir)
    except BaseException:
        if tf.io.gfile.exists(staging):
            _discard(staging)
        raise

    tensors = tuple(
        ExportedTensor(
            name=item.name,
            shape=item.vectors.shape,
            metadata_path=_under(run_dir, entry.metadata_path),
            sprite_path=_under(run_dir, entry.sprite_path),
        )
        for item, entry, in zip(prepared, entries)
    )
    return ExportResult(
        run_dir=run_dir,
        config_path=posixpath.join(run_dir, CONFIG_FILENAME),
        checkpoint_prefix=posixpath.join(run_dir, posixpath.basename(prefix)),
        tensors=tensors,
    )


@dataclass(frozen=True)
class _Prepared:
    name: str
    vectors: np.ndarray
    metadata: MetadataTable | None
    sprite: Sprite | None


def safe_tensor_name(text: str) -> str:
    """`text` as a tensor name: every character but letters, digits, `_` and `-` becomes `_`."""
    return _NOT_NAME_RE.sub("_", text)


def _prepare(embeddings: list[Embedding]) -> list[_Prepared]:
    if not embeddings:
        raise ProjectorExportError("no embeddings to export; pass at least one Embedding")
    seen = set()
    prepared = []
    for embedding in embeddings:
        name = embedding.name
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise ProjectorExportError(
                f"tensor name {name!r} is not allowed; use letters, digits, '_' and '-', e.g. 'epoch-003'"
            )
        if name in seen:
            raise ProjectorExportError(f"tensor name {name!r} is used twice; give each embedding its own name")
        seen.add(name)
        vectors = _projector_shaped(as_matrix(embedding.vectors, name), name)
        table = None if embedding.metadata is None else metadata_table(embedding.metadata, len(vectors))
        sprite = None
        if embedding.sprite is not None:
            sprite = make_sprite(embedding.sprite, len(vectors), cell_size=embedding.sprite_cell_size)
        prepared.append(_Prepared(name, vectors, table, sprite))
    return prepared


def as_matrix(vectors: Any, name: str = "embedding") -> np.ndarray:
    """`vectors` as a C-ordered float32 (rows, dims) array, or a clear error."""
    if hasattr(vectors, "numpy"):  # tf.Tensor, tf.Variable, Keras variables
        vectors = vectors.numpy()
    try:
        array = np.asarray(vectors)
    except ValueError:
        array = np.asarray(vectors, dtype=object)
    if array.dtype == object:
        _raise_ragged(vectors, name)
    if array.dtype.kind not in "biuf":
        raise ProjectorExportError(
            f"vectors of {name!r} have dtype {array.dtype}; give numbers (floats or ints)"
        )
    if array.ndim != 2:
        raise ProjectorExportError(
            f"vectors of {name!r} have shape {array.shape}; give a 2-D array, one row per "
            "point (a single vector v is v.reshape(1, -1))"
        )
    if 0 in array.shape:
        raise ProjectorExportError(f"vectors of {name!r} are empty (shape {array.shape}); give at least one row")
    with np.errstate(over="ignore"):  # overflow shows up as inf, reported below
        matrix = np.ascontiguousarray(array, dtype=np.float32)
    for start in range(0, len(matrix), _FINITE_CHUNK_ROWS):
        block = matrix[start : start + _FINITE_CHUNK_ROWS]
        finite = np.isfinite(block)
        if not finite.all():
            row, column = np.argwhere(~finite)[0]
            original = array[start + row, column].item()
            raise ProjectorExportError(
                f"vectors of {name!r}: row {start + row}, column {column} holds {original!r}"
                f"{' (too large for float32)' if np.isfinite(original) else ''}; "
                "the projector needs finite numbers, so drop or replace that row"
            )
    return matrix


def _projector_shaped(matrix: np.ndarray, name: str) -> np.ndarray:
    """`matrix` as the projector page can show it: at least 2 rows, at least 3 columns.

    The page lists no tensor of 1 row (or 1 column), and its PCA view, 3-D by
    default, reads a third component: for 2 columns it gets NaN and draws no
    point. Fewer than 3 columns are therefore padded with zeros, which leaves
    every point where its own coordinates put it, in the plane (or on the line)
    of the first columns.
    """
    if len(matrix) < 2:
        raise ProjectorExportError(
            f"vectors of {name!r} have 1 row; the projector lists only tensors of at least 2 rows, "
            "so give at least 2 points"
        )
    if matrix.shape[1] >= MIN_COLUMNS:
        return matrix
    padded = np.zeros((len(matrix), MIN_COLUMNS), dtype=np.float32)
    padded[:, : matrix.shape[1]] = matrix
    return padded


def _raise_ragged(vectors: Any, name: str) -> None:
    rows = list(vectors)
    width = None
    for index, row in enumerate(rows):
        try:
            length = len(row)
        except TypeError:
            raise ProjectorExportError(
                f"vectors of {name!r}: row {index} is {row!r}, not a row of numbers"
            ) from None
        if width is None:
            width = length
        elif length != width:
            raise ProjectorExportError(
                f"vectors of {name!r} are ragged: row 0 has {width} values but row {index} "
                f"has {length}; every row needs the same number of dimensions"
            )
    raise ProjectorExportError(f"vectors of {name!r} are not numbers; give a 2-D array of floats")


def _write_assets(staging: str, prepared: list[_Prepared]) -> tuple[list[ConfigEntry], dict]:
    """Write metadata and sprites (each distinct one once); return config entries."""
    written: dict[bytes, str] = {}
    entries = []
    for item in prepared:
        metadata_path = sprite_path = None
        if item.metadata is not None:
            text = item.metadata.to_tsv().encode("utf-8")
            metadata_path = _write_once(staging, f"{item.name}.metadata.tsv", text, written)
        if item.sprite is not None:
            png = item.sprite.to_png()
            sprite_path = _write_once(staging, f"{item.name}.sprite.png", png, written)
        entries.append(
            ConfigEntry(
                tensor_name=item.name,
                metadata_path=metadata_path,
                sprite_path=sprite_path,
                single_image_dim=item.sprite.single_image_dim if item.sprite else None,
            )
        )
    return entries, written


def _write_once(staging: str, filename: str, content: bytes, written: dict[bytes, str]) -> str:
    key = hashlib.sha256(content).digest()
    if key not in written:
        _write_bytes(posixpath.join(staging, filename), content)
        written[key] = filename
    return written[key]


def _write_text(path: str, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: str, content: bytes) -> None:
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(content)


def _write_event_file(run_dir: str) -> None:
    import tensorflow as tf

    writer = tf.summary.create_file_writer(run_dir)
    writer.flush()
    writer.close()


def _move_into_place(staging: str, run_dir: str) -> None:
    """Make `staging` the run folder in one step, keeping the old folder's subfolders."""
    import tensorflow as tf

    if not tf.io.gfile.exists(run_dir):
        _rename_dir(staging, run_dir)
        return
    if not tf.io.gfile.isdir(run_dir):
        raise ProjectorExportError(f"{run_dir} exists and is not a folder; choose another run folder")
    if not _exchange(staging, run_dir):
        parent, base = posixpath.split(run_dir)
        old = posixpath.join(parent, f".{base}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        _rename_dir(run_dir, old)
        _rename_dir(staging, run_dir)
        staging = old
    # `staging` now holds the previous run: carry its subfolders over.
    _carry_subfolders(staging, run_dir)
    _discard(staging)


def _carry_subfolders(old: str, run_dir: str) -> None:
    import tensorflow as tf

    for entry in tf.io.gfile.listdir(old):
        entry = entry.rstrip("/")
        source = posixpath.join(old, entry)
        target = posixpath.join(run_dir, entry)
        if tf.io.gfile.isdir(source) and not tf.io.gfile.exists(target):
            _rename_dir(source, target)


def _rename_dir(source: str, target: str) -> None:
    """Rename a folder; on object stores (gs://, ram://) file by file."""
    import tensorflow as tf

    if "://" not in source:
        tf.io.gfile.rename(source, target)
        return
    for folder, _, files in tf.io.gfile.walk(source):
        destination = target + folder[len(source) :]
        tf.io.gfile.makedirs(destination)
        for name in sorted(files, key=lambda n: n.startswith("events.out.tfevents")):  # event file last
            tf.io.gfile.rename(posixpath.join(folder, name), posixpath.join(destination, name))
    tf.io.gfile.rmtree(source)


def _exchange(a: str, b: str) -> bool:
    """Swap two local folders atomically (Linux renameat2); False where unsupported."""
    if "://" in a:
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def _recover_leftovers(parent: str, base: str) -> None:
    """Tidy after an export of this run that was killed midway.

    A killed export leaves a staging folder (its new files, or the previous
    run during the swap). If the run folder is missing, the newest complete
    leftover becomes the run again; subfolders are carried back; the rest goes.
    """
    import tensorflow as tf

    if not tf.io.gfile.isdir(parent or "."):
        return
    run_dir = posixpath.join(parent, base)
    for entry in sorted(tf.io.gfile.listdir(parent or ".")):
        match = STAGING_RE.match(entry.rstrip("/"))
        if not match or match["run"] != base or _alive(int(match["pid"])):
            continue
        leftover = posixpath.join(parent, entry.rstrip("/"))
        if not tf.io.gfile.exists(run_dir) and _is_complete(leftover):
            _rename_dir(leftover, run_dir)
            continue
        if tf.io.gfile.exists(run_dir):
            _carry_subfolders(leftover, run_dir)
        logger.info("removing %s, left by an interrupted export", leftover)
        _discard(leftover)


def _discard(folder: str) -> None:
    """Delete a run folder, its event file first: TensorBoard never lists it half deleted."""
    import tensorflow as tf

    for event_file in tf.io.gfile.glob(posixpath.join(folder, "events.out.tfevents*")):
        tf.io.gfile.remove(event_file)
    tf.io.gfile.rmtree(folder)


def _is_complete(folder: str) -> bool:
    import tensorflow as tf

    return bool(tf.io.gfile.glob(posixpath.join(folder, "events.out.tfevents*")))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _normalise_dir(run_dir: Any) -> str:
    run_dir = os.fspath(run_dir)
    if "://" in run_dir:
        return run_dir.rstrip("/")
    return os.path.abspath(run_dir)


def _under(run_dir: str, relative: str | None) -> str | None:
    return None if relative is None else posixpath.join(run_dir, relative)
