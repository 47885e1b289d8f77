"""Colour-name embeddings learnt from pairs of colours labelled similar or not.

The job of the blog post "Training a Neural Network Embedding Layer with Keras" (2020),
reading top to bottom as data -> model -> fit -> export, then `train_colours`, which runs
it all and is what `projector-train colours` calls.

Example:

```python
from training.colours import train_colours

for run in train_colours(dims=(2,), pairs=100_000, epochs=5, logdir="logs"):
    print(run.run_dir, run.knn)
```
"""

from __future__ import annotations

import csv
import io
import logging
import math
import posixpath
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from projector_export import Embedding, ExportResult, ProjectorExportError, export_embeddings
from projector_export.callback import PROJECTOR_SUBFOLDER
from projector_export.folders import KERAS_LOG_FILES, remove_written_folder
from training import plots

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- data

X11_COLOURS = Path(__file__).parent / "data" / "x11_colours.csv"
_KAGGLE_NAME, _KAGGLE_RGB = "Color Name", "R;G;B Dec"
_LAYOUTS = "'name,r,g,b' (0-255), 'name,hex' (#rrggbb), or the Kaggle file's 'Color Name' and 'R;G;B Dec'"
_CHANNEL_RE = re.compile(r"\d+(\.0*)?")
_HEX_RE = re.compile(r"#?([0-9a-fA-F]{6})")


def load_colours(path: str | None = None) -> pd.DataFrame:
    """Read a colour table: the bundled X11 list, or a CSV of your own.

    A CSV may have the columns `name,r,g,b` (integers 0-255), `name,hex` (`#rrggbb` or
    `rrggbb`), or be the post's Kaggle file (`Color Name` and `R;G;B Dec` such as
    `95;158;160`; rows without a name are dropped, as the post does). Other columns are
    ignored.

    Args:
        path: the CSV, local or any URL `tf.io.gfile` reads; `None` for the X11 colours.

    Returns:
        One row per colour, numbered from 0, with columns `name`, `r`, `g`, `b` (0-255)
        and `hex`.

    Raises:
        ProjectorExportError: missing columns, a channel out of range or unparsable, an
            empty or duplicate name; the message names the line.
    """
    source = str(X11_COLOURS if path is None else path)
    with tf.io.gfile.GFile(source, "rb") as file:
        raw = file.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet exports are often Windows-1252; Latin-1 reads any byte.
        logger.warning("%s is not UTF-8; reading it as Latin-1", source)
        text = raw.decode("latin-1")

    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell.strip() for cell in next(reader, [])]
    lower = {cell.lower(): index for index, cell in enumerate(header)}
    if _KAGGLE_NAME in header and _KAGGLE_RGB in header:
        name_at, parse = header.index(_KAGGLE_NAME), _parse_kaggle(header.index(_KAGGLE_RGB))
    elif {"name", "r", "g", "b"} <= lower.keys():
        name_at, parse = lower["name"], _parse_channels([lower["r"], lower["g"], lower["b"]], header)
    elif {"name", "hex"} <= lower.keys():
        name_at, parse = lower["name"], _parse_hex(lower["hex"], header)
    else:
        raise ProjectorExportError(
            f"{source}: the header {','.join(header) or '(empty)'} has no known colour columns; "
            f"use {_LAYOUTS}"
        )

    names, rgb, first_line = [], [], {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        name = _cell(row, name_at)
        if not name:
            if _KAGGLE_NAME in header:
                continue
            raise ProjectorExportError(
                f"{source}, line {line}: the column {header[name_at]!r} is empty; give every colour a name"
            )
        if name in first_line:
            raise ProjectorExportError(
                f"{source}, line {line}: the colour name {name!r} is already on line "
                f"{first_line[name]}; names must be unique, so rename or delete one"
            )
        first_line[name] = line
        try:
            rgb.append(parse(row))
        except ValueError as error:
            raise ProjectorExportError(f"{source}, line {line}: {error}") from None
        names.append(name)

    if len(names) < 2:
        raise ProjectorExportError(f"{source}: found {len(names)} colours; at least 2 are needed to make pairs")
    colours = pd.DataFrame(np.array(rgb, dtype=np.int64).reshape(-1, 3), columns=["r", "g", "b"])
    colours.insert(0, "name", names)
    colours["hex"] = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]
    return colours


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _channel(text: str, column: str) -> int:
    if not _CHANNEL_RE.fullmatch(text) or int(float(text)) > 255:
        raise ValueError(f"{column} is {text!r}; it must be a whole number from 0 to 255")
    return int(float(text))


