"""The colour job: train each model, then write its run folder (logs, projector export, plots).

`train_colours` is what `projector-train colours` runs: the colour table and pairs once,
then `train_colour_model` for each embedding size, which fits with `training.loop.fit`,
exports `final` and the snapshots along the way (`export_colours`) and draws the plots
(`training.plots.colour_plots`), all into the run folder as one unit (`training.runs`).
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

from projector_export import (
    PROJECTOR_SUBFOLDER,
    ClustersResult,
    Embedding,
    ExportResult,
    ProjectorExportError,
    check_training_run,
    export_embeddings,
    training_run,
)
from projector_export.console import plural, say
from training.callbacks import EpochLine, KnnAgreement, ProgressBar, Snapshot, Snapshots, snapshot_name
from training.colours import DEFAULT_DIMS, DEFAULT_EPOCHS, DEFAULT_PAIRS, DEFAULT_SEEDS
from training.colours.data import Pairs, load_colours, make_pairs
from training.colours.model import build_model, embedding_vectors, learning_rate_schedule
from training.loop import check_seed, fit
from training.plots import colour_plots
from training.runs import CtrlC, add_final_clusters, clusters_wanted

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
    clusters: ClustersResult | None = None  # named clusters of final, when added


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
    clusters: bool | None = None,
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
        clusters: add named clusters of `final` (Euclidean, as the model learns distances)
            to each projector run; default: when the `layouts` extra is installed.
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
    for _, _, run_dir in models:  # a folder the run may not replace is refused now, not after training
        check_training_run(run_dir)
    clusters = clusters_wanted(clusters)
    colours = load_colours(data)
    training = make_pairs(colours, pairs)
    if verbose:
        say(
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
            clusters=clusters,
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
    clusters: bool = False,
    verbose: int = 1,
) -> ColourRun:
    """Train one model on `training` and write its run folder (logs, export and plots) as one unit.

    Ctrl-C during the fit stops it and writes the run from what was trained (see
    `training.runs`), then goes on up as `KeyboardInterrupt`.
    """
    steps_per_epoch = math.ceil(len(training.x) / BATCH_SIZE)
    keras.utils.set_random_seed(seed)
    if learning_rate is None:
        learning_rate = learning_rate_schedule(epochs * steps_per_epoch)
    model = build_model(len(colours), dims, normalise=normalise, learning_rate=learning_rate)
    snapshots = Snapshots(embedding_vectors, every="call")
    if verbose:
        say(f"Training {model.name} ({plural(epochs, 'epoch')}, seed {seed}) into {run_dir}")
    ctrl_c = CtrlC()
    with training_run(run_dir) as stage:
        callbacks = [
            KnnAgreement(colours[["r", "g", "b"]].to_numpy(), embedding_vectors),
            snapshots,
            keras.callbacks.TensorBoard(log_dir=stage.path),
        ]
        if verbose == 1:
            callbacks.append(ProgressBar("epoch"))
        elif verbose:
            callbacks.append(EpochLine("knn10"))
        start = time.perf_counter()
        ctrl_c.run(
            lambda: fit(
                model, training.x, training.y, batch_size=BATCH_SIZE, epochs=epochs, seed=seed,
                callbacks=callbacks, steps_per_call=STEPS_PER_CALL,
            ),
            keep=lambda: len(snapshots.taken) > 1,  # every snapshot is a whole step
        )
        fit_seconds = time.perf_counter() - start
        # Beside Keras's train/, not above it: see projector_export.ProjectorCallback.
        export = export_colours(
            stage.join(PROJECTOR_SUBFOLDER), colours, snapshots.taken, steps_per_epoch=steps_per_epoch, epochs=epochs
        )
        rgb = colours[["r", "g", "b"]].to_numpy() / 255
        drawn = colour_plots(
            [(snapshot.step, snapshot.vectors) for snapshot in snapshots.taken], rgb, steps_per_epoch=steps_per_epoch
        )
        for name, data in drawn.items():
            stage.write(posixpath.join("plots", name), data)
        named = None
        if clusters:  # an optional step: Ctrl-C in it skips it
            added = ctrl_c.run(lambda: add_final_clusters(export, metric="euclidean", seed=seed))
            if added is not None:
                named, export = added
    history = model.history.history
    run = ColourRun(
        run_dir=run_dir,
        projector_dir=posixpath.join(run_dir, PROJECTOR_SUBFOLDER),
        dims=dims,
        normalised=normalise,
        seed=seed,
        epochs=len(history.get("loss", [])),
        loss=history["loss"][-1] if history.get("loss") else float("nan"),
        knn=history["knn10"][-1] if history.get("knn10") else float("nan"),
        fit_seconds=fit_seconds,
        plots=tuple(posixpath.join(run_dir, "plots", name) for name in drawn),
        export=stage.final(export),
        clusters=stage.final(named),
    )
    if ctrl_c.pressed:
        say(
            f"\ninterrupted at step {snapshots.taken[-1].step:,}: {run_dir} holds the model as trained so far "
            f"({plural(len(export.tensors), 'projector tensor')}, its scalars and plots)"
        )
        raise KeyboardInterrupt
    if verbose:
        say(
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
