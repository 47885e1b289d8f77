"""The subword vocabulary and the tokenising: tfds's own against ours, side by side.

On 25,000 training and 25,000 test reviews of `training/imdb/sample.py` (30 MB of text
for the training split; IMDB's is 33 MB), in one process, TensorFlow imported first:

- vocabulary: `tfds.deprecated.text.SubwordTextEncoder.build_from_corpus(reviews,
  target_vocab_size=2**13)` against `training.imdb.subwords.build_subword_vocabulary`;
  then whether the two vocabularies are the same, subword for subword, their sizes,
  tokens per review, and whether ours, saved, loads with `SubwordTextEncoder.load_from_file`
  and decodes every review back to itself.
- tokenising both splits: `encoder.encode(review)` for each review against
  `FastEncoder(encoder).encode(reviews)`, and whether the ids are the same.

Goal: the vocabulary at least 5x faster than tfds's.

    python benchmarks/imdb_vocabulary.py
    python benchmarks/imdb_vocabulary.py --reviews 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

from training.imdb.encoding import FastEncoder  # noqa: E402
from training.imdb.sample import corpus_reviews  # noqa: E402
from training.imdb.subwords import build_subword_vocabulary  # noqa: E402

SubwordTextEncoder = tfds.deprecated.text.SubwordTextEncoder


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=25_000, help="reviews in each split (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train, _ = corpus_reviews(args.reviews, seed=args.seed, split="train")
    test, _ = corpus_reviews(args.reviews, seed=args.seed, split="test")
    megabytes = sum(len(text.encode("utf-8")) for text in train) / 1e6
    SubwordTextEncoder(vocab_list=["a"])  # TensorFlow imported before any clock starts
    print(f"{len(train):,} training reviews ({megabytes:.0f} MB) and {len(test):,} test reviews; {load()}", flush=True)

    start = time.perf_counter()
    theirs = SubwordTextEncoder.build_from_corpus(train, target_vocab_size=2**13)
    tfds_seconds = time.perf_counter() - start
    print(f"tfds build_from_corpus: {tfds_seconds:.1f} s, {theirs.vocab_size:,} tokens; {load()}", flush=True)
    start = time.perf_counter()
    ours = build_subword_vocabulary(train, 2**13)
    our_seconds = time.perf_counter() - start
    print(f"build_subword_vocabulary: {our_seconds:.1f} s, {ours.vocab_size:,} tokens; {load()}", flush=True)
    print(f"vocabulary: {tfds_seconds / our_seconds:.1f}x faster (goal: at least 5x)")
    print(f"the same subwords in the same order: {theirs.subwords == ours.subwords}")

    with tempfile.TemporaryDirectory() as folder:
        ours.save_to_file(str(Path(folder) / "vocab"))
        loaded = SubwordTextEncoder.load_from_file(str(Path(folder) / "vocab"))
    print(f"saved and loaded with SubwordTextEncoder.load_from_file: {loaded.subwords == ours.subwords}")

    start = time.perf_counter()
    expected = [[theirs.encode(text) for text in texts] for texts in (train, test)]
    tfds_seconds = time.perf_counter() - start
    fast = FastEncoder(loaded)
    start = time.perf_counter()
    encoded = [fast.encode(texts) for texts in (train, test)]
    our_seconds = time.perf_counter() - start
    same = all(
        ids.tolist() == [i for review in reviews for i in review]
        and lengths.tolist() == [len(review) for review in reviews]
        for (ids, lengths), reviews in zip(encoded, expected)
    )
    print(
        f"tokenising both splits: encode {tfds_seconds:.1f} s, FastEncoder {our_seconds:.1f} s "
        f"({tfds_seconds / our_seconds:.1f}x); the same ids: {same}; {load()}"
    )
    lengths = encoded[0][1]
    starts = np.concatenate([[0], np.cumsum(lengths)])
    round_trip = all(
        loaded.decode(encoded[0][0][starts[i] : starts[i + 1]].tolist()) == text for i, text in enumerate(train)
    )
    print(
        f"tokens a training review: median {np.median(lengths):.0f}, mean {lengths.mean():.0f}, "
        f"max {lengths.max():,}; every review decodes back to itself: {round_trip}"
    )


if __name__ == "__main__":
    main()
