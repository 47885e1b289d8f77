"""IMDB review sentiment over an 8k subword vocabulary, with the embedding in the projector.

The notebook's model (Embedding(vocab, 16) -> average -> Dense(16, relu) -> Dense(1)) on
`tfds.load('imdb_reviews')` or the Stanford archive, reading top to bottom as data ->
model -> fit -> export, then `train_imdb`, which runs it all, and `add_arguments` / `run`,
what `projector-train imdb` calls. TensorFlow, Keras and tfds are imported inside the
functions, so building the command line's parser stays fast.

The run `LOGDIR/imdb` holds Keras's TensorBoard logs (`train/`, `validation/`) and the
projector run `LOGDIR/imdb/projector`: one tensor per epoch and `final`, with one metadata
row per embedding row: the padding row, every subword as the encoder shows it (a trailing
`_` ends a word) and the 256 byte tokens, with columns `token`, `kind`, `count` and
`sentiment` (the model's P(positive) for a review made of that token alone).

Reviews are tokenised once and batched by length (`make_dataset`); `fit` runs the model's
own train step, compiled with XLA and many steps a call on one device, or on every
replica of a `tf.distribute` strategy (`--strategy mirrored|multiworker`).

Example:

```python
from training.imdb import train_imdb

run = train_imdb(aclimdb="aclImdb_v1.tar.gz", epochs=10, logdir="logs")
print(run.run_dir, run.val_accuracy[-1])
```
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import posixpath
import re
import socket
import tarfile
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from projector_export.errors import ProjectorExportError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from projector_export import Embedding, ExportResult

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- data

ACLIMDB_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
_ACLIMDB_FILE_RE = re.compile(r"(?:^|/)(train|test)/(pos|neg)/([^/]+\.txt)$")
_SPLITS = ("train", "test")
_LABELS = {"neg": 0, "pos": 1}
_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Reviews:
    """One split: review texts and labels (1 = positive, 0 = negative)."""

    texts: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


def load_reviews(aclimdb: str | None = None, data_dir: str | None = None) -> tuple[Reviews, Reviews]:
    """The IMDB train and test splits, from the Stanford archive or tfds.

    Args:
        aclimdb: `aclImdb_v1.tar.gz` or its extracted `aclImdb/` folder; read offline.
        data_dir: tfds's data dir for `imdb_reviews` (default: tfds's own).

    Raises:
        ProjectorExportError: `aclimdb` is not in the archive's layout, or tfds has not
            prepared `imdb_reviews` and its download server cannot be reached.
    """
    if aclimdb is not None:
        return read_aclimdb(aclimdb)
    return read_tfds(data_dir)


def read_aclimdb(path: str) -> tuple[Reviews, Reviews]:
    """Read `train|test/pos|neg/*.txt` from `aclImdb_v1.tar.gz` or the extracted folder.

    Files are read in name order, negative before positive; `train/unsup` is skipped.
    """
    import tensorflow as tf

    path = os.fspath(path)
    found: dict[tuple[str, str], list[tuple[str, str]]] = {(s, l): [] for s in _SPLITS for l in _LABELS}
    if not tf.io.gfile.exists(path):
        raise ProjectorExportError(
            f"--aclimdb {path}: no such file or folder; give aclImdb_v1.tar.gz or its extracted aclImdb/ folder"
        )
    if tf.io.gfile.isdir(path):
        root = _aclimdb_root(path)
        for split, label in found:
            for file in tf.io.gfile.glob(posixpath.join(root, split, label, "*.txt")):
                with tf.io.gfile.GFile(file, "rb") as f:
                    found[split, label].append((posixpath.basename(file), _decode(f.read())))
    else:
        with tf.io.gfile.GFile(path, "rb") as raw:
            try:
                # Streamed: the archive is read once, front to back.
                with tarfile.open(fileobj=raw, mode="r|*") as archive:
                    for member in archive:
                        match = _ACLIMDB_FILE_RE.search(member.name)
                        if member.isfile() and match:
                            split, label, name = match.groups()
                            text = _decode(archive.extractfile(member).read())
                            found[split, label].append((name, text))
            except tarfile.TarError as error:
                raise ProjectorExportError(
                    f"--aclimdb {path}: not a readable tar archive ({error}); give aclImdb_v1.tar.gz "
                    "or its extracted aclImdb/ folder"
                ) from None
    missing = [f"{split}/{label}" for (split, label), files in found.items() if not files]
    if missing:
        raise ProjectorExportError(
            f"--aclimdb {path}: no reviews in {', '.join(missing)}; expected the archive's layout "
            "aclImdb/train/pos/*.txt, train/neg, test/pos and test/neg"
        )
    splits = []
    for split in _SPLITS:
        texts, labels = [], []
        for label, value in _LABELS.items():
            for _, text in sorted(found[split, label]):
                texts.append(text)
                labels.append(value)
        splits.append(Reviews(texts, np.array(labels, dtype=np.int64)))
    return splits[0], splits[1]


def _aclimdb_root(path: str) -> str:
    import tensorflow as tf

    for root in (path, posixpath.join(path, "aclImdb")):
        if all(tf.io.gfile.isdir(posixpath.join(root, split)) for split in _SPLITS):
            return root
    raise ProjectorExportError(
        f"--aclimdb {path}: the folder has no train/ and test/ folders; give the extracted "
        "aclImdb/ folder (aclImdb/train/pos/*.txt, ...) or aclImdb_v1.tar.gz"
    )


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def read_tfds(data_dir: str | None = None) -> tuple[Reviews, Reviews]:
    """`tfds.load('imdb_reviews')` (plain text), downloading it first if it is not prepared.

    Without the prepared dataset and without a connection to the download server, fails
    at once with what to pass instead, where tfds would retry for minutes.
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder("imdb_reviews", data_dir=data_dir)
    if not builder.is_prepared() and not can_connect(ACLIMDB_URL):
        raise ProjectorExportError(
            f"IMDB reviews are not prepared in the tfds data dir {builder.data_path.parents[2]} "
            f"and {urllib.parse.urlsplit(ACLIMDB_URL).hostname} cannot be reached to download them. "
            f"Download {ACLIMDB_URL} on a machine with internet and pass --aclimdb PATH (the "
            "archive or its extracted aclImdb/ folder), or pass --data-dir DIR where tfds has "
            "prepared imdb_reviews"
        )
    splits = tfds.load("imdb_reviews", split=list(_SPLITS), as_supervised=True, data_dir=data_dir)
    reviews = []
    for dataset in splits:
        texts, labels = [], []
        for text, label in tfds.as_numpy(dataset):
            texts.append(_decode(text))
            labels.append(int(label))
        reviews.append(Reviews(texts, np.array(labels, dtype=np.int64)))
    return reviews[0], reviews[1]


