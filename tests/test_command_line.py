"""`projector-export export | neighbours` on real-world inputs, read back through TensorBoard."""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from projector_export.callback import embedding_layers
from projector_export.cli import main
from projector_export.format.metadata import parse_metadata, unescape_label
from projector_export.inputs.sources import LARGE_ROWS

WORDS = ["the", "naïve", "a\\b", "x,y", "猫", "end."]


def write_word2vec(path, vectors, words, header=True):
    lines = [f"{len(words)} {vectors.shape[1]}"] if header else []
    lines += [f"{w} " + " ".join(repr(float(v)) for v in row) for w, row in zip(words, vectors)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def colour_model():
    """The blog post's shape: Embedding -> Lambda distance -> Dense, plus a nested Sequential."""
    pair = keras.Input((2,), dtype="int32")
    colours = keras.layers.Embedding(7, 3, name="colours")(pair)
    distance = keras.layers.Lambda(lambda x: keras.ops.sum((x[:, 0] - x[:, 1]) ** 2, axis=-1, keepdims=True))(colours)
    words = keras.Sequential([keras.layers.Embedding(5, 4, name="words"), keras.layers.GlobalAveragePooling1D()])
    return keras.Model(pair, keras.layers.Dense(1)(keras.layers.Concatenate()([distance, words(pair)])))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, start_tensorboard):
    rng = np.random.default_rng(1)
    inputs = tmp_path_factory.mktemp("inputs")
    logs = tmp_path_factory.mktemp("logs")
    server = start_tensorboard(logs)
    given = {}

    w2v = rng.normal(size=(len(WORDS), 4)).astype(np.float32)
    write_word2vec(inputs / "vectors.w2v.txt", w2v, WORDS)
    given["w2v"] = (w2v, WORDS)
    glove = rng.normal(size=(len(WORDS), 3)).astype(np.float32)
    write_word2vec(inputs / "glove.6B.3d.txt", glove, WORDS, header=False)
    given["glove"] = (glove, WORDS)

    array = rng.normal(size=(9, 5))
    np.save(inputs / "array.npy", array)
    (inputs / "labels.tsv").write_text("word\tcount\n" + "".join(f"w{i}\t{i}\n" for i in range(9)))
    given["npy"] = (array.astype(np.float32), [f"w{i}" for i in range(9)])

    tsv = rng.normal(size=(4, 3)).astype(np.float32)
    (inputs / "vectors.tsv").write_text("".join("\t".join(repr(float(v)) for v in row) + "\n" for row in tsv))
    (inputs / "labels.txt").write_text("one\n\ntwo\tthree\nfour\n")
    given["tsv"] = (tsv, ["one", "", "two\tthree", "four"])

    model = colour_model()
    model.save(inputs / "model.keras")
    given["keras"] = {layer.name: layer.get_weights()[0] for layer in embedding_layers(model)}
    assert sorted(given["keras"]) == ["colours", "words"]

    assert main(["export", str(inputs / "vectors.w2v.txt"), "--logdir", str(logs), "--run", "w2v"]) == 0
    assert main(["export", str(inputs / "glove.6B.3d.txt"), "--logdir", str(logs), "--run", "glove"]) == 0
    assert main(["export", str(inputs / "array.npy"), "--logdir", str(logs), "--run", "npy",
                 "--metadata", str(inputs / "labels.tsv"), "--name", "points"]) == 0
    assert main(["export", str(inputs / "vectors.tsv"), "--logdir", str(logs), "--run", "tsv",
                 "--metadata", str(inputs / "labels.txt")]) == 0
    assert main(["export", str(inputs / "model.keras"), "--logdir", str(logs), "--run", "keras"]) == 0
    server.wait_for_runs({"w2v", "glove", "npy", "tsv", "keras"})
    return server, given, logs


@pytest.mark.parametrize("run, tensor", [("w2v", "embedding"), ("glove", "embedding"), ("npy", "points"), ("tsv", "embedding")])
def test_each_input_format_round_trips_through_tensorboard(exported, run, tensor):
    server, given, _ = exported
    vectors, labels = given[run]
    name = tensor
    np.testing.assert_array_equal(server.tensor(run, name, vectors.shape), vectors)
    header, rows = parse_metadata(server.metadata(run, name))
    assert [unescape_label(row[0]) for row in rows] == labels
    if run == "npy":
        assert header == ["word", "count"] and rows[4] == ["w4", "4"]


def test_every_embedding_layer_of_a_keras_model_becomes_a_tensor(exported):
    server, given, _ = exported
    listed = {e["tensorName"]: e["tensorShape"] for e in server.info("keras")["embeddings"]}
    assert listed == {"colours": [7, 3], "words": [5, 4]}
    for layer, weights in given["keras"].items():
        np.testing.assert_array_equal(server.tensor("keras", layer, weights.shape), weights)


def test_export_says_where_the_run_went(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.eye(3))
    assert main(["export", str(tmp_path / "v.npy"), "--logdir", str(tmp_path / "logs"), "--run", "eye"]) == 0
    out = capsys.readouterr().out
    assert "wrote 3 x 3 tensor 'embedding'" in out
    assert f"tensorboard --logdir {tmp_path / 'logs'}" in out


