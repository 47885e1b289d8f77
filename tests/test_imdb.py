"""`projector-train imdb`: reviews in, a projector run whose labels line up out.

Offline from an aclImdb-shaped folder the test writes (positive reviews say "wonderful",
negative ones "awful"), through mocked tfds, on two logical CPUs, and with no data at all.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from projector_export import ProjectorExportError, validate
from projector_export.format.config import projector_order
from projector_export.format.metadata import parse_metadata, unescape_label
from conftest import free_ports, require_layout_libraries
from early import Command, python_here
from reviews import write_aclimdb
from training.imdb import options as imdb_command
from training.imdb.data import read_aclimdb
from training.imdb.job import ImdbRun
from training.imdb.model import EMBEDDING_DIM, build_model
from training.imdb.pipeline import Tokens, bucket_widths, hold_out, make_dataset

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 5
VOCAB_SIZE = "400"  # small, so the vocabulary builds in a second; the default is 2**13
FEW_REVIEWS = {"train": 40, "test": 10}  # for the tests that train but assert nothing of what was learnt
EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+): val_accuracy ([0-9.]+)", re.MULTILINE)


def train(*argv: str) -> tuple[ImdbRun, str]:
    """`projector-train imdb ARGV` in this process: the result and what it printed."""
    parser = argparse.ArgumentParser(prog="projector-train imdb")
    imdb_command.add_arguments(parser)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = imdb_command.run(parser.parse_args(list(argv)))
    return result, printed.getvalue()


@pytest.fixture(scope="module")
def aclimdb(tmp_path_factory) -> Path:
    return write_aclimdb(tmp_path_factory.mktemp("reviews"), {"train": 300, "test": 50})


@pytest.fixture(scope="module")
def few_reviews(tmp_path_factory) -> Path:
    """For the tests that train but assert nothing of what was learnt."""
    return write_aclimdb(tmp_path_factory.mktemp("few-reviews"), FEW_REVIEWS)


@pytest.fixture(scope="module")
def tensorboard(tmp_path_factory, start_tensorboard):
    """A TensorBoard over the log dir that `trained` writes, started first so that the two overlap."""
    return start_tensorboard(tmp_path_factory.mktemp("logs"))


@pytest.fixture(scope="module")
def trained(aclimdb, tensorboard):
    logs = Path(tensorboard.logdir)
    # These reviews are told apart by one word: at 10 times the default learning rate the
    # model knows them within two epochs, and the held-out accuracy stays at its best.
    result, printed = train(
        "--aclimdb", str(aclimdb), "--logdir", str(logs), "--epochs", str(EPOCHS), "--vocab-size", VOCAB_SIZE,
        "--learning-rate", "0.003",
    )
    return result, printed, logs


@pytest.fixture(scope="module")
def server(trained, tensorboard):
    """One TensorBoard over the trained run's log dir."""
    server = tensorboard
    # Keras's train/ and validation/ are not listed as projector runs: only the export is
    assert set(server.wait_for_runs({"imdb/projector"})) == {"imdb/projector"}
    return server


def encoder_of(result: ImdbRun):
    return tfds.deprecated.text.SubwordTextEncoder.load_from_file(result.vocab_path[: -len(".subwords")])


def test_it_learns_the_reviews_and_prints_val_accuracy_each_epoch(trained):
    result, printed, logs = trained
    lines = EPOCH_LINE.findall(printed)
    assert [(int(epoch), int(total)) for epoch, total, _ in lines] == [(e, EPOCHS) for e in range(1, EPOCHS + 1)]
    printed_accuracy = [float(value) for _, _, value in lines]
    np.testing.assert_allclose(printed_accuracy, result.val_accuracy, atol=5e-5)
    assert printed_accuracy[-1] > 0.9
    assert f"tensorboard --logdir {logs}" in printed
    assert (logs / "imdb-vocab400.subwords").is_file()