def can_connect(url: str, timeout: float = _CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to `url`'s server (or the HTTP proxy) opens within `timeout`.

    Run in a thread, so a name lookup that hangs counts against the timeout too.
    """
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    address = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    connected = threading.Event()

    def connect() -> None:
        try:
            socket.create_connection(address, timeout=timeout).close()
            connected.set()
        except OSError:
            pass

    threading.Thread(target=connect, daemon=True).start()
    return connected.wait(timeout)


def vocabulary_file(path: str) -> str:
    """The file tfds's SubwordTextEncoder reads for `path`: `.subwords` is added if missing."""
    path = os.fspath(path)
    return path if path.endswith(".subwords") else path + ".subwords"


def subword_encoder(path: str, texts: list[str], target_vocab_size: int = 2**13, *, save: bool = True):
    """The subword vocabulary in `path` if it exists, else one built from `texts` and saved there.

    Built with `tfds.deprecated.text.SubwordTextEncoder.build_from_corpus` (the encoder of
    the retired `imdb_reviews/subwords8k`); ids are 0 for padding, then the subwords, then
    the 256 bytes that spell anything the subwords do not cover.

    Returns:
        The `SubwordTextEncoder`.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    encoder_class = tfds.deprecated.text.SubwordTextEncoder
    file = vocabulary_file(path)
    if tf.io.gfile.exists(file):
        encoder = encoder_class.load_from_file(file[: -len(".subwords")])
        if not encoder.subwords:
            raise ProjectorExportError(f"{file} holds no subwords; delete it to build a new vocabulary")
        print(f"Using the subword vocabulary {file} ({encoder.vocab_size:,} tokens)")
        return encoder
    if target_vocab_size < 258:
        raise ProjectorExportError(
            f"--vocab-size {target_vocab_size}: the vocabulary needs room for padding and 256 bytes; use at least 258"
        )
    print(
        f"Building a subword vocabulary of about {target_vocab_size:,} tokens from {len(texts):,} "
        "reviews (minutes for all of IMDB); "
        + (f"it is saved to {file} and reused next time" if save else "the chief saves it")
    )
    start = time.perf_counter()
    encoder = encoder_class.build_from_corpus(texts, target_vocab_size=target_vocab_size)
    print(f"  {encoder.vocab_size:,} tokens in {time.perf_counter() - start:.0f} s")
    if save:
        tf.io.gfile.makedirs(posixpath.dirname(file) or ".")
        # Written beside and renamed, so a reader never sees half a vocabulary.
        partial = f"{file[: -len('.subwords')]}.partial-{os.getpid()}"
        encoder.save_to_file(partial)
        tf.io.gfile.rename(partial + ".subwords", file, overwrite=True)
    return encoder


@dataclass(frozen=True)
class Tokens:
    """Reviews as subword ids: every review end to end in `ids`, with its length and label."""

    ids: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)


def encode_reviews(encoder, reviews: Reviews, *, verbose: int = 1) -> Tokens:
    """Tokenise every review once. Reviews that encode to nothing are dropped (an average
    over no tokens is undefined), with a warning."""
    import keras

    progress = keras.utils.Progbar(len(reviews), verbose=1 if verbose == 1 else 0, unit_name="review")
    encoded = []
    for number, text in enumerate(reviews.texts, 1):
        encoded.append(encoder.encode(text))
        if number % 1000 == 0 or number == len(reviews):
            progress.update(number)
    lengths = np.array([len(ids) for ids in encoded], dtype=np.int64)
    keep = lengths > 0
    if not keep.all():
        logger.warning("dropping %d review(s) with no tokens", int((~keep).sum()))
    flat = [ids for ids, kept in zip(encoded, keep) if kept]
    return Tokens(
        ids=np.fromiter((i for ids in flat for i in ids), dtype=np.int32, count=int(lengths[keep].sum())),
        lengths=lengths[keep],
        labels=reviews.labels[keep].astype(np.float32),
    )


def bucket_widths(longest: int) -> list[int]:
    """The lengths a batch is padded to: 16, 24, 32, 48, 64, 96, ..., the last at least `longest`.

    A batch of similar lengths wastes little on padding; the few distinct shapes let XLA
    compile the training step once for each.
    """
    widths = [16, 24]
    while widths[-1] < longest:
        widths.append(widths[-2] * 2)
    return widths


def make_dataset(
    tokens: Tokens,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int | None = None,
    window_batches: int = 50,
) -> tf.data.Dataset:
    """Batches of reviews of similar length: `(ids (batch, width), labels (batch,))`.

    The tokens stay in memory, tokenised once. With `shuffle`, each pass draws the reviews
    in a new order, sorts each window of `window_batches` batches by length, cuts it into
    batches and shuffles the batches; without, the whole split is sorted by length. Each
    batch is padded with 0 to the next of `bucket_widths`; all batches are full but the last.
    """
    import tensorflow as tf

    count = len(tokens)
    ids = tf.constant(tokens.ids)
    starts = tf.constant(tokens.starts)
    lengths = tf.constant(tokens.lengths)
    labels = tf.constant(tokens.labels)
    widths = tf.constant(bucket_widths(int(tokens.lengths.max())), dtype=tf.int64)

    def by_length(numbers):
        return tf.gather(numbers, tf.argsort(tf.gather(lengths, numbers), stable=True))

    def padded(numbers):
        length = tf.gather(lengths, numbers)
        width = tf.gather(widths, tf.searchsorted(widths, tf.reduce_max(length, keepdims=True)))[0]
        column = tf.range(width, dtype=tf.int64)
        inside = column[None, :] < length[:, None]
        at = tf.where(inside, tf.gather(starts, numbers)[:, None] + column[None, :], 0)
        return tf.where(inside, tf.gather(ids, at), 0), tf.gather(labels, numbers)

    dataset = tf.data.Dataset.range(count)
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size * window_batches)
    else:
        dataset = dataset.batch(count)
    dataset = dataset.map(by_length).unbatch().batch(batch_size)
    batches = math.ceil(count / batch_size)
    if shuffle:
        dataset = dataset.shuffle(batches, seed=None if seed is None else seed + 1, reshuffle_each_iteration=True)
    dataset = dataset.map(padded, num_parallel_calls=tf.data.AUTOTUNE)
    # A known length: `fit` counts its steps with len(), a progress bar its total.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    options = tf.data.Options()
    # Every worker of a multi-worker run makes the same batches (the seeds are the same)
    # and takes its part of each.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------- model

EMBEDDING_DIM = 16


def build_model(vocab_size: int, embedding_dim: int = EMBEDDING_DIM) -> keras.Model:
    """The notebook's model, padding masked out of the average: Embedding -> average ->
    Dense(16, relu) -> Dense(1) (a logit). Call `keras.utils.set_random_seed` first for
    repeatable starting weights, and build it inside a strategy's scope to distribute it."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding"),
            keras.layers.GlobalAveragePooling1D(name="average"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="logit"),
        ],
        name="imdb_subwords",
    )


