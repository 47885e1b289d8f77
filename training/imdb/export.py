"""The IMDB run's projector files and test scores: the tokens' metadata, `final` and a tensor an epoch.

Every row of the embedding gets one metadata row (the padding row, every subword as the
encoder shows it, the 256 byte tokens), with the columns `token`, `kind`, `count` and
`sentiment` (the model's P(positive) for a review made of that token alone), so that
nothing can shift a label onto the wrong point (tensorflow/tensorboard#3444).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from projector_export import (
    LAYOUTS_INSTALL,
    Embedding,
    ExportResult,
    Layout,
    ProjectorExportError,
    export_embeddings,
    layouts_available,
)
from projector_export.console import say
from training.callbacks import Snapshot, snapshot_name
from training.imdb.subwords import SubwordTextEncoder
from training.imdb.vocabulary import token_labels

# What a click on final's layout bookmark shows: the sentiment gradient, tokens as labels.
_VIEW = {"color_by": "sentiment", "label_by": "token"}


def token_metadata(
    encoder: SubwordTextEncoder, counts: np.ndarray, sentiment: np.ndarray | None = None
) -> dict[str, list]:
    """The projector's columns, one row per id: token, kind, count (occurrences in the
    training reviews) and, when given, sentiment (P(positive) for the token alone)."""
    tokens, kinds = token_labels(encoder)
    table = {"token": tokens, "kind": kinds, "count": [int(count) for count in counts]}
    if sentiment is not None:
        table["sentiment"] = [f"{value:.4f}" for value in sentiment]
    return table


def final_layouts(layout: str | None) -> tuple[Layout, ...]:
    """The layouts to compute for `final` (see `train_imdb`'s `layout`); a click on one
    colours the tokens by sentiment and labels them by token."""
    if layout is None:
        if layouts_available("umap"):
            return (Layout("umap", **_VIEW),)
        say(f"(no UMAP of every token in the projector's Bookmarks: {LAYOUTS_INSTALL} adds one)")
        return ()
    if layout == "none":
        return ()
    chosen = Layout(layout, **_VIEW)
    if not layouts_available(layout):
        raise ProjectorExportError(f"`layout={layout}` needs a library that is not installed: {LAYOUTS_INSTALL}")
    return (chosen,)


def best_epoch(best: keras.callbacks.EarlyStopping) -> int:
    """The epoch (from 1) with the best val_accuracy so far: the first of equals."""
    return best.best_epoch + 1


def log_test_scores(stage, scores: dict[str, float], epoch: int) -> None:
    """`test_accuracy` and `test_loss` as TensorBoard scalars in `RUN/test/`, beside Keras's
    `train/` and `validation/`, at the step of the epoch whose weights were scored (Keras's
    callback logs epoch `e` at step `e - 1`), so they sit on that epoch of the curves."""
    writer = tf.summary.create_file_writer(stage.join("test"))
    with writer.as_default():
        for name in ("accuracy", "loss"):
            tf.summary.scalar(f"test_{name}", scores[name], step=epoch - 1)
    writer.close()


def export_imdb(
    run_dir: str,
    snapshots: Sequence[Snapshot],
    best: int,
    *,
    steps_per_epoch: int,
    epochs: int,
    layouts: Sequence[Layout] = (),
) -> ExportResult:
    """Write the run's projector files from the epochs' snapshots (see `Snapshots`).

    The run gets `final`, the embedding of epoch `best` (the one kept: it sorts first, so
    the projector opens it), and one tensor an epoch, `snapshot-epoch-01` ..., each with
    the metadata of its epoch: the sentiment by the model as it was then. `layouts` of
    `final` are added as its bookmarks.
    """
    kept = snapshots[best - 1]
    tensors = [Embedding(kept.vectors, kept.metadata, name="final", layouts=layouts)]
    tensors += [
        Embedding(snapshot.vectors, snapshot.metadata, name=snapshot_name(snapshot.step, steps_per_epoch, epochs))
        for snapshot in snapshots
    ]
    return export_embeddings(run_dir, tensors)