def test_the_run_opens_in_tensorboard_with_labels_that_line_up(trained, aclimdb, server):
    result, _, logs = trained
    encoder = encoder_of(result)
    rows_expected = 1 + len(encoder.subwords) + 256
    assert result.vocab_size == encoder.vocab_size == rows_expected

    listed = server.info("imdb/projector")["embeddings"]
    names = [entry["tensorName"].split("/")[0] for entry in listed]
    assert names == ["final"] + [f"snapshot-epoch-{e:02d}" for e in range(1, EPOCHS + 1)]
    # what the data panel lists, and opens the first of: the trained one, then training order
    assert projector_order((e["tensorName"], e["tensorShape"], bool(e.get("metadataPath"))) for e in listed) == names
    vectors = {}
    for entry, name in zip(listed, names):
        assert entry["tensorShape"] == [rows_expected, EMBEDDING_DIM]
        vectors[name] = server.tensor("imdb/projector", entry["tensorName"], (rows_expected, EMBEDDING_DIM))
        header, rows = parse_metadata(server.metadata("imdb/projector", entry["tensorName"]))
        # final also names its clusters (the layouts extra is installed here; test_add_clusters has more)
        clusters = ["cluster"] if name == "final" else []
        assert header == ["token", "kind", "count", "sentiment", *clusters]
        assert len(rows) == rows_expected
    # final: the epoch kept (the best val_accuracy), whose weights the model has again
    np.testing.assert_array_equal(vectors["final"], result.model.get_layer("embedding").get_weights()[0])
    np.testing.assert_array_equal(vectors["final"], vectors[f"snapshot-epoch-{result.best_epoch:02d}"])
    assert not np.array_equal(vectors["snapshot-epoch-01"], vectors[f"snapshot-epoch-{EPOCHS:02d}"])  # training moved the points

    _, rows = parse_metadata(server.metadata("imdb/projector", listed[0]["tensorName"]))
    token = [unescape_label(row[0]) for row in rows]
    kind = [row[1] for row in rows]
    assert (token[0], kind[0]) == ("<pad>", "padding")
    byte_a = 1 + len(encoder.subwords) + 0x41
    assert (token[byte_a], kind[byte_a]) == ("<byte 0x41>", "byte")
    wonderful = token.index("wonderful_")
    assert kind[wonderful] == "subword" and encoder.encode("wonderful ") == [wonderful]

    # Spelling a review back from the labels of its ids gives the review: every label is on its row.
    text = "Wonderful film ✓ awful plot, naïve"
    ids = encoder.encode(text)
    assert {kind[i] for i in ids} == {"subword", "byte"}
    spelt = b""
    for i in ids:
        if kind[i] == "byte":
            spelt += bytes([int(token[i][len("<byte 0x") : -1], 16)])
        else:
            spelt += (token[i][:-1] + " " if token[i].endswith("_") else token[i]).encode("utf-8")
    assert spelt.decode("utf-8") == text

    # count: occurrences in the training reviews, counted here from the files.
    reviews = [path.read_text("utf-8") for path in aclimdb.glob("train/*/*.txt")]
    counts = Counter(i for review in reviews for i in encoder.encode(review))
    assert [int(row[2]) for row in rows] == [counts.get(i, 0) for i in range(rows_expected)]

    # sentiment: numbers everywhere (so "Color by" offers it), the model's output for the token alone.
    sentiment = np.array([float(row[3]) for row in rows])
    assert np.all((sentiment >= 0) & (sentiment <= 1))
    awful = token.index("awful_")
    assert sentiment[wonderful] > 0.5 > sentiment[awful]
    for i in (wonderful, awful, byte_a):
        alone = float(keras.ops.sigmoid(result.model(np.array([[i]], dtype=np.int32)))[0, 0])
        assert sentiment[i] == pytest.approx(alone, abs=6e-5)

    assert validate(str(logs)).ok