def compile_model(model: keras.Model) -> None:
    """Adam, binary cross-entropy on the logit, accuracy: as the notebook compiles it."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        # "accuracy" would threshold the logit at 0.5 (P > 0.62); a logit's boundary is 0.
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
    )


def token_sentiment(model: keras.Model) -> np.ndarray:
    """P(positive) the model gives each token on its own, one value per embedding row.

    A review of one token averages to that token's vector, so the head sees the vector
    itself. Row 0, padding, stands for a review with nothing left after masking, whose
    average (0/0) the model leaves undefined: the head gets a zero vector there.
    """
    import keras

    vectors = np.array(model.get_layer("embedding").embeddings.numpy(), copy=True)
    vectors[0] = 0.0
    logits = model.get_layer("logit")(model.get_layer("hidden")(vectors))
    return keras.ops.convert_to_numpy(keras.ops.sigmoid(logits))[:, 0].astype(np.float64)


# ----------------------------------------------------------------------------- fit

STRATEGIES = ("none", "mirrored", "multiworker")


def make_strategy(name: str) -> tf.distribute.Strategy | None:
    """`None` for one device; `MirroredStrategy` over the local GPUs (or, without any, the
    logical CPUs); `MultiWorkerMirroredStrategy` configured by `TF_CONFIG`. Make it before
    any other TensorFlow work: the multi-worker one has to be first."""
    import tensorflow as tf

    if name == "none":
        return None
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            logger.warning("--strategy multiworker without TF_CONFIG: training as a single worker")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ProjectorExportError(f"--strategy {name}: choose one of {', '.join(STRATEGIES)}")


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process writes the results: always, except a multi-worker run's other workers."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    jobs = resolver.cluster_spec().jobs
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs


def fit(
    model: keras.Model,
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset | None = None,
    *,
    epochs: int,
    callbacks: list[keras.callbacks.Callback] = (),
    verbose: int = 1,
    strategy: tf.distribute.Strategy | None = None,
    steps_per_call: int = 100,
) -> keras.callbacks.History:
    """Train as `model.fit(train_data, epochs=..., validation_data=...)` does, faster.

    Every step is the model's own `train_step` (forward pass, loss, gradients, Adam update,
    metrics). On one device it is compiled with XLA, which more than halves a step on a
    CPU and costs one compilation per batch width (`make_dataset` gives a few, all met in
    the first epoch), and `steps_per_call` steps run in one `tf.function` call, where `fit`
    returns to Python after every step. With a `strategy` (the one the model was built in)
    each step runs on every replica through `strategy.run`, on its share of the batch, as
    Keras does. After each epoch, validation runs `test_step` over the whole split, and the
    callbacks get what `fit` gives them: the epoch's metrics, `val_` ones included, so
    Keras's TensorBoard callback logs the same curves.

    Keras 3.15's own `fit` cannot train across workers (keras-team/keras#20585: it
    averages the first batch across replicas to learn the input shapes, and reduces every
    scalar metric along an axis it does not have), so this loop serves distributed runs too.

    Args:
        model: a compiled Keras model.
        train_data, validation_data: batches of `(ids, labels)` of a known count, e.g.
            from `make_dataset`.
        epochs: passes over `train_data`.
        callbacks: Keras callbacks; the train and epoch hooks are called.
        verbose: 1 a progress bar each epoch, 0 none.
        strategy: a `tf.distribute` strategy, or None for one device.
        steps_per_call: training steps per `tf.function` call (and progress update).

    Returns:
        The `History` callback, as `fit` returns it.
    """
    import keras
    import tensorflow as tf

    steps = len(train_data)
    validation_steps = 0 if validation_data is None else len(validation_data)
    # One iterator for all epochs: deleting the first epoch's iterator took 9 s here (the
    # whole of a later epoch took 2.7 s). Repeated, a shuffled dataset still reshuffles
    # each pass, and the validation batches come in the same order every epoch.
    train_data = train_data.repeat()
    if validation_data is not None:
        validation_data = validation_data.repeat()
    if strategy is None:
        model.optimizer.build(model.trainable_variables)
        train_step = tf.function(model.train_step, jit_compile=True, reduce_retracing=True)

        @tf.function
        def run_steps(step, iterator, count):
            for _ in tf.range(count):
                step(next(iterator))

        def run(step, iterator, count: int) -> None:
            run_steps(step, iterator, tf.constant(count))

    else:
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)
            # Metric variables are made here, outside the replicas, as Keras's fit does.
            ids, labels = next(iter(train_data.take(1)))
            model.compute_metrics(ids, labels, model(ids), sample_weight=None)
        train_step = model.train_step
        train_data = strategy.experimental_distribute_dataset(train_data)
        if validation_data is not None:
            validation_data = strategy.experimental_distribute_dataset(validation_data)

        @tf.function
        def one_step(step, iterator):
            strategy.run(step, args=(next(iterator),))

        def run(step, iterator, count: int) -> None:
            # The replicas' collectives (gradients, metrics) do not pair up inside a graph
            # loop ("Shape mismatch in the collective instance"): one step a call.
            for _ in range(count):
                one_step(step, iterator)

    test_step = model.test_step  # one object: each `model.test_step` is a new bound method, a retrace

    def metrics() -> dict[str, float]:
        return {name: float(value) for name, value in model.get_metrics_result().items()}

    callback_list = keras.callbacks.CallbackList(
        list(callbacks), add_history=True, model=model, verbose=verbose, epochs=epochs, steps=steps
    )
    model.stop_training = False
    logs: dict[str, float] = {}
    iterator = iter(train_data)
    validation_iterator = None if validation_data is None else iter(validation_data)
    callback_list.on_train_begin()
    for epoch in range(epochs):
        callback_list.on_epoch_begin(epoch)
        model.reset_metrics()
        progress = keras.utils.Progbar(steps, verbose=verbose, unit_name="step")
        done = 0
        while done < steps:
            count = min(steps_per_call, steps - done)
            run(train_step, iterator, count)
            done += count
            progress.update(done, list(metrics().items()), finalize=done == steps)
        logs = metrics()
        if validation_data is not None:
            model.reset_metrics()
            run(test_step, validation_iterator, validation_steps)
            logs.update({f"val_{name}": value for name, value in metrics().items()})
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return model.history


def epoch_line(epoch: int, epochs: int, logs: dict) -> str:
    """`epoch 3/10: val_accuracy 0.8731, accuracy 0.9012, loss ...`: what each epoch prints."""
    names = sorted(logs, key=lambda name: (name != "val_accuracy", name))
    return f"epoch {epoch + 1}/{epochs}: " + ", ".join(f"{name} {float(logs[name]):.4f}" for name in names)


# -------------------------------------------------------------------------- export


def token_labels(encoder) -> tuple[list[str], list[str]]:
    """A label and a kind for every id: `<pad>`, each subword as the encoder shows it (a
    trailing `_` ends a word), then `<byte 0x00>` ... `<byte 0xff>`."""
    subwords = encoder.subwords
    tokens = ["<pad>", *subwords, *(f"<byte 0x{value:02x}>" for value in range(256))]
    kinds = ["padding"] + ["subword"] * len(subwords) + ["byte"] * 256
    if len(tokens) != encoder.vocab_size:
        raise ProjectorExportError(
            f"the encoder has {encoder.vocab_size} ids but {len(tokens)} labels; "
            "expected padding, its subwords and 256 bytes"
        )
    return tokens, kinds


def token_metadata(encoder, counts: np.ndarray, sentiment: np.ndarray | None = None) -> dict[str, list]:
    """The projector's columns, one row per id: token, kind, count (occurrences in the
    training reviews) and, when given, sentiment (P(positive) for the token alone)."""
    tokens, kinds = token_labels(encoder)
    table = {"token": tokens, "kind": kinds, "count": [int(count) for count in counts]}
    if sentiment is not None:
        table["sentiment"] = [f"{value:.4f}" for value in sentiment]
    return table


def export_imdb(
    run_dir: str,
    encoder,
    counts: np.ndarray,
    final: np.ndarray,
    snapshots: list[Embedding],
    sentiment: dict[int, np.ndarray],
) -> ExportResult:
    """Write the run's projector files: `final` (listed first, so the projector opens it)
    and the epoch snapshots of `ProjectorCallback`, each with the metadata of the model at
    that epoch (`sentiment[e]`, after epoch `e`). Snapshots are re-exported with the final
    tensor, since an export replaces the run's files."""
    from projector_export import Embedding, export_embeddings

    last = max(sentiment)
    tensors = [Embedding(final, token_metadata(encoder, counts, sentiment[last]), name="final")]
    for snapshot in snapshots:
        epoch = int(re.search(r"-epoch-(\d+)$", snapshot.name).group(1))
        tensors.append(replace(snapshot, metadata=token_metadata(encoder, counts, sentiment[epoch])))
    return export_embeddings(run_dir, tensors)