def _parse_channels(indices: list[int], header: list[str]):
    def parse(row: list[str]) -> tuple[int, int, int]:
        r, g, b = (_channel(_cell(row, index), f"column {header[index]!r}") for index in indices)
        return r, g, b

    return parse


def _parse_hex(index: int, header: list[str]):
    def parse(row: list[str]) -> tuple[int, int, int]:
        match = _HEX_RE.fullmatch(_cell(row, index))
        if not match:
            raise ValueError(
                f"column {header[index]!r} is {_cell(row, index)!r}; it must be six hex digits such as #5f9ea0"
            )
        value = int(match.group(1), 16)
        return value >> 16, (value >> 8) & 255, value & 255

    return parse


def _parse_kaggle(index: int):
    def parse(row: list[str]) -> tuple[int, int, int]:
        parts = _cell(row, index).split(";")
        if len(parts) != 3:
            raise ValueError(
                f"column {_KAGGLE_RGB!r} is {_cell(row, index)!r}; it must be three numbers 0-255 "
                "separated by ';' such as 95;158;160"
            )
        r, g, b = (_channel(part.strip(), f"column {_KAGGLE_RGB!r}") for part in parts)
        return r, g, b

    return parse


@dataclass(frozen=True)
class Pairs:
    """Training pairs: colour numbers `x` (n, 2), labels `y` (1 = similar) and their `diff`."""

    x: np.ndarray
    y: np.ndarray
    diff: np.ndarray

    @property
    def positive_share(self) -> float:
        return float(self.y.mean())


def make_pairs(colours: pd.DataFrame, n: int = 100_000) -> Pairs:
    """Draw `n` pairs of colours and label them as the post does.

    Each side is drawn with replacement (seeds 0 and 42, as `DataFrame.sample` draws them),
    `diff` is the mean squared difference of the RGB channels scaled to [0, 1], and a pair is
    similar when `diff < 0.2 * u**2` with `u` uniform from numpy's seed 0: about a quarter
    of the pairs for the X11 colours.
    """
    if n < 1:
        raise ProjectorExportError(f"the number of pairs is {n}; it must be at least 1")
    rgb = colours[["r", "g", "b"]].to_numpy() / 255
    first = np.random.RandomState(0).choice(len(colours), size=n, replace=True)
    second = np.random.RandomState(42).choice(len(colours), size=n, replace=True)
    diff = ((rgb[first] - rgb[second]) ** 2).sum(axis=1) / 3
    similar = diff < 0.2 * np.random.RandomState(0).random_sample(n) ** 2
    return Pairs(
        x=np.stack([first, second], axis=1).astype(np.int32),
        y=similar.astype(np.float32),
        diff=diff,
    )


# --------------------------------------------------------------------------- model


@keras.saving.register_keras_serializable(package="training")
class SquaredDistance(keras.layers.Layer):
    """The squared Euclidean distance between the two vectors of each pair: (batch, 2, d) -> (batch, 1)."""

    def call(self, pair):
        return keras.ops.sum(keras.ops.square(pair[:, 0] - pair[:, 1]), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)


