"""Checkpoints as other programs write them, for tests that break runs or compare with ours."""

from __future__ import annotations

import os

import numpy as np


def write_raw_checkpoint(folder, tensors: dict[str, np.ndarray], number: int = 1) -> str:
    """Save `tensors` under their names with TensorFlow's own SaveV2, and a `checkpoint` state file
    naming it: a name-based checkpoint as `tf.compat.v1.train.Saver` writes it. Returns the prefix."""
    import tensorflow as tf

    prefix = os.path.join(str(folder), f"embeddings.ckpt-{number}")
    names = list(tensors)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[name]) for name in names])
    with open(os.path.join(str(folder), "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "embeddings.ckpt-{number}"\n')
    return prefix
