"""IMDB accuracy: the notebook's model and pipeline against ours, on reviews that behave like IMDB's.

This machine cannot download IMDB, and the Zipf corpus of `imdb_pipeline.py` cannot be
overfitted, so everything here runs on `training/imdb/sample.py`: 25,000 training and
25,000 test reviews (the archive's split sizes; the test split reviews other movies) with
many weak cues, negation, mixed and sarcastic reviews, label noise and IMDB's lengths. One
subword vocabulary (about 8k, built from the training reviews) serves every setup.

Setups, each trained from the same starting weights (`--seed`) and scored on the 25,000
test reviews after every epoch (the test scores are only reported, never used to choose):

- notebook: the TensorFlow notebook as written: `shuffle(1000).padded_batch(10)`,
  `Embedding(vocab, 16)`, unmasked `GlobalAveragePooling1D`, `Dense(16, relu)`, `Dense(1)`,
  Adam, `BinaryCrossentropy(from_logits=True)`, `model.fit` for 10 epochs on all 25,000
  training reviews. Its average counts padding, so its prediction for a review depends on
  the batch it is in: its test accuracy is given as the notebook scores it (test reviews
  in `shuffle(1000).padded_batch(10)` batches) and for each review alone (no padding).
- ours: what `projector-train imdb` runs by default (see `OURS`): 10% of the training
  reviews held out (seeded), the model's epoch with the best held-out accuracy restored.
- `--why`: the factors between the two, one at a time, on the same 22,500 / 2,500 split:
  masking with the notebook's random batches, the notebook's unmasked average with our
  length buckets, and our model at lower learning rates and with dropout.

Accuracy is the share of reviews whose logit has the label's sign (Keras's "accuracy" on a
logit would threshold it at 0.5, i.e. P > 0.62). Fit times exclude the scoring.

    python benchmarks/imdb_accuracy.py                 # notebook vs ours, 3 seeds each: about 30 min on 2 cores
    python benchmarks/imdb_accuracy.py --why           # + the factors (first seed): about 70 min
    python benchmarks/imdb_accuracy.py --reviews 5000 --epochs 3 --model-seeds 0   # a quick look
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from training.imdb import (  # noqa: E402
    DEFAULT_BATCH_SIZE,
    DEFAULT_LEARNING_RATE,
    DEFAULT_TOKEN_DROPOUT,
    DEFAULT_VALIDATION_SPLIT,
)
from training.imdb.encoding import FastEncoder  # noqa: E402
from training.imdb.job import VALIDATION_BATCH_SIZE  # noqa: E402
from training.imdb.model import EMBEDDING_DIM, build_model, compile_model  # noqa: E402
from training.imdb.pipeline import Tokens, hold_out, make_dataset  # noqa: E402
from training.imdb.sample import corpus_reviews  # noqa: E402
from training.imdb.subwords import build_subword_vocabulary  # noqa: E402
from training.loop import fit  # noqa: E402


@dataclass(frozen=True)
class Setup:
    """One way of training the notebook's model."""

    name: str
    masked: bool = True  # padding left out of the average (ours) or counted (the notebook)
    batches: str = "buckets"  # "buckets": ours (`make_dataset`); "random": shuffle(1000).padded_batch
    learning_rate: float = 1e-3
    dropout: float = 0.0  # share of each training review's tokens left out (buckets only, as the job)
    holdout: bool = True  # train on 90% and choose the epoch on the other 10%; else all, last epoch
    what: str = ""


NOTEBOOK = Setup("notebook", masked=False, batches="random", holdout=False, what="the notebook as written")
OURS = Setup(
    "ours", learning_rate=DEFAULT_LEARNING_RATE, dropout=DEFAULT_TOKEN_DROPOUT, what="projector-train imdb's defaults"
)
WHY = [
    Setup("ours-before", holdout=False, what="projector-train imdb before: masked average, length buckets, the last epoch"),
    Setup("best-epoch-only", what="the same, the epoch chosen on the held-out reviews; no token dropout"),
    Setup("masked-random-batches", batches="random", what="our masked average in the notebook's batches"),
    Setup("unmasked-buckets", masked=False, what="the notebook's average over padding, in our length buckets"),
    Setup("notebook-90%", masked=False, batches="random", what="the notebook on our training share"),
    Setup("lr-3e-4", learning_rate=3e-4, what="best-epoch-only at 3e-4"),
    Setup("lr-1e-4", learning_rate=1e-4, what="best-epoch-only at 1e-4"),
    Setup("token-dropout-lr-1e-3", dropout=DEFAULT_TOKEN_DROPOUT, what="ours at the notebook's learning rate, 1e-3"),
    Setup("token-dropout-0.3", dropout=0.3, what="best-epoch-only, 30% of each review's tokens left out"),
]


@dataclass
class Data:
    train: Tokens  # all training reviews
    fit: Tokens  # the share trained on
    held_out: Tokens  # the share that chooses the epoch
    test: Tokens
    vocab_size: int


