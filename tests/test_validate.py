"""`validate` and `projector-export validate` on good runs and on runs broken by hand."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from projector_export import Embedding, export_embedding, export_embeddings, validate
from checkpoints import write_raw_checkpoint


def good_runs(logs):
    export_embedding(logs / "plain", np.eye(4))
    export_embedding(logs / "labels", np.eye(4), ["", " ", "a\tb", "x\ny"], sprite=["red"] * 4)
    export_embeddings(
        logs / "nested" / "epochs",
        [Embedding(np.eye(3) * i, {"w": list("abc"), "n": [1, 2, 3]}, name=f"e{i}", sprite=np.ones((3, 5, 5))) for i in range(3)],
    )


def test_every_exported_run_passes(tmp_path):
    good_runs(tmp_path)
    report = validate(str(tmp_path))
    assert report.ok, str(report)
    assert sorted(report.runs) == ["labels", "nested/epochs", "plain"]


def break_config(run):
    (run / "projector_config.pbtxt").write_text("embeddings { tensor_name: ")


def break_events(run):
    for event_file in run.glob("events.out.tfevents*"):
        event_file.unlink()


def break_checkpoint(run):
    (run / "checkpoint").unlink()


def break_tensor_name(run):
    config = run / "projector_config.pbtxt"
    config.write_text(config.read_text().replace('tensor_name: "embedding"', 'tensor_name: "missing"'))


def replace_tensor(run, array):
    for path in run.glob("embeddings.ckpt*"):
        path.unlink()
    (run / "checkpoint").unlink()
    write_raw_checkpoint(str(run), {"embedding": np.asarray(array, np.float32)})


def break_rank(run):
    replace_tensor(run, np.zeros((4, 2, 2)))


def break_two_columns(run):
    replace_tensor(run, np.ones((4, 2)))  # as other tools write 2-D embeddings


def break_one_column(run):
    replace_tensor(run, np.ones((4, 1)))


def break_metadata_header(run):
    path = run / "embedding.metadata.tsv"
    path.write_text("label\n" + path.read_text())  # 4 labels under a header


def break_metadata_blank(run):
    (run / "embedding.metadata.tsv").write_text("a\n\nc\n \n")


def break_metadata_tab(run):
    (run / "embedding.metadata.tsv").write_text("a\nb\tc\nd\ne\n")  # tab in row 1, not a header


def break_metadata_missing(run):
    (run / "embedding.metadata.tsv").unlink()


def break_metadata_outside(run):
    config = run / "projector_config.pbtxt"
    config.write_text(config.read_text().replace('"embedding.metadata.tsv"', '"../elsewhere.tsv"'))
    (run.parent / "elsewhere.tsv").write_text("a\nb\nc\nd\n")


def break_sprite_missing(run):
    (run / "embedding.sprite.png").unlink()


def break_sprite_too_large(run):
    Image.new("RGB", (8200, 16)).save(run / "embedding.sprite.png")


def break_sprite_too_small(run):
    Image.new("RGB", (16, 48)).save(run / "embedding.sprite.png")


def break_sprite_dim(run):
    config = run / "projector_config.pbtxt"
    config.write_text(config.read_text().replace("single_image_dim: 16\n", "", 1))


BREAKS = [
    (break_config, None, "projector_config.pbtxt does not parse"),
    (break_events, None, "no event file"),
    (break_checkpoint, None, "no checkpoint found"),
    (break_tensor_name, "missing", "the checkpoint does not hold"),
    (break_rank, "embedding", "shape [4, 2, 2]; the projector needs 2-D"),
    (break_two_columns, "embedding", "Total variance described: NaN%"),
    (break_one_column, "embedding", "shape [4, 1]; the projector lists only tensors of at least 2 rows and 2 columns"),
    (break_metadata_header, "embedding", "must not have a header row"),
    (break_metadata_blank, "embedding", "has 2 rows as the projector reads it, but the tensor has 4"),
    (break_metadata_tab, "embedding", "row 1: 2 tab-separated cells under 1 column(s), so the projector shows 'b'"),
    (break_metadata_missing, "embedding", "metadata file 'embedding.metadata.tsv' does not exist"),
    (break_metadata_outside, "embedding", "lies outside the run folder"),
    (break_sprite_missing, "embedding", "sprite image 'embedding.sprite.png' does not exist"),
    (break_sprite_too_large, "embedding", "sprite is 8200x16 px"),
    (break_sprite_too_small, "embedding", "sprite holds 3 cells of 16x16 px but the tensor has 4"),
    (break_sprite_dim, "embedding", "single_image_dim is [16]"),
]


@pytest.mark.parametrize("breaker, tensor, message", BREAKS, ids=[b.__name__ for b, _, _ in BREAKS])
def test_each_broken_run_is_reported_with_its_run_tensor_and_fix(tmp_path, breaker, tensor, message):
    logs = tmp_path / "logs"
    export_embedding(logs / "ok", np.eye(4), list("abcd"), sprite=["red"] * 4)
    export_embedding(logs / "broken", np.eye(4), list("abcd"), sprite=["red"] * 4)
    breaker(logs / "broken")

    report = validate(str(logs))
    assert not report.ok
    assert [p.run for p in report.problems] == ["broken"], str(report)
    (problem,) = report.problems
    assert problem.tensor == tensor
    assert message in str(problem)  # the message or its fix
    assert problem.fix


def test_cli_prints_each_problem_and_exits_1(tmp_path):
    export_embedding(tmp_path / "a", np.eye(4), list("abcd"))
    export_embedding(tmp_path / "b", np.eye(4), list("abcd"), sprite=["red"] * 4)
    break_metadata_blank(tmp_path / "a")
    break_sprite_too_large(tmp_path / "b")
    cli = subprocess.run(
        [sys.executable, "-m", "projector_export.cli", "validate", str(tmp_path)], capture_output=True, text=True
    )
    assert cli.returncode == 1
    assert "run 'a', tensor 'embedding': metadata" in cli.stdout
    assert "run 'b', tensor 'embedding': sprite is 8200x16 px" in cli.stdout
    assert cli.stdout.count("fix:") == 2 and "2 problems" in cli.stdout


def test_cli_passes_a_good_logdir_and_says_how_to_open_it(tmp_path):
    good_runs(tmp_path)
    cli = subprocess.run(
        [sys.executable, "-m", "projector_export.cli", "validate", str(tmp_path)], capture_output=True, text=True
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "3 projector runs checked" in cli.stdout and "all good" in cli.stdout
    assert f"tensorboard --logdir {tmp_path}" in cli.stdout


def test_missing_logdir_is_a_problem(tmp_path):
    report = validate(str(tmp_path / "nope"))
    assert not report.ok and "no such folder" in report.problems[0].message
    cli = subprocess.run(
        [sys.executable, "-m", "projector_export.cli", "validate", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert cli.returncode == 1
    assert f"{tmp_path / 'nope'}: no such folder" in cli.stdout and "run '" not in cli.stdout


def test_a_folder_without_projector_runs_fails_with_a_hint(tmp_path):
    (tmp_path / "logs" / "keras" / "train").mkdir(parents=True)
    (tmp_path / "logs" / "keras" / "train" / "events.out.tfevents.1").write_bytes(b"")
    cli = subprocess.run(
        [sys.executable, "-m", "projector_export.cli", "validate", str(tmp_path / "logs")], capture_output=True, text=True
    )
    assert cli.returncode == 1
    assert f"no projector runs under {tmp_path / 'logs'}" in cli.stdout
    assert "projector-export export" in cli.stdout and "all good" not in cli.stdout


def test_runs_written_with_object_based_keys_still_validate_and_read(tmp_path):
    """Runs of earlier versions: a tf.train.Checkpoint, keys `NAME/.ATTRIBUTES/VARIABLE_VALUE`."""
    from projector_export.read import read_embedding

    run = tmp_path / "old"
    export_embedding(run, np.eye(4), list("abcd"), name="final")
    for path in run.glob("embeddings.ckpt*"):
        path.unlink()
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    tf.train.Checkpoint(final=tf.Variable(vectors)).save(str(run / "embeddings.ckpt"))
    config = run / "projector_config.pbtxt"
    config.write_text(config.read_text().replace('"final"', '"final/.ATTRIBUTES/VARIABLE_VALUE"'))

    assert validate(str(tmp_path)).ok, str(validate(str(tmp_path)))
    for tensor in (None, "final", "final/.ATTRIBUTES/VARIABLE_VALUE"):
        read = read_embedding(str(run), tensor)
        assert (read.name, read.key) == ("final", "final/.ATTRIBUTES/VARIABLE_VALUE")
        np.testing.assert_array_equal(read.vectors, vectors)
