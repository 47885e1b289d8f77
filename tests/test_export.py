"""The exporter's files, read as TensorBoard reads them, and its refusals of bad input."""

from __future__ import annotations

import logging
import os
import re

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

import projector_export.export as export_module
from projector_export import (
    Embedding,
    ProjectorExportError,
    export_embedding,
    export_embeddings,
    make_sprite,
    validate,
)


def read_config(run_dir) -> ProjectorConfig:
    return text_format.Parse((run_dir / "projector_config.pbtxt").read_text(), ProjectorConfig())


def test_checkpoint_holds_float32_of_every_input_kind(tmp_path):
    inputs = {
        "floats64": np.linspace(0, 1, 12).reshape(4, 3),
        "ints": np.arange(12, dtype=np.int64).reshape(4, 3),
        "lists": [[1, 2.5, 3], [4, 5, 6], [7, 8, 9], [0, 0, 1e-7]],
        "tensor": tf.reshape(tf.range(12, dtype=tf.float16), (4, 3)),
    }
    export_embeddings(tmp_path / "run", [Embedding(v, name=k) for k, v in inputs.items()])
    reader = tf.train.load_checkpoint(str(tmp_path / "run"))
    for name, value in inputs.items():
        stored = reader.get_tensor(name)
        assert stored.dtype == np.float32
        np.testing.assert_array_equal(stored, np.asarray(value, dtype=np.float32))


def test_config_paths_are_relative_and_name_real_files(tmp_path):
    result = export_embedding(tmp_path / "run", np.eye(3), ["a", "b", "c"], sprite=["red", "green", "blue"])
    (embedding,) = read_config(tmp_path / "run").embeddings
    assert embedding.tensor_name == result.name
    assert not read_config(tmp_path / "run").model_checkpoint_path
    for path in (embedding.metadata_path, embedding.sprite.image_path):
        assert not os.path.isabs(path) and ".." not in path
        assert (tmp_path / "run" / path).is_file()
    assert list(embedding.sprite.single_image_dim) == [16, 16]
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path / "run"))
    assert result.shape == (3, 3)


def test_reexport_replaces_files_and_keeps_subfolders(tmp_path, caplog):
    run = tmp_path / "run"
    export_embeddings(run, [Embedding(np.ones((2, 2)), ["a", "b"], name="x"), Embedding(np.ones((2, 2)), ["c", "d"], name="y")])
    (run / "train").mkdir()
    (run / "train" / "events.out.tfevents.keras").write_bytes(b"kept")
    with caplog.at_level(logging.INFO, logger="projector_export"):
        export_embedding(run, np.zeros((3, 2)), ["p", "q", "r"], name="z")
    assert caplog.records == []  # replacing the previous run is not news (the commands show INFO)

    assert (run / "train" / "events.out.tfevents.keras").read_bytes() == b"kept"
    assert sorted(p.name for p in run.glob("*.metadata.tsv")) == ["z.metadata.tsv"]
    assert [e.tensor_name for e in read_config(run).embeddings] == ["z"]
    names = {name for name, _ in tf.train.list_variables(str(run))}
    assert "z" in names and "x" not in names
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folders left


def test_failed_export_leaves_previous_run_intact(tmp_path, monkeypatch):
    run = tmp_path / "run"
    export_embedding(run, np.eye(2), ["a", "b"])
    before = {p.name: p.read_bytes() for p in run.iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export_module, "write_checkpoint", crash)
    with pytest.raises(OSError, match="disk full"):
        export_embedding(run, np.ones((3, 3)), ["x", "y", "z"])
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_leftover_of_a_killed_export_is_tidied_by_the_next(tmp_path):
    run = tmp_path / "run"
    export_embedding(run, np.eye(2), ["a", "b"])
    dead_pid = 2**22 + 1  # above Linux's pid_max default, so never alive
    leftover = tmp_path / f".run.export-{dead_pid}-0123abcd"
    leftover.mkdir()
    (leftover / "embedding.metadata.tsv").write_text("half")
    assert validate(str(tmp_path)).ok  # a leftover is a note, not a broken run
    export_embedding(run, np.eye(2), ["a", "b"])
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_all_io_goes_through_tf_gfile(tmp_path):
    run = "ram://logs/words"
    result = export_embedding(run, np.eye(3), ["a", "", "c"], sprite=np.eye(3))
    assert result.run_dir == run
    assert tf.io.gfile.exists(result.config_path)
    reader = tf.train.load_checkpoint(run)
    np.testing.assert_array_equal(reader.get_tensor(result.name), np.eye(3, dtype=np.float32))
    assert validate("ram://logs").ok


def test_sprite_of_images_shrinks_cells_to_fit_8192_px(tmp_path):
    images = np.zeros((100, 900, 900), dtype=np.uint8)
    images[7] = 255
    export_embedding(tmp_path / "run", np.zeros((100, 2)), sprite=images)
    (embedding,) = read_config(tmp_path / "run").embeddings
    cell = list(embedding.sprite.single_image_dim)
    sprite = np.asarray(Image.open(tmp_path / "run" / embedding.sprite.image_path))
    assert cell == [819, 819] and sprite.shape == (8190, 8190)
    assert sprite[0:819, 7 * 819 : 8 * 819].min() == 255 and sprite[0:819, 6 * 819 : 7 * 819].max() == 0
    assert validate(str(tmp_path)).ok


