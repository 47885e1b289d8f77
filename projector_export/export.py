"""Run folders the Embedding Projector opens: `export_embedding` and `export_embeddings`.

A run folder holds a TF2 checkpoint with every embedding, `projector_config.pbtxt`
with paths relative to the folder, metadata TSVs, sprite PNGs and an event
file, without which `tensorboard --logdir PARENT` does not list the run.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from projector_export.arrays import as_matrix
from projector_export.errors import ProjectorExportError
from projector_export.export_layouts import kept_bookmarks, layout_states, layout_views, write_bookmarks
from projector_export.filenames import CONFIG_FILENAME
from projector_export.files.staging import RUN, Stage, staged_folder
from projector_export.format.checkpoint import checkpoint_number, write_checkpoint
from projector_export.format.config import ConfigEntry, config_text
from projector_export.format.event_file import event_file_bytes, event_file_name
from projector_export.format.metadata import MetadataTable, metadata_table
from projector_export.format.sprite import Sprite, make_sprite
from projector_export.layout import as_layout
from projector_export.reductions import Layout, require_libraries

logger = logging.getLogger(__name__)

_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
# A tensor's files are NAME.metadata.tsv and NAME.sprite.png: with the longer
# suffix the name must fit the 255 bytes most file systems allow a name.
MAX_NAME_LENGTH = 255 - len(".metadata.tsv")
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
        layouts: layouts of every point to compute and offer as bookmarks:
            method names (`umap`, `tsne`, `pca`) or `Layout`s with settings.
    """

    vectors: Any
    metadata: Any = None
    name: str = "embedding"
    sprite: Any = None
    sprite_cell_size: int | None = None
    layouts: Iterable[Layout | str] = ()


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
    layouts: Iterable[Layout | str] = (),
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
        layouts: layouts of every point to add as bookmarks, e.g. `["umap"]`
            (see `Layout`; needs `pip install "projector-export[layouts]"`).

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
        [Embedding(vectors, metadata, name=name, sprite=sprite, sprite_cell_size=sprite_cell_size, layouts=layouts)],
    )


def export_embeddings(run_dir: str, embeddings: Iterable[Embedding]) -> ExportResult:
    """Write several embeddings (epochs, layers) into one run folder.

    Everything is checked before anything is written. The folder is written
    beside `run_dir` and then moved into place, so a failed or killed export
    leaves the previous run as it was. `run_dir` must be new, empty, or a run
    this tool wrote: its files are replaced, while its subfolders (such as the
    `train/` and `validation/` runs of Keras's TensorBoard callback) and any
    file the tool did not write are kept.

    Identical metadata and sprites are written once and shared.

    Layouts asked for (`Embedding.layouts`) are computed before the run is
    touched and stored as the tensor's bookmarks. A tensor whose vectors are
    unchanged keeps the bookmarks it had (a new layout of the same method and
    dims replaces its old one); the bookmarks of a changed tensor are dropped,
    with a warning, as they show the old vectors.

    Raises:
        ProjectorExportError: bad input, or a `run_dir` that is a link or a
            folder of other files; nothing is written then.
        OSError: the file system refused a write (one line); the previous run stays.
    """
    prepared = _prepare(list(embeddings))
    layouts = layout_states(prepared)  # minutes, perhaps: before the run is locked
    with staged_folder(run_dir, RUN) as stage:
        entries = _write_assets(stage, prepared)
        entries = write_bookmarks(stage, entries, layouts, kept_bookmarks(stage, prepared))
        # Under the lock: every export of this run gets a higher number.
        number = checkpoint_number(stage.target) + 1
        prefix = write_checkpoint(stage, {item.name: item.vectors for item in prepared}, number)
        stage.write(CONFIG_FILENAME, config_text(entries))
        # Last: from here TensorBoard lists the folder as a run.
        write_event_file(stage)
    run_dir = stage.target

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
    layouts: tuple[Layout, ...] = ()
    views: tuple[tuple[str, str | None], ...] = ()  # each layout's label column and colour option


def _prepare(embeddings: list[Embedding]) -> list[_Prepared]:
    if not embeddings:
        raise ProjectorExportError("no embeddings to export; pass at least one Embedding")
    seen = set()
    prepared = []
    for embedding in embeddings:
        name = embedding.name
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
            shown = repr(name) if not isinstance(name, str) or len(name) <= 60 else f"{name[:40]!r}... ({len(name)} characters)"
            raise ProjectorExportError(
                f"tensor name {shown} is not allowed; use letters, digits, '_' and '-', at most "
                f"{MAX_NAME_LENGTH} of them (its files are named after it), e.g. 'epoch-003'"
            )
        if name in seen:
            raise ProjectorExportError(f"tensor name {name!r} is used twice; give each embedding its own name")
        seen.add(name)
        vectors = _projector_shaped(as_matrix(embedding.vectors, name), name)
        table = None if embedding.metadata is None else metadata_table(embedding.metadata, len(vectors))
        sprite = None
        if embedding.sprite is not None:
            sprite = make_sprite(embedding.sprite, len(vectors), cell_size=embedding.sprite_cell_size)
        layouts = _layouts(embedding.layouts, name)
        views = layout_views(layouts, table.page_view() if table else (["label"], []), sprite=sprite is not None)
        prepared.append(_Prepared(name, vectors, table, sprite, layouts, views))
    return prepared


def _layouts(layouts: Iterable[Layout | str], name: str) -> tuple[Layout, ...]:
    if isinstance(layouts, (str, Layout)):
        layouts = [layouts]
    checked = tuple(as_layout(layout) for layout in layouts)
    seen = set()
    for layout in checked:
        key = (layout.method, layout.dims)
        if key in seen:
            raise ProjectorExportError(
                f"tensor {name!r} asks twice for a {layout.dims}-D {layout.method} layout; each method and "
                "dims makes one bookmark, so give it once"
            )
        seen.add(key)
        require_libraries(layout)
    return checked


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


def _write_assets(stage: Stage, prepared: list[_Prepared]) -> list[ConfigEntry]:
    """Write metadata and sprites (each distinct one once); return config entries."""
    written: dict[bytes, str] = {}
    entries = []
    for item in prepared:
        metadata_path = sprite_path = None
        if item.metadata is not None:
            text = item.metadata.to_tsv().encode("utf-8")
            metadata_path = _write_once(stage, f"{item.name}.metadata.tsv", text, written)
        if item.sprite is not None:
            png = item.sprite.to_png()
            sprite_path = _write_once(stage, f"{item.name}.sprite.png", png, written)
        entries.append(
            ConfigEntry(
                tensor_name=item.name,
                metadata_path=metadata_path,
                sprite_path=sprite_path,
                single_image_dim=item.sprite.single_image_dim if item.sprite else None,
            )
        )
    return entries


def _write_once(stage: Stage, filename: str, content: bytes, written: dict[bytes, str]) -> str:
    key = hashlib.sha256(content).digest()
    if key not in written:
        stage.write(filename, content)
        written[key] = filename
    return written[key]


def write_event_file(stage: Stage) -> None:
    """An empty event file: without one `tensorboard --logdir PARENT` does not list the run."""
    now = int(time.time())
    stage.write(event_file_name(now), event_file_bytes(now))


def _under(run_dir: str, relative: str | None) -> str | None:
    return None if relative is None else posixpath.join(run_dir, relative)
