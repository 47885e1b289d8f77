"""Training on more than one device: the `tf.distribute` strategies `--strategy` names.

TensorFlow is imported only when a strategy is made, so the command line can offer the
names (`STRATEGIES`) without it. `training.loop.fit` runs the steps on the replicas.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from projector_export.errors import ProjectorExportError

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

STRATEGIES = ("none", "mirrored", "multiworker")


def make_strategy(name: str) -> tf.distribute.Strategy | None:
    """`None` for one device; `MirroredStrategy` over the local GPUs (or, without any, the
    logical CPUs); `MultiWorkerMirroredStrategy` configured by `TF_CONFIG`. Make it before
    any other TensorFlow work: the multi-worker one has to be first."""
    if name not in STRATEGIES:
        raise ProjectorExportError(f"`strategy={name}`: choose one of {', '.join(STRATEGIES)}")
    if name == "none":
        return None
    import tensorflow as tf

    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if "TF_CONFIG" not in os.environ:
        logger.warning("--strategy multiworker without TF_CONFIG: training as a single worker")
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process writes the results: always, except a multi-worker run's other workers."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    jobs = resolver.cluster_spec().jobs
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs
