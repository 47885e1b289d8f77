"""Colour embeddings: our training against the blog post's own code, for speed and quality.

Speed: times the post's code (ported to Keras 3, otherwise as written: `model.fit` on
100,000 pairs, batch 512, Adam) over a few epochs, scales it to its 500 epochs, and times
the whole default `projector-train colours` (both models, export and plots) in a fresh
process beside it. Goal: at most a fifth of the post's two fits; stretch: a tenth.

Quality: kNN@10 agreement (the share of each colour's 10 nearest neighbours in the
embedding that are also among its 10 nearest in RGB), printed for every run. Goal for the
defaults: at least 0.50 in 2-D and 0.75 in 3-D for any seed (`--seeds` sweeps them). With
the post's settings (`--pairs 100000 --epochs 500`) our training must organise both,
where the post's own 3-D run stays near its random start (`--post-full` shows that).

    python benchmarks/colour_training.py                    # speed, side by side
    python benchmarks/colour_training.py --seeds 0 1 2 3    # + quality of the defaults
    python benchmarks/colour_training.py --skip-speed --seeds 1 7 --pairs 100000 --epochs 500
    python benchmarks/colour_training.py --skip-speed --seeds 0 1 2 --epochs 15 --learning-rate 1e-3
    python benchmarks/colour_training.py --skip-speed --post-full   # the post's 500 epochs
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from training.callbacks import knn_agreement  # noqa: E402
from training.colours import DEFAULT_EPOCHS, DEFAULT_PAIRS, DEFAULT_SEEDS  # noqa: E402
from training.colours.data import load_colours, make_pairs  # noqa: E402
from training.colours.job import train_colours  # noqa: E402

POST_PAIRS, POST_EPOCHS, POST_SEEDS = 100_000, 500, {2: 7, 3: 1}


def post_model(num_colours: int, dims: int) -> keras.Model:
    """The post's `get_model`, in Keras 3 spelling (no `input_length`; `keras.ops` for `K`)."""

    def sum_dist(x):
        n = keras.ops.transpose(x, (1, 0, 2))
        a, b = n[0], n[1]
        return keras.ops.sum((a - b) ** 2, axis=-1, keepdims=True)

    model = keras.Sequential()
    model.add(keras.Input(shape=(2,)))
    model.add(keras.layers.Embedding(num_colours, dims))
    model.add(keras.layers.Lambda(sum_dist, output_shape=(1,), name="Dist"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["mse"])
    return model


def run_post(dims: int, epochs: int) -> dict:
    """Fit the post's model as the post does (weights saved every epoch by a LambdaCallback).

    Times the first epoch (tracing included) apart from the rest, so that the post's 500
    epochs are `first + 499 * steady`. Seeds with `keras.utils.set_random_seed`: the post's
    `setseed` (numpy and TF) no longer reaches Keras 3's initialisers, which draw their
    seeds from Python's `random`, so the post's own runs would not repeat.
    """
    colours = load_colours()
    pairs = make_pairs(colours, POST_PAIRS)
    keras.utils.set_random_seed(POST_SEEDS[dims])
    model = post_model(len(colours), dims)
    weights = []
    save = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights.append(model.layers[0].get_weights()[0])
    )
    start = time.perf_counter()
    model.fit(pairs.x, pairs.y, epochs=1, verbose=0, batch_size=512, callbacks=[save])
    first = time.perf_counter() - start
    start = time.perf_counter()
    history = model.fit(pairs.x, pairs.y, epochs=epochs - 1, verbose=0, batch_size=512, callbacks=[save])
    steady = (time.perf_counter() - start) / max(epochs - 1, 1)
    return {
        "first": first,
        "steady": steady,
        "scaled": first + (POST_EPOCHS - 1) * steady,
        "loss": history.history["loss"][-1],
        "knn": knn_agreement(weights[-1], colours[["r", "g", "b"]].to_numpy()),
    }


