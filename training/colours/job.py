"""The colour job: train each model, then write its run folder (logs, projector export, plots).

`train_colours` is what `projector-train colours` runs: the colour table and pairs once,
then `train_colour_model` for each embedding size, which fits with `training.loop.fit`,
exports `final` and the snapshots along the way (`export_colours`) and draws the plots
(`plot_colours`).
"""

from __future__ import annotations

import math
import posixpath
import time
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from projector_export import Embedding, ExportResult, ProjectorExportError, export_embeddings
from projector_export.callback import PROJECTOR_SUBFOLDER
from projector_export.staging import RUN, check_target
from training import plots
from training.callbacks import (
    KnnAgreement,
    ProgressBar,
    Snapshot,
    Snapshots,
    remove_earlier_logs,
    snapshot_name,
)
from training.colours import DEFAULT_DIMS, DEFAULT_EPOCHS, DEFAULT_PAIRS, DEFAULT_SEEDS
from training.colours.data import Pairs, load_colours, make_pairs
from training.colours.model import build_model, embedding_vectors, learning_rate_schedule
from training.progress import plural
from training.loop import check_seed, fit

BATCH_SIZE = 512
# Snapshots come between calls of steps: often enough to show the first epoch, where the
# embedding takes shape, rarely enough to stay fast.
STEPS_PER_CALL = 64


