"""The whole `projector-train imdb` against the notebook's 10-epoch fit alone, side by side.

On 25,000 training and 25,000 test reviews of `training/imdb/sample.py`, written as the
Stanford archive's `aclImdb/` folder (this machine cannot download IMDB):

- ours: `projector-train imdb --aclimdb DIR` with its defaults, in a fresh process, timed
  from start to exit: importing TensorFlow, reading the 50,000 files, building the subword
  vocabulary, tokenising both splits, the fit (10 epochs at most), scoring the test split,
  the projector export.
- the notebook: only its `model.fit(train_batches, epochs=10, validation_data=test_batches,
  validation_steps=20)`, timed from the call to its return, on the same reviews tokenised
  with the vocabulary the command built (the notebook got its vocabulary and tokens from
  `tfds.load('imdb_reviews/subwords8k')`, which no longer exists), read each epoch from a
  TFRecord file as `tfds.load` reads them (`benchmarks/imdb_pipeline.py`).

Goal: the whole command takes no longer than the notebook's fit alone.

    python benchmarks/imdb_command.py
    python benchmarks/imdb_command.py --reviews 5000     # a quick look
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def run_command(aclimdb: Path, logs: Path) -> tuple[float, str]:
    """`projector-train imdb --aclimdb ... --logdir ... --quiet`: wall seconds and what it printed."""
    command = [sys.executable, "-m", "training.cli", "imdb", "--aclimdb", str(aclimdb), "--logdir", str(logs), "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"projector-train imdb failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def notebook_fit(aclimdb: Path, vocabulary: Path, folder: Path, epochs: int) -> float:
    """Seconds of the notebook's `model.fit` over the reviews tokenised with `vocabulary`."""
    import keras
    import tensorflow_datasets as tfds
    from imdb_pipeline import notebook_dataset, write_records

    from training.imdb.data import read_aclimdb
    from training.imdb.encoding import FastEncoder
    from training.imdb.pipeline import Tokens

    warnings.filterwarnings("ignore", message="Your input ran out of data")
    train, test = read_aclimdb(str(aclimdb))
    encoder = tfds.deprecated.text.SubwordTextEncoder.load_from_file(str(vocabulary)[: -len(".subwords")])
    fast = FastEncoder(encoder)
    datasets = []
    for name, reviews in (("train", train), ("test", test)):
        ids, lengths = fast.encode(reviews.texts)
        tokens = Tokens(ids=ids, lengths=lengths, labels=reviews.labels.astype(np.float32))
        # Shuffled once, as tfds stores the split (the archive's files come sorted by label).
        order = np.random.default_rng(0).permutation(len(tokens))
        tokens = tokens.subset(order)
        datasets.append(notebook_dataset(write_records(tokens, folder / f"imdb-{name}.tfrecord"), 10))
    train_batches, test_batches = datasets
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.layers.Embedding(encoder.vocab_size, 16),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(train_batches, epochs=epochs, validation_data=test_batches, validation_steps=20, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=25_000, help="reviews in each split (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from training.imdb.sample import write_realistic_aclimdb

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        aclimdb = write_realistic_aclimdb(folder, {"train": args.reviews, "test": args.reviews}, seed=args.seed)
        print(f"{args.reviews:,} + {args.reviews:,} reviews of training/imdb/sample.py in {aclimdb}; {load()}", flush=True)

        seconds, printed = run_command(aclimdb, folder / "logs")
        vocabulary = re.search(r"vocabulary of .*? in ([0-9.]+) s", printed)
        print(f"projector-train imdb (the whole command): {seconds:.0f} s; {load()}", flush=True)
        for line in printed.splitlines():
            if re.search(r"vocabulary|tokenis|test_accuracy|epoch|projector:|laying out|exported in|bookmark:", line):
                print(f"    {line.strip()}")
        notebook = notebook_fit(aclimdb, folder / "logs" / "imdb-vocab8192.subwords", folder, epochs=10)
        print(f"the notebook's model.fit alone (10 epochs): {notebook:.0f} s; {load()}")
        print(
            f"whole command / notebook's fit: {seconds / notebook:.2f} (goal: at most 1)"
            + (f"; the vocabulary took {float(vocabulary.group(1)):.0f} s of it" if vocabulary else "")
        )


if __name__ == "__main__":
    main()