def run_ours_cli(logdir: str) -> tuple[float, str]:
    """The whole default `projector-train colours` in a fresh process: seconds and output."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "training.cli", "colours", "--logdir", logdir, "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    seconds = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"projector-train colours failed:\n{result.stderr}")
    return seconds, result.stdout


def speed(post_epochs: int) -> None:
    print(f"The post's code: {POST_PAIRS:,} pairs, {POST_EPOCHS} epochs, timed over {post_epochs} and scaled")
    post = {}
    for dims in (2, 3):
        post[dims] = run_post(dims, post_epochs)
        print(
            f"  {dims}-D: first epoch {post[dims]['first']:.2f} s, then {post[dims]['steady']:.3f} s an epoch "
            f"-> {post[dims]['scaled']:.0f} s for {POST_EPOCHS} epochs"
        )
    post_total = post[2]["scaled"] + post[3]["scaled"]
    print(f"  both fits: {post_total:.0f} s")

    with tempfile.TemporaryDirectory() as logdir:
        seconds, output = run_ours_cli(logdir)
    print(
        f"\nprojector-train colours (defaults: {DEFAULT_PAIRS:,} pairs x {DEFAULT_EPOCHS} epochs; "
        "both models, export and plots, in a fresh process)"
    )
    for line in output.splitlines():
        if re.match(r"colours_\dd", line):
            print(f"  {line}")
    print(f"  whole command: {seconds:.1f} s")
    print(
        f"\n  {seconds:.1f} s against {post_total:.0f} s: 1/{post_total / seconds:.1f} of the post's time "
        f"(goal 1/5 = {post_total / 5:.0f} s: {'met' if seconds <= post_total / 5 else 'MISSED'}; "
        f"stretch 1/10 = {post_total / 10:.0f} s: {'met' if seconds <= post_total / 10 else 'missed'})"
    )


def quality(seeds: list[int], pairs: int, epochs: int, learning_rate: float | None) -> None:
    defaults = (pairs, epochs, learning_rate) == (DEFAULT_PAIRS, DEFAULT_EPOCHS, None)
    goals = {2: 0.50, 3: 0.75} if defaults else {}
    rate = "Adam 3e-3 cosine to 0" if learning_rate is None else f"Adam {learning_rate:g} constant"
    print(f"\nQuality: kNN@10 agreement with RGB, {pairs:,} pairs x {epochs} epochs, {rate}")
    results: dict[int, list[float]] = {2: [], 3: []}
    with tempfile.TemporaryDirectory() as logdir:
        for seed in seeds:
            runs = train_colours(
                (2, 3), pairs=pairs, epochs=epochs, seed=seed, logdir=logdir, learning_rate=learning_rate, verbose=0
            )
            for run in runs:
                results[run.dims].append(run.knn)
                print(f"  seed {seed:>3} {run.dims}-D: kNN@10 {run.knn:.3f}, loss {run.loss:.4f}, fit {run.fit_seconds:.1f} s")
    for dims, values in results.items():
        goal = f" (goal {goals[dims]:.2f}: {'met' if min(values) >= goals[dims] else 'MISSED'})" if goals else ""
        print(f"  {dims}-D over {len(values)} seeds: min {min(values):.3f}, mean {np.mean(values):.3f}{goal}")


def post_full() -> None:
    print(f"\nThe post's code for all {POST_EPOCHS} epochs (seeds {POST_SEEDS[2]} and {POST_SEEDS[3]})")
    for dims in (2, 3):
        result = run_post(dims, POST_EPOCHS)
        print(
            f"  {dims}-D: kNN@10 {result['knn']:.3f}, final loss {result['loss']:.4f}, "
            f"{result['scaled']:.0f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--post-epochs", type=int, default=20, help="epochs to time the post's code over")
    parser.add_argument("--skip-speed", action="store_true", help="skip the side-by-side timing")
    parser.add_argument("--seeds", type=int, nargs="*", default=[], help="sweep our quality over these seeds")
    parser.add_argument("--pairs", type=int, default=DEFAULT_PAIRS, help="pairs for the sweep")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="epochs for the sweep")
    parser.add_argument(
        "--learning-rate", type=float, default=None, help="a constant Adam step size for the sweep (the post: 1e-3)"
    )
    parser.add_argument("--post-full", action="store_true", help="run the post's code for all 500 epochs")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; default seeds {DEFAULT_SEEDS}\n")
    if not args.skip_speed:
        speed(args.post_epochs)
    if args.seeds:
        quality(args.seeds, args.pairs, args.epochs, args.learning_rate)
    if args.post_full:
        post_full()


if __name__ == "__main__":
    main()