def test_final_carries_a_umap_of_every_token_as_a_bookmark(trained, server):
    require_layout_libraries()
    result, printed, logs = trained
    rows = result.vocab_size
    assert f"bookmark:   a 3-D UMAP of all {rows:,} tokens of final" in printed
    final, *snapshots = server.info("imdb/projector")["embeddings"]
    states = json.loads(server.get("bookmarks", run="imdb/projector", name=final["tensorName"]))
    state = states[0]  # then a bookmark per named cluster (tests/test_add_clusters.py)
    assert all(s["projectorExport"]["method"] == "clusters" for s in states[1:])
    assert state["label"].startswith(f"UMAP (3-D) of all {rows:,} points")
    assert state["selectedProjection"] == "umap" and len(state["projections"]) == rows
    # a click shows the sentiment gradient, tokens as labels
    assert (state["selectedColorOptionName"], state["selectedLabelOption"]) == ("sentiment", "token")
    layout = np.array([[point[f"umap-{d}"] for d in range(3)] for point in state["projections"]])
    assert np.isfinite(layout).all() and layout.std(axis=0).min() > 0
    assert not any(snapshot.get("bookmarksPath") for snapshot in snapshots)  # the snapshots are not laid out


def test_a_layout_whose_library_is_missing_is_refused_before_training(few_reviews, tmp_path, monkeypatch):
    monkeypatch.setattr("training.imdb.export.layouts_available", lambda method: False)
    start = time.monotonic()
    with pytest.raises(ProjectorExportError, match=r"`layout=tsne` needs a library that is not installed: pip install"):
        train("--aclimdb", str(few_reviews), "--logdir", str(tmp_path / "logs"), "--layout", "tsne")
    assert time.monotonic() - start < 5 and not (tmp_path / "logs").exists()
    # by default a missing umap-learn only costs the bookmark, and says how to get it
    _, printed = train("--aclimdb", str(few_reviews), "--logdir", str(tmp_path / "logs"), "--epochs", "1",
                       "--vocab-size", VOCAB_SIZE, "--quiet", "--no-clusters")
    assert 'no UMAP of every token in the projector\'s Bookmarks: pip install "projector-export[layouts]" adds one' in printed
    assert "bookmark:" not in printed
    assert "bookmarks_path" not in (tmp_path / "logs" / "imdb" / "projector" / "projector_config.pbtxt").read_text()


def test_the_epoch_kept_is_the_best_on_held_out_reviews_and_exported_as_final(trained):
    result, printed, logs = trained
    accuracy = result.val_accuracy
    # The held-out accuracy reaches its best early and stays there (see `trained`); the
    # first of equal epochs is kept.
    assert result.best_epoch == 1 + int(np.argmax(accuracy)) < EPOCHS
    reader = tf.train.load_checkpoint(str(logs / "imdb" / "projector"))
    final = reader.get_tensor("final")
    np.testing.assert_array_equal(final, reader.get_tensor(f"snapshot-epoch-{result.best_epoch:02d}"))
    np.testing.assert_array_equal(final, result.model.get_layer("embedding").get_weights()[0])
    assert not np.array_equal(final, reader.get_tensor(f"snapshot-epoch-{EPOCHS:02d}"))  # not the last epoch
    assert f"with epoch {result.best_epoch} of {EPOCHS}" in printed


def test_patience_stops_when_held_out_accuracy_stops_improving(aclimdb, tmp_path):
    logs = tmp_path / "logs"
    # These reviews are told apart by one word: the held-out accuracy reaches 1 and stays.
    result, printed = train(
        "--aclimdb", str(aclimdb), "--logdir", str(logs), "--epochs", "30", "--vocab-size", VOCAB_SIZE,
        "--learning-rate", "0.003", "--patience", "2", "--quiet", "--layout", "none", "--no-clusters",
    )
    epochs_run = len(EPOCH_LINE.findall(printed))
    assert epochs_run == len(result.val_accuracy) == result.best_epoch + 2 < 30
    assert f"stopped after epoch {epochs_run}" in printed
    assert max(result.val_accuracy[result.best_epoch:]) <= result.val_accuracy[result.best_epoch - 1]
    names = {name for name, _ in tf.train.list_variables(str(logs / "imdb" / "projector"))}
    assert {f"snapshot-epoch-{e:02d}" for e in range(1, epochs_run + 1)} <= names
    assert f"snapshot-epoch-{epochs_run + 1:02d}" not in names