def test_sprite_fails_only_when_one_pixel_cells_cannot_fit():
    assert make_sprite(np.zeros((8192**2, 3), dtype=np.uint8)[:1], 1).single_image_dim == (16, 16)
    with pytest.raises(ProjectorExportError, match=r"8193x8193 grid.*at most 67,108,864 points"):
        make_sprite(np.zeros((1, 3)), 8192**2 + 1)


BAD_INPUTS = [
    ({"vectors": np.ones(3)}, r"shape \(3,\); give a 2-D array"),
    ({"vectors": np.ones((2, 2, 2))}, r"shape \(2, 2, 2\)"),
    ({"vectors": np.ones((0, 4))}, r"empty \(shape \(0, 4\)\)"),
    ({"vectors": np.ones((1, 4)), "metadata": ["one"]}, r"1 row; the projector lists only tensors of at least 2 rows"),
    ({"vectors": [[1.0, 2.0], [3.0, np.nan], [np.inf, 0]]}, r"row 1, column 1 holds nan"),
    ({"vectors": [[1.0, 2.0], [3.0, 4.0], [-np.inf, 0]]}, r"row 2, column 0 holds -inf"),
    ({"vectors": [[1.0, 2.0], [1e300, 0.0]]}, r"row 1, column 0 holds 1e\+300 \(too large for float32\)"),
    ({"vectors": [[1, 2], [3, 4, 5]]}, r"ragged: row 0 has 2 values but row 1 has 3"),
    ({"vectors": [["a", "b"]]}, r"dtype <U1; give numbers"),
    ({"metadata": ["a", "b"]}, r"metadata column 'labels' has 2 rows but the tensor has 3"),
    ({"metadata": {"word": list("abc"), "count": [1, 2]}}, r"column 'count' has 2 rows but the tensor has 3"),
    ({"metadata": "abc"}, r"single string"),
    ({"metadata": pd.DataFrame([[1, 2]] * 3, columns=["x", "x"])}, r"column 'x' appears twice"),
    ({"name": "epoch 1"}, r"tensor name 'epoch 1' is not allowed"),
    ({"sprite": ["red", "blue"]}, r"sprite has 2 colours but the tensor has 3 rows"),
    ({"sprite": ["red", "blue", "nope"]}, r"sprite colour at row 2 is 'nope'"),
    ({"sprite": np.full((3, 4, 4), 2.0)}, r"sprite image at row 0 holds 2.0, outside \[0.0, 1.0\]"),
    ({"sprite": np.zeros((3, 4, 4, 2))}, r"2 channels"),
]


@pytest.mark.parametrize("change, message", BAD_INPUTS, ids=[m for _, m in BAD_INPUTS])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, change, message):
    arguments = {"vectors": np.ones((3, 2)), "metadata": None, "name": "embedding", "sprite": None} | change
    vectors = arguments.pop("vectors")
    with pytest.raises(ProjectorExportError, match=message):
        export_embedding(tmp_path / "logs" / "run", vectors, **arguments)
    assert not (tmp_path / "logs").exists() or list((tmp_path / "logs").iterdir()) == []


def test_bad_input_leaves_an_existing_run_untouched(tmp_path):
    export_embedding(tmp_path / "run", np.eye(2), ["a", "b"])
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    with pytest.raises(ProjectorExportError, match="has 1 rows but the tensor has 2"):
        export_embeddings(tmp_path / "run", [Embedding(np.eye(2), name="ok"), Embedding(np.eye(2), ["a"], name="bad")])
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before


@pytest.mark.parametrize("columns", [1, 2])
def test_fewer_than_three_columns_are_stored_with_zero_columns(tmp_path, columns):
    # The projector's PCA view, 3-D by default, draws no point of a 2-column tensor,
    # and its tensor list leaves out 1-column ones (tests/test_projector_in_browser.py).
    vectors = np.random.default_rng(0).normal(size=(5, columns))
    result = export_embedding(tmp_path / "run", vectors, list("abcde"))
    assert result.shape == (5, 3)
    stored = tf.train.load_checkpoint(str(tmp_path / "run")).get_tensor(result.name)
    np.testing.assert_array_equal(stored[:, :columns], vectors.astype(np.float32))
    assert (stored[:, columns:] == 0).all()
    assert validate(str(tmp_path)).ok


def test_duplicate_tensor_names_are_refused(tmp_path):
    with pytest.raises(ProjectorExportError, match=re.escape("tensor name 'e' is used twice")):
        export_embeddings(tmp_path / "run", [Embedding(np.eye(2), name="e"), Embedding(np.eye(2), name="e")])
    assert not (tmp_path / "run").exists()
