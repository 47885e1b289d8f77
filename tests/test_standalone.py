"""Files for the standalone projector: exact float32 text, raw bytes, the JSON config."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from projector_export import Embedding, ProjectorExportError, export_embedding, export_embeddings
from projector_export.files.records import RECORD_FILENAME
from projector_export.standalone import export_standalone, write_vectors_binary, write_vectors_tsv

SPECIAL = np.array(
    [
        0.0, -0.0, 0.1, 1 / 3, -2 / 3, 0.25, -1.5e-7, 1e-45, -1e-45, 2**-149 * 3, 2**-126, -(2**-126) * 0.75,
        1.1754942e-38, 3.4028235e38, -3.4028235e38, 1e-4, 9.9999997e-5, 1e9, 999999940.0, 16777217.0,
        123456.79, 0.99999994, 1.0000001, 7.0, 10.0, 12.5, 1e-5, 1e38, 2.0**-10, 100.0, 65504.0,
    ],
    dtype=np.float32,
)


def read_tsv(path) -> list[list[str]]:
    """The file's cells, checking the layout: rows end in \\n, cells are split by one tab."""
    text = open(path, encoding="ascii").read()
    assert text.endswith("\n") and "\r" not in text and " " not in text
    return [line.split("\t") for line in text[:-1].split("\n")]


def parsed(cells: list[list[str]]) -> np.ndarray:
    """What the projector gets: each cell through a double (float / Number), then float32."""
    return np.array([[float(cell) for cell in row] for row in cells], dtype=np.float64).astype(np.float32)


def assert_same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.parametrize("scale", [1.0, 1e-3, 1e3, 1e-30, 1e30, 1e-40, 1e7])
def test_tsv_gives_back_every_float32_bit_for_bit(tmp_path, scale):
    matrix = (np.random.default_rng(0).normal(size=(300, 70)) * scale).astype(np.float32)
    write_vectors_tsv(tmp_path / "v.tsv", matrix)
    assert_same_bits(parsed(read_tsv(tmp_path / "v.tsv")), matrix)


def test_special_values_are_exact_and_read_like_numbers(tmp_path):
    write_vectors_tsv(tmp_path / "v.tsv", SPECIAL.reshape(1, -1))
    (cells,) = read_tsv(tmp_path / "v.tsv")
    assert_same_bits(parsed([cells]), SPECIAL.reshape(1, -1))
    written = dict(zip(SPECIAL.tolist(), cells))
    assert cells[:8] == ["0", "-0", "0.1", "0.33333334", "-0.6666667", "0.25", "-1.5e-07", "1e-45"]
    assert written[float(np.float32(3.4028235e38))] == "3.4028235e+38"
    assert written[1e9] == "1e+09" and written[12.5] == "12.5" and written[100.0] == "100"
    assert written[float(np.float32(1e-4))] == "0.0001" and written[float(np.float32(1e-5))] == "1e-05"


def test_tsv_digits_are_the_shortest_that_round_trip(tmp_path):
    """Compared with numpy's shortest repr; positional from 1e-4 up to 1e9, like Python's repr."""
    matrix = np.random.default_rng(1).normal(size=(100, 50)).astype(np.float32) * np.float32(0.01)
    write_vectors_tsv(tmp_path / "v.tsv", matrix)
    for cell, value in zip(sum(read_tsv(tmp_path / "v.tsv"), []), matrix.ravel()):
        if 1e-4 <= abs(value) < 1e9:
            assert cell == np.format_float_positional(value, unique=True, trim="-")
        else:
            assert cell == np.format_float_scientific(value, unique=True, trim="-", exp_digits=2)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=200), st.integers(1, 7))