def test_the_held_out_reviews_are_seeded_and_apart_from_the_trained_ones():
    count = 1000
    # review r is the ids r+1, r+1: each review can be told by its ids
    tokens = Tokens(np.repeat(np.arange(1, count + 1), 2).astype(np.int32), np.full(count, 2), np.arange(count) % 2)
    trained, held = hold_out(tokens, 0.1, seed=3)
    again_trained, again_held = hold_out(tokens, 0.1, seed=3)
    _, other_held = hold_out(tokens, 0.1, seed=4)
    reviews = lambda part: set(part.ids[::2].tolist())  # noqa: E731
    assert len(held) == 100 and len(trained) == 900
    assert reviews(held).isdisjoint(reviews(trained)) and reviews(held) | reviews(trained) == set(range(1, count + 1))
    np.testing.assert_array_equal(held.ids, again_held.ids)
    np.testing.assert_array_equal(trained.labels, again_trained.labels)
    assert reviews(other_held) != reviews(held)
    np.testing.assert_array_equal(held.labels, (held.ids[::2] - 1) % 2)  # labels go with their reviews


def test_test_accuracy_is_scored_once_printed_and_logged(trained, aclimdb):
    result, printed, logs = trained
    assert re.search(rf"test_accuracy {result.test_accuracy:.4f}", printed)
    # the test reviews scored here, one at a time, with the model as it was kept
    encoder = encoder_of(result)
    _, test = read_aclimdb(str(aclimdb))
    logits = np.array([float(result.model(np.array([encoder.encode(text)], dtype=np.int32))[0, 0]) for text in test.texts])
    assert result.test_accuracy == pytest.approx(np.mean((logits > 0) == (test.labels == 1)), abs=1e-6)
    events = sorted((logs / "imdb" / "test").glob("events.out.tfevents*"))
    logged = {
        value.tag: (event.step, float(tf.make_ndarray(value.tensor)))
        for path in events for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value
    }
    assert logged["test_accuracy"] == (result.best_epoch - 1, pytest.approx(result.test_accuracy, abs=1e-6))
    assert "test_loss" in logged


def test_keras_logs_scalars_and_histograms_beside_the_projector(trained):
    _, _, logs = trained

    def summaries(folder):
        events = sorted((logs / "imdb" / folder).glob("events.out.tfevents*"))
        assert events, f"no event file in {folder}/"
        return [value for path in events for event in tf.compat.v1.train.summary_iterator(str(path))
                for value in event.summary.value]

    train_values = summaries("train")
    assert "epoch_loss" in {value.tag for value in train_values}
    assert any(value.metadata.plugin_data.plugin_name == "histograms" for value in train_values)
    assert "epoch_accuracy" in {value.tag for value in summaries("validation")}


def test_mocked_tfds_trains_and_reuses_its_vocabulary(tmp_path):
    data_dir = tmp_path / "tensorflow_datasets"
    # What a prepared data dir holds besides the records; mock_data stands in for the records.
    builder = tfds.builder("imdb_reviews", data_dir=str(data_dir))
    os.makedirs(builder.data_dir)
    builder.info.write_to_directory(builder.data_dir)
    logs = tmp_path / "logs"
    args = ("--data-dir", str(data_dir), "--logdir", str(logs), "--epochs", "1", "--vocab-size", "300", "--quiet",
            "--layout", "none", "--no-clusters")
    with tfds.testing.mock_data(num_examples=40, data_dir=str(data_dir)):
        first, printed_first = train(*args)
        vocabulary = (logs / "imdb-vocab300.subwords").read_bytes()
        second, printed_second = train(*args)

    assert "40 training and 40 test reviews" in printed_first
    assert "Building a subword vocabulary" in printed_first
    assert f"Using the subword vocabulary {logs / 'imdb-vocab300.subwords'}" in printed_second
    assert (logs / "imdb-vocab300.subwords").read_bytes() == vocabulary
    assert len(EPOCH_LINE.findall(printed_second)) == 1
    assert first.vocab_size == second.vocab_size
    assert second.export.shape == (second.vocab_size, EMBEDDING_DIM)
    assert validate(str(logs)).ok