def test_big_inputs_warn_and_max_rows_keeps_the_first_rows(tmp_path, capsys, caplog):
    rows = LARGE_ROWS + 5
    np.save(tmp_path / "big.npy", np.arange(rows * 3, dtype=np.float32).reshape(rows, 3))
    words = [f"w{i}" for i in range(rows)]
    write_word2vec(tmp_path / "big.txt", np.ones((rows, 3)), words)
    with caplog.at_level(logging.WARNING):
        assert main(["export", str(tmp_path / "big.npy"), "--logdir", str(tmp_path), "--run", "all"]) == 0
    assert f"has {rows:,} rows" in caplog.text and "--max-rows 100000" in caplog.text

    caplog.clear()
    assert main(["export", str(tmp_path / "big.txt"), "--logdir", str(tmp_path), "--run", "cut", "--max-rows", "1000"]) == 0
    assert "--max-rows" not in caplog.text
    from projector_export.read import read_embedding

    cut = read_embedding(str(tmp_path / "cut"))
    assert cut.vectors.shape == (1000, 3)
    _, labels = parse_metadata(open(cut.metadata_path, encoding="utf-8").read())
    assert [row[0] for row in labels] == words[:1000]


MALFORMED = [
    ("ragged.txt", "3 2\na 1 2\nb 1\nc 1 2\n", r"ragged\.txt, line 3: 1 values after the word, expected 2"),
    ("words.txt", "a 1 2\nb 1 two\n", r"words\.txt, line 2: value 2 is 'two', not a number"),
    ("header.txt", "5 2\na 1 2\nb 3 4\n", r"header\.txt, line 1: the header says 5 words but the file has 2"),
    ("ragged.tsv", "1\t2\n3\t4\t5\n", r"ragged\.tsv, line 2: 3 values, but the first row has 2"),
    ("text.tsv", "1\t2\n3\tx\n", r"text\.tsv, line 2: value 2 is 'x', not a number"),
    ("latin1.txt", "caf\xe9 1 2\n".encode("latin-1"), r"latin1\.txt, line 1: not UTF-8 text"),
    ("dense.keras", None, r"dense\.keras: the model has no Embedding layer"),
    ("broken.keras", b"not a zip", r"broken\.keras: not a Keras 3 \.keras model file"),
    ("missing.npy", "skip", r"missing\.npy: no such file"),
]


@pytest.mark.parametrize("name, content, message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_inputs_name_the_file_and_line(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if name == "dense.keras":
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content != "skip":
        path.write_text(content)
    assert main(["export", str(path), "--logdir", str(tmp_path / "logs"), "--run", "r"]) == 1  # every error the message explains exits 1 (issue 11)
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "logs" / "r").exists()


def test_metadata_that_does_not_fit_names_both_files(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.eye(3))
    (tmp_path / "labels.tsv").write_text("word\tn\na\t1\nb\n")
    assert main(["export", str(tmp_path / "v.npy"), "--run", "r", "--logdir", str(tmp_path), "--metadata", str(tmp_path / "labels.tsv")]) == 1
    assert "labels.tsv, line 3: 1 columns, but the header has 2" in capsys.readouterr().err
    (tmp_path / "labels.txt").write_text("a\nb\n")
    assert main(["export", str(tmp_path / "v.npy"), "--run", "r", "--logdir", str(tmp_path), "--metadata", str(tmp_path / "labels.txt")]) == 1
    assert f"labels.txt has 2 labels, but {tmp_path / 'v.npy'} has 3 vectors; give one label per vector" in capsys.readouterr().err


def test_neighbours_by_cosine_distance(tmp_path, capsys):
    angles = np.radians([0, 10, 30, 90, 180])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1) * [[1], [5], [0.2], [3], [1]]
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "l.txt").write_text("east\nnear\nthirty\nnorth\nwest\n")
    main(["export", str(tmp_path / "v.npy"), "--logdir", str(tmp_path), "--run", "r", "--metadata", str(tmp_path / "l.txt")])
    capsys.readouterr()
    assert main(["neighbours", str(tmp_path / "r"), "east", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line.split()[1] for line in lines] == ["near", "thirty", "north"]
    expected = [1 - np.cos(np.radians(a)) for a in (10, 30, 90)]
    np.testing.assert_allclose([float(line.split()[2]) for line in lines], expected, atol=1e-4)
    assert main(["neighbours", str(tmp_path / "r"), "eats"]) == 1
    assert "no point labelled 'eats'; did you mean: 'east'" in capsys.readouterr().err

    # Euclidean, as the inspector's other choice, and several queries in one call
    assert main(["neighbours", str(tmp_path / "r"), "east", "north", "-k", "3", "--metric", "euclidean"]) == 0
    east, north = capsys.readouterr().out.split("\n\n")
    assert east.splitlines()[0] == "nearest to 'east' by euclidean distance:"
    rows = [line.split() for line in east.splitlines()[1:]]
    points = dict(zip(["east", "near", "thirty", "north", "west"], vectors))
    assert [row[1] for row in rows] == ["thirty", "west", "north"]
    expected = [np.linalg.norm(points[row[1]] - points["east"]) for row in rows]
    np.testing.assert_allclose([float(row[2]) for row in rows], expected, atol=1e-4)
    assert north.splitlines()[0] == "nearest to 'north' by euclidean distance:"
    labels = [line.split()[1] for line in north.splitlines()[1:]]
    assert labels[0] == "thirty" and set(labels[1:]) == {"east", "west"}  # those two are equally far


def test_help_answers_without_importing_tensorflow():
    code = "import sys; from projector_export.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\nassert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "export" in done.stdout and "neighbours" in done.stdout and "validate" in done.stdout
