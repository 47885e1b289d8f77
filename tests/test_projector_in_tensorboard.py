"""Exported runs, read back through a real TensorBoard's projector plugin over HTTP."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from projector_export import Embedding, export_embedding, export_embeddings, unescape_label
from projector_export.format.metadata import parse_metadata

HOSTILE = [
    "a\tb",  # first: a tab in the first line must not make it a header
    "",
    " ",
    "line\nbreak",
    "\r",
    "naïve 猫 🙂 Ωmega",
    "x" * 5000,
    "(empty)",
    "back\\slash\\t",
    "\ufeffbom",
    "\u2028",
    "\t\t",
    "trailing space ",
    "plain",
]
WORDS = [f"word{i}" for i in range(200)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, start_tensorboard):
    """A log dir of exported runs and a TensorBoard serving it."""
    rng = np.random.default_rng(0)
    logs = tmp_path_factory.mktemp("logs")
    server = start_tensorboard(logs)
    given = {}

    hostile_vectors = rng.normal(size=(len(HOSTILE), 5))  # float64 in, float32 out
    export_embedding(logs / "hostile", hostile_vectors, HOSTILE)
    given["hostile"] = hostile_vectors

    ints = rng.integers(-50, 50, size=(200, 4))
    columns = pd.DataFrame({"word": WORDS, "count": np.arange(200), "note": [""] * 100 + ["\t"] * 100})
    colours = rng.random((200, 3))
    export_embedding(logs / "table", ints, columns, name="words", sprite=colours, sprite_cell_size=8)
    given["table"] = ints
    given["colours"] = colours

    snapshots = [rng.normal(size=(50, 3)).astype(np.float32) for _ in range(3)]
    export_embeddings(
        logs / "epochs",
        [Embedding(tf.constant(v), WORDS[:50], name=f"epoch-{i}") for i, v in enumerate(snapshots)]
        + [Embedding(snapshots[-1].tolist(), {"a": WORDS[:50], "b": WORDS[50:100]}, name="final")],
    )
    given["epochs"] = snapshots

    shutil.copytree(logs / "hostile", logs / "moved" / "copy")
    export_embedding(logs / "reexported", np.ones((4, 5)), list("abcd"))  # exported again while TensorBoard runs
    server.wait_for_runs({"hostile", "table", "epochs", "moved/copy", "reexported"})
    return server, given


def test_every_exported_run_is_listed(exported):
    server, _ = exported
    assert set(server.runs()) == {"hostile", "table", "epochs", "moved/copy", "reexported"}


def test_tensor_bytes_equal_what_was_exported(exported):
    server, given = exported
    info = server.info("hostile")
    (embedding,) = info["embeddings"]
    assert embedding["tensorName"] == "embedding"
    assert embedding["tensorShape"] == [len(HOSTILE), 5]
    served = server.tensor("hostile", embedding["tensorName"], (len(HOSTILE), 5))
    np.testing.assert_array_equal(served, given["hostile"].astype(np.float32))

    words = server.tensor("table", "words", (200, 4))
    np.testing.assert_array_equal(words, given["table"].astype(np.float32))


def test_hostile_labels_land_on_their_points(exported):
    server, _ = exported
    text = server.metadata("hostile", "embedding")
    header, rows = parse_metadata(text)
    assert header == ["label"]  # no header for one column, even with "a\tb" first
    assert len(rows) == len(HOSTILE)
    assert [unescape_label(cell) for (cell,) in rows] == HOSTILE
    shown = dict(zip(HOSTILE, (cell for (cell,) in rows)))
    assert shown[""] == "(empty)"
    assert shown[" "] == "\\s"
    assert shown["a\tb"] == "a\\tb"
    assert shown["line\nbreak"] == "line\\nbreak"
    assert shown["\r"] == "\\r"
    assert shown["naïve 猫 🙂 Ωmega"] == "naïve 猫 🙂 Ωmega"
    assert len(shown["x" * 5000]) == 5000


def test_a_moved_run_still_opens(exported):
    server, given = exported
    name = "embedding"
    served = server.tensor("moved/copy", name, (len(HOSTILE), 5))
    np.testing.assert_array_equal(served, given["hostile"].astype(np.float32))
    _, rows = parse_metadata(server.metadata("moved/copy", name))
    assert len(rows) == len(HOSTILE)


def test_several_columns_get_a_header_and_blank_cells_stay_rows(exported):
    server, _ = exported
    header, rows = parse_metadata(server.metadata("table", "words"))
    assert header == ["word", "count", "note"]
    assert len(rows) == 200
    assert rows[7] == ["word7", "7", "(empty)"]
    assert rows[150] == ["word150", "150", "\\t"]


def test_sprite_has_each_points_colour_in_its_cell(exported):
    server, given = exported
    (embedding,) = server.info("table")["embeddings"]
    width, height = embedding["sprite"]["singleImageDim"]
    assert (width, height) == (8, 8)
    image = np.asarray(Image.open(io.BytesIO(server.sprite("table", embedding["tensorName"]))).convert("RGBA"))
    assert image.shape[0] == image.shape[1] == 15 * 8  # ceil(sqrt(200)) cells a side
    expected = np.rint(given["colours"] * 255)
    for point in (0, 14, 15, 199):
        row, column = divmod(point, 15)
        cell = image[row * 8 : row * 8 + 8, column * 8 : column * 8 + 8]
        assert (cell[..., :3] == expected[point]).all()
        assert (cell[..., 3] == 255).all()


def test_several_tensors_in_one_run_each_with_its_metadata(exported):
    server, given = exported
    embeddings = {e["tensorName"]: e for e in server.info("epochs")["embeddings"]}
    names = [f"epoch-{i}" for i in range(3)] + ["final"]
    assert sorted(embeddings) == sorted(names)
    for i, name in enumerate(names[:3]):
        np.testing.assert_array_equal(server.tensor("epochs", name, (50, 3)), given["epochs"][i])
        header, rows = parse_metadata(server.metadata("epochs", name))
        assert header == ["label"] and [r[0] for r in rows] == WORDS[:50]
    # the three snapshots share one metadata file
    assert len({embeddings[n]["metadataPath"] for n in names[:3]}) == 1
    header, rows = parse_metadata(server.metadata("epochs", names[-1]))
    assert header == ["a", "b"] and rows[3] == ["word3", "word53"]


def test_reexport_while_tensorboard_runs_is_picked_up(exported):
    server, _ = exported
    assert server.info("reexported")["embeddings"][0]["tensorShape"] == [4, 5]

    export_embedding(f"{server.logdir}/reexported", np.ones((6, 3)), list("abcdef"), name="other")
    (embedding,) = server.info("reexported")["embeddings"]
    assert embedding["tensorName"] == "other"
    assert embedding["tensorShape"] == [6, 3]
    assert len(parse_metadata(server.metadata("reexported", embedding["tensorName"]))[1]) == 6