def build_model(
    num_colours: int,
    dims: int,
    *,
    normalise: bool = False,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 1e-3,
) -> keras.Model:
    """The post's model, compiled: Embedding -> squared distance -> Dense(1, sigmoid).

    Binary cross-entropy, Adam (by default with the post's constant learning rate, 1e-3)
    and the post's `mse` metric. With `normalise`, each vector is scaled to unit length
    before the distance (the variant the post leaves commented out). Call
    `keras.utils.set_random_seed` first for repeatable starting weights.
    """
    layers = [keras.Input(shape=(2,), dtype="int32"), keras.layers.Embedding(num_colours, dims, name="embedding")]
    if normalise:
        layers.append(keras.layers.UnitNormalization(axis=-1, name="normalise"))
    layers += [
        SquaredDistance(name="distance"),
        # The post trusts the Dense layer to learn to turn distance into similarity from
        # either sign. Started positive, it pushes similar colours apart instead and the run
        # stalls near its random start (the post's 3-D run under Keras 3); started negative,
        # near means similar from the first step.
        keras.layers.Dense(
            1, activation="sigmoid", kernel_initializer=keras.initializers.Constant(-1.0), name="similarity"
        ),
    ]
    name = f"colours_{dims}d" + ("_normalised" if normalise else "")
    model = keras.Sequential(layers, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=["mse"],
    )
    return model


def embedding_vectors(model: keras.Model) -> np.ndarray:
    """The model's colour vectors as its distance layer sees them (unit length if normalised)."""
    vectors = np.array(model.get_layer("embedding").embeddings.numpy())
    if any(layer.name == "normalise" for layer in model.layers):
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


# ----------------------------------------------------------------------------- fit


def fit(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 512,
    seed: int = 0,
    shuffle: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 1,
    steps_per_execution: int | None = None,
    jit_compile: bool = True,
) -> keras.callbacks.History:
    """Train as `model.fit(x, y, batch_size, epochs, shuffle=True, callbacks)` does, faster.

    Every step is the model's own `train_step` (forward pass, compiled loss, gradients,
    optimizer update, metrics) on the next `batch_size` rows, reshuffled each epoch.
    The speed comes from running many steps inside one `tf.function` with each step
    compiled by XLA, where `fit` goes back to `tf.data` between steps. Callbacks get what
    `fit` gives them: batch hooks once per execution of steps (as with `fit`'s
    `steps_per_execution`), and at each epoch's end the model's metrics over the epoch
    (`loss` is the mean over the epoch's samples), so Keras's TensorBoard callback logs the
    same curves.

    Args:
        model: a compiled Keras model.
        x, y: inputs and targets, one row per sample.
        epochs: passes over the data.
        batch_size: samples per step.
        seed: the shuffles' seed (epoch `e` uses `[seed, e]`).
        shuffle: reshuffle the rows each epoch; `False` takes them in order.
        callbacks: Keras callbacks; the train, epoch and train-batch hooks are called.
        verbose: 0 silent, 1 a progress bar over epochs, 2 one line at the end.
        steps_per_execution: steps per graph call; default a whole epoch.
        jit_compile: compile each step with XLA (much faster on CPU than without).

    Returns:
        The `History` callback, as `fit` returns it.

    Example:

    ```python
    colours = load_colours()
    pairs = make_pairs(colours, 10_000)
    model = build_model(len(colours), 2)
    history = fit(model, pairs.x, pairs.y, epochs=2, callbacks=[keras.callbacks.TensorBoard("logs/demo")])
    print(history.history["loss"])
    ```
    """
    count = len(x)
    steps = math.ceil(count / batch_size)
    per_call = steps if steps_per_execution is None else max(1, min(steps_per_execution, steps))
    x, y = tf.constant(x), tf.constant(y)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    train_step = tf.function(model.train_step, jit_compile=jit_compile)

    @tf.function
    def row_order(shuffle_seed):
        if not shuffle:
            return tf.range(count)
        return tf.random.experimental.stateless_shuffle(tf.range(count), seed=shuffle_seed)

    @tf.function
    def train_steps(order, first, stop):
        for step in tf.range(first, stop):
            rows = order[step * batch_size : (step + 1) * batch_size]
            train_step((tf.gather(x, rows), tf.gather(y, rows)))

    callback_list = keras.callbacks.CallbackList(
        [*callbacks, _EpochProgbar()] if verbose else list(callbacks),
        add_history=True,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
    )
    model.stop_training = False
    logs = {}
    callback_list.on_train_begin()
    for epoch in range(epochs):
        callback_list.on_epoch_begin(epoch)
        model.reset_metrics()
        order = row_order(tf.constant([seed, epoch]))
        for first in range(0, steps, per_call):
            stop = min(first + per_call, steps)
            callback_list.on_train_batch_begin(first)
            train_steps(order, tf.constant(first), tf.constant(stop))
            logs = {name: float(value) for name, value in model.get_metrics_result().items()}
            callback_list.on_train_batch_end(stop - 1, logs)
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return model.history


