"""The checkpoint that holds every embedding of a run, one tensor under each name.

The projector lists a run's tensors by their checkpoint *keys*, shown whole in
its dropdown. A `tf.train.Checkpoint` would store a variable named `final`
under the key `final/.ATTRIBUTES/VARIABLE_VALUE` (tensorflow/tensorboard#2471),
so the checkpoint is written name-based instead, as `tf.compat.v1.train.Saver`
wrote them: the key of a tensor is its name. `tf.train.load_checkpoint(run_dir)
.get_tensor("final")` reads it back. Runs written by earlier versions, with
object-based keys, still read: `name_of_key` maps such a key to its name.
"""

from __future__ import annotations

import posixpath

import numpy as np

CHECKPOINT_PREFIX = "embeddings.ckpt"
CHECKPOINT_STATE_FILENAME = "checkpoint"  # the file tf.train.latest_checkpoint reads

# What a tf.train.Checkpoint appends to a variable's name in its key.
OBJECT_KEY_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def name_of_key(key: str) -> str:
    """The tensor name a checkpoint key stands for: `final` for `final` and for
    the object-based `final/.ATTRIBUTES/VARIABLE_VALUE` of older runs."""
    return key.removesuffix(OBJECT_KEY_SUFFIX)


def write_checkpoint(stage, tensors: dict[str, np.ndarray], number: int = 1) -> str:
    """Save each array under its name as one checkpoint; return its path prefix.

    The `checkpoint` state file beside it names the prefix relatively, so the
    projector (which calls `tf.train.latest_checkpoint(run_dir)`) still finds
    it after the run folder is moved. `number` is the prefix's suffix: a
    running TensorBoard re-reads a run only when that path changes.

    The arrays are saved without copying them: the tensors handed to the
    saver read the arrays' own memory, through DLPack.
    """
    import tensorflow as tf

    prefix = stage.join(f"{CHECKPOINT_PREFIX}-{number}")
    names = list(tensors)
    with tf.device("/cpu:0"):
        values = [_tensor_over(tensors[name]) for name in names]
        tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=values)
    stage.write(CHECKPOINT_STATE_FILENAME, checkpoint_state_text(posixpath.basename(prefix)))
    return prefix


def checkpoint_state_text(relative_prefix: str) -> str:
    """The `checkpoint` file (a CheckpointState in protobuf text) naming the prefix relatively."""
    return f'model_checkpoint_path: "{relative_prefix}"\nall_model_checkpoint_paths: "{relative_prefix}"\n'


def checkpoint_number(run_dir: str) -> int:
    """The suffix of the run's latest checkpoint (`embeddings.ckpt-7` -> 7), 0 if none."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(run_dir) if tf.io.gfile.isdir(run_dir) else None
    suffix = latest.rsplit("-", 1)[-1] if latest else ""
    return int(suffix) if suffix.isdigit() else 0


def _tensor_over(array: np.ndarray):
    """A tensor reading `array`'s memory where DLPack allows, else a copy.

    A `tf.constant` copies every array (TensorFlow also copies numpy arrays
    that are not 64-byte aligned, which most are), so a big embedding took two
    or three times its size. Saving only reads the bytes.
    """
    import tensorflow as tf

    array = np.ascontiguousarray(array)
    try:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    except (BufferError, TypeError, ValueError, tf.errors.InvalidArgumentError):
        return tf.constant(array)  # read-only, or a dtype DLPack lacks



def renumber_checkpoint(stage, number: int) -> None:
    """Give the latest checkpoint of the run being written in `stage` the number `number`: its
    files renamed, the state file rewritten.

    A running TensorBoard re-reads a run's config only when its checkpoint path
    changes, so a run whose other files change gets a new number too.
    """
    import tensorflow as tf

    from projector_export.files import fs

    latest = tf.train.latest_checkpoint(stage.path)
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
