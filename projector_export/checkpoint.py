"""The TF2 checkpoint that holds every embedding of a run as a variable."""

from __future__ import annotations

import posixpath

import numpy as np

CHECKPOINT_PREFIX = "embeddings.ckpt"


def tensor_name(name: str) -> str:
    """The checkpoint key of the variable saved as `name` (what the projector lists)."""
    return f"{name}/.ATTRIBUTES/VARIABLE_VALUE"


def write_checkpoint(run_dir: str, tensors: dict[str, np.ndarray], number: int = 1) -> str:
    """Save each array as a variable of one `tf.train.Checkpoint`; return its path prefix.

    The `checkpoint` state file beside it names the prefix relatively, so the
    projector (which calls `tf.train.latest_checkpoint(run_dir)`) still finds
    it after the run folder is moved. `number` is the prefix's suffix: a
    running TensorBoard re-reads a run only when that path changes.
    """
    import tensorflow as tf

    with tf.device("/cpu:0"):
        variables = {name: tf.Variable(array, trainable=False, name=name) for name, array in tensors.items()}
        checkpoint = tf.train.Checkpoint(**variables)
        checkpoint.save_counter.assign(number - 1)  # save() adds one
        return checkpoint.save(posixpath.join(run_dir, CHECKPOINT_PREFIX))


def checkpoint_number(run_dir: str) -> int:
    """The suffix of the run's latest checkpoint (`embeddings.ckpt-7` -> 7), 0 if none."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(run_dir) if tf.io.gfile.isdir(run_dir) else None
    suffix = latest.rsplit("-", 1)[-1] if latest else ""
    return int(suffix) if suffix.isdigit() else 0
