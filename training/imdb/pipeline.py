"""The training input: reviews tokenised once, batched by length as a `tf.data` pipeline.

`encode_reviews` turns a split into `Tokens` (every review's ids end to end, kept in
memory); `make_dataset` draws batches of reviews of similar length from them, each
padded to one of a few widths (`bucket_widths`), so little of a batch is padding and XLA
compiles the training step once a width.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from training.progress import Progress, plural
from training.imdb.data import Reviews
from training.imdb.vocabulary import SubwordTextEncoder

logger = logging.getLogger(__name__)


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


def encode_reviews(
    encoder: SubwordTextEncoder, reviews: Reviews, split: str = "training", *, verbose: int = 1
) -> Tokens:
    """Tokenise every review once, saying so: `tokenising 25,000 training reviews: ...`,
    redrawn as it goes with `verbose=1` (for a terminal), else one line when done.

    Reviews that encode to nothing are dropped (an average over no tokens is undefined),
    with a warning.
    """
    progress = Progress(f"tokenising {plural(len(reviews), split + ' review')}", len(reviews), live=verbose == 1)
    encoded = []
    for number, text in enumerate(reviews.texts, 1):
        encoded.append(encoder.encode(text))
        if number % 1000 == 0:
            progress.update(number)
    progress.done()
    lengths = np.array([len(ids) for ids in encoded], dtype=np.int64)
    keep = lengths > 0
    if not keep.all():
        logger.warning("dropping %s with no tokens", plural(int((~keep).sum()), "review"))
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
