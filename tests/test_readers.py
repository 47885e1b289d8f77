"""Readers confined to the run folder, quick on FIFOs, strict on text input, and one line on any broken run."""

from __future__ import annotations

import contextlib
import os
import re
import signal

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from projector_export import ProjectorExportError, export_embedding, validate
from projector_export.cli import main
from projector_export.format.metadata import metadata_table
from projector_export import read_embedding
from projector_export.inputs.sources import read_labels, read_source


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail, rather than hang, when the body blocks (opening a FIFO waits for a writer)."""

    def expired(*_):
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error: ")]
    return line


@pytest.fixture
def logs(tmp_path):
    logs = tmp_path / "logs"
    export_embedding(logs / "ok", np.eye(4), list("abcd"), sprite=["red"] * 4)
    export_embedding(logs / "r", np.eye(4), list("abcd"), sprite=["red"] * 4)
    return logs


def every_reader(logs, capsys, run="r") -> tuple[str, str, list]:
    """neighbours and tsv on `logs/run` (each must fail with one line) and validate's problems of it."""
    lines = []
    for command in (["neighbours", str(logs / run), "a"], ["tsv", str(logs / run), "--out", str(logs.parent / "out")]):
        with deadline(60):
            assert main(command) == 1
        lines.append(error_line(capsys))
    with deadline(60):
        report = validate(str(logs))
    assert {problem.run for problem in report.problems} == {run}, str(report)
    assert not (logs.parent / "out").exists()
    return lines[0], lines[1], report.problems


def config_path(run, field: str, value: str) -> None:
    config = run / "projector_config.pbtxt"
    text = config.read_text()
    old = {"metadata": '"embedding.metadata.tsv"', "sprite": '"embedding.sprite.png"'}[field]
    config.write_text(text.replace(old, f'"{value}"'))


@pytest.mark.parametrize("field", ["metadata", "sprite"])
@pytest.mark.parametrize("target", ["/etc/passwd", "../../secret", "link"])
def test_assets_outside_the_run_are_never_read(logs, capsys, field, target):
    (logs.parent / "secret").write_text("password\n" * 4)
    if target == "link":
        os.symlink(logs.parent / "secret", logs / "r" / "link")
    config_path(logs / "r", field, target)
    neighbours, tsv, problems = every_reader(logs, capsys)
    for line in (neighbours, tsv):
        assert "lies outside the run folder" in line and "password" not in line
    assert "lies outside the run folder" in problems[0].message


@pytest.mark.parametrize("name", ["embedding.metadata.tsv", "embedding.sprite.png", "projector_config.pbtxt",
                                  "checkpoint", "embeddings.ckpt-1.index", "embeddings.ckpt-1.data-00000-of-00001"])
def test_a_fifo_anywhere_in_a_run_is_refused_at_once(logs, capsys, name):
    path = logs / "r" / name
    path.unlink()
    os.mkfifo(path)
    neighbours, tsv, problems = every_reader(logs, capsys)
    for line in (neighbours, tsv, problems[0].message):
        assert "is a FIFO (named pipe), not a file" in line


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_as_metadata_is_refused(logs, capsys):
    (logs / "r" / "embedding.metadata.tsv").unlink()
    os.mknod(logs / "r" / "embedding.metadata.tsv", 0o644 | 0o020000, os.makedev(1, 5))  # /dev/zero
    neighbours, tsv, problems = every_reader(logs, capsys)
    assert "is a device, not a file" in neighbours and "is a device" in problems[0].message


def save(run, tensors: dict) -> None:
    """Replace the run's checkpoint with `tensors`, saved the way the exporter saves."""
    for path in run.glob("embeddings.ckpt-*"):
        path.unlink()
    tf.raw_ops.SaveV2(prefix=str(run / "embeddings.ckpt-1"), tensor_names=list(tensors),
                      shape_and_slices=[""] * len(tensors), tensors=list(tensors.values()))


def data_file(run):
    (path,) = run.glob("embeddings.ckpt-1.data-*")
    return path


