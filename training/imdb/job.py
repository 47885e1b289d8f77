"""The IMDB job: reviews -> vocabulary -> batches -> model -> fit -> test -> the projector run.

`train_imdb` is what `projector-train imdb` runs. A seeded share of the training reviews
is held out to choose the epoch; the test reviews are scored once, at the end, with the
weights of the epoch chosen. The run `LOGDIR/imdb` (`LOGDIR/imdb-sample` for the
generated reviews of `sample`) holds Keras's TensorBoard logs (`train/`, `validation/`:
scalars and histograms), the test scores (`test/`) and the projector run
`LOGDIR/imdb/projector` (`training.imdb.export`), written as one unit (`training.runs`).
`train_imdb` reads as its steps: settings checked, data prepared (`_prepare_data`), the
model built, then fit, test and export (`_fit_test_export`); most of the length is the
settings the command passes through.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from projector_export import (
    PROJECTOR_SUBFOLDER,
    ClustersResult,
    ExportResult,
    Layout,
    ProjectorExportError,
    check_training_run,
    training_run,
)
from projector_export.console import plural, say
from training.callbacks import EpochLine, ProgressBar, Snapshots
from training.imdb import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_LEARNING_RATE,
    DEFAULT_TOKEN_DROPOUT,
    DEFAULT_VALIDATION_SPLIT,
    DEFAULT_VOCAB_SIZE,
)
from training.imdb.data import Reviews, load_reviews
from training.imdb.encoding import FastEncoder
from training.imdb.export import best_epoch, export_imdb, final_layouts, log_test_scores, token_metadata
from training.imdb.model import build_model, compile_model, embedding_vectors, token_sentiment
from training.imdb.pipeline import encode_reviews, hold_out, make_dataset
from training.imdb.subwords import SubwordTextEncoder
from training.imdb.vocabulary import (
    check_given_vocabulary,
    check_vocab_size,
    default_vocabulary,
    subword_encoder,
    vocabulary_file,
)
from training.loop import check_seed, evaluate, fit
from training.runs import CtrlC, add_final_clusters, clusters_wanted
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
    val_accuracy: tuple[float, ...]  # on the held-out training reviews, an epoch each
    best_epoch: int  # the epoch of the best val_accuracy: the weights kept, exported as `final`
    test_accuracy: float  # the test reviews, scored once, with the best epoch's weights
    test_loss: float
    held_out: int  # training reviews held out to choose the epoch
    replicas: int
    fit_seconds: float
    export: ExportResult | None
    layouts: tuple[Layout, ...]  # of final, as its bookmarks
    clusters: ClustersResult | None  # named clusters of final, when added
    model: keras.Model  # with the best epoch's weights


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
    validation_split: float = DEFAULT_VALIDATION_SPLIT,
    patience: int | None = None,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    token_dropout: float = DEFAULT_TOKEN_DROPOUT,
    layout: str | None = None,
    sample: int | None = None,
    clusters: bool | None = None,
) -> ImdbRun:
    """Train the IMDB subword model and export it as the run `LOGDIR/imdb`.

    A seeded share of the training reviews is held out: its `val_accuracy` is printed
    after every epoch (see `training.callbacks.EpochLine`), and the epoch where it is best
    is the one kept: its weights are restored and its embedding is exported as `final`.
    The test reviews are scored once, at the end, with those weights: `test_accuracy` is
    printed, and logged as a TensorBoard scalar in `imdb/test/`.

    Args:
        epochs: passes over the training reviews.
        batch_size: reviews per training step (across all replicas).
        logdir: the parent folder, for `tensorboard --logdir`.
        aclimdb: `aclImdb_v1.tar.gz` or its extracted folder; default: tfds.
        data_dir: tfds's data dir.
        vocab: a subword vocabulary file to use as it is (a warning says when it looks
            built for other text); built from the training reviews and saved there when
            missing. Default `default_vocabulary(logdir, vocab_size)`, reused only when it
            was built from these reviews for this `vocab_size` (see `subword_encoder`).
        vocab_size: the target size of a vocabulary that is built.
        strategy: "none", "mirrored" or "multiworker" (see `training.strategies`).
        seed: starting weights and shuffles.
        verbose: 1 progress redrawn in place (for a terminal), 0 plain lines only.
        validation_split: the share of the training reviews held out to choose the epoch.
        patience: stop after this many epochs without a better val_accuracy (default:
            train all `epochs`).
        learning_rate: Adam's.
        token_dropout: the share of each training review's tokens left out, drawn anew
            every epoch (see `training.imdb.pipeline.make_dataset`).
        layout: a layout of every token of `final` to add as a projector bookmark:
            "umap", "tsne", "pca" or "none"; default "umap" when umap-learn is installed
            (`pip install "projector-export[layouts]"`), else none.
        sample: train on this many generated reviews (and test on as many), made up by
            `training.imdb.sample`, not IMDB: offline, into the run `LOGDIR/imdb-sample`
            with its own vocabulary `LOGDIR/imdb-sample-vocab<SIZE>.subwords`.
        clusters: add named clusters of `final`'s tokens (a `cluster` column, a bookmark a
            cluster); default: when the `layouts` extra is installed.

    Returns:
        An `ImdbRun`; on a multi-worker run's other workers its `export` is None.
    """
    _check_settings(
        epochs=epochs, batch_size=batch_size, validation_split=validation_split, learning_rate=learning_rate,
        token_dropout=token_dropout, patience=patience, seed=seed, sample=sample, aclimdb=aclimdb,
        data_dir=data_dir, vocab=vocab, vocab_size=vocab_size,
    )
    layouts = final_layouts(layout)  # before the minutes of training: a missing library is said at once
    clusters = clusters_wanted(clusters)
    name = "imdb" if sample is None else "imdb-sample"
    run_dir = posixpath.join(os.fspath(logdir), name)
    check_training_run(run_dir)  # likewise a folder the run may not replace
    distribution = make_strategy(strategy)  # first: a multi-worker strategy must precede other TF work
    chief = is_chief(distribution)
    replicas = distribution.num_replicas_in_sync if distribution else 1
    if distribution is not None:
        devices = ", ".join(distribution.extended.worker_devices)
        say(f"{_STRATEGY_CLASSES[strategy]}: {plural(replicas, 'replica')}; here {devices}")

    # data: reviews -> vocabulary -> tokens -> batches
    data = _prepare_data(
        sample=sample, aclimdb=aclimdb, data_dir=data_dir, logdir=logdir, name=name, vocab=vocab,
        vocab_size=vocab_size, chief=chief, verbose=verbose, validation_split=validation_split, seed=seed,
        batch_size=batch_size, token_dropout=token_dropout,
    )
    encoder = data.encoder

    # model
    keras.utils.set_random_seed(seed)
    with distribution.scope() if distribution else contextlib.nullcontext():
        model = build_model(encoder.vocab_size)
        compile_model(model, learning_rate)

    # fit, test and export, into the run folder as one unit (see training.runs)
    with training_run(run_dir) if chief else _worker_folder(run_dir) as stage:
        result = _fit_test_export(
            stage, model, encoder, data.counts, data.train, data.validation, data.test,
            epochs=epochs, batch_size=batch_size, patience=patience, distribution=distribution, chief=chief,
            layouts=layouts, clusters=clusters, seed=seed, verbose=verbose, test_reviews=data.test_reviews,
        )
    export, ctrl_c = result.export, result.ctrl_c
    if ctrl_c.pressed:
        say(
            f"\ninterrupted after {plural(result.epochs_trained, 'epoch')}: {run_dir} holds the "
            f"model as trained so far"
            + (f" ({plural(len(export.tensors), 'projector tensor')} and its logs)" if export else "")
        )
        raise KeyboardInterrupt
    return ImdbRun(
        run_dir=run_dir,
        projector_dir=posixpath.join(run_dir, PROJECTOR_SUBFOLDER),
        vocab_path=data.vocab_path,
        vocab_size=encoder.vocab_size,
        val_accuracy=tuple(float(value) for value in result.history["val_accuracy"]),
        best_epoch=result.best_epoch,
        test_accuracy=result.scores["accuracy"],
        test_loss=result.scores["loss"],
        held_out=data.held_out,
        replicas=replicas,
        fit_seconds=result.fit_seconds,
        export=stage.final(export) if chief else None,
        layouts=layouts,
        clusters=stage.final(result.clusters) if chief else None,
        model=model,
    )


@dataclass(frozen=True)
class _Fitted:
    history: dict
    epochs_trained: int  # those the run keeps a snapshot of (Ctrl-C in an epoch's end: Keras's history may lack it)
    best_epoch: int
    scores: dict | None
    fit_seconds: float
    export: ExportResult | None
    clusters: ClustersResult | None
    ctrl_c: CtrlC


def _fit_test_export(
    stage, model, encoder, counts, train_data, validation_data, test_data, *,
    epochs, batch_size, patience, distribution, chief, layouts, clusters, seed, verbose, test_reviews,
) -> _Fitted:
    """Fit, choose the epoch, score the test reviews once and export, into `stage`.

    Ctrl-C during the fit (after an epoch), the test scoring or the layout stops that step
    and skips the optional ones left (see `training.runs`).
    """
    snapshots = Snapshots(
        embedding_vectors, metadata=lambda model: token_metadata(encoder, counts, token_sentiment(model))
    )
    # Keeps the best epoch's weights (restored at the end) and, with a patience, stops.
    best = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=patience or epochs, restore_best_weights=True
    )
    callbacks = [
        snapshots,
        EpochLine("val_accuracy"),
        keras.callbacks.TensorBoard(log_dir=stage.path, histogram_freq=1),
        best,
    ]
    if verbose == 1:
        callbacks.append(ProgressBar("step"))
    steps_per_epoch = len(train_data)
    say(
        f"Training {model.name} ({plural(epochs, 'epoch')}, batch {batch_size}, {encoder.vocab_size:,} tokens) "
        f"into {stage.target}"
    )
    ctrl_c = CtrlC()
    start = time.perf_counter()
    ctrl_c.run(
        lambda: fit(
            model, train_data, validation_data=validation_data, epochs=epochs, callbacks=callbacks,
            strategy=distribution, steps_per_call=STEPS_PER_CALL,
        ),
        keep=lambda: bool(snapshots.taken),
    )
    fit_seconds = time.perf_counter() - start
    chosen = best_epoch(best) if snapshots.taken else 0
    if best.stopped_epoch:
        say(f"stopped after epoch {best.stopped_epoch + 1}: no better val_accuracy in the last {patience}")

    # test, once, with the best epoch's weights (restored by `best`)
    def score():
        say(f"scoring the {test_reviews:,} test reviews with the weights of epoch {chosen}")
        return evaluate(model, test_data, strategy=distribution)

    scores = ctrl_c.run(score)
    if scores is not None:
        say(
            f"test_accuracy {scores['accuracy']:.4f}, test_loss {scores['loss']:.4f}: the {test_reviews:,} test "
            f"reviews, with the weights of epoch {chosen} (the best val_accuracy, {best.best:.4f})"
        )
        if chief:
            log_test_scores(stage, scores, chosen)

    # export
    export = named = None
    if chief:
        projector_dir = stage.join(PROJECTOR_SUBFOLDER)

        def write(with_layouts):
            if with_layouts:
                say(
                    f"laying out the {encoder.vocab_size:,} tokens of final ({with_layouts[0].method}) for the "
                    "projector's Bookmarks"
                )
            return export_imdb(
                projector_dir, snapshots.taken, chosen, steps_per_epoch=steps_per_epoch, epochs=epochs,
                layouts=with_layouts,
            )

        start = time.perf_counter()
        export = ctrl_c.run(lambda: write(layouts)) if layouts else None
        if export is not None:
            say(f"exported in {time.perf_counter() - start:.0f} s")
        else:  # no layout asked for, or Ctrl-C during it: the run without one
            export = write(())
        if clusters:  # optional too: Ctrl-C in it skips it
            added = ctrl_c.run(lambda: add_final_clusters(export, metric="cosine", seed=seed))
            if added is not None:
                named, export = added
    return _Fitted(model.history.history, len(snapshots.taken), chosen, scores, fit_seconds, export, named, ctrl_c)


@contextlib.contextmanager
def _worker_folder(run_dir: str):
    """A multi-worker run's other workers write their logs into a folder of their own, then drop it."""
    folder = tempfile.mkdtemp(prefix="imdb-worker-")
    try:
        yield _Scratch(folder, run_dir)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class _Scratch:
    """A worker's own temporary folder, used as a stage that is never swapped in (for `run_dir`, the chief's)."""

    path: str
    target: str

    def join(self, name: str) -> str:
        return posixpath.join(self.path, name)

    def final(self, value):
        return value


