"""The one training loop of `projector-train`: `fit`, for the colour and the IMDB model.

`fit` trains as `model.fit` does, step for step: each step is the model's own
`train_step` (forward pass, compiled loss, gradients, optimizer update, metrics) on the
next batch, and the callbacks get the hooks and logs that `fit` gives them, so Keras's
TensorBoard callback logs the same curves. Where it differs is how the steps run:

- Many steps run in one `tf.function` call, each step compiled with XLA, where `fit`
  returns to Python and `tf.data` between steps. The colour model's step is tiny (a
  550-row embedding, batch 512): its rows are gathered from arrays in memory inside the
  call, which makes the whole default `projector-train colours` take ~19 s here.
- The IMDB batches come from a `tf.data` pipeline of a few batch widths (XLA compiles the
  step once for each), through one iterator for all epochs.
- With a `tf.distribute` strategy each step runs on every replica, one step a call.
  Keras 3.15's own `fit` cannot train across workers (keras-team/keras#20585: it
  averages the first batch across replicas to learn the input shapes, and reduces every
  scalar metric along an axis it does not have).

Keras internals: this is the one module of `training/` that leans on them, so that a
Keras upgrade is mended here. It calls `model.train_step` and `model.test_step` itself
(Keras documents them for overriding; only its own `fit` and `evaluate` call them), reads
the logs with `model.get_metrics_result()` (undocumented), and drives the callbacks with
`keras.callbacks.CallbackList(..., add_history=True)`, as `fit` does, which also sets
`model.history`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from projector_export.errors import ProjectorExportError

# What `keras.utils.set_random_seed` (numpy's legacy seeding) accepts.
MAX_SEED = 2**32 - 1


def check_seed(seed: int) -> None:
    """Refuse a seed that Keras's `set_random_seed` cannot take (from 0 to 2**32 - 1)."""
    if not 0 <= seed <= MAX_SEED:
        raise ProjectorExportError(f"`seed={seed}`: use a whole number from 0 to {MAX_SEED}, e.g. 0")


def fit(
    model: keras.Model,
    x: np.ndarray | tf.data.Dataset,
    y: np.ndarray | None = None,
    *,
    epochs: int,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    validation_data: tf.data.Dataset | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    strategy: tf.distribute.Strategy | None = None,
    steps_per_call: int | None = None,
) -> keras.callbacks.History:
    """Train as `model.fit` does, many XLA-compiled steps a call.

    Args:
        model: a compiled Keras model, built in `strategy`'s scope if there is one.
        x, y: inputs and targets as arrays, one row per sample, taken `batch_size` rows a
            step; or `x` a `tf.data.Dataset` of `(inputs, targets)` batches of known
            length, and no `y`.
        epochs: passes over the data.
        batch_size: rows a step, for arrays.
        shuffle: for arrays, draw the rows in a new order each epoch (epoch `e` uses the
            seed `[seed, e]`); `False` takes them in order.
        seed: the arrays' shuffles.
        validation_data: batches run through `test_step` after every epoch; their
            metrics join the epoch's logs as `val_...`.
        callbacks: Keras callbacks. The train and epoch hooks are called as `fit` calls
            them, the train-batch hooks once per call of steps (as with `fit`'s
            `steps_per_execution`), with the metrics so far.
        strategy: the `tf.distribute` strategy the model was built in (datasets only).
        steps_per_call: training steps a call, between which the batch hooks run;
            default a whole epoch.

    Returns:
        The `History` callback, as `fit` returns it.

    Example:

    ```python
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x, y = np.random.rand(1000, 3), np.random.rand(1000)
    history = fit(model, x, y, batch_size=100, epochs=2, callbacks=[keras.callbacks.TensorBoard("logs/demo")])
    print(history.history["loss"])
    ```
    """
    train = _batches(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed, strategy=strategy)
    validation = None if validation_data is None else _DatasetBatches(validation_data, strategy)
    _make_variables(model, train, strategy)
    run_train = _runner(model.train_step, train, strategy, jit_compile=True)
    run_test = None if validation is None else _runner(model.test_step, validation, strategy, jit_compile=False)

    steps = train.steps
    per_call = steps if steps_per_call is None else max(1, min(steps_per_call, steps))
    callback_list = keras.callbacks.CallbackList(
        list(callbacks), add_history=True, model=model, epochs=epochs, steps=steps
    )
    model.stop_training = False
    logs: dict[str, float] = {}
    callback_list.on_train_begin()
    try:
        for epoch in range(epochs):
            callback_list.on_epoch_begin(epoch)
            model.reset_metrics()
            train.start_epoch(epoch)
            for first in range(0, steps, per_call):
                count = min(per_call, steps - first)
                callback_list.on_train_batch_begin(first)
                run_train(count)
                logs = _metrics(model)
                callback_list.on_train_batch_end(first + count - 1, logs)
            if validation is not None:
                model.reset_metrics()
                run_test(validation.steps)
                logs = {**logs, **{f"val_{name}": value for name, value in _metrics(model).items()}}
            callback_list.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    except KeyboardInterrupt:
        # Ctrl-C ends training as its end would: the callbacks close their logs (Keras's
        # TensorBoard its event files) and restore what they keep, so what was trained is whole.
        callback_list.on_train_end(logs)
        raise
    callback_list.on_train_end(logs)
    return model.history