class _EpochProgbar(keras.callbacks.Callback):
    """Keras's progress bar with one step an epoch; it shows the logs as the callbacks before it left them."""

    def on_train_begin(self, logs=None):
        self.progbar = keras.utils.Progbar(self.params["epochs"], verbose=self.params["verbose"], unit_name="epoch")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        # Epoch values, not the bar's running average of them.
        self.progbar.stateful_metrics.update(logs)
        finished = epoch + 1 == self.params["epochs"] or self.model.stop_training
        self.progbar.update(epoch + 1, list(logs.items()), finalize=finished)


def knn_agreement(vectors: np.ndarray, reference: np.ndarray, k: int = 10) -> float:
    """Share of each point's `k` nearest neighbours in `vectors` that are also among its `k`
    nearest in `reference`, averaged over points: 1.0 for the same geometry, about
    `k / (N - 1)` for none. Points tied with the `k`-th nearest in `reference` count as
    among the nearest (whole-number RGB values tie often).

    Example:

    ```python
    rgb = load_colours()[["r", "g", "b"]].to_numpy()
    knn_agreement(rgb[:, :2], rgb)  # red and green only
    ```
    """
    return _Neighbours(reference, k).agreement(vectors)


class _Neighbours:
    """The `k` nearest neighbours of every point of a reference geometry, ties included."""

    def __init__(self, reference: np.ndarray, k: int):
        self.distances = _squared_distances(reference)
        self.k = min(k, len(reference) - 1)
        self.radius = np.partition(self.distances, self.k - 1, axis=1)[:, self.k - 1 : self.k]

    def agreement(self, vectors: np.ndarray) -> float:
        nearest = np.argpartition(_squared_distances(vectors), self.k - 1, axis=1)[:, : self.k]
        return float((np.take_along_axis(self.distances, nearest, axis=1) <= self.radius).mean())


def _squared_distances(points: np.ndarray) -> np.ndarray:
    # Exact differences (equal distances compare equal), a column at a time: quicker than
    # one (N, N, D) array for the few dimensions here.
    points = np.asarray(points, dtype=np.float64)
    distances = np.zeros((len(points), len(points)))
    for column in points.T:
        distances += (column[:, None] - column[None, :]) ** 2
    np.fill_diagonal(distances, np.inf)
    return distances


class KnnAgreement(keras.callbacks.Callback):
    """Adds `knn10` to each epoch's logs: `knn_agreement` of the embedding with `reference`.

    List it before `TensorBoard` so the TensorBoard callback sees it.
    """

    def __init__(self, reference: np.ndarray, k: int = 10):
        super().__init__()
        self.key = f"knn{k}"
        self.neighbours = _Neighbours(reference, k)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.key] = self.neighbours.agreement(embedding_vectors(self.model))


class EmbeddingSnapshots(keras.callbacks.Callback):
    """Keeps `(step, vectors)`: the colour vectors at the start and after every execution of steps."""

    def __init__(self):
        super().__init__()
        self.by_step: list[tuple[int, np.ndarray]] = []

    def on_train_begin(self, logs=None):
        self.by_step = [(0, embedding_vectors(self.model))]

    def on_train_batch_end(self, batch, logs=None):
        self.by_step.append((int(self.model.optimizer.iterations), embedding_vectors(self.model)))


