"""The training input: reviews tokenised once, batched by length as a `tf.data` pipeline.

`encode_reviews` turns a split into `Tokens` (every review's ids end to end, kept in
memory); `make_dataset` draws batches of reviews of similar length from them, each
padded to one of a few widths (`bucket_widths`), so little of a batch is padding and XLA
compiles the training step once a width.
"""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from projector_export.console import Progress, plural
from training.imdb.data import Reviews
from training.imdb.encoding import FastEncoder, slices
from training.imdb.subwords import SubwordTextEncoder

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

    def subset(self, rows: np.ndarray) -> Tokens:
        """The reviews `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        return Tokens(ids=slices(self.ids, self.starts[rows], lengths), lengths=lengths, labels=self.labels[rows])


def encode_reviews(
    encoder: SubwordTextEncoder | FastEncoder, reviews: Reviews, split: str = "training", *, verbose: int = 1
) -> Tokens:
    """Tokenise every review once, with `encoder.encode`'s ids, saying so:
    `tokenising 25,000 training reviews: 25,000 in 6 s`, redrawn as it goes with
    `verbose=1` (for a terminal), else one line when done. Give the training and the test
    split one `FastEncoder`: each distinct token is split once for both.

    Reviews that encode to nothing are dropped (an average over no tokens is undefined),
    with a warning.
    """
    fast = encoder if isinstance(encoder, FastEncoder) else FastEncoder(encoder)
    progress = Progress(f"tokenising {plural(len(reviews), split + ' review')}", len(reviews), stream=sys.stdout,
                        live=verbose == 1)
    ids, lengths = fast.encode(reviews.texts, progress=progress)
    progress.done(f"{len(reviews):,}")
    keep = lengths > 0
    if not keep.all():
        logger.warning("dropping %s with no tokens", plural(int((~keep).sum()), "review"))
    return Tokens(ids=ids, lengths=lengths[keep], labels=reviews.labels[keep].astype(np.float32))


def hold_out(tokens: Tokens, share: float, seed: int) -> tuple[Tokens, Tokens]:
    """Split `tokens` into the reviews trained on and a held-out `share` of them (at least
    one review each), drawn with `seed`: the same seed, the same split. Both keep their
    reviews in the original order."""
    count = len(tokens)
    held = min(max(1, round(share * count)), count - 1)
    chosen = np.zeros(count, dtype=bool)
    chosen[np.random.default_rng(seed).permutation(count)[:held]] = True
    return tokens.subset(np.flatnonzero(~chosen)), tokens.subset(np.flatnonzero(chosen))


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
    token_dropout: float = 0.0,
) -> tf.data.Dataset:
    """Batches of reviews of similar length: `(ids (batch, width), labels (batch,))`.

    The tokens stay in memory, tokenised once. With `shuffle`, each pass draws the reviews
    in a new order, sorts each window of `window_batches` batches by length, cuts it into
    batches and shuffles the batches; without, the whole split is sorted by length. Each
    batch is padded with 0 to the next of `bucket_widths`; all batches are full but the last.

    With `token_dropout`, each review comes with that share of its tokens left out, drawn
    anew every pass (at least one token stays): the masked average then averages a random
    part of the review, whose mean is the whole review's on average. Training on such
    parts keeps the model from learning a review's label by its few rare tokens, which is
    how it overfits (see README, "The IMDB subword model"), and the batches are shorter.
    """
    count = len(tokens)
    ids = tf.constant(tokens.ids)
    starts = tf.constant(tokens.starts)
    lengths = tf.constant(tokens.lengths)
    labels = tf.constant(tokens.labels)
    widths = tf.constant(bucket_widths(int(tokens.lengths.max())), dtype=tf.int64)

    # Plain TensorFlow ops, no Python control flow: AutoGraph has nothing to convert (and,
    # when a process builds many pipelines, warned of a "closure mismatch" converting them).
    @tf.autograph.experimental.do_not_convert
    def by_length(numbers):
        return tf.gather(numbers, tf.argsort(tf.gather(lengths, numbers), stable=True))

    @tf.autograph.experimental.do_not_convert
    def padded(numbers):
        length = tf.gather(lengths, numbers)
        width = tf.gather(widths, tf.searchsorted(widths, tf.reduce_max(length, keepdims=True)))[0]
        column = tf.range(width, dtype=tf.int64)
        inside = column[None, :] < length[:, None]
        at = tf.where(inside, tf.gather(starts, numbers)[:, None] + column[None, :], 0)
        return tf.where(inside, tf.gather(ids, at), 0), tf.gather(labels, numbers)

    @tf.autograph.experimental.do_not_convert
    def dropped(batch, key):
        # Here in the input pipeline, not in the model: a random draw inside the compiled
        # step tripled its time on a CPU. The kept tokens move left, in order, and the
        # batch is cut to the bucket width that holds the longest.
        review_ids, review_labels = batch
        keep = tf.random.stateless_uniform(tf.shape(review_ids), seed=key) >= token_dropout
        keep &= review_ids != 0
        first = tf.range(tf.shape(review_ids)[1]) == 0
        keep |= first[None, :] & ~tf.reduce_any(keep, axis=1, keepdims=True)
        order = tf.argsort(tf.cast(~keep, tf.int32), axis=1, stable=True)
        review_ids = tf.where(tf.gather(keep, order, batch_dims=1), tf.gather(review_ids, order, batch_dims=1), 0)
        kept = tf.reduce_max(tf.reduce_sum(tf.cast(keep, tf.int64), axis=1), keepdims=True)
        width = tf.gather(widths, tf.searchsorted(widths, kept))[0]
        return review_ids[:, :width], review_labels

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
    if token_dropout:
        # A key a batch, from a seeded stream drawn anew each pass: the same parts for the
        # same seed, other parts every epoch.
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, keys).map(dropped, num_parallel_calls=tf.data.AUTOTUNE)
    # A known length: `fit` counts its steps with len(), a progress bar its total.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    options = tf.data.Options()
    # Every worker of a multi-worker run makes the same batches (the seeds are the same)
    # and takes its part of each.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # No autotuning thread: deleting an iterator that has one can wait out the thread's
    # sleep, up to 60 s (TensorFlow 2.21's `Model::OptimizeLoop` wakes on cancellation
    # before the cancellation is marked done, and sleeps again). It struck at random, when
    # the garbage collector freed a finished or interrupted run's iterators. Without it,
    # AUTOTUNE takes TensorFlow's fixed defaults (parallel map calls up to the core count,
    # a prefetch buffer that grows as it is drained); training is as fast (README).
    # `python benchmarks/iterator_deletion.py` measures both deletions.
    options.autotune.enabled = False
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
