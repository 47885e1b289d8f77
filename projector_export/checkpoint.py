"""The TF2 checkpoint that holds every embedding of a run as a variable."""

from __future__ import annotations

import functools
import posixpath

import numpy as np

CHECKPOINT_PREFIX = "embeddings.ckpt"


_KEY_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def tensor_name(name: str) -> str:
    """The checkpoint key of the variable saved as `name` (what the projector lists)."""
    return name + _KEY_SUFFIX


def short_name(key: str) -> str:
    """The name a checkpoint key was saved as: `tensor_name` undone."""
    return key.removesuffix(_KEY_SUFFIX)


def write_checkpoint(run_dir: str, tensors: dict[str, np.ndarray], number: int = 1) -> str:
    """Save each array as a variable of one `tf.train.Checkpoint`; return its path prefix.

    The `checkpoint` state file beside it names the prefix relatively, so the
    projector (which calls `tf.train.latest_checkpoint(run_dir)`) still finds
    it after the run folder is moved. `number` is the prefix's suffix: a
    running TensorBoard re-reads a run only when that path changes.

    The arrays are saved without copying them: each is written under the key
    a `tf.Variable` of that name would have (`NAME/.ATTRIBUTES/VARIABLE_VALUE`),
    so `tf.train.Checkpoint(NAME=tf.Variable(...)).restore(prefix)` loads it.
    """
    import tensorflow as tf

    with tf.device("/cpu:0"):
        values = {name: _saved_value_class()(array) for name, array in tensors.items()}
        checkpoint = tf.train.Checkpoint(**values)
        checkpoint.save_counter.assign(number - 1)  # save() adds one
        return checkpoint.save(posixpath.join(run_dir, CHECKPOINT_PREFIX))


def checkpoint_number(run_dir: str) -> int:
    """The suffix of the run's latest checkpoint (`embeddings.ckpt-7` -> 7), 0 if none."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(run_dir) if tf.io.gfile.isdir(run_dir) else None
    suffix = latest.rsplit("-", 1)[-1] if latest else ""
    return int(suffix) if suffix.isdigit() else 0


@functools.lru_cache(maxsize=None)
def _saved_value_class():
    import tensorflow as tf

    class SavedValue(tf.__internal__.tracking.Trackable):
        """Saves an array as a variable's value, reading the array's own memory.

        A `tf.Variable` would hold a copy of the array (TensorFlow also copies
        numpy arrays that are not 64-byte aligned, which most are), so a big
        embedding took two or three times its size. Saving only reads the
        bytes, so a tensor over the array's memory, through DLPack, suffices.
        """

        def __init__(self, array: np.ndarray):
            self._array = np.ascontiguousarray(array)  # kept alive while the tensor uses it
            try:
                self._tensor = tf.experimental.dlpack.from_dlpack(self._array.__dlpack__())
            except (BufferError, TypeError, ValueError, tf.errors.InvalidArgumentError):
                self._tensor = tf.constant(self._array)  # read-only, or a dtype DLPack lacks: a copy

        def _serialize_to_tensors(self):
            return {"VARIABLE_VALUE": self._tensor}

    return SavedValue


def copy_checkpoint(run_dir: str, target_dir: str, number: int) -> list[str]:
    """Copy the run's latest checkpoint into `target_dir` as number `number`.

    The files are hard-linked where possible (they are never written in place)
    and a `checkpoint` state file naming the new prefix relatively is written.
    A running TensorBoard re-reads a run's config when this path changes.

    Returns:
        The names of the run's files this took care of (the old checkpoint's
        files and its state file), which the caller need not copy.
    """
    import os

    import tensorflow as tf

    latest = tf.train.latest_checkpoint(run_dir)
    if latest is None:
        return []
    old_prefix = posixpath.basename(latest)
    new_prefix = f"{CHECKPOINT_PREFIX}-{number}"
    handled = [_STATE_FILE]
    for path in tf.io.gfile.glob(posixpath.join(run_dir, old_prefix + ".*")):
        name = posixpath.basename(path)
        target = posixpath.join(target_dir, new_prefix + name[len(old_prefix) :])
        try:
            if "://" in path:
                raise OSError("no hard links on object stores")
            os.link(path, target)
        except OSError:
            tf.io.gfile.copy(path, target, overwrite=True)
        handled.append(name)
    with tf.io.gfile.GFile(posixpath.join(target_dir, _STATE_FILE), "w") as f:
        f.write(f'model_checkpoint_path: "{new_prefix}"\nall_model_checkpoint_paths: "{new_prefix}"\n')
    return handled


# The file in which `tf.train.latest_checkpoint` looks up the latest prefix.
_STATE_FILE = "checkpoint"
