"""Reading a run back: its checkpoint, one tensor and its metadata, every file confined to the run folder.

Used by `neighbours`, `tsv` and `validate`. Each broken run becomes a
`ProjectorExportError` of one line naming the run, the file and the fix.
"""

from __future__ import annotations

import functools
import posixpath
from dataclasses import dataclass

import numpy as np

from projector_export.errors import REEXPORT, ProjectorExportError
from projector_export.filenames import CONFIG_FILENAME
from projector_export.files import fs
from projector_export.files.paths import inside
from projector_export.files.reading import decode_utf8, file_size, read_bytes
from projector_export.format import checkpoint
from projector_export.format.checkpoint import Checkpoint, key_of
from projector_export.format.config import projector_order, read_config
from projector_export.format.metadata import MetadataTable, parse_metadata, unescape_label


@dataclass(frozen=True)
class StoredEmbedding:
    """One tensor of a run as `read_embedding` gives it back: the mirror of an `Embedding`.

    `name` is the tensor's name (`final`); `key` is what the checkpoint holds it
    under: the name itself, or `final/.ATTRIBUTES/VARIABLE_VALUE` in runs of
    earlier versions. `metadata` is the table of labels as exported (cells
    unescaped), `metadata_text` the file as stored.
    """

    run_dir: str
    name: str
    key: str
    vectors: np.ndarray
    metadata_path: str | None
    sprite_path: str | None
    single_image_dim: tuple[int, int] | None
    metadata_text: str | None = None
    stored: tuple = ()  # (shape, dtype, crc32c) as the checkpoint's index has it: the tensor's identity

    @functools.cached_property
    def _page(self) -> tuple[list[str], list[list[str]]]:
        """The metadata parsed once, however many of the views below are asked for."""
        return parse_metadata(self.metadata_text) if self.metadata_text is not None else ([], [])

    def page_view(self) -> tuple[list[str], list[list[str]]]:
        """(column names, rows of escaped cells) as the projector reads the metadata; none: no columns."""
        header, rows = self._page
        return list(header), [list(row) for row in rows]

    @property
    def metadata(self) -> MetadataTable | None:
        """The metadata as a table: column names (None for one column) and each column's labels."""
        if self.metadata_text is None:
            return None
        header, rows = self._page
        columns = [[unescape_label(row[i]) if i < len(row) else "" for row in rows] for i in range(len(header))]
        return MetadataTable(header if len(header) > 1 else None, columns)

    def labels(self) -> list[str]:
        """The first metadata column, unescaped: one label a row; row numbers without metadata."""
        if self.metadata_text is None:
            return [str(i) for i in range(len(self.vectors))]
        _, rows = self._page
        return [unescape_label(row[0]) for row in rows]


def _first_line(error: Exception) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(text.split())[:200]