# -------------------------------------------------------------------------- export


def snapshot_steps(recorded: Sequence[int], steps_per_epoch: int, count: int = 12) -> list[int]:
    """About `count` of the `recorded` steps from 0 to the last, spaced geometrically so that
    the early changes show; from one epoch on, only epoch ends are taken."""
    recorded = np.asarray(recorded)
    if recorded[-1] == 0:
        return [0]
    epoch_ends = recorded[recorded % steps_per_epoch == 0]
    chosen = {0}
    for target in np.geomspace(max(recorded[1], 1), recorded[-1], count - 1):
        pool = epoch_ends if target >= steps_per_epoch else recorded
        chosen.add(int(pool[np.abs(pool - target).argmin()]))
    return sorted(chosen)


def snapshot_name(step: int, steps_per_epoch: int) -> str:
    """`epoch-0003` after 3 epochs; `step-000128` within the first."""
    if step % steps_per_epoch == 0:
        return f"epoch-{step // steps_per_epoch:04d}"
    return f"step-{step:06d}"


def colour_metadata(colours: pd.DataFrame) -> pd.DataFrame:
    """The projector's metadata columns: name, hex, r, g, b."""
    return colours[["name", "hex", "r", "g", "b"]]


def export_colours(
    run_dir: str, colours: pd.DataFrame, by_step: Sequence[tuple[int, np.ndarray]], *, steps_per_epoch: int
) -> ExportResult:
    """Export the final embedding and snapshots across training, each point in its colour.

    `by_step` holds `(step, vectors)` in training order (see `EmbeddingSnapshots`). The run
    gets a tensor `final` (listed first, so the projector opens it) and the snapshots at
    `snapshot_steps`, named by `snapshot_name` (`epoch-0000` is the random start); all
    share one metadata table and one sprite of colour swatches.
    """
    metadata = colour_metadata(colours)
    swatches = colours[["r", "g", "b"]].to_numpy(dtype=np.uint8)
    vectors = dict(by_step)
    last = by_step[-1][0]
    tensors = [Embedding(vectors[last], metadata, name="final", sprite=swatches)]
    tensors += [
        Embedding(vectors[step], metadata, name=snapshot_name(step, steps_per_epoch), sprite=swatches)
        for step in snapshot_steps(list(vectors), steps_per_epoch)
        if step < last
    ]
    return export_embeddings(run_dir, tensors)


def plot_colours(
    plot_dir: str,
    colours: pd.DataFrame,
    by_step: Sequence[tuple[int, np.ndarray]],
    *,
    steps_per_epoch: int,
    frames: int = 48,
) -> list[str]:
    """Draw the final embedding (2-D or 3-D scatter) and a GIF of it through training.

    `by_step` holds `(step, vectors)` in training order (see `EmbeddingSnapshots`); the GIF
    shows up to `frames` of them, more of the early ones, where the embedding changes most.
    Embeddings with more than 3 dimensions are drawn on their first three principal axes.
    Returns the files written.
    """
    tf.io.gfile.makedirs(plot_dir)
    rgb = colours[["r", "g", "b"]].to_numpy() / 255
    dims = by_step[-1][1].shape[1]
    project = _projection(by_step[-1][1], min(dims, 3))
    title = f"{dims}D colour embeddings" + (", first 3 principal axes" if dims > 3 else "")
    if dims == 2:
        scatter, name = plots.scatter_2d, "embedding-2d.png"
    else:
        scatter, name = plots.scatter_3d, "embedding-3d.png"
    paths = [scatter(posixpath.join(plot_dir, name), project(by_step[-1][1]), rgb, title=title)]

    # Frames at squared spacing in steps, as in the post's animation.
    steps = np.array([step for step, _ in by_step])
    wanted = np.linspace(0, math.sqrt(steps[-1]), frames) ** 2
    chosen = pd.unique(np.abs(steps[None, :] - wanted[:, None]).argmin(axis=1))
    sequence = [(f"epoch {round(steps[i] / steps_per_epoch, 2):g}", project(by_step[i][1])) for i in chosen]
    gif = posixpath.join(plot_dir, "training.gif")
    paths.append(plots.animate(gif, sequence, rgb, title=f"Training of {title}"))
    return paths