def test_any_finite_float32_bit_pattern_round_trips(tmp_path_factory, patterns, columns):
    values = np.array(patterns, dtype=np.uint32).view(np.float32)
    values = values[np.isfinite(values)]
    values = values[: len(values) // columns * columns].reshape(-1, columns)
    if values.size == 0:
        return
    path = tmp_path_factory.mktemp("h") / "v.tsv"
    write_vectors_tsv(path, values)
    assert_same_bits(parsed(read_tsv(path)), values)


def test_large_tsv_has_one_line_per_row_and_a_tab_between_columns(tmp_path):
    """Big enough to span several blocks and chunks, each with signs at its edges."""
    matrix = np.random.default_rng(2).normal(size=(2100, 501)).astype(np.float32)
    matrix[::7, 0] *= -1
    rows_done = []
    write_vectors_tsv(tmp_path / "v.tsv", matrix, progress=rows_done.append)
    cells = read_tsv(tmp_path / "v.tsv")
    assert len(cells) == 2100 and {len(row) for row in cells} == {501}
    assert_same_bits(parsed(cells), matrix)
    assert rows_done == sorted(rows_done) and rows_done[-1] == 2100 and len(rows_done) > 1


def test_tsv_of_other_dtypes_and_shapes(tmp_path):
    write_vectors_tsv(tmp_path / "a.tsv", np.arange(6).reshape(3, 2))
    assert open(tmp_path / "a.tsv").read() == "0\t1\n2\t3\n4\t5\n"
    write_vectors_tsv(tmp_path / "b.tsv", np.array([[0.1], [-0.2]]))  # float64: written as float32
    assert open(tmp_path / "b.tsv").read() == "0.1\n-0.2\n"
    write_vectors_tsv(tmp_path / "c.tsv", tf.constant([[1.5, -2.0, 3e-9]]))
    assert open(tmp_path / "c.tsv").read() == "1.5\t-2\t3e-09\n"


@pytest.mark.parametrize(
    "vectors, message",
    [
        (np.ones(3), r"shape \(3,\)"),
        (np.ones((0, 3)), r"shape \(0, 3\)"),
        (np.array([["a"]]), "dtype <U1"),
        (np.array([[1.0, 2.0], [3.0, np.nan]]), r"row 1, column 1 holds nan"),
        (np.array([[1.0, 2.0], [1e300, 0.0]]), r"row 1, column 0 holds 1e\+300"),
    ],
)
def test_bad_matrices_are_refused_and_no_file_is_left(tmp_path, vectors, message):
    with pytest.raises(ProjectorExportError, match=message):
        write_vectors_tsv(tmp_path / "v.tsv", vectors)
    assert not (tmp_path / "v.tsv").exists()


def test_binary_tensor_is_little_endian_float32_rows(tmp_path):
    matrix = np.random.default_rng(3).normal(size=(5, 3))
    write_vectors_binary(tmp_path / "t.bytes", matrix)
    assert (tmp_path / "t.bytes").read_bytes() == matrix.astype("<f4").tobytes()


def test_standalone_export_of_a_run(tmp_path):
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(6, 4)).astype(np.float32)
    labels = {"word": ["", "a\tb", "c", "d", " ", "f"], "count": [1, 2, 3, 4, 5, 6]}
    run = export_embedding(tmp_path / "logs" / "words", vectors, labels, sprite=rng.random((6, 3)))
    result = export_standalone(tmp_path / "logs" / "words", tmp_path / "out")

    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        RECORD_FILENAME, "embedding.sprite.png", "metadata.tsv", "projector_config.json", "tensor.bytes", "vectors.tsv"
    ]
    config = json.loads((out / "projector_config.json").read_text())
    assert config == {
        "embeddings": [
            {
                "tensorName": "embedding",
                "tensorShape": [6, 4],
                "tensorPath": "tensor.bytes",
                "metadataPath": "metadata.tsv",
                "sprite": {"imagePath": "embedding.sprite.png", "singleImageDim": [16, 16]},
            }
        ]
    }
    (tensor,) = run.tensors
    assert (out / "metadata.tsv").read_bytes() == open(tensor.metadata_path, "rb").read()
    assert (out / "embedding.sprite.png").read_bytes() == open(tensor.sprite_path, "rb").read()
    assert (out / "tensor.bytes").read_bytes() == vectors.astype("<f4").tobytes()
    assert_same_bits(parsed(read_tsv(out / "vectors.tsv")), vectors)
    assert (result.name, result.shape) == ("embedding", (6, 4))
    assert result.vectors_path == str(out / "vectors.tsv") and result.sprite_path == str(out / "embedding.sprite.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "out"]  # nothing beside it


def test_run_without_metadata_or_sprite_gets_neither(tmp_path):
    export_embedding(tmp_path / "run", np.eye(3))
    result = export_standalone(tmp_path / "run", tmp_path / "out")
    (entry,) = json.loads((tmp_path / "out" / "projector_config.json").read_text())["embeddings"]
    assert "metadataPath" not in entry and "sprite" not in entry
    assert result.metadata_path is None and result.sprite_path is None
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        RECORD_FILENAME, "projector_config.json", "tensor.bytes", "vectors.tsv"
    ]


