"""The checkpoint that holds every embedding of a run, one tensor under each key: written and read
without TensorFlow.

The projector lists a run's tensors by their checkpoint *keys*, shown whole in its
dropdown. A `tf.train.Checkpoint` would store a variable named `final` under the key
`final/.ATTRIBUTES/VARIABLE_VALUE` (tensorflow/tensorboard#2471), so the checkpoint is
written name-based instead, as `tf.compat.v1.train.Saver` wrote them: the key of a
tensor is its *name*. Runs written by earlier versions, with object-based keys, still
read: `name_of_key` maps such a key to its name. The files are TensorFlow's own format
(`tensor_bundle`, byte for byte what `tf.raw_ops.SaveV2` writes), so
`tf.train.load_checkpoint(run_dir).get_tensor("final")` reads them back.
"""

from __future__ import annotations

import dataclasses
import io
import posixpath
import re
from collections.abc import Mapping

import numpy as np

from projector_export.errors import REEXPORT, ProjectorExportError
from projector_export.filenames import CHECKPOINT_PREFIX, CHECKPOINT_STATE_FILENAME
from projector_export.files import fs
from projector_export.files.paths import inside, shown
from projector_export.files.reading import (
    MAX_ASSET_BYTES,
    MAX_CONFIG_BYTES,
    file_size,
    open_file,
    read_bytes,
    read_text,
)
from projector_export.format.checkpoint_state import checkpoint_state_text, parse_checkpoint_state
from projector_export.format.tensor_bundle import (
    INDEX_SUFFIX,
    BundleEntry,
    data_filename,
    parse_index,
    read_tensor,
    write_bundle,
)
from projector_export.machine import check_memory

# What a tf.train.Checkpoint appends to a variable's name in its key.
OBJECT_KEY_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_NOT_NAME_RE = re.compile(r"[^A-Za-z0-9_-]")


def name_of_key(key: str) -> str:
    """The tensor name a checkpoint key stands for: `final` for `final` and for the object-based
    `final/.ATTRIBUTES/VARIABLE_VALUE` of older runs (and a config's `final:0`)."""
    return key_of(key).removesuffix(OBJECT_KEY_SUFFIX)


def key_of(config_tensor_name: str) -> str:
    """The checkpoint key a config's `tensor_name` names (a config may add TensorFlow's `:0`)."""
    return config_tensor_name.removesuffix(":0")


def safe_tensor_name(text: str) -> str:
    """`text` as a tensor name: every character but letters, digits, `_` and `-` becomes `_`."""
    return _NOT_NAME_RE.sub("_", text)


def write_checkpoint(stage, tensors: Mapping[str, np.ndarray], number: int = 1) -> str:
    """Save each array under its name as the checkpoint of the run being written in `stage`
    (a `files.staging.Stage`); return the checkpoint's prefix there.

    The `checkpoint` state file beside it names the prefix relatively, so the projector
    (which calls `tf.train.latest_checkpoint(run_dir)`) still finds it after the run
    folder is moved. `number` is the prefix's suffix: a running TensorBoard re-reads a
    run only when that path changes. The data are streamed to the file, never copied whole.
    """
    prefix = f"{CHECKPOINT_PREFIX}-{number}"
    with stage.file(data_filename(prefix)) as data:
        index = write_bundle(data, tensors)
    stage.write(prefix + INDEX_SUFFIX, index)
    stage.write(CHECKPOINT_STATE_FILENAME, checkpoint_state_text(prefix))
    return stage.join(prefix)


def checkpoint_number(run_dir: str) -> int:
    """The suffix of the run's latest checkpoint (`embeddings.ckpt-7` -> 7), 0 if none or unreadable."""
    try:
        prefix = latest_prefix(run_dir)
    except ProjectorExportError:
        return 0
    suffix = posixpath.basename(prefix).rsplit("-", 1)[-1] if prefix else ""
    return int(suffix) if suffix.isdigit() else 0


def latest_prefix(run_dir: str, root: str | None = None) -> str | None:
    """The prefix the run's `checkpoint` state file names (joined to the run folder when relative), as
    `tf.train.latest_checkpoint` reads it; None when the run has no state file.

    Raises:
        ProjectorExportError: the state file lies outside `root` (default the run folder), is
            not a regular file, or names no checkpoint.
    """
    path = posixpath.join(run_dir, CHECKPOINT_STATE_FILENAME)
    if not fs.exists(path):
        return None
    path = inside(root or run_dir, _absolute(path), "checkpoint state")
    text = read_text(path, f"{shown(run_dir)}: checkpoint state", limit=MAX_CONFIG_BYTES)
    state = parse_checkpoint_state(text, f"{shown(run_dir)}/{CHECKPOINT_STATE_FILENAME}")
    prefix = state.model_checkpoint_path
    return prefix if posixpath.isabs(prefix) or fs.is_remote(prefix) else posixpath.join(run_dir, prefix)