def _projection(vectors: np.ndarray, k: int):
    """Vectors -> their first `k` coordinates, or for wider ones the first `k` principal
    axes of `vectors`: the same axes for every frame, so the animation does not flip."""
    if vectors.shape[1] <= k:
        return lambda points: points
    mean = vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(vectors - mean, full_matrices=False)
    return lambda points: (points - mean) @ axes[:k].T


# ----------------------------------------------------------------------------- job

DEFAULT_DIMS = (2, 3)
DEFAULT_PAIRS = 1_000_000
DEFAULT_EPOCHS = 10
DEFAULT_SEEDS = {2: 7, 3: 1}
BATCH_SIZE = 512
# Snapshots come between executions: often enough to show the first epoch, where the
# embedding takes shape, rarely enough to stay fast.
STEPS_PER_EXECUTION = 64
# Adam's step size starts at 3e-3 and follows a cosine down to 0 at the last step, where the
# post keeps 1e-3. Measured on the X11 colours with 1M pairs, that reaches in 10 epochs a
# better 2-D and 3-D embedding than 1e-3 does in 15, and with less spread over seeds: a
# constant step leaves some 2-D runs in a worse fold (see benchmarks/colour_training.py).
PEAK_LEARNING_RATE = 3e-3


def learning_rate_schedule(total_steps: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """Adam's step size for a run of `total_steps`: 3e-3 falling along a cosine to 0."""
    return keras.optimizers.schedules.CosineDecay(PEAK_LEARNING_RATE, decay_steps=max(total_steps, 1))


@dataclass(frozen=True)
class ColourRun:
    """One trained model: where it went and how well it learnt colour space."""

    run_dir: str
    dims: int
    normalised: bool
    seed: int
    epochs: int
    loss: float
    knn: float
    fit_seconds: float
    plots: tuple[str, ...]
    export: ExportResult


def train_colours(
    dims: Sequence[int] = DEFAULT_DIMS,
    *,
    pairs: int = DEFAULT_PAIRS,
    epochs: int = DEFAULT_EPOCHS,
    seed: int | None = None,
    logdir: str = "logs",
    data: str | None = None,
    normalise: bool = False,
    learning_rate: float | None = None,
    verbose: int = 1,
) -> list[ColourRun]:
    """Train colour embeddings and export each model as a run of `logdir`.

    Each model `colours-<dims>d` gets Keras's TensorBoard logs (`train/`), the projector
    export (see `export_colours`) and plots (`plots/`). With `normalise`, a unit-length
    model `colours-<dims>d-normalised` joins each one.

    Args:
        dims: embedding sizes, one model each.
        pairs: training pairs (the post: 100,000).
        epochs: passes over the pairs (the post: 500).
        seed: starting weights and shuffles; default 7 for 2-D and 1 for 3-D, as the post.
        logdir: the parent folder, for `tensorboard --logdir`.
        data: a colour CSV (see `load_colours`); default the bundled X11 colours.
        normalise: also train the unit-length variant of each model.
        learning_rate: Adam's constant step size (the post: 1e-3); default
            `learning_rate_schedule`.
        verbose: 0 silent, 1 progress bars and a summary a model, 2 no progress bars.

    Returns:
        One `ColourRun` a model, in training order.
    """
    for size in dims:
        if size < 2:
            raise ProjectorExportError(f"an embedding of {size} dimensions cannot be plotted; use at least 2")
    if epochs < 1:
        raise ProjectorExportError(f"{epochs} epochs: train for at least 1")
    colours = load_colours(data)
    training = make_pairs(colours, pairs)
    if verbose:
        print(
            f"{len(colours)} colours, {pairs:,} pairs, "
            f"{100 * training.positive_share:.1f}% labelled similar"
        )
    return [
        train_colour_model(
            colours,
            training,
            run_dir=posixpath.join(logdir, f"colours-{size}d" + ("-normalised" if unit else "")),
            dims=size,
            epochs=epochs,
            seed=DEFAULT_SEEDS.get(size, 0) if seed is None else seed,
            normalise=unit,
            learning_rate=learning_rate,
            verbose=verbose,
        )
        for size in dict.fromkeys(dims)  # once each, in order
        for unit in ((False, True) if normalise else (False,))
    ]


def train_colour_model(
    colours: pd.DataFrame,
    training: Pairs,
    *,
    run_dir: str,
    dims: int,
    epochs: int,
    seed: int,
    normalise: bool = False,
    learning_rate: float | None = None,
    verbose: int = 1,
) -> ColourRun:
    """Train one model on `training` and write its run folder: logs, export and plots."""
    # Only folders this job wrote whole go: one holding anything else is refused.
    for folder, written in (("train", KERAS_LOG_FILES), ("validation", KERAS_LOG_FILES), ("plots", ("*.png", "*.gif"))):
        remove_written_folder(posixpath.join(run_dir, folder), written)

    steps_per_epoch = math.ceil(len(training.x) / BATCH_SIZE)
    keras.utils.set_random_seed(seed)
    if learning_rate is None:
        learning_rate = learning_rate_schedule(epochs * steps_per_epoch)
    model = build_model(len(colours), dims, normalise=normalise, learning_rate=learning_rate)
    rgb = colours[["r", "g", "b"]].to_numpy()
    snapshots = EmbeddingSnapshots()
    callbacks = [KnnAgreement(rgb), snapshots, keras.callbacks.TensorBoard(log_dir=run_dir)]
    # Beside Keras's train/, not above it: see projector_export.ProjectorCallback.
    projector_dir = posixpath.join(run_dir, PROJECTOR_SUBFOLDER)
    if verbose:
        print(f"Training {model.name} ({epochs} epochs, seed {seed}) into {run_dir}")
    start = time.perf_counter()
    try:
        history = fit(
            model,
            training.x,
            training.y,
            epochs=epochs,
            batch_size=BATCH_SIZE,
            seed=seed,
            callbacks=callbacks,
            verbose=verbose,
            steps_per_execution=STEPS_PER_EXECUTION,
        )
    except KeyboardInterrupt:
        # Ctrl-C: keep what was learnt so far; every snapshot is a whole step.
        if len(snapshots.by_step) > 1:
            export = export_colours(projector_dir, colours, snapshots.by_step, steps_per_epoch=steps_per_epoch)
            print(
                f"\ninterrupted at step {snapshots.by_step[-1][0]:,}: {export.run_dir} holds the "
                f"embedding so far ({len(export.tensors)} tensors)"
            )
        raise
    fit_seconds = time.perf_counter() - start

    export = export_colours(projector_dir, colours, snapshots.by_step, steps_per_epoch=steps_per_epoch)
    written = plot_colours(
        posixpath.join(run_dir, "plots"), colours, snapshots.by_step, steps_per_epoch=steps_per_epoch
    )
    run = ColourRun(
        run_dir=run_dir,
        dims=dims,
        normalised=normalise,
        seed=seed,
        epochs=len(history.history["loss"]),
        loss=history.history["loss"][-1],
        knn=history.history["knn10"][-1],
        fit_seconds=fit_seconds,
        plots=tuple(written),
        export=export,
    )
    if verbose:
        print(
            f"{model.name}: loss {run.loss:.4f}, kNN@10 agreement with RGB {run.knn:.3f} "
            f"(1.0 = same neighbours, chance {10 / (len(colours) - 1):.3f}), fit {fit_seconds:.1f} s"
        )
    return run
