"""IMDB training speed: the notebook's input pipeline against ours, same model, same batch.

A synthetic IMDB-shaped corpus stands in for the reviews once tokenised: 25,000 reviews
with IMDB-like lengths (log-normal, median 226 and mean about 300 subword tokens, 10 to
3,000) of Zipf-distributed token ids over the 8,185 ids of the notebook's
`imdb_reviews/subwords8k` (id 1 the most common, as the encoder orders its subwords).

Each setup trains a fresh `training.imdb.model.build_model` for `--epochs` epochs; its epoch time
is the fastest epoch after the first (the first also traces, and for ours compiles each
bucket width with XLA; the fastest is the one least disturbed by other work on the machine):

- notebook: `shuffle(1000).padded_batch(10)` over the reviews read from a TFRecord file
  each epoch, as `tfds.load('imdb_reviews/subwords8k')` gave them, and `model.fit`, as the
  notebook trains;
- notebook in memory: the same over reviews kept in memory (what caching alone saves);
- our pipeline: `training.imdb.pipeline.make_dataset` (tokens kept in memory, shuffled, batched by
  length, prefetched) and the same `model.fit`, to show what the batching alone saves;
- ours: `make_dataset` and `training.loop.fit`, what `projector-train imdb` runs on one
  device: the model's own train step compiled with XLA (which the few bucket widths make
  affordable), a hundred steps a call.

Goal: ours at least 3x faster than the notebook, printed as a ratio from one run.

    python benchmarks/imdb_pipeline.py
    python benchmarks/imdb_pipeline.py --reviews 25000 --batch-size 10 --epochs 4
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from training.imdb.job import STEPS_PER_CALL  # noqa: E402
from training.imdb.model import build_model, compile_model  # noqa: E402
from training.imdb.pipeline import Tokens, make_dataset  # noqa: E402
from training.loop import fit  # noqa: E402

VOCAB_SIZE = 8185  # imdb_reviews/subwords8k: padding, 7,928 subwords, 256 bytes


def synthetic_corpus(reviews: int = 25_000, seed: int = 0) -> Tokens:
    """IMDB-shaped tokenised reviews: log-normal lengths, Zipf token ids, random labels."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(mean=np.log(226), sigma=0.75, size=reviews), 10, 3000).astype(np.int64)
    ranks = np.arange(1, VOCAB_SIZE)
    zipf = 1.0 / ranks
    ids = rng.choice(ranks, size=int(lengths.sum()), p=zipf / zipf.sum()).astype(np.int32)
    labels = rng.integers(0, 2, size=reviews).astype(np.float32)
    return Tokens(ids=ids, lengths=lengths, labels=labels)


def write_records(tokens: Tokens, path: Path) -> Path:
    """The reviews as tfds stores `imdb_reviews/subwords8k`: a TFRecord of `tf.train.Example`s
    with an int64 list `text` and an int64 `label`."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for start, length, label in zip(tokens.starts, tokens.lengths, tokens.labels):
            features = {
                "text": tf.train.Feature(int64_list=tf.train.Int64List(value=tokens.ids[start : start + length])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    return path


def notebook_dataset(records: Path, batch_size: int) -> tf.data.Dataset:
    """The notebook's `train_data.shuffle(1000).padded_batch(10)`, `train_data` read from the
    records each epoch as `tfds.load` reads them."""
    spec = {"text": tf.io.VarLenFeature(tf.int64), "label": tf.io.FixedLenFeature([], tf.int64)}

    def parse(serialized):
        example = tf.io.parse_single_example(serialized, spec)
        return tf.sparse.to_dense(example["text"]), example["label"]

    train_data = tf.data.TFRecordDataset(str(records)).map(parse)
    return train_data.shuffle(1000).padded_batch(batch_size, padded_shapes=([None], []))


def in_memory_dataset(tokens: Tokens, batch_size: int) -> tf.data.Dataset:
    """The same `shuffle(1000).padded_batch(10)` over reviews already in memory: the notebook
    given our tokenise-once-and-cache, to separate what that saves."""
    ids, starts, lengths = tf.constant(tokens.ids), tf.constant(tokens.starts), tf.constant(tokens.lengths)
    reviews = tf.data.Dataset.from_tensor_slices((starts, lengths, tokens.labels))
    reviews = reviews.map(lambda start, length, label: (ids[start : start + length], label)).cache()
    return reviews.shuffle(1000).padded_batch(batch_size, padded_shapes=([None], []))


class EpochTimes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def time_epochs(dataset: tf.data.Dataset, *, ours: bool, epochs: int) -> list[float]:
    """Seconds per epoch of a fresh model: `training.loop.fit` if `ours`, else `model.fit`."""
    keras.utils.set_random_seed(0)
    model = build_model(VOCAB_SIZE)
    compile_model(model)
    times = EpochTimes()
    if ours:
        fit(model, dataset, epochs=epochs, callbacks=[times], steps_per_call=STEPS_PER_CALL)
    else:
        model.fit(dataset, epochs=epochs, shuffle=False, verbose=0, callbacks=[times])
    return times.seconds


def padding_share(dataset: tf.data.Dataset, tokens: Tokens) -> float:
    padded = sum(int(np.prod(ids.shape)) for ids, _ in dataset)
    return 1 - int(tokens.lengths.sum()) / padded


def main() -> None:
    # model.fit learns the notebook's epoch length by running out of records: expected.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=25_000)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument(
        "--epochs", type=int, default=3, help="epochs per setup (at least 2): the fastest after the first counts"
    )
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs: at least 2, since the first epoch is not timed")

    tokens = synthetic_corpus(args.reviews)
    print(
        f"{len(tokens):,} synthetic reviews, {int(tokens.lengths.sum()):,} tokens (median length "
        f"{int(np.median(tokens.lengths))}, mean {tokens.lengths.mean():.0f}, max {tokens.lengths.max()}), "
        f"batch {args.batch_size}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as folder:
        notebook = notebook_dataset(write_records(tokens, Path(folder) / "imdb-train.tfrecord"), args.batch_size)
        in_memory = in_memory_dataset(tokens, args.batch_size)
        ours = make_dataset(tokens, args.batch_size, shuffle=True, seed=0)
        batches = len(ours)
        print(
            f"padding: notebook {padding_share(notebook, tokens):.0%} of the tokens, "
            f"ours {padding_share(ours, tokens):.0%}"
        )
        results = {}
        for name, dataset, fast in [
            ("notebook", notebook, False),
            ("notebook in memory", in_memory, False),
            ("our pipeline", ours, False),
            ("ours", ours, True),
        ]:
            seconds = time_epochs(dataset, ours=fast, epochs=args.epochs)
            results[name] = min(seconds[1:])
            print(
                f"{name:>18}: epoch {results[name]:6.2f} s ({batches / results[name]:,.0f} steps/s); "
                f"all epochs {', '.join(f'{s:.2f}' for s in seconds)} s",
                flush=True,
            )
    notebook = results["notebook"]
    print(
        f"vs the notebook: notebook in memory {notebook / results['notebook in memory']:.2f}x, "
        f"our pipeline with model.fit {notebook / results['our pipeline']:.2f}x"
    )
    print(f"ours: {notebook / results['ours']:.2f}x faster than the notebook's epoch (goal: at least 3x)")


if __name__ == "__main__":
    main()