def renumber_checkpoint(stage, number: int) -> None:
    """Give the latest checkpoint of the run being written in `stage` the number `number`: its
    files renamed, the state file rewritten.

    A running TensorBoard re-reads a run's config only when its checkpoint path
    changes, so a run whose other files change gets a new number too.
    """
    latest = latest_prefix(stage.path)
    if latest is None:
        return
    old_prefix, new_prefix = posixpath.basename(latest), f"{CHECKPOINT_PREFIX}-{number}"
    if old_prefix == new_prefix:
        return
    for name in fs.listdir(stage.path):
        if name.startswith(old_prefix + "."):
            fs.rename(stage.join(name), stage.join(new_prefix + name[len(old_prefix) :]))
    stage.remove(CHECKPOINT_STATE_FILENAME)
    stage.write(CHECKPOINT_STATE_FILENAME, checkpoint_state_text(new_prefix))


class Checkpoint:
    """A run's latest checkpoint (or the one at `prefix`), opened only after every file of it
    proved to be a regular file inside `root` (by default the run folder): its index read and
    checked, its data files as long as the index needs.

    Raises (from the constructor):
        ProjectorExportError: no state file, or it names a checkpoint whose index or data
            files are missing, outside `root`, not regular files, corrupt, or shorter than
            the index says.
    """

    def __init__(self, run_dir: str, root: str | None = None, prefix: str | None = None):
        self.run_dir = run_dir
        root = root or run_dir
        if prefix is None:
            prefix = latest_prefix(run_dir, root)
            if prefix is None:
                raise ProjectorExportError(
                    f"{shown(run_dir)}: no checkpoint found: the folder has no `checkpoint` file naming a saved "
                    f"checkpoint; {REEXPORT}"
                )
        self.prefix = prefix
        index_path = inside(root, _absolute(prefix + INDEX_SUFFIX), "checkpoint index")
        shown_index = f"{shown(run_dir)}: {posixpath.basename(index_path)}"
        index = parse_index(read_bytes(index_path, f"{shown(run_dir)}: checkpoint index", limit=MAX_ASSET_BYTES),
                            shown_index)
        self.entries: dict[str, BundleEntry] = index.entries
        self.shapes = {key: list(entry.shape) for key, entry in index.entries.items()}
        self._data_files = []
        for shard, needed in enumerate(index.shard_sizes()):
            path = inside(root, _absolute(data_filename(prefix, shard, index.num_shards)), "checkpoint data file")
            have = file_size(path, f"{shown(run_dir)}: checkpoint data file")
            if have < needed:
                raise ProjectorExportError(
                    f"{shown(run_dir)}: the checkpoint data file {posixpath.basename(path)} is truncated "
                    f"({have:,} bytes where its index needs {needed:,}); {REEXPORT}"
                )
            self._data_files.append(path)

    def read(self, key: str) -> np.ndarray:
        """The tensor `key`, after checking that its declared size fits in memory (as float32 too)."""
        entry = self.entries[key]
        check_memory(int(np.prod(entry.shape)) * 4, f"{shown(self.run_dir)}: tensor {name_of_key(key)!r} "
                     f"{list(entry.shape)}", REEXPORT)
        path = self._data_files[entry.shard]
        try:
            with open_file(path, "checkpoint data file") as f:
                if fs.is_remote(path):  # tf.io.gfile's files cannot read into an array: the bytes first
                    f.seek(entry.offset)
                    f, entry = io.BytesIO(f.read(entry.size)), dataclasses.replace(entry, offset=0)
                return read_tensor(f, entry, f"{shown(self.run_dir)}: {posixpath.basename(path)}")
        except ProjectorExportError as error:
            text = str(error)
            raise ProjectorExportError(
                text if text.startswith(shown(self.run_dir)) else f"{shown(self.run_dir)}: {text}"
            ) from None


def _absolute(path: str) -> str:
    import os

    return path if fs.is_remote(path) else os.path.abspath(path)