@dataclass(frozen=True)
class ColourRun:
    """One trained model: where it went and how well it learnt colour space."""

    run_dir: str
    projector_dir: str
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
    export (`projector/`, see `export_colours`) and plots (`plots/`). With `normalise`, a
    unit-length model `colours-<dims>d-normalised` joins each one.

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
            raise ProjectorExportError(f"`dims={size}`: an embedding needs at least 2 dimensions to be plotted")
    if epochs < 1:
        raise ProjectorExportError(f"`epochs={epochs}`: train for at least 1 epoch")
    if pairs < 1:
        raise ProjectorExportError(f"`pairs={pairs}`: make at least 1 pair")
    if seed is not None:
        check_seed(seed)
    models = [
        (size, unit, posixpath.join(logdir, f"colours-{size}d" + ("-normalised" if unit else "")))
        for size in dict.fromkeys(dims)  # once each, in order
        for unit in ((False, True) if normalise else (False,))
    ]
    for _, _, run_dir in models:  # a folder the export may not write is refused now, not after training
        check_target(posixpath.join(run_dir, PROJECTOR_SUBFOLDER), RUN)
    colours = load_colours(data)
    training = make_pairs(colours, pairs)
    if verbose:
        print(
            f"{plural(len(colours), 'colour')}, {plural(pairs, 'pair')}, "
            f"{100 * training.positive_share:.1f}% labelled similar"
        )
    return [
        train_colour_model(
            colours,
            training,
            run_dir=run_dir,
            dims=size,
            epochs=epochs,
            seed=DEFAULT_SEEDS.get(size, 0) if seed is None else seed,
            normalise=unit,
            learning_rate=learning_rate,
            verbose=verbose,
        )
        for size, unit, run_dir in models
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
    remove_earlier_logs(run_dir, ("train", "validation", "plots"))
    steps_per_epoch = math.ceil(len(training.x) / BATCH_SIZE)
    keras.utils.set_random_seed(seed)
    if learning_rate is None:
        learning_rate = learning_rate_schedule(epochs * steps_per_epoch)
    model = build_model(len(colours), dims, normalise=normalise, learning_rate=learning_rate)
    snapshots = Snapshots(embedding_vectors, every="call")
    callbacks = [
        KnnAgreement(colours[["r", "g", "b"]].to_numpy(), embedding_vectors),
        snapshots,
        keras.callbacks.TensorBoard(log_dir=run_dir),
    ]
    if verbose == 1:
        callbacks.append(ProgressBar("epoch"))
    # Beside Keras's train/, not above it: see projector_export.ProjectorCallback.
    projector_dir = posixpath.join(run_dir, PROJECTOR_SUBFOLDER)

    if verbose:
        print(f"Training {model.name} ({plural(epochs, 'epoch')}, seed {seed}) into {run_dir}")
    start = time.perf_counter()
    try:
        history = fit(
            model,
            training.x,
            training.y,
            batch_size=BATCH_SIZE,
            epochs=epochs,
            seed=seed,
            callbacks=callbacks,
            steps_per_call=STEPS_PER_CALL,
        )
    except KeyboardInterrupt:
        # Ctrl-C: keep what was learnt so far; every snapshot is a whole step.
        if len(snapshots.taken) > 1:
            export = export_colours(
                projector_dir, colours, snapshots.taken, steps_per_epoch=steps_per_epoch, epochs=epochs
            )
            print(
                f"\ninterrupted at step {snapshots.taken[-1].step:,}: {projector_dir} holds the "
                f"embedding so far ({plural(len(export.tensors), 'tensor')})"
            )
        raise
    fit_seconds = time.perf_counter() - start

    export = export_colours(projector_dir, colours, snapshots.taken, steps_per_epoch=steps_per_epoch, epochs=epochs)
    written = plot_colours(
        posixpath.join(run_dir, "plots"), colours, snapshots.taken, steps_per_epoch=steps_per_epoch
    )
    run = ColourRun(
        run_dir=run_dir,
        projector_dir=projector_dir,
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


def colour_metadata(colours: pd.DataFrame) -> pd.DataFrame:
    """The projector's metadata columns: name, hex, r, g, b."""
    return colours[["name", "hex", "r", "g", "b"]]


def export_colours(
    run_dir: str, colours: pd.DataFrame, snapshots: Sequence[Snapshot], *, steps_per_epoch: int, epochs: int
) -> ExportResult:
    """Export the final embedding and snapshots across training, each point in its colour.

    `snapshots` come in training order, from the start (see `Snapshots`, every call). The
    run gets a tensor `final` (the last snapshot; it sorts first, so the projector opens
    it) and the snapshots at `snapshot_steps` before it, named by `snapshot_name`
    (`snapshot-epoch-00` is the random start); all share one metadata table and one
    sprite of colour swatches.
    """
    metadata = colour_metadata(colours)
    swatches = colours[["r", "g", "b"]].to_numpy(dtype=np.uint8)
    by_step = {snapshot.step: snapshot.vectors for snapshot in snapshots}
    last = snapshots[-1].step
    tensors = [Embedding(by_step[last], metadata, name="final", sprite=swatches)]
    tensors += [
        Embedding(by_step[step], metadata, name=snapshot_name(step, steps_per_epoch, epochs), sprite=swatches)
        for step in snapshot_steps(list(by_step), steps_per_epoch)
        if step < last
    ]
    return export_embeddings(run_dir, tensors)


# --------------------------------------------------------------------------- plots


def plot_colours(
    plot_dir: str,
    colours: pd.DataFrame,
    snapshots: Sequence[Snapshot],
    *,
    steps_per_epoch: int,
    frames: int = 48,
) -> list[str]:
    """Draw the final embedding (2-D or 3-D scatter) and a GIF of it through training.

    `snapshots` come in training order (see `Snapshots`); the GIF shows up to `frames` of
    them, more of the early ones, where the embedding changes most. Embeddings with more
    than 3 dimensions are drawn on their first three principal axes. Returns the files
    written.
    """
    tf.io.gfile.makedirs(plot_dir)
    rgb = colours[["r", "g", "b"]].to_numpy() / 255
    final = snapshots[-1].vectors
    dims = final.shape[1]
    project = _projection(final, min(dims, 3))
    title = f"{dims}D colour embeddings" + (", first 3 principal axes" if dims > 3 else "")
    if dims == 2:
        scatter, name = plots.scatter_2d, "embedding-2d.png"
    else:
        scatter, name = plots.scatter_3d, "embedding-3d.png"
    paths = [scatter(posixpath.join(plot_dir, name), project(final), rgb, title=title)]

    # Frames at squared spacing in steps, as in the post's animation.
    steps = np.array([snapshot.step for snapshot in snapshots])
    wanted = np.linspace(0, math.sqrt(steps[-1]), frames) ** 2
    chosen = pd.unique(np.abs(steps[None, :] - wanted[:, None]).argmin(axis=1))
    sequence = [
        (f"epoch {round(steps[i] / steps_per_epoch, 2):g}", project(snapshots[i].vectors)) for i in chosen
    ]
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