def sample_reviews(count: int) -> tuple[Reviews, Reviews]:
    """`count` generated training reviews and as many test reviews (see `training.imdb.sample`):
    the same for every run, as a dataset is; the test split reviews other movies."""
    from training.imdb.sample import CorpusSettings, corpus_reviews

    # At most 1,000 words (IMDB's longest have 2,500; 1% of reviews are cut): 4 fewer
    # batch widths for XLA to compile, a quarter of the first epoch.
    settings = CorpusSettings(max_words=1_000)
    return tuple(Reviews(*corpus_reviews(count, seed=0, split=split, settings=settings)) for split in ("train", "test"))


def _check_settings(
    *, epochs, batch_size, validation_split, learning_rate, token_dropout, patience, seed, sample, aclimdb,
    data_dir, vocab, vocab_size,
) -> None:
    """Refuse at once, before reading data or training, what `train_imdb` cannot do (one line each)."""
    if epochs < 1:
        raise ProjectorExportError(f"`epochs={epochs}`: train for at least 1 epoch")
    if batch_size < 1:
        raise ProjectorExportError(f"`batch_size={batch_size}`: use at least 1 review a step")
    if not 0 < validation_split < 1:
        raise ProjectorExportError(
            f"`validation_split={validation_split}`: hold out a share between 0 and 1 of the training reviews, e.g. 0.1"
        )
    if not learning_rate > 0:
        raise ProjectorExportError(f"`learning_rate={learning_rate}`: use a positive rate, e.g. 0.001")
    if not 0 <= token_dropout < 1:
        raise ProjectorExportError(f"`token_dropout={token_dropout}`: use a share from 0 (none) up to below 1, e.g. 0.5")
    if patience is not None and patience < 1:
        raise ProjectorExportError(f"`patience={patience}`: wait at least 1 epoch for a better val_accuracy")
    check_seed(seed)
    if sample is not None:
        if sample < 2:
            raise ProjectorExportError(f"`sample={sample}`: generate at least 2 reviews, e.g. 5000")
        if aclimdb is not None or data_dir is not None:
            raise ProjectorExportError(
                f"`sample={sample}` generates the reviews; leave out `aclimdb=...` and `data_dir=...`, or the sample"
            )
    if vocab is None:
        check_vocab_size(vocab_size)