def read_embedding(run_dir: str, tensor: str | None = None) -> StoredEmbedding:
    """Load one tensor of a run: `tensor` by name (or by checkpoint key); by
    default the run's only tensor, else the one named `final`.

    Every file is read from inside the run folder; the tensor must be a 2-D
    matrix of at least 2 rows and 2 columns of finite numbers (what the
    projector lists), and its metadata UTF-8 with one row per point.

    Raises:
        ProjectorExportError: no such run or tensor, or a broken run, naming the file and the fix.
    """
    run_dir = str(run_dir).rstrip("/") or "/"
    if not fs.exists(posixpath.join(run_dir, CONFIG_FILENAME)):
        raise ProjectorExportError(
            f"{run_dir}: not a projector run (no {CONFIG_FILENAME}); give a run folder written by "
            "projector-export, e.g. logs/colours-2d/projector"
        )
    entries = {key_of(embedding.tensor_name): embedding for embedding in read_config(run_dir).embeddings}
    names = {checkpoint.name_of_key(key): key for key in entries}
    if not entries:
        raise ProjectorExportError(f"{run_dir}: {CONFIG_FILENAME} names no tensors; {REEXPORT}")
    saved = Checkpoint(run_dir)
    if tensor is None:
        if len(entries) == 1:
            key = next(iter(entries))
        elif "final" in names:
            key = names["final"]
        else:
            order = projector_order((k, saved.shapes.get(k, []), bool(e.metadata_path)) for k, e in entries.items())
            first = f" (the projector opens {checkpoint.name_of_key(order[0])!r} first)" if order else ""
            raise ProjectorExportError(
                f"{run_dir} holds {len(entries)} tensors; choose one with `tensor=NAME`{first}: " + ", ".join(names)
            )
    else:
        key = tensor if tensor in entries else names.get(checkpoint.name_of_key(tensor))
        if key is None:
            raise ProjectorExportError(f"{run_dir} has no tensor {tensor!r}; it has: " + ", ".join(names))
    name = checkpoint.name_of_key(key)
    if key not in saved.shapes:
        raise ProjectorExportError(f"{run_dir}: the checkpoint holds no tensor {name!r} that the config names; {REEXPORT}")
    shape = list(saved.shapes[key])
    if len(shape) != 2 or shape[0] < 2 or shape[1] < 2:
        raise ProjectorExportError(
            f"{run_dir}: tensor {name!r} has shape {shape}; the projector shows only 2-D tensors of at least "
            f"2 rows and 2 columns; {REEXPORT}"
        )
    vectors = saved.read(key)
    if vectors.dtype.kind not in "biuf":
        raise ProjectorExportError(f"{run_dir}: tensor {name!r} holds {vectors.dtype}, not numbers; {REEXPORT}")
    vectors = np.asarray(vectors, dtype=np.float32)
    bad = np.argwhere(~np.isfinite(vectors))
    if len(bad):
        row, column = bad[0]
        raise ProjectorExportError(
            f"{run_dir}: tensor {name!r}, row {row}, column {column} holds {vectors[row, column]}; the projector "
            f"needs finite numbers; {REEXPORT}"
        )
    entry = entries[key]
    metadata_path = sprite_path = metadata = None
    try:
        if entry.metadata_path:
            metadata_path = inside(run_dir, entry.metadata_path, f"{run_dir}: metadata file")
            data = read_bytes(metadata_path, f"{run_dir}: metadata file")
            metadata = _checked_metadata(run_dir, entry.metadata_path, data, len(vectors))
        if entry.sprite.image_path:
            sprite_path = inside(run_dir, entry.sprite.image_path, f"{run_dir}: sprite image")
            file_size(sprite_path, f"{run_dir}: sprite image")
    except ProjectorExportError as error:
        text = str(error)
        raise ProjectorExportError(text if REEXPORT in text else f"{text}; {REEXPORT}") from None
    return StoredEmbedding(
        run_dir=run_dir,
        name=name,
        key=key,
        vectors=vectors,
        metadata_path=metadata_path,
        sprite_path=sprite_path,
        single_image_dim=tuple(entry.sprite.single_image_dim) or None,
        metadata_text=metadata,
        stored=stored_identity(saved, key),
    )


def stored_identity(saved: Checkpoint, key: str) -> tuple:
    """What tells a stored tensor from another without reading it: its shape, dtype and the
    crc32c of its bytes, from the checkpoint's index."""
    entry = saved.entries[key]
    return tuple(entry.shape), entry.dtype_name, entry.crc32c


def _checked_metadata(run_dir: str, relative: str, data: bytes, rows: int) -> str:
    """The metadata file's text, checked to be UTF-8 with one row a point as the projector reads it."""
    text = decode_utf8(data, relative, f"{run_dir}: metadata file")
    _, points = parse_metadata(text)
    if len(points) != rows:
        raise ProjectorExportError(
            f"{run_dir}: metadata file {relative!r} has {len(points)} rows as the projector reads it, but the "
            f"tensor has {rows}; {REEXPORT}"
        )
    return text