@pytest.fixture
def epochs(tmp_path):
    run = tmp_path / "epochs"
    export_embeddings(run, [Embedding(np.full((2, 3), i, dtype=np.float32), name=f"epoch-{i}") for i in (1, 2)]
                      + [Embedding(np.full((2, 3), 9, dtype=np.float32), name="final")])
    return run


@pytest.mark.parametrize(
    "tensor, value",
    [(None, "9"), ("final", "9"), ("epoch-2", "2"), ("epoch-1/.ATTRIBUTES/VARIABLE_VALUE", "1")],
)
def test_tensor_is_chosen_by_short_or_full_name_else_final(tmp_path, epochs, tensor, value):
    result = export_standalone(epochs, tmp_path / "out", tensor=tensor)
    assert (tmp_path / "out" / "vectors.tsv").read_text() == f"{value}\t{value}\t{value}\n" * 2
    assert result.name == (tensor or "final").removesuffix("/.ATTRIBUTES/VARIABLE_VALUE")


def test_errors_name_the_run_and_tensor_and_leave_nothing(tmp_path, epochs):
    with pytest.raises(ProjectorExportError, match=r"epochs has no tensor 'epoch-3'; it has: epoch-1, epoch-2, final"):
        export_standalone(epochs, tmp_path / "out", tensor="epoch-3")
    with pytest.raises(ProjectorExportError, match=r"missing: not a projector run"):
        export_standalone(tmp_path / "missing", tmp_path / "out")
    export_embeddings(tmp_path / "two", [Embedding(np.eye(2), name="a"), Embedding(np.eye(2), name="b")])
    with pytest.raises(ProjectorExportError, match=r"two holds 2 tensors; choose one .*: a, b"):
        export_standalone(tmp_path / "two", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epochs", "two"]


def test_a_failed_export_leaves_the_earlier_one_intact(tmp_path, epochs, monkeypatch):
    import projector_export.standalone as standalone

    export_standalone(epochs, tmp_path / "out", tensor="epoch-1")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(standalone, "_write_binary", crash)
    with pytest.raises(OSError, match="disk full"):
        export_standalone(epochs, tmp_path / "out", tensor="epoch-2")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epochs", "out"]

    monkeypatch.undo()
    export_standalone(epochs, tmp_path / "out", tensor="epoch-2")  # an earlier export is replaced
    assert (tmp_path / "out" / "vectors.tsv").read_text() == "2\t2\t2\n2\t2\t2\n"


def test_a_folder_of_other_files_is_not_replaced(tmp_path, epochs):
    with pytest.raises(ProjectorExportError, match=r"holds other files .* choose a new or empty output folder"):
        export_standalone(epochs, tmp_path)  # the log dir itself: the run must survive
    assert (epochs / "projector_config.pbtxt").exists()


def test_all_io_goes_through_tf_gfile():
    export_embedding("ram://standalone/run", np.eye(2, 3), ["a", "b"])
    result = export_standalone("ram://standalone/run", "ram://standalone/out")
    assert result.out_dir == "ram://standalone/out"
    with tf.io.gfile.GFile("ram://standalone/out/vectors.tsv", "r") as f:
        assert f.read() == "1\t0\t0\n0\t1\t0\n"
    with tf.io.gfile.GFile("ram://standalone/out/metadata.tsv", "r") as f:
        assert f.read() == "a\nb\n"


def test_exported_checkpoint_loads_back_into_a_keras_style_variable(tmp_path):
    """The checkpoint is written without copying the matrix, under the tensor's name, and
    restores into a variable of that name (a name-based checkpoint)."""
    vectors = np.random.default_rng(5).normal(size=(50, 8)).astype(np.float32)
    result = export_embedding(tmp_path / "run", vectors, name="words")
    variable = tf.Variable(tf.zeros((50, 8)), name="words")
    tf.train.Checkpoint(words=variable).restore(result.checkpoint_prefix).assert_existing_objects_matched()
    np.testing.assert_array_equal(variable.numpy(), vectors)
    reader = tf.train.load_checkpoint(str(tmp_path / "run"))
    assert reader.get_variable_to_shape_map()["words"] == [50, 8]