def prepare(reviews: int, test_reviews: int, seed: int, held_out_share: float) -> Data:
    start = time.perf_counter()
    train_texts, train_labels = corpus_reviews(reviews, seed=seed, split="train")
    test_texts, test_labels = corpus_reviews(test_reviews, seed=seed, split="test")
    encoder = build_subword_vocabulary(train_texts, 2**13)
    fast = FastEncoder(encoder)
    tokens = []
    for texts, labels in ((train_texts, train_labels), (test_texts, test_labels)):
        ids, lengths = fast.encode(texts)
        tokens.append(Tokens(ids=ids, lengths=lengths, labels=labels.astype(np.float32)))
    # The held-out reviews the job would hold out with this seed.
    fit_tokens, held_out = hold_out(tokens[0], held_out_share, seed)
    data = Data(tokens[0], fit_tokens, held_out, tokens[1], encoder.vocab_size)
    lengths = tokens[0].lengths
    print(
        f"{reviews:,} training reviews ({len(data.fit):,} trained on, {len(data.held_out):,} held out) and "
        f"{test_reviews:,} test reviews of training/imdb/sample.py (seed {seed}); vocabulary "
        f"{encoder.vocab_size:,} tokens; tokens a review: median {np.median(lengths):.0f}, mean "
        f"{lengths.mean():.0f}, max {lengths.max():,} ({time.perf_counter() - start:.0f} s)",
        flush=True,
    )
    return data


def build(setup: Setup, vocab_size: int) -> keras.Model:
    if setup == OURS:  # the job's own model, as `projector-train imdb` builds and compiles it
        model = build_model(vocab_size)
        compile_model(model, DEFAULT_LEARNING_RATE)
        return model
    layers = [
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(vocab_size, EMBEDDING_DIM, mask_zero=setup.masked, name="embedding"),
    ]
    layers += [
        keras.layers.GlobalAveragePooling1D(name="average"),
        keras.layers.Dense(16, activation="relu", name="hidden"),
        keras.layers.Dense(1, name="logit"),
    ]
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.Adam(setup.learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
    )
    return model


def random_batches(tokens: Tokens, seed: int, batch_size: int = 10) -> tf.data.Dataset:
    """`shuffle(1000).padded_batch(10)` over the reviews in their order, as the notebook batches."""
    ids, starts, lengths = tf.constant(tokens.ids), tf.constant(tokens.starts), tf.constant(tokens.lengths)
    reviews = tf.data.Dataset.from_tensor_slices((starts, lengths, tokens.labels))

    def review(start, length, label):
        return ids[start : start + length], label

    return reviews.map(review).cache().shuffle(1000, seed=seed).padded_batch(batch_size, padded_shapes=([None], []))


