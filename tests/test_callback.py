"""ProjectorCallback in a tiny `fit` beside Keras's own TensorBoard callback."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from projector_export import ProjectorCallback, validate
from projector_export.format.config import projector_order
from projector_export.format.metadata import parse_metadata

WORDS = [f"token{i}" for i in range(12)]


def tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,), dtype="int32"), keras.layers.Embedding(12, 3, name="tokens"),
         keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 12, size=(64, 4)), rng.normal(size=(64, 1))


def test_each_epoch_is_a_tensor_tensorboard_lists(tmp_path, start_tensorboard):
    run = tmp_path / "logs" / "toy"
    server = start_tensorboard(tmp_path / "logs")  # it lists the run as the epochs write it
    model = tiny_model()
    x, y = data()
    snapshots = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(model.get_layer("tokens").get_weights()[0].copy())
    )
    model.fit(
        x, y, epochs=3, batch_size=16, verbose=0, validation_data=(x, y),
        callbacks=[
            keras.callbacks.TensorBoard(log_dir=str(run), embeddings_freq=1),  # Keras 3 writes what the projector can't read
            ProjectorCallback(run, metadata=WORDS),
            record,
        ],
    )
    # the projector run sits beside Keras's train/ and validation/, which it does not shadow
    assert set(server.wait_for_runs({"toy/projector"})) == {"toy/projector"}
    listed = {e["tensorName"]: e for e in server.info("toy/projector")["embeddings"]}
    names = [f"tokens-epoch-{e:03d}" for e in (1, 2, 3)]
    # the projector opens on the latest weights, under the layer's name, then lists the epochs in order
    order = projector_order((name, e["tensorShape"], bool(e.get("metadataPath"))) for name, e in listed.items())
    assert order == ["tokens", *names]
    np.testing.assert_array_equal(server.tensor("toy/projector", "tokens", (12, 3)), snapshots[-1])
    for name, expected in zip(names, snapshots):
        assert listed[name]["tensorShape"] == [12, 3]
        np.testing.assert_array_equal(server.tensor("toy/projector", name, (12, 3)), expected)
        _, rows = parse_metadata(server.metadata("toy/projector", name))
        assert [r[0] for r in rows] == WORDS
    assert not np.array_equal(snapshots[0], snapshots[-1])  # training moved the points

    # Keras's scalars are still there beside the projector files
    train_events = list((run / "train").glob("events.out.tfevents*"))
    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(str(train_events[0])) for v in e.summary.value}
    assert "epoch_loss" in tags
    report = validate(str(tmp_path / "logs"))
    assert report.runs == ["toy", "toy/projector"]
    assert {p.run for p in report.problems} == {"toy"}  # only Keras's own embeddings_freq output is broken
    (problem,) = [p for p in report.problems if "checkpoint" in p.message]
    assert "keras-team/keras#20210" in problem.message
    assert "ProjectorCallback" in problem.fix


def test_every_n_epochs_keeps_the_last_epoch_too(tmp_path):
    model = tiny_model()
    x, y = data()
    callback = ProjectorCallback(tmp_path / "run", every_n_epochs=2)
    model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[callback])
    names = sorted(n for n, _ in tf.train.list_variables(str(tmp_path / "run" / "projector")) if n.startswith("tokens"))
    assert names == ["tokens", *(f"tokens-epoch-{e:03d}" for e in (2, 4, 5))]
