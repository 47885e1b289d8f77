"""`ProjectorCallback`: projector-ready snapshots of every Embedding layer during `fit`."""

from __future__ import annotations

import logging
import numbers
import posixpath
from dataclasses import replace
from typing import Any

import keras
import numpy as np

from projector_export.arrays import per_point_rows
from projector_export.errors import ProjectorExportError
from projector_export.export import Embedding, export_embeddings
from projector_export.filenames import PROJECTOR_SUBFOLDER
from projector_export.files.staging import RUN, check_target
from projector_export.format.checkpoint import safe_tensor_name

logger = logging.getLogger(__name__)

# The projector run's folder inside a Keras log dir (see ProjectorCallback on why a subfolder).


class ProjectorCallback(keras.callbacks.Callback):
    """Write the Embedding layers into a TensorBoard run folder as training goes.

    Every `every_n_epochs` epochs (and after the last one) each Embedding layer
    is snapshotted as a tensor named `LAYER-epoch-NNN`, and `LOG_DIR/projector`
    is re-exported with the layer's latest weights as the tensor `LAYER` and
    all snapshots so far. The projector opens the tensor whose name sorts
    first (among tensors of one size, all labelled), and a name sorts before
    its extensions: it opens on `LAYER`, the weights as trained so far, and
    lists the snapshots after it in training order. Give it the `log_dir` of Keras's `TensorBoard` callback, which
    writes `train/` and `validation/` beside it. Unlike
    `TensorBoard(embeddings_freq=...)` in Keras 3 (keras-team/keras#20210),
    the result opens in the projector.

    The snapshots go in a subfolder because the projector, for a run without
    a checkpoint of its own (Keras's `train/`), falls back to its parent
    folder's checkpoint: with the files in `log_dir` itself it would list
    `train` and `validation` as more runs of the same tensors, unlabelled.

    Args:
        log_dir: the run folder, e.g. the `log_dir` of `keras.callbacks.TensorBoard`.
        metadata: labels for the rows (a list, dict of columns or DataFrame),
            used for every Embedding layer with that many rows.
        every_n_epochs: snapshot interval.
        layers: names of the Embedding layers to export (default: all).
        sprite: per-point images or colours, for layers with that many rows.
        subfolder: the projector run's folder inside `log_dir`.

    Raises:
        ProjectorExportError: when training begins, before the first epoch, if
            `metadata` or `sprite` fits no exported layer's rows, a layer of
            `layers` is missing, or `log_dir` may not be written.

    Example:

    ```python
    import keras
    import numpy as np
    from projector_export import ProjectorCallback

    model = keras.Sequential([keras.layers.Embedding(4, 2), keras.layers.GlobalAveragePooling1D(),
                              keras.layers.Dense(1)])
    model.compile("adam", "mse")
    x, y = np.array([[0, 1], [2, 3]]), np.array([0.0, 1.0])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[
        keras.callbacks.TensorBoard("logs/toy"),
        ProjectorCallback("logs/toy", metadata=["a", "b", "c", "d"]),
    ])
    ```
    """

    def __init__(
        self,
        log_dir: str,
        metadata: Any = None,
        every_n_epochs: int = 1,
        layers: list[str] | None = None,
        sprite: Any = None,
        subfolder: str = PROJECTOR_SUBFOLDER,
    ):
        super().__init__()
        if not (isinstance(every_n_epochs, numbers.Integral) and not isinstance(every_n_epochs, bool)
                and every_n_epochs >= 1):
            raise ProjectorExportError(
                f"`every_n_epochs={every_n_epochs!r}`: ProjectorCallback's every_n_epochs must be an integer "
                "of at least 1"
            )
        self.log_dir = str(log_dir)
        self.run_dir = posixpath.join(self.log_dir, subfolder)
        self.metadata = metadata
        self.every_n_epochs = every_n_epochs
        self.layers = layers
        self.sprite = sprite
        self.snapshots: list[Embedding] = []
        self._last_seen: int | None = None
        self._last_saved: int | None = None

    def on_train_begin(self, logs=None):
        # What would fail or be left out after the first epoch is refused now: a folder it may not
        # write, a layer that is not there, labels or images that fit no layer.
        check_target(self.run_dir, RUN)
        layers = self._layers()
        for what, value in (("metadata", self.metadata), ("sprite", self.sprite)):
            if value is not None and not any(per_point_rows(value) == layer.input_dim for layer in layers):
                sizes = ", ".join(f"{layer.name} has {layer.input_dim:,}" for layer in layers)
                raise ProjectorExportError(
                    f"`{what}` covers {per_point_rows(value):,} points, but no Embedding layer has as many rows "
                    f"({sizes}); give one per row of a layer"
                )
        self.snapshots = []
        self._last_seen = self._last_saved = None

    def on_epoch_end(self, epoch, logs=None):
        self._last_seen = epoch
        if (epoch + 1) % self.every_n_epochs == 0:
            self._snapshot(epoch)

    def on_train_end(self, logs=None):
        # The last epoch always counts, also when training stops early.
        if self._last_seen is not None and self._last_seen != self._last_saved:
            self._snapshot(self._last_seen)

    def _layers(self) -> list[keras.layers.Embedding]:
        """The Embedding layers to export: all, or those named by `layers`."""
        layers = embedding_layers(self.model)
        if self.layers is not None:
            missing = set(self.layers) - {layer.name for layer in layers}
            if missing:
                raise ProjectorExportError(
                    f"`layers={self.layers!r}`: the model has no Embedding layer named "
                    f"{', '.join(map(repr, sorted(missing)))}; it has: {', '.join(l.name for l in layers) or 'none'}"
                )
            layers = [layer for layer in layers if layer.name in self.layers]
        if not layers:
            raise ProjectorExportError("the model has no Embedding layer for ProjectorCallback to export")
        return layers

    def _snapshot(self, epoch: int) -> None:
        layers = self._layers()
        latest = []
        for layer in layers:
            vectors = np.array(layer.embeddings.numpy(), copy=True)
            name = safe_tensor_name(layer.name)
            snapshot = Embedding(
                vectors,
                metadata=self._fits(self.metadata, len(vectors)),
                name=f"{name}-epoch-{epoch + 1:03d}",
                sprite=self._fits(self.sprite, len(vectors)),
            )
            self.snapshots.append(snapshot)
            latest.append(replace(snapshot, name=name))
        export_embeddings(self.run_dir, latest + self.snapshots)
        self._last_saved = epoch

    @staticmethod
    def _fits(value: Any, rows: int) -> Any:
        return value if value is not None and per_point_rows(value) == rows else None


def embedding_layers(model: keras.Model) -> list[keras.layers.Embedding]:
    """Every Embedding layer of a model, nested models included, in order (each once)."""
    found: list[keras.layers.Embedding] = []
    seen: set[int] = set()

    def visit(layers: list[keras.layers.Layer]) -> None:
        for layer in layers:
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            if isinstance(layer, keras.layers.Embedding):
                found.append(layer)
            visit(getattr(layer, "layers", []))  # a nested model's own layers

    visit(model.layers)
    return found