@dataclass(frozen=True)
class _Data:
    """What the fit needs of the reviews: the vocabulary, the tokens' counts and the three splits' batches."""

    encoder: SubwordTextEncoder
    vocab_path: str
    counts: np.ndarray
    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    held_out: int
    test_reviews: int


def _prepare_data(
    *, sample, aclimdb, data_dir, logdir, name, vocab, vocab_size, chief, verbose, validation_split, seed, batch_size,
    token_dropout,
) -> _Data:
    """The reviews read (or generated), the vocabulary built or reused, the reviews tokenised, a share
    of the training reviews held out to choose the epoch, and the batches of each split."""
    if sample is None:
        train, test = load_reviews(aclimdb, data_dir)
        say(f"{len(train):,} training and {len(test):,} test reviews")
    else:
        train, test = sample_reviews(sample)
        say(
            f"GENERATED reviews, not IMDB: {len(train):,} training and {len(test):,} test reviews made up by "
            "training.imdb.sample (IMDB-like: many weak cues, negation, sarcasm, 2.5% label noise)"
        )
    vocab_path = vocabulary_file(vocab or default_vocabulary(logdir, vocab_size, name=name))
    encoder = subword_encoder(
        vocab_path, train.texts, vocab_size, given=vocab is not None, save=chief, live=verbose == 1
    )
    fast = FastEncoder(encoder)  # one for both splits: each distinct token is split once
    train_tokens = encode_reviews(fast, train, "training", verbose=verbose)
    test_tokens = encode_reviews(fast, test, "test", verbose=verbose)
    counts = np.bincount(train_tokens.ids, minlength=encoder.vocab_size)
    if vocab is not None:
        text_bytes = sum(len(text.encode("utf-8")) for text in train.texts)
        check_given_vocabulary(vocab_path, encoder, vocab_size, byte_tokens=int(counts[-256:].sum()), text_bytes=text_bytes)
    # Choosing the epoch on the test reviews would be peeking: a held-out share of the
    # training reviews chooses it, and the test reviews are scored once, at the end.
    fit_tokens, held_out = hold_out(train_tokens, validation_split, seed)
    say(
        f"{len(held_out):,} of the training reviews held out to choose the epoch; "
        f"the {len(test_tokens):,} test reviews are scored once, at the end"
    )
    train_data = make_dataset(fit_tokens, batch_size, shuffle=True, seed=seed, token_dropout=token_dropout)
    validation_data = make_dataset(held_out, max(batch_size, VALIDATION_BATCH_SIZE))
    test_data = make_dataset(test_tokens, max(batch_size, VALIDATION_BATCH_SIZE))
    return _Data(
        encoder=encoder, vocab_path=vocab_path, counts=counts, train=train_data, validation=validation_data,
        test=test_data, held_out=len(held_out), test_reviews=len(test_tokens),
    )