def test_a_vocabulary_built_from_other_reviews_is_rebuilt_or_if_given_warned_about(trained, tmp_path, caplog):
    stale = trained[2] / "imdb-vocab400.subwords"  # built from the 600 training reviews of `aclimdb`
    other = write_aclimdb(tmp_path / "other", {"train": 40, "test": 10}, seed=7)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "imdb-vocab400.subwords").write_bytes(stale.read_bytes())
    args = ("--aclimdb", str(other), "--logdir", str(logs), "--epochs", "1", "--quiet", "--layout", "none",
            "--no-clusters")

    result, printed = train(*args, "--vocab-size", VOCAB_SIZE)
    assert f"{logs / 'imdb-vocab400.subwords'} was built from other reviews (600 reviews, " in printed
    assert "these are 80 reviews, " in printed and "building a new one of about 400 tokens in its place" in printed
    assert (logs / "imdb-vocab400.subwords").read_bytes() != stale.read_bytes()
    assert result.vocab_size == encoder_of(result).vocab_size

    # Named with --vocab, it is used as given; its size is far below the default target.
    with caplog.at_level(logging.WARNING):
        result, printed = train(*args, "--vocab", str(stale))
    assert f"Using the subword vocabulary {stale} ({result.vocab_size:,} tokens), as given" in printed
    assert [record.getMessage().split(":")[0] for record in caplog.records if record.name.startswith("training")] == [
        f"--vocab {stale} has {result.vocab_size:,} tokens, under half the target of --vocab-size 8,192"
    ]


