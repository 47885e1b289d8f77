"""Keras callbacks the jobs hand to `training.loop.fit` (they serve `model.fit` as well).

- `Snapshots`: the embedding, with its metadata of the moment, as training goes;
  `snapshot_name` names each as a tensor of the projector run.
- `KnnAgreement`: logs how far an embedding's nearest neighbours agree with a reference's.
- `EpochLine`: `epoch 3/10: val_accuracy 0.8731, accuracy 0.9012, loss 0.2561`.
- `ProgressBar`: Keras's progress bar, for a terminal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import keras
import numpy as np

from projector_export.console import say
from projector_export.errors import ProjectorExportError

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class Snapshot:
    """The embedding after `step` training steps, and its metadata when that changes with training."""

    step: int
    vectors: np.ndarray
    metadata: Any = None


class Snapshots(keras.callbacks.Callback):
    """Keeps a `Snapshot` of the embedding as training goes, in `taken`.

    With `every="call"`, one at the start and one after every call of steps (the batch
    hooks of `training.loop.fit`); with `every="epoch"`, one after every epoch. Steps are
    counted from the batch hooks and the `steps` an epoch that `fit` gives its callbacks.

    Args:
        vectors: the embedding of a model, as an array of its own (not a view of weights).
        metadata: the projector metadata of the moment, if it changes with training
            (the IMDB job's token sentiment).
        every: "call" or "epoch".
    """

    def __init__(
        self,
        vectors: Callable[[keras.Model], np.ndarray],
        *,
        metadata: Callable[[keras.Model], Any] | None = None,
        every: Literal["call", "epoch"] = "epoch",
    ):
        super().__init__()
        if every not in ("call", "epoch"):
            raise ProjectorExportError(f"`every={every!r}`: use 'call' or 'epoch'")
        self.vectors = vectors
        self.metadata = metadata
        self.every = every
        self.taken: list[Snapshot] = []
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.taken = []
        self._epoch = 0
        if self.every == "call":
            self._take(0)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.every == "call":
            self._take(self._epoch * self.params["steps"] + batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        if self.every == "epoch":
            self._take((epoch + 1) * self.params["steps"])

    def _take(self, step: int) -> None:
        metadata = None if self.metadata is None else self.metadata(self.model)
        self.taken.append(Snapshot(step, self.vectors(self.model), metadata))


def snapshot_name(step: int, steps_per_epoch: int, epochs: int) -> str:
    """The tensor name of a snapshot after `step` steps: `snapshot-epoch-03` after 3 epochs,
    `snapshot-epoch-00-step-0064` 64 steps into the first.

    The projector lists a run's tensors in alphabetical order (after the ones with more
    rows), and a name sorts before its extensions: zero-padded (the epoch to at least 2
    digits and as many as `epochs` has, the step to as many as `steps_per_epoch` has),
    the snapshots are listed in training order, after `final`.
    """
    epoch, within = divmod(step, steps_per_epoch)
    name = f"snapshot-epoch-{epoch:0{max(2, len(str(epochs)))}d}"
    if within:
        name += f"-step-{within:0{len(str(steps_per_epoch))}d}"
    return name


# ------------------------------------------------------------------- kNN agreement


def knn_agreement(vectors: np.ndarray, reference: np.ndarray, k: int = 10) -> float:
    """Share of each point's `k` nearest neighbours in `vectors` that are also among its `k`
    nearest in `reference`, averaged over points: 1.0 for the same geometry, about
    `k / (N - 1)` for none. Points tied with the `k`-th nearest in `reference` count as
    among the nearest (whole-number RGB values tie often).

    Example:

    ```python
    rgb = load_colours()[["r", "g", "b"]].to_numpy()
    knn_agreement(rgb[:, :2], rgb)  # red and green only
    ```
    """
    return _Neighbours(reference, k).agreement(vectors)


class KnnAgreement(keras.callbacks.Callback):
    """Adds `knn10` to each epoch's logs: `knn_agreement` of `vectors(model)` with `reference`.

    List it before `TensorBoard`, so that the TensorBoard callback logs it.
    """

    def __init__(self, reference: np.ndarray, vectors: Callable[[keras.Model], np.ndarray], k: int = 10):
        super().__init__()
        self.key = f"knn{k}"
        self.vectors = vectors
        self.neighbours = _Neighbours(reference, k)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.key] = self.neighbours.agreement(self.vectors(self.model))


class _Neighbours:
    """The `k` nearest neighbours of every point of a reference geometry, ties included."""

    def __init__(self, reference: np.ndarray, k: int):
        self.distances = _squared_distances(reference)
        self.k = min(k, len(reference) - 1)
        self.radius = np.partition(self.distances, self.k - 1, axis=1)[:, self.k - 1 : self.k]

    def agreement(self, vectors: np.ndarray) -> float:
        nearest = np.argpartition(_squared_distances(vectors), self.k - 1, axis=1)[:, : self.k]
        return float((np.take_along_axis(self.distances, nearest, axis=1) <= self.radius).mean())


def _squared_distances(points: np.ndarray) -> np.ndarray:
    # Exact differences (equal distances compare equal), a column at a time: quicker than
    # one (N, N, D) array for the few dimensions here.
    points = np.asarray(points, dtype=np.float64)
    distances = np.zeros((len(points), len(points)))
    for column in points.T:
        distances += (column[:, None] - column[None, :]) ** 2
    np.fill_diagonal(distances, np.inf)
    return distances


# ------------------------------------------------------------------------- output


class EpochLine(keras.callbacks.Callback):
    """Prints one plain line after every epoch: `epoch 3/10: val_accuracy 0.8731, accuracy ...`,
    the `first` metric first, then the others by name."""

    def __init__(self, first: str = "val_accuracy"):
        super().__init__()
        self.first = first

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        names = sorted(logs, key=lambda name: (name != self.first, name))
        values = ", ".join(f"{name} {float(logs[name]):.4f}" for name in names)
        say(f"epoch {epoch + 1}/{self.params['epochs']}: {values}")


class ProgressBar(keras.callbacks.Callback):
    """Keras's progress bar: over each epoch's steps (`unit="step"`), or over the epochs.

    Keras's bar redraws its line with carriage returns, backspaces and colour codes even
    when the output is a file: give it only to a terminal (`projector_export.console.interactive`).
    Over epochs it shows the epoch's logs as the callbacks before it left them: list it last.
    """

    def __init__(self, unit: Literal["step", "epoch"] = "step"):
        super().__init__()
        if unit not in ("step", "epoch"):
            raise ProjectorExportError(f"`unit={unit!r}`: use 'step' or 'epoch'")
        self.unit = unit
        self.bar: keras.utils.Progbar | None = None

    def on_train_begin(self, logs=None):
        if self.unit == "epoch":
            self.bar = keras.utils.Progbar(self.params["epochs"], unit_name="epoch")

    def on_epoch_begin(self, epoch, logs=None):
        if self.unit == "step":
            self.bar = keras.utils.Progbar(self.params["steps"], unit_name="step")

    def on_train_batch_end(self, batch, logs=None):
        if self.unit == "step":
            done = batch + 1
            self.bar.update(done, list((logs or {}).items()), finalize=done == self.params["steps"])

    def on_epoch_end(self, epoch, logs=None):
        if self.unit == "epoch":
            logs = logs or {}
            # Epoch values, not the bar's running average of them.
            self.bar.stateful_metrics.update(logs)
            finished = epoch + 1 == self.params["epochs"] or self.model.stop_training
            self.bar.update(epoch + 1, list(logs.items()), finalize=finished)