def evaluate(
    model: keras.Model, data: tf.data.Dataset, *, strategy: tf.distribute.Strategy | None = None
) -> dict[str, float]:
    """The model's compiled loss and metrics over all of `data` (batches of known length), as
    `model.evaluate(data, return_dict=True)` gives them, through the same `test_step` that
    `fit` validates with (on every replica of `strategy`, if given)."""
    batches = _DatasetBatches(data, strategy)
    run_test = _runner(model.test_step, batches, strategy, jit_compile=False)
    model.reset_metrics()
    run_test(batches.steps)
    return _metrics(model)


def _batches(x, y, *, batch_size, shuffle, seed, strategy):
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise ProjectorExportError("`y=...` with a dataset: give the targets inside the dataset, not as `y`")
        return _DatasetBatches(x, strategy)
    if strategy is not None:
        raise ProjectorExportError("`strategy=...` with arrays: a strategy trains from a tf.data.Dataset; make one of the arrays")
    if batch_size is None:
        raise ProjectorExportError("`batch_size=None` with arrays: give the rows a step, e.g. batch_size=512")
    return _ArrayBatches(x, y, batch_size, shuffle=shuffle, seed=seed)


class _ArrayBatches:
    """Rows of arrays in memory, `batch_size` a step, gathered inside the compiled loop."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool, seed: int):
        self.x, self.y = tf.constant(x), tf.constant(y)
        self.count = len(x)
        self.batch_size = batch_size
        self.steps = math.ceil(self.count / batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.order = tf.Variable(tf.range(self.count), trainable=False)
        self.position = tf.Variable(0, trainable=False)  # the next step of the epoch

    def start_epoch(self, epoch: int) -> None:
        if self.shuffle:
            seed = tf.constant([self.seed, epoch])
            self.order.assign(tf.random.experimental.stateless_shuffle(tf.range(self.count), seed=seed))
        self.position.assign(0)

    def next(self) -> tuple[tf.Tensor, tf.Tensor]:
        first = self.position * self.batch_size
        rows = self.order[first : first + self.batch_size]
        self.position.assign_add(1)
        return tf.gather(self.x, rows), tf.gather(self.y, rows)


class _DatasetBatches:
    """The batches of a `tf.data.Dataset` of known length, through one iterator for all epochs."""

    def __init__(self, dataset: tf.data.Dataset, strategy: tf.distribute.Strategy | None):
        self.steps = len(dataset)
        # One iterator for all epochs: deleting the first epoch's iterator took 9 s here (the
        # whole of a later epoch took 2.7 s; an autotuned dataset's deletion can wait out its
        # model thread's sleep, which `training.imdb.pipeline.make_dataset` now avoids, but a
        # caller's dataset may not). Repeated, a shuffled dataset still reshuffles each pass,
        # and the validation batches come in the same order every epoch.
        self.dataset = dataset
        repeated = dataset.repeat()
        if strategy is not None:
            repeated = strategy.experimental_distribute_dataset(repeated)
        self.iterator = iter(repeated)

    def start_epoch(self, epoch: int) -> None:
        pass

    def next(self):
        return next(self.iterator)


def _make_variables(model: keras.Model, train, strategy: tf.distribute.Strategy | None) -> None:
    """Make the optimizer's and the metrics' variables before any step runs, as `fit` does."""
    if strategy is None:
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        return
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
        # Metric variables are made here, outside the replicas, as Keras's fit does.
        inputs, targets = next(iter(train.dataset.take(1)))
        model.compute_metrics(inputs, targets, model(inputs), sample_weight=None)


def _runner(step, batches, strategy: tf.distribute.Strategy | None, *, jit_compile: bool):
    """`run(count)`: `count` steps of `step` (the model's train or test step) on the next batches."""
    if strategy is None:
        if jit_compile:
            # XLA more than halves a step on a CPU; `reduce_retracing` keeps one trace for
            # the batch widths (XLA still compiles each width once, in the first epoch).
            step = tf.function(step, jit_compile=True, reduce_retracing=True)

        @tf.function
        def run_steps(count):
            for _ in tf.range(count):
                step(batches.next())

        return lambda count: run_steps(tf.constant(count))

    @tf.function
    def one_step():
        strategy.run(step, args=(batches.next(),))

    def run(count: int) -> None:
        # The replicas' collectives (gradients, metrics) do not pair up inside a graph
        # loop ("Shape mismatch in the collective instance"): one step a call.
        for _ in range(count):
            one_step()

    return run


def _metrics(model: keras.Model) -> dict[str, float]:
    return {name: float(value) for name, value in model.get_metrics_result().items()}