OFFLINE = textwrap.dedent(
    """
    import socket, sys
    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")
    socket.create_connection = offline
    from training.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def sample_job(folder) -> list[Command]:
    """`projector-train imdb --sample` with the network cut, smaller than the default (5,000 reviews
    a split, 10 epochs, UMAP) to stay fast."""
    return [python_here("-c", OFFLINE, "imdb", "--sample", "1000", "--vocab-size", "500", "--epochs", "3",
                        "--learning-rate", "0.003", "--layout", "pca", "--no-clusters", "--logdir",
                        str(folder / "logs"), "--quiet")]


@pytest.mark.early("sample_job")
def test_sample_trains_offline_on_generated_reviews_into_its_own_run(early):
    folder, (done,) = early
    assert done.returncode == 0, done.stderr[-3000:]
    logs, printed = folder / "logs", done.stdout
    assert "GENERATED reviews, not IMDB: 1,000 training and 1,000 test reviews" in printed
    assert "(GENERATED reviews, not IMDB: this says the pipeline works" in printed
    # its own run and vocabulary, never mixed with a real run's
    assert f"\n  projector:  {logs}/imdb-sample/projector (" in printed
    assert f"\n  vocabulary: {logs}/imdb-sample-vocab500.subwords\n" in printed
    assert sorted(os.listdir(logs)) == ["imdb-sample", "imdb-sample-vocab500.subwords"]
    # well above chance: the reviews carry a learnable signal
    assert float(re.search(r"^test_accuracy ([0-9.]+)", printed, re.MULTILINE).group(1)) > 0.65
    report = validate(str(logs))
    assert report.ok and report.runs == ["imdb-sample/projector"]

    # final's bookmark: a click colours the tokens by sentiment, which the layout lays out as a gradient
    projector = logs / "imdb-sample" / "projector"
    state = json.loads((projector / "final.bookmarks.json").read_text())[0]
    assert (state["selectedProjection"], state["selectedColorOptionName"]) == ("pca", "sentiment")
    _, rows = parse_metadata((projector / "final.metadata.tsv").read_text(encoding="utf-8"))
    subword = np.array([row[1] == "subword" for row in rows])
    sentiment = np.array([float(row[3]) for row in rows])[subword]
    points = np.array([[point[f"pca-{d}"] for d in range(3)] for point in state["projections"]])[subword]
    fit = np.c_[points, np.ones(len(points))]
    predicted = fit @ np.linalg.lstsq(fit, sentiment, rcond=None)[0]
    assert 1 - np.sum((sentiment - predicted) ** 2) / np.sum((sentiment - sentiment.mean()) ** 2) > 0.5


MIRRORED = textwrap.dedent(
    """
    import argparse, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from training.imdb import options
    parser = argparse.ArgumentParser(prog="projector-train imdb")
    options.add_arguments(parser)
    options.run(parser.parse_args(sys.argv[1:]))
    """
)


def mirrored_job(folder) -> list[Command]:
    """`projector-train imdb --strategy mirrored` over two logical CPUs, on few reviews."""
    reviews = write_aclimdb(folder, FEW_REVIEWS)
    return [Command([sys.executable, "-c", MIRRORED, "--aclimdb", str(reviews), "--logdir", str(folder / "logs"),
                     "--epochs", "2", "--vocab-size", VOCAB_SIZE, "--strategy", "mirrored", "--quiet",
                     "--layout", "none"], cwd=ROOT)]


@pytest.mark.early("mirrored_job")
def test_mirrored_strategy_over_two_cpus_trains_and_exports(early):
    folder, (done,) = early
    logs = folder / "logs"
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MirroredStrategy: 2 replicas" in done.stdout
    assert "on 2 replicas" in done.stdout
    assert len(EPOCH_LINE.findall(done.stdout)) == 2
    shapes = dict(tf.train.list_variables(str(logs / "imdb" / "projector")))
    names = sorted(shapes)
    assert names == ["final", "snapshot-epoch-01", "snapshot-epoch-02"]
    reader = tf.train.load_checkpoint(str(logs / "imdb" / "projector"))
    first, last = (reader.get_tensor(name) for name in names[1:])
    assert first.shape[1] == EMBEDDING_DIM and not np.array_equal(first, last)
    assert validate(str(logs)).ok


WORKER = textwrap.dedent(
    """
    import argparse, sys
    from training.imdb import options
    parser = argparse.ArgumentParser(prog="projector-train imdb")
    options.add_arguments(parser)
    options.run(parser.parse_args(sys.argv[1:]))
    """
)


def multiworker_job(folder) -> list[Command]:
    """`projector-train imdb --strategy multiworker` in two worker processes, on few reviews."""
    reviews = write_aclimdb(folder, FEW_REVIEWS)
    chosen, lock = [], threading.Lock()

    def environment(index: int) -> dict[str, str]:
        with lock:  # the two workers' ports, chosen as the first starts
            if not chosen:
                chosen.append({"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]})
        return dict(os.environ, TF_CONFIG=json.dumps({"cluster": chosen[0], "task": {"type": "worker", "index": index}}))

    return [
        Command([sys.executable, "-c", WORKER, "--aclimdb", str(reviews), "--logdir", str(folder / "logs"),
                 "--epochs", "2", "--vocab-size", VOCAB_SIZE, "--strategy", "multiworker", "--quiet",
                 "--layout", "pca"], cwd=ROOT, env=functools.partial(environment, index))
        for index in range(2)
    ]


@pytest.mark.early("multiworker_job")
def test_multiworker_strategy_trains_across_two_workers(early):
    folder, workers = early
    logs = folder / "logs"
    for worker in workers:
        assert worker.returncode == 0, worker.stderr[-3000:]
    chief, other = (worker.stdout for worker in workers)
    assert "MultiWorkerMirroredStrategy: 2 replicas" in chief
    # Both workers trained the one model: the same metrics, epoch after epoch.
    assert EPOCH_LINE.findall(chief) == EPOCH_LINE.findall(other) and len(EPOCH_LINE.findall(chief)) == 2
    assert "not the chief" in other and "tensorboard --logdir" in chief
    assert "bookmark:   a 3-D PCA" in chief and "bookmark" not in other  # the chief alone lays out
    report = validate(str(logs))
    assert report.ok and report.runs == ["imdb/projector"]


def test_without_data_or_network_it_says_what_to_pass_at_once(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    start = time.monotonic()
    with pytest.raises(ProjectorExportError) as error:
        train("--data-dir", str(tmp_path / "empty"), "--logdir", str(tmp_path / "logs"))
    assert time.monotonic() - start < 30
    message = str(error.value)
    assert "--aclimdb PATH" in message and "--data-dir" in message and "aclImdb_v1.tar.gz" in message
    assert message.endswith("or see the whole pipeline at once on generated reviews with --sample")
    assert not (tmp_path / "logs" / "imdb").exists()


def test_the_archive_reads_as_its_extracted_folder(aclimdb, tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    (tmp_path / "unsup").mkdir()
    (tmp_path / "unsup" / "0_0.txt").write_text("not labelled", encoding="utf-8")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(aclimdb, arcname="aclImdb")
        tar.add(tmp_path / "unsup", arcname="aclImdb/train/unsup")
    from_archive = read_aclimdb(str(archive))
    for folder in (aclimdb, aclimdb.parent):
        from_folder = read_aclimdb(str(folder))
        for archived, extracted in zip(from_archive, from_folder):
            assert archived.texts == extracted.texts
            np.testing.assert_array_equal(archived.labels, extracted.labels)
    train_split, test_split = from_archive
    assert (len(train_split), len(test_split)) == (600, 100)
    assert sorted(Counter(train_split.labels.tolist()).items()) == [(0, 300), (1, 300)]
    assert "wonderful" in " ".join(train_split.texts[300:]) and "not labelled" not in train_split.texts

    with pytest.raises(ProjectorExportError, match=r"train/pos/\*\.txt"):
        read_aclimdb(str(aclimdb / "train"))


def test_batches_hold_every_review_once_padded_to_a_few_widths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 300, size=103)
    reviews = [rng.integers(1, 50, size=n).astype(np.int32) for n in lengths]
    tokens = Tokens(np.concatenate(reviews), lengths.astype(np.int64), (np.arange(103) % 2).astype(np.float32))
    dataset = make_dataset(tokens, 10, shuffle=True, seed=0, window_batches=5)  # windows of 50, 50 and 3 reviews
    expected = sorted((tuple(r.tolist()), float(label)) for r, label in zip(reviews, tokens.labels))
    orders = []
    for _ in range(2):
        seen, padded, real = [], 0, 0
        batches = list(dataset)
        assert len(batches) == len(dataset) == 11
        for ids, labels in batches:
            ids = ids.numpy()
            assert ids.shape[1] in bucket_widths(300)
            padded += ids.size
            for row, label in zip(ids, labels.numpy()):
                kept = row[row != 0]
                assert (row[len(kept):] == 0).all()  # padding only at the end
                seen.append((tuple(kept.tolist()), float(label)))
                real += len(kept)
        assert sorted(seen) == expected
        assert sorted(len(ids) for ids, _ in batches) == [3] + [10] * 10
        assert real / padded > 0.6  # batching by length: mostly tokens, little padding
        orders.append(seen)
    assert orders[0] != orders[1]  # a new order each epoch


def test_batches_come_without_an_autotuning_thread_that_deleting_them_waits_for():
    """An autotuned iterator's model thread sleeps up to 60 s between optimisations, and in
    TensorFlow 2.21 deleting the iterator can wait out that sleep (the cancellation wakes it
    before it is marked done). It stalled test runs by minutes, whenever the garbage collector
    freed an earlier run's iterators. `benchmarks/iterator_deletion.py` times both kinds."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, size=30).astype(np.int64)
    tokens = Tokens(rng.integers(1, 50, size=int(lengths.sum())).astype(np.int32), lengths,
                    (np.arange(30) % 2).astype(np.float32))
    for dataset in (make_dataset(tokens, 8, shuffle=True, seed=0, token_dropout=0.2), make_dataset(tokens, 64)):
        repeated = dataset.repeat()  # as training.loop draws all epochs from one iterator
        assert repeated.options().autotune.enabled is False
        iterator = iter(repeated)
        ids, labels = next(iterator)
        assert ids.shape[0] == labels.shape[0] > 0  # AUTOTUNE's map and prefetch still run


def test_the_command_line_options_need_no_tensorflow():
    code = (
        "import argparse, sys\n"
        "from training.imdb import options\n"
        "parser = argparse.ArgumentParser(); options.add_arguments(parser)\n"
        "args = parser.parse_args(['--epochs', '3', '--strategy', 'mirrored'])\n"
        "assert (args.epochs, args.batch_size, args.vocab_size, args.strategy) == (3, 10, None, 'mirrored')  # vocab_size None: 8192, or 2000 with --sample\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TensorFlow'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_padding_does_not_count_in_the_average():
    keras.utils.set_random_seed(0)
    model = build_model(50)
    review = np.array([[5, 9, 12]], dtype=np.int32)
    padded = np.array([[5, 9, 12, 0, 0, 0, 0, 0]], dtype=np.int32)
    np.testing.assert_allclose(model(padded), model(review), rtol=1e-6)
    vectors = model.get_layer("embedding").embeddings.numpy()
    head = keras.Sequential([model.get_layer("hidden"), model.get_layer("logit")])
    np.testing.assert_allclose(model(padded), head(vectors[[5, 9, 12]].mean(axis=0, keepdims=True)), rtol=1e-5)


def test_training_batches_hold_a_random_part_of_each_review():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 120, size=60)
    # review r holds the ids 1000 r + 1, 1000 r + 2, ...: each kept id names its review and place
    ids = np.concatenate([1000 * r + np.arange(1, n + 1) for r, n in enumerate(lengths)]).astype(np.int32)
    tokens = Tokens(ids, lengths.astype(np.int64), (np.arange(60) % 2).astype(np.float32))

    def parts(dataset):
        seen = {}
        for batch, labels in dataset:
            assert batch.shape[1] in bucket_widths(120)
            for row, label in zip(batch.numpy(), labels.numpy()):
                kept = row[row != 0]
                assert (row[len(kept):] == 0).all()  # the kept tokens first, then padding
                review = int(kept[0]) // 1000
                assert label == review % 2 and (kept // 1000 == review).all()
                assert (np.diff(kept) > 0).all()  # in the review's order
                seen[review] = tuple(kept.tolist())
        return seen

    dataset = make_dataset(tokens, 10, shuffle=True, seed=0, token_dropout=0.5)
    first, second = parts(dataset), parts(dataset)
    assert sorted(first) == list(range(60))  # every review, with at least one token
    kept = sum(map(len, first.values())) / lengths.sum()
    assert 0.4 < kept < 0.6
    assert first != second  # other parts every epoch
    assert parts(make_dataset(tokens, 10, shuffle=True, seed=0, token_dropout=0.5)) == first  # the seed's parts
    whole = parts(make_dataset(tokens, 10))  # scoring: every token
    assert all(len(whole[r]) == lengths[r] for r in range(60))


@pytest.mark.parametrize(
    ("argv", "flag_message", "parameter_message"),
    [
        (["--epochs", "0"], "--epochs 0: train for at least 1 epoch", "`epochs=0`"),
        (["--token-dropout", "1"], "--token-dropout 1.0: use a share from 0", "`token_dropout=1.0`"),
        (["--vocab-size", "10"], "--vocab-size 10: the vocabulary needs room", "`vocab_size=10`"),
        (["--aclimdb", "no-such-archive"], "--aclimdb no-such-archive: no such file or folder", "`aclimdb=no-such-archive`"),
        (["--seed", "-5"], "--seed -5: use a whole number from 0 to 4294967295", "`seed=-5`"),
    ],
)
def test_bad_options_are_refused_at_once_by_flag_on_the_command_line_and_by_parameter_in_python(
    argv, flag_message, parameter_message, tmp_path, capsys
):
    from training import cli
    from training.imdb.job import train_imdb

    assert cli.main(["imdb", *argv, "--logdir", str(tmp_path / "logs")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"projector-train imdb: error: {flag_message}") and err.count("\n") == 1
    parameters = {"epochs": int, "token_dropout": float, "vocab_size": int, "aclimdb": str, "seed": int}
    name = argv[0][2:].replace("-", "_")
    with pytest.raises(ProjectorExportError, match=re.escape(parameter_message)):
        train_imdb(**{name: parameters[name](argv[1])}, logdir=str(tmp_path / "logs"))
    assert not (tmp_path / "logs").exists()
