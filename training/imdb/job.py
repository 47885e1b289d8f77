"""The IMDB job: reviews -> vocabulary -> batches -> model -> fit -> the projector run.

`train_imdb` is what `projector-train imdb` runs. The run `LOGDIR/imdb` holds Keras's
TensorBoard logs (`train/`, `validation/`: scalars and histograms) and the projector run
`LOGDIR/imdb/projector`: `final` and one tensor per epoch, with one metadata row per
embedding row (the padding row, every subword as the encoder shows it, the 256 byte
tokens) and the columns `token`, `kind`, `count` and `sentiment` (the model's
P(positive) for a review made of that token alone), so that nothing can shift a label
onto the wrong point (tensorflow/tensorboard#3444).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from projector_export import Embedding, ExportResult, ProjectorExportError, export_embeddings
from projector_export.callback import PROJECTOR_SUBFOLDER
from training.callbacks import EpochLine, ProgressBar, Snapshot, Snapshots, remove_earlier_logs, snapshot_name
from training.progress import plural
from training.imdb import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_VOCAB_SIZE
from training.imdb.data import load_reviews
from training.imdb.model import build_model, compile_model, embedding_vectors, token_sentiment
from training.imdb.pipeline import encode_reviews, make_dataset
from training.imdb.vocabulary import SubwordTextEncoder, default_vocabulary, subword_encoder, token_labels, vocabulary_file
from training.loop import fit
from training.strategies import is_chief, make_strategy

# Validation only scores: a bigger batch gives the same metrics in fewer steps.
VALIDATION_BATCH_SIZE = 100
# Training steps a call of the compiled loop (on one device), and a progress update.
STEPS_PER_CALL = 100
_STRATEGY_CLASSES = {"mirrored": "MirroredStrategy", "multiworker": "MultiWorkerMirroredStrategy"}


@dataclass(frozen=True)
class ImdbRun:
    """A trained IMDB model: where it went and how well it did."""

    run_dir: str
    projector_dir: str
    vocab_path: str
    vocab_size: int
    val_accuracy: tuple[float, ...]
    replicas: int
    fit_seconds: float
    export: ExportResult | None
    model: keras.Model


def train_imdb(
    *,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    logdir: str = "logs",
    aclimdb: str | None = None,
    data_dir: str | None = None,
    vocab: str | None = None,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    strategy: str = "none",
    seed: int = 0,
    verbose: int = 1,
) -> ImdbRun:
    """Train the IMDB subword model and export it as the run `LOGDIR/imdb`.

    `val_accuracy` is printed after every epoch (see `training.callbacks.EpochLine`).

    Args:
        epochs: passes over the training reviews.
        batch_size: reviews per training step (across all replicas).
        logdir: the parent folder, for `tensorboard --logdir`.
        aclimdb: `aclImdb_v1.tar.gz` or its extracted folder; default: tfds.
        data_dir: tfds's data dir.
        vocab: the subword vocabulary file; built from the training reviews and saved
            there when missing. Default `default_vocabulary(logdir, vocab_size)`.
        vocab_size: the target size of a vocabulary that is built.
        strategy: "none", "mirrored" or "multiworker" (see `training.strategies`).
        seed: starting weights and shuffles.
        verbose: 1 progress redrawn in place (for a terminal), 0 plain lines only.

    Returns:
        An `ImdbRun`; on a multi-worker run's other workers its `export` is None.
    """
    if epochs < 1:
        raise ProjectorExportError(f"--epochs {epochs}: train for at least 1 epoch")
    if batch_size < 1:
        raise ProjectorExportError(f"--batch-size {batch_size}: use at least 1 review a step")
    distribution = make_strategy(strategy)  # first: a multi-worker strategy must precede other TF work
    chief = is_chief(distribution)
    replicas = distribution.num_replicas_in_sync if distribution else 1
    if distribution is not None:
        devices = ", ".join(distribution.extended.worker_devices)
        print(f"{_STRATEGY_CLASSES[strategy]}: {plural(replicas, 'replica')}; here {devices}")

    # data
    train, test = load_reviews(aclimdb, data_dir)
    print(f"{len(train):,} training and {len(test):,} test reviews")
    vocab_path = vocabulary_file(vocab or default_vocabulary(logdir, vocab_size))
    encoder = subword_encoder(vocab_path, train.texts, vocab_size, save=chief)
    train_tokens = encode_reviews(encoder, train, "training", verbose=verbose)
    test_tokens = encode_reviews(encoder, test, "test", verbose=verbose)
    counts = np.bincount(train_tokens.ids, minlength=encoder.vocab_size)
    train_data = make_dataset(train_tokens, batch_size, shuffle=True, seed=seed)
    test_data = make_dataset(test_tokens, max(batch_size, VALIDATION_BATCH_SIZE))

    # model
    keras.utils.set_random_seed(seed)
    with distribution.scope() if distribution else contextlib.nullcontext():
        model = build_model(encoder.vocab_size)
        compile_model(model)

    # fit
    run_dir = posixpath.join(os.fspath(logdir), "imdb")
    write_dir = run_dir if chief else tempfile.mkdtemp(prefix="imdb-worker-")
    remove_earlier_logs(write_dir)
    snapshots = Snapshots(
        embedding_vectors, metadata=lambda model: token_metadata(encoder, counts, token_sentiment(model))
    )
    callbacks = [snapshots, EpochLine("val_accuracy"), keras.callbacks.TensorBoard(log_dir=write_dir, histogram_freq=1)]
    if verbose == 1:
        callbacks.append(ProgressBar("step"))
    # Beside Keras's train/, not above it: see projector_export.ProjectorCallback.
    projector_dir = posixpath.join(write_dir, PROJECTOR_SUBFOLDER)
    steps_per_epoch = len(train_data)
    print(
        f"Training {model.name} ({plural(epochs, 'epoch')}, batch {batch_size}, {encoder.vocab_size:,} tokens) "
        f"into {run_dir}"
    )
    start = time.perf_counter()
    try:
        history = fit(
            model,
            train_data,
            validation_data=test_data,
            epochs=epochs,
            callbacks=callbacks,
            strategy=distribution,
            steps_per_call=STEPS_PER_CALL,
        )
    except KeyboardInterrupt:
        # Ctrl-C: keep the epochs done so far.
        if chief and snapshots.taken:
            export = export_imdb(projector_dir, snapshots.taken, steps_per_epoch=steps_per_epoch, epochs=epochs)
            print(
                f"\ninterrupted after {plural(len(snapshots.taken), 'epoch')}: {projector_dir} holds the "
                f"embedding so far ({plural(len(export.tensors), 'tensor')})"
            )
        raise
    fit_seconds = time.perf_counter() - start

    # export
    export = export_imdb(projector_dir, snapshots.taken, steps_per_epoch=steps_per_epoch, epochs=epochs)
    if not chief:
        tf.io.gfile.rmtree(write_dir)
        export = None
    return ImdbRun(
        run_dir=run_dir,
        projector_dir=posixpath.join(run_dir, PROJECTOR_SUBFOLDER),
        vocab_path=vocab_path,
        vocab_size=encoder.vocab_size,
        val_accuracy=tuple(float(value) for value in history.history["val_accuracy"]),
        replicas=replicas,
        fit_seconds=fit_seconds,
        export=export,
        model=model,
    )


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


def export_imdb(run_dir: str, snapshots: Sequence[Snapshot], *, steps_per_epoch: int, epochs: int) -> ExportResult:
    """Write the run's projector files from the epochs' snapshots (see `Snapshots`).

    The run gets `final` (the last snapshot; it sorts first, so the projector opens it)
    and one tensor an epoch, `snapshot-epoch-01` ..., each with the metadata of its
    epoch: the sentiment by the model as it was then.
    """
    last = snapshots[-1]
    tensors = [Embedding(last.vectors, last.metadata, name="final")]
    tensors += [
        Embedding(snapshot.vectors, snapshot.metadata, name=snapshot_name(snapshot.step, steps_per_epoch, epochs))
        for snapshot in snapshots
    ]
    return export_embeddings(run_dir, tensors)