# ----------------------------------------------------------------------------- job

DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 10
DEFAULT_VOCAB_SIZE = 2**13
# Validation only scores: a bigger batch gives the same metrics in fewer steps.
VALIDATION_BATCH_SIZE = 100


@dataclass(frozen=True)
class ImdbRun:
    """A trained IMDB model: where it went and how well it did."""

    run_dir: str
    vocab_path: str
    vocab_size: int
    val_accuracy: tuple[float, ...]
    replicas: int
    fit_seconds: float
    export: ExportResult | None
    model: keras.Model


def default_vocabulary(logdir: str, vocab_size: int = DEFAULT_VOCAB_SIZE) -> str:
    """Where a built vocabulary is kept, beside the run: `LOGDIR/imdb-vocab8192.subwords`."""
    return posixpath.join(os.fspath(logdir), f"imdb-vocab{vocab_size}.subwords")


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

    The run holds Keras's TensorBoard logs (`train/`, `validation/`: scalars and
    histograms) and, in `projector/`, the projector export (see `export_imdb`). `val_accuracy` is printed
    after every epoch.

    Args:
        epochs: passes over the training reviews.
        batch_size: reviews per training step (across all replicas).
        logdir: the parent folder, for `tensorboard --logdir`.
        aclimdb: `aclImdb_v1.tar.gz` or its extracted folder; default: tfds.
        data_dir: tfds's data dir.
        vocab: the subword vocabulary file; built from the training reviews and saved
            there when missing. Default `default_vocabulary(logdir, vocab_size)`.
        vocab_size: the target size of a vocabulary that is built.
        strategy: "none", "mirrored" or "multiworker" (see `make_strategy`).
        seed: starting weights and shuffles.
        verbose: 1 progress bars, 0 none (the line after each epoch is printed either way).

    Returns:
        An `ImdbRun`; on a multi-worker run's other workers its `export` is None.
    """
    if epochs < 1:
        raise ProjectorExportError(f"--epochs {epochs}: train for at least 1 epoch")
    if batch_size < 1:
        raise ProjectorExportError(f"--batch-size {batch_size}: use at least 1 review a step")
    distribution = make_strategy(strategy)  # first: a multi-worker strategy must precede other TF work
    chief = is_chief(distribution)

    import keras
    import tensorflow as tf

    from projector_export import ProjectorCallback

    replicas = distribution.num_replicas_in_sync if distribution else 1
    if distribution is not None:
        kind = {"mirrored": "MirroredStrategy", "multiworker": "MultiWorkerMirroredStrategy"}[strategy]
        print(f"{kind}: {replicas} replica(s); here {', '.join(distribution.extended.worker_devices)}")

    # data
    train, test = load_reviews(aclimdb, data_dir)
    print(f"{len(train):,} training and {len(test):,} test reviews")
    vocab_path = vocabulary_file(vocab or default_vocabulary(logdir, vocab_size))
    encoder = subword_encoder(vocab_path, train.texts, vocab_size, save=chief)
    train_tokens = encode_reviews(encoder, train, verbose=verbose)
    test_tokens = encode_reviews(encoder, test, verbose=verbose)
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
    from projector_export.folders import KERAS_LOG_FILES, remove_written_folder

    for folder in ("train", "validation"):  # only folders Keras wrote whole; anything else is refused
        remove_written_folder(posixpath.join(write_dir, folder), KERAS_LOG_FILES)
    sentiment: dict[int, np.ndarray] = {}
    projector = ProjectorCallback(write_dir, metadata=token_metadata(encoder, counts))
    callbacks = [
        keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: sentiment.__setitem__(epoch + 1, token_sentiment(model))
        ),
        keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: print(epoch_line(epoch, epochs, logs), flush=True)
        ),
        keras.callbacks.TensorBoard(log_dir=write_dir, histogram_freq=1),
        projector,
    ]
    print(f"Training {model.name} ({epochs} epochs, batch {batch_size}, {encoder.vocab_size:,} tokens) into {run_dir}")
    start = time.perf_counter()
    history = fit(
        model, train_data, test_data, epochs=epochs, callbacks=callbacks, verbose=verbose, strategy=distribution
    )
    fit_seconds = time.perf_counter() - start

    # export
    final = np.array(model.get_layer("embedding").embeddings.numpy())
    export = export_imdb(projector.run_dir, encoder, counts, final, projector.snapshots, sentiment)
    if not chief:
        tf.io.gfile.rmtree(write_dir)
        export = None
    return ImdbRun(
        run_dir=run_dir,
        vocab_path=vocab_path,
        vocab_size=encoder.vocab_size,
        val_accuracy=tuple(float(value) for value in history.history["val_accuracy"]),
        replicas=replicas,
        fit_seconds=fit_seconds,
        export=export,
        model=model,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `projector-train imdb` to `parser` (no TensorFlow imported)."""
    parser.add_argument(
        "--epochs", type=int, default=DEFAULT_EPOCHS, metavar="N",
        help="passes over the training reviews (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
        help="reviews per training step, as the notebook (default: %(default)s)",
    )
    parser.add_argument("--logdir", default="logs", help="parent folder of the run imdb/ (default: %(default)s)")
    parser.add_argument(
        "--aclimdb", default=None, metavar="PATH",
        help="read the reviews offline from aclImdb_v1.tar.gz or its extracted aclImdb/ folder "
        f"(from {ACLIMDB_URL}) instead of tfds",
    )
    parser.add_argument(
        "--data-dir", default=None, metavar="DIR",
        help="tfds data dir holding or receiving imdb_reviews (default: tfds's)",
    )
    parser.add_argument(
        "--vocab", default=None, metavar="FILE",
        help="subword vocabulary (a tfds SubwordTextEncoder .subwords file); built from the training "
        "reviews and saved there if missing (default: LOGDIR/imdb-vocab<SIZE>.subwords)",
    )
    parser.add_argument(
        "--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE, metavar="N",
        help="target size of a vocabulary that is built (default: %(default)s)",
    )
    parser.add_argument(
        "--strategy", choices=STRATEGIES, default="none",
        help="tf.distribute: mirrored over the local GPUs, or multiworker configured by TF_CONFIG "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="starting weights and shuffles (default: %(default)s)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> ImdbRun:
    """`projector-train imdb`: train, export, and print where everything went."""
    result = train_imdb(
        epochs=args.epochs,
        batch_size=args.batch_size,
        logdir=args.logdir,
        aclimdb=args.aclimdb,
        data_dir=args.data_dir,
        vocab=args.vocab,
        vocab_size=args.vocab_size,
        strategy=args.strategy,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
    )
    print()
    print(
        f"{result.run_dir}: val_accuracy {result.val_accuracy[-1]:.4f} after {len(result.val_accuracy)} "
        f"epoch(s), fit {result.fit_seconds:.0f} s on {result.replicas} replica(s)"
    )
    if result.export is None:
        print("  (this worker is not the chief: the chief writes the run)")
        return result
    subwords = result.vocab_size - 257
    print(
        f"  projector:  {result.export.config_path} ({len(result.export.tensors)} tensors of "
        f"{result.vocab_size:,} x {EMBEDDING_DIM}: final and one per epoch)"
    )
    print(f"  metadata:   token, kind, count, sentiment: <pad>, {subwords:,} subwords, 256 bytes")
    print(f"  scalars:    {result.run_dir}/train, {result.run_dir}/validation")
    print(f"  vocabulary: {result.vocab_path}")
    print(f"\nOpen them with:\n  tensorboard --logdir {args.logdir}")
    return result