BROKEN = {
    "binary config": (lambda r: (r / "projector_config.pbtxt").write_bytes(bytes(range(256))), "does not parse: it is not UTF-8"),
    "truncated data": (lambda r: data_file(r).write_bytes(data_file(r).read_bytes()[:10]), r"is truncated \(10 bytes where its index needs 64\)"),
    "empty data": (lambda r: data_file(r).write_bytes(b""), r"is truncated \(0 bytes"),
    "corrupt index": (lambda r: (r / "embeddings.ckpt-1.index").write_bytes(b"\0" * 64), r"embeddings\.ckpt-1\.index is corrupt: it does not end in a table footer"),
    "missing metadata": (lambda r: (r / "embedding.metadata.tsv").unlink(), "no such file|does not exist"),
    "metadata folder": (lambda r: ((r / "embedding.metadata.tsv").unlink(), (r / "embedding.metadata.tsv").mkdir()), "is a folder, not a file"),
    "non-UTF-8 metadata": (lambda r: (r / "embedding.metadata.tsv").write_bytes("a\nb\ncaf\xe9\nd\n".encode("latin-1")), r"line 3: not UTF-8 text \(byte 0xe9\)"),
    "shape []": (lambda r: save(r, {"embedding": np.float32(1.0)}), r"has shape \[\]"),
    "shape [1, N]": (lambda r: save(r, {"embedding": np.ones((1, 4), np.float32)}), r"has shape \[1, 4\]"),
    "shape [N, 0]": (lambda r: save(r, {"embedding": np.ones((4, 0), np.float32)}), r"has shape \[4, 0\]"),
    "3-D": (lambda r: save(r, {"embedding": np.ones((4, 2, 2), np.float32)}), r"has shape \[4, 2, 2\]"),
    "NaN": (lambda r: save(r, {"embedding": np.where(np.eye(4) > 0, np.nan, 0).astype(np.float32)}), "row 0, column 0 holds nan"),
    "tensor missing": (lambda r: save(r, {"other": np.eye(4, dtype=np.float32)}), "the checkpoint (holds no tensor|does not hold)"),
    "state names nothing": (lambda r: (r / "checkpoint").write_text("garbage"), "is not a CheckpointState"),
    "state names no path": (lambda r: (r / "checkpoint").write_text("# nothing\n"), "names no checkpoint"),
    "checkpoint elsewhere": (lambda r: (r / "checkpoint").write_text('model_checkpoint_path: "/tmp/x/embeddings.ckpt-1"\n'), "lies outside"),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_each_broken_run_is_one_line_in_every_reader_and_a_problem_in_validate(logs, capsys, broken):
    breaker, message = BROKEN[broken]
    breaker(logs / "r")
    neighbours, tsv, problems = every_reader(logs, capsys)
    for line in (neighbours, tsv):
        assert f"{logs / 'r'}" in line  # names the run ...
        assert re.search(message, line), line  # ... the file and what is wrong with it ...
        assert "export the run again" in line or "keep the file" in line, line  # ... and the fix
    assert any(re.search(message, f"{p.message} {p.fix}") for p in problems), problems
    assert all(p.fix for p in problems)


def test_validate_checks_every_other_run_when_one_cannot_be_read(logs):
    (logs / "r" / "projector_config.pbtxt").write_bytes(b"\xff\xfe binary")
    export_embedding(logs / "z", np.eye(4), list("abcd"))
    (logs / "z" / "embedding.metadata.tsv").write_text("a\nb\n")
    report = validate(str(logs))
    assert report.runs == ["ok", "r", "z"] and [p.run for p in report.problems] == ["r", "z"]


def test_a_run_tensorboard_cannot_load_is_never_all_good(logs):
    """A truncated data file: TensorBoard lists the tensor and fails to load it."""
    data_file(logs / "r").write_bytes(data_file(logs / "r").read_bytes()[:-4])
    assert not validate(str(logs)).ok


# --- text inputs ------------------------------------------------------------------------------


def w2v(tmp_path, text, name="vectors.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(path)


STRICT = [
    ("the 0.1 0.2 0.3\ncat 0.4 0.5 0.6 0.7\n", r"line 2: 4 values after the word, expected 3"),
    ("3 3\nthe 0.1 0.2 0.3\ncat 0.4 0.5\nsat 1 2 3\n", r"line 3: 2 values after the word, expected 3"),
    ("-3 3\nthe 0.1 0.2 0.3\n", r"line 1: '-3 3' looks like a `count dim` header, but both must be positive"),
    ("0 3\nthe 0.1 0.2 0.3\n", r"line 1: '0 3' looks like a `count dim` header"),
    ("The quick brown fox jumps over the lazy dog.\nIt was not amused.\n", r"line 1: this does not look like word vectors: 'The quick"),
    ("the\xa00.1\xa00.2\nsat\xa00.3\xa00.4\n", r"line 1: this does not look like word vectors.*U\+00A0 NO-BREAK SPACE"),
    ("the 0.1 0.2\ncat\xa00.3 0.4\n", r"line 2: 1 values after the word, expected 2.*U\+00A0 NO-BREAK SPACE"),
]


@pytest.mark.parametrize("text, message", STRICT, ids=[m for _, m in STRICT])
def test_word_vectors_are_read_strictly(tmp_path, text, message):
    with pytest.raises(ProjectorExportError, match=message):
        read_source(w2v(tmp_path, text))


@pytest.mark.parametrize("separators", [" ", "\t", "  ", " \t "])
def test_runs_of_spaces_and_tabs_separate_values(tmp_path, separators):
    text = "2 3\n" + "".join(f"{word}{separators}" + separators.join(values) + "\n"
                             for word, values in [("the", ["0.1", "0.2", "0.3"]), ("cat", ["1", "2", "3"])])
    source = read_source(w2v(tmp_path, text))
    assert source.labels == ["the", "cat"]
    np.testing.assert_array_equal(source.tensors["embedding"], np.float32([[0.1, 0.2, 0.3], [1, 2, 3]]))


def test_a_byte_order_mark_is_dropped_from_every_text_input(tmp_path):
    source = read_source(w2v(tmp_path, "\ufeff2 2\nthe 0.1 0.2\ncat 0.3 0.4\n"))
    assert source.labels == ["the", "cat"] and source.tensors["embedding"].shape == (2, 2)
    source = read_source(w2v(tmp_path, "\ufeff0.5\t1\n2\t3\n", name="v.tsv"))
    np.testing.assert_array_equal(source.tensors["embedding"], [[0.5, 1], [2, 3]])
    assert read_labels(w2v(tmp_path, "\ufeffword\tn\na\t1\n", name="l.tsv")) == {"word": ["a"], "n": ["1"]}
    assert read_labels(w2v(tmp_path, "\ufeffa\nb\n", name="l.txt")) == ["a", "b"]


def test_glove_words_with_spaces_still_read(tmp_path):
    source = read_source(w2v(tmp_path, "the 0.1 0.2\nnew york 0.3 0.4\n. . . 0.5 0.6\n"))
    assert source.labels == ["the", "new york", ". . ."]


VECTOR_TSV = [
    ("cat\t0.1\t0.2\ndog\t0.3\t0.4\n", r"line 1: value 1 is 'cat', not a number; .* pass it as `metadata=`"),
    ("x\ty\tz\n1\t2\t3\n", r"line 1: 'x'\.\.\. is not a number: this looks like a header row"),
    ("0.1 0.2 0.3\n0.4 0.5 0.6\n", r"line 1: the values are separated by spaces, not tabs"),
]


@pytest.mark.parametrize("text, message", VECTOR_TSV, ids=[m for _, m in VECTOR_TSV])
def test_vector_tsvs_say_what_is_wrong_at_line_1(tmp_path, text, message):
    with pytest.raises(ProjectorExportError, match=message):
        read_source(w2v(tmp_path, text, name="v.tsv"))


def test_the_command_says_metadata_with_its_flag(tmp_path, capsys):
    path = w2v(tmp_path, "cat\t0.1\t0.2\ndog\t0.3\t0.4\n", name="v.tsv")
    assert main(["export", path, "--logdir", str(tmp_path / "logs"), "--run", "r"]) == 1
    assert "pass it as --metadata" in error_line(capsys)


# --- pandas and labels -------------------------------------------------------------------------


def test_missing_values_are_written_one_way_whatever_the_dtype():
    frame = pd.DataFrame({
        "object": ["a", None, np.nan, "d"],
        "float": [1.5, np.nan, 2.0, np.nan],
        "nullable int": pd.array([1, None, 3, None], dtype="Int64"),
        "string": pd.array(["x", None, "z", pd.NA], dtype="string"),
        "time": pd.to_datetime(["2024-01-01", None, "2024-01-03", None]),
        "category": pd.Categorical(["p", None, "q", None]),
    })
    table = metadata_table(frame, 4)
    assert [column[1] for column in table.columns] == [""] * 6  # written as (empty), one way
    assert "<NA>" not in table.to_tsv() and "NaT" not in table.to_tsv() and "nan" not in table.to_tsv()
    assert metadata_table([np.datetime64("NaT"), np.float32("nan"), pd.NA, "x"], 4).columns[0] == ["", "", "", "x"]


@pytest.mark.parametrize("labels, message", [
    ({"b", "a", "c"}, r"metadata is a set, which has no order"),
    ({"word": {"b", "a", "c"}}, r"metadata column 'word' is a set, which has no row order"),
    ({"word": "abc"}, r"metadata column 'word' is a single string \('abc'\), not one label per row"),
    ({"a": 1, "b": 2, "c": 3}.keys(), r"metadata is a dict_keys, which has no order"),
])
def test_sets_and_strings_are_refused_as_labels(tmp_path, labels, message):
    with pytest.raises(ProjectorExportError, match=message):
        export_embedding(tmp_path / "run", np.eye(3), labels)
    assert not (tmp_path / "run").exists()


def test_read_embedding_gives_labels_as_the_projector_shows_them(logs):
    run = read_embedding(str(logs / "r"))
    assert run.labels() == list("abcd") and run.metadata_text == "a\nb\nc\nd\n"
    assert run.metadata.header is None and run.metadata.columns == [list("abcd")]


def test_what_export_wrote_read_embedding_gives_back(tmp_path):
    """The mirror: vectors bit for bit, the tensor's name, every label as given (escapes undone)."""
    from projector_export import export_embedding

    vectors = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)
    table = {"word": ["", " ", "a\tb", "(empty)", "café"], "n": ["1", "2", "3", "4", "5"]}
    export_embedding(tmp_path / "run", vectors, table, name="words")
    stored = read_embedding(tmp_path / "run")
    assert stored.name == "words" and stored.vectors.tobytes() == vectors.tobytes()
    assert stored.metadata.header == ["word", "n"]
    assert stored.metadata.columns == [table["word"], table["n"]]