def accuracy_alone(model: keras.Model, tokens: Tokens) -> float:
    """Each review scored on its own (batches of reviews of one length: no padding)."""
    @tf.function(reduce_retracing=True)
    def predict(ids):
        return model(ids, training=False)

    correct = 0
    order = np.argsort(tokens.lengths, kind="stable")
    starts = tokens.starts
    boundaries = np.flatnonzero(np.diff(tokens.lengths[order])) + 1
    for group in np.split(order, boundaries):
        for chunk in np.array_split(group, max(1, len(group) // 256)):
            length = int(tokens.lengths[chunk[0]])
            batch = tokens.ids[starts[chunk][:, None] + np.arange(length)[None, :]]
            logits = predict(tf.constant(batch)).numpy()[:, 0]
            correct += int(((logits > 0) == (tokens.labels[chunk] > 0.5)).sum())
    return correct / len(tokens)


class Scores(keras.callbacks.Callback):
    """After each epoch: the held-out and test accuracy, and the weights (for the best epoch)."""

    def __init__(self, setup: Setup, data: Data, seed: int):
        super().__init__()
        self.setup, self.data, self.seed = setup, data, seed
        self.epochs: list[dict] = []
        self.weights: list = []
        self.scoring_seconds = 0.0
        self._start = time.perf_counter()
        self._test_padded = None if setup.masked else random_batches(data.test, seed, 10)

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        row = {"epoch": epoch + 1, "train_accuracy": float(logs["accuracy"])}
        if self.setup.holdout:
            row["held_out_accuracy"] = float(logs.get("val_accuracy", np.nan))
            row["held_out_loss"] = float(logs.get("val_loss", np.nan))
        row["test_accuracy"] = accuracy_alone(self.model, self.data.test)
        if self._test_padded is not None:
            row["test_accuracy_padded"] = float(self.model.evaluate(self._test_padded, verbose=0, return_dict=True)["accuracy"])
        self.weights.append([w.copy() for w in self.model.get_weights()])
        self.scoring_seconds += time.perf_counter() - start
        row["seconds"] = time.perf_counter() - self._start - self.scoring_seconds
        self.epochs.append(row)
        extra = f", padded {row['test_accuracy_padded']:.4f}" if "test_accuracy_padded" in row else ""
        held = f"held-out {row['held_out_accuracy']:.4f}, " if "held_out_accuracy" in row else ""
        print(f"  epoch {epoch + 1}: train {row['train_accuracy']:.4f}, {held}test {row['test_accuracy']:.4f}{extra}", flush=True)


def train(setup: Setup, data: Data, epochs: int, seed: int) -> dict:
    print(f"{setup.name} (seed {seed}): {setup.what or dataclasses.asdict(setup)}", flush=True)
    keras.utils.set_random_seed(seed)
    model = build(setup, data.vocab_size)
    fit_tokens = data.fit if setup.holdout else data.train
    scores = Scores(setup, data, seed)
    start = time.perf_counter()
    if setup.batches == "buckets":
        train_data = make_dataset(fit_tokens, DEFAULT_BATCH_SIZE, shuffle=True, seed=seed, token_dropout=setup.dropout)
        validation = make_dataset(data.held_out, VALIDATION_BATCH_SIZE) if setup.holdout else None
        fit(model, train_data, validation_data=validation, epochs=epochs, callbacks=[scores], steps_per_call=100)
    else:
        train_data = random_batches(fit_tokens, seed)
        validation = random_batches(data.held_out, seed) if setup.holdout else None
        model.fit(train_data, validation_data=validation, epochs=epochs, verbose=0, callbacks=[scores])
    seconds = time.perf_counter() - start - scores.scoring_seconds
    rows = scores.epochs
    if setup.holdout:
        chosen = max(range(len(rows)), key=lambda i: (rows[i]["held_out_accuracy"], -i))
        by_loss = min(range(len(rows)), key=lambda i: (rows[i]["held_out_loss"], i))
    else:
        chosen = by_loss = len(rows) - 1
    return {
        "setup": dataclasses.asdict(setup),
        "seed": seed,
        "epochs": rows,
        "chosen_epoch": chosen + 1,
        "chosen_by_loss": by_loss + 1,
        "fit_seconds": seconds,
    }


def summary(results: list[dict]) -> None:
    print(
        "\n| setup | seed | test accuracy of the exported epoch | epoch | (chosen by held-out loss) "
        "| test after the last epoch | best test (peeking) | fit |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        rows, chosen, by_loss = result["epochs"], result["chosen_epoch"], result["chosen_by_loss"]

        def show(row):
            padded = f" (padded batches {row['test_accuracy_padded']:.3f})" if "test_accuracy_padded" in row else ""
            return f"{row['test_accuracy']:.3f}{padded}"

        best = max(rows, key=lambda row: row["test_accuracy"])
        print(
            f"| {result['setup']['name']} | {result['seed']} | **{show(rows[chosen - 1])}** | {chosen} | "
            f"{rows[by_loss - 1]['test_accuracy']:.3f} (epoch {by_loss}) | {show(rows[-1])} | "
            f"{best['test_accuracy']:.3f} (epoch {best['epoch']}) | {result['fit_seconds']:.0f} s |"
        )
    names = list(dict.fromkeys(result["setup"]["name"] for result in results))
    if len(results) > len(names):
        print("\n| setup | seeds | exported epoch's test accuracy: mean (min-max) | after the last epoch |")
        print("|---|---|---|---|")
        for name in names:
            mine = [result for result in results if result["setup"]["name"] == name]
            chosen = np.array([r["epochs"][r["chosen_epoch"] - 1]["test_accuracy"] for r in mine])
            last = np.array([r["epochs"][-1]["test_accuracy"] for r in mine])
            print(
                f"| {name} | {len(mine)} | **{chosen.mean():.4f}** ({chosen.min():.3f}-{chosen.max():.3f}) | "
                f"{last.mean():.4f} |"
            )


def main() -> None:
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=25_000, help="training reviews (default: %(default)s)")
    parser.add_argument("--test-reviews", type=int, default=25_000, help="test reviews (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="corpus and held-out split (default: %(default)s)")
    parser.add_argument(
        "--model-seeds", default="0,1,2", metavar="S,S",
        help="starting weights and batch order: the notebook and ours are trained once per seed, the "
        "factors of --why with the first (default: %(default)s)",
    )
    parser.add_argument("--why", action="store_true", help="also the factors between the notebook and ours")
    parser.add_argument("--only", default=None, help="comma-separated setup names to run")
    parser.add_argument("--json", default=None, metavar="FILE", help="write every number to FILE")
    args = parser.parse_args()

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    data = prepare(args.reviews, args.test_reviews, args.seed, held_out_share=DEFAULT_VALIDATION_SPLIT)
    seeds = [int(seed) for seed in args.model_seeds.split(",")]
    runs = [(setup, seed) for setup in (NOTEBOOK, OURS) for seed in seeds]
    runs += [(setup, seeds[0]) for setup in WHY] if args.why else []
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        runs = [(setup, seed) for setup, seed in runs if setup.name in wanted]
    results = []
    for setup, seed in runs:
        results.append(train(setup, data, args.epochs, seed))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
    summary(results)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
