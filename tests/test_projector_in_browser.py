"""What a person sees: the Projector tab in headless Chromium over runs the project wrote."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest

from early import Command, python_here
from projector_export import ProjectorCallback, export_embedding, read_embedding
from checkpoints import write_raw_checkpoint
from projector_export.cli import main
from projector_page import ProjectorPage
from reviews import write_aclimdb

# Every page here is over the log dir that `trained_runs` writes early (the other runs are added to it).
pytestmark = pytest.mark.early("trained_runs")


def write_trained_runs(logs: str) -> None:
    """The colour runs, an IMDB run and a ProjectorCallback run, trained small into `logs`."""
    from training.colours.job import train_colours
    from training.imdb.job import train_imdb

    # no clusters (their own browser test has them): each process's first UMAP compiles for ~10 s
    train_colours((2, 3), pairs=20_000, epochs=2, logdir=logs, verbose=0, clusters=False)
    aclimdb = write_aclimdb(Path(logs).parent / "reviews", {"train": 100, "test": 20})
    train_imdb(aclimdb=str(aclimdb), epochs=2, logdir=logs, vocab_size=400, verbose=0, layout="none", clusters=False)
    fit_with_projector_callback(Path(logs) / "keras-model", epochs=3)


def trained_runs(folder) -> list[Command]:
    """`write_trained_runs(folder/logs)` in a child process (~15 s of training)."""
    return [python_here("-c", f"from test_projector_in_browser import write_trained_runs; "
                              f"write_trained_runs({str(folder / 'logs')!r})")]


@pytest.fixture(scope="module")
def server(start_tensorboard, early_jobs):
    """The module's TensorBoard, started before its runs are written so that the two overlap."""
    return start_tensorboard(early_jobs.folder("test_projector_in_browser.trained_runs") / "logs")


@pytest.fixture(scope="module")
def projector(server, browser, early_jobs):
    """A page over runs of every kind: exported (labels, word2vec) and trained (`trained_runs`, run early)."""
    rng = np.random.default_rng(3)
    logs = Path(server.logdir)
    words = ["", " ", "tab\there", "new\nline", "\r"] + [f"w{i}" for i in range(195)]
    export_embedding(logs / "labels", rng.normal(size=(200, 6)), words, sprite=rng.random((200, 3)))
    lines = ["50 3"] + [f"word{i} " + " ".join(str(v) for v in rng.normal(size=3)) for i in range(50)]
    (logs.parent / "w2v.txt").write_text("\n".join(lines) + "\n")
    assert main(["export", str(logs.parent / "w2v.txt"), "--logdir", str(logs), "--run", "word2vec"]) == 0
    _, (trained,) = early_jobs.wait("test_projector_in_browser.trained_runs")
    assert trained.returncode == 0, trained.stderr[-3000:]
    server.wait_for_runs(
        {"labels", "word2vec", "colours-2d/projector", "colours-3d/projector", "imdb/projector", "keras-model/projector"}
    )
    page = ProjectorPage(browser, server.url)
    page.imdb_rows = read_embedding(str(logs / "imdb" / "projector")).vectors.shape[0]  # the vocabulary's size
    page.first_view = page.show()  # as the page opens, nothing selected
    page.logs = logs
    yield page
    page.page.close()


def fit_with_projector_callback(log_dir, epochs):
    """A small Keras model fitted with ProjectorCallback, as a user would."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,), dtype="int32"), keras.layers.Embedding(30, 4, name="words"),
         keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    callback = ProjectorCallback(str(log_dir), metadata=[f"word{i}" for i in range(30)])
    model.fit(rng.integers(0, 30, (64, 4)), rng.normal(size=(64, 1)), epochs=epochs, verbose=0, callbacks=[callback])
    return callback


@pytest.mark.parametrize(
    "run, tensor, points, dimension, sprite",
    [
        ("labels", "embedding", 200, 6, (15 * 16, 15 * 16)),
        ("word2vec", "embedding", 50, 3, None),
        ("colours-2d/projector", "final", 550, 3, (24 * 16, 24 * 16)),  # a zero third column
        ("colours-3d/projector", "final", 550, 3, (24 * 16, 24 * 16)),
        ("colours-3d/projector", "snapshot-epoch-00", 550, 3, (24 * 16, 24 * 16)),
        ("imdb/projector", "final", "vocabulary", 16, None),
        ("imdb/projector", "snapshot-epoch-01", "vocabulary", 16, None),
    ],
)
def test_page_shows_every_point_with_its_label_and_sprite(projector, run, tensor, points, dimension, sprite):
    if points == "vocabulary":
        points = projector.imdb_rows  # padding, the subwords of the vocabulary built here, 256 bytes
    shown = projector.show(run, tensor)
    path = projector.screenshot(f"browser-{run.replace('/', '-')}-{tensor}")
    print(f"screenshot of run {run!r}: {path}")
    assert (shown.points, shown.dimension) == (points, dimension)
    assert shown.errors == []
    assert re.fullmatch(r"Total variance described: \d+\.\d%\.", shown.variance)  # the points are drawn
    assert shown.sprite == sprite
    if run == "labels":
        assert shown.first_labels == ["(empty)", "\\s", "tab\\there", "new\\nline", "\\r"]
    if run.startswith("colours"):
        from training.colours.data import load_colours

        assert shown.first_labels == list(load_colours()["name"][:5])
        assert {"r", "g", "b"} <= set(shown.colour_options)  # "Color by" offers numbers and few-valued columns
    if run == "imdb/projector":
        assert shown.first_labels[0] == "<pad>"
        assert {"kind", "count", "sentiment"} <= set(shown.colour_options)
        assert projector.colour_by("sentiment") == "sentiment"
        assert projector.show(run, tensor).errors == []
        projector.screenshot(f"browser-imdb-{tensor}-by-sentiment")


TRAINED = {
    "colours-2d/projector": "final", "colours-3d/projector": "final", "imdb/projector": "final",
    "keras-model/projector": "words",  # ProjectorCallback: the layer's latest weights, under its name
}


@pytest.mark.parametrize("run, trained", TRAINED.items())
def test_each_run_opens_on_the_trained_embedding_and_lists_the_rest_in_training_order(projector, run, trained):
    """Choosing only the run, as a person does: the data panel picks the tensor itself."""
    from projector_export.format.config import read_config

    if run == projector.first_view.run:
        shown = projector.first_view  # the page's own first choice, before anything was clicked
    else:
        shown = projector.show(run)
    projector.screenshot(f"browser-first-view-{run.replace('/', '-')}")
    written = [e.tensor_name for e in read_config(str(projector.logs / run)).embeddings]  # trained, then in training order
    assert shown.tensor == trained
    assert shown.tensors == written and written[0] == trained and len(written) > 2
    assert all("/" not in name for name in shown.tensors)  # the names given, not checkpoint paths
    if run == "keras-model/projector":
        assert shown.tensors == ["words", "words-epoch-001", "words-epoch-002", "words-epoch-003"]


def test_the_page_opens_on_a_trained_embedding(projector):
    """Whichever run TensorBoard lists first, the page opens on its trained tensor."""
    first = projector.first_view
    assert first.tensor == {**TRAINED, "labels": "embedding", "word2vec": "embedding"}[first.run]
    assert first.errors == [] and re.fullmatch(r"Total variance described: \d+\.\d%\.", first.variance)


@pytest.fixture(scope="module")
def broken(server, browser):
    """A page over runs that others might write: raw labels, a raw two-column checkpoint, and ours,
    added to the module's log dir once the tests of `projector` (whose page opened before) are done."""
    logs = Path(server.logdir)
    export_embedding(logs / "raw-labels", np.ones((10, 2)), [f"r{i}" for i in range(10)])
    (logs / "raw-labels" / "embedding.metadata.tsv").write_text("".join(f"r{i}\n" for i in range(9)).replace("r4", " "))
    vectors = np.random.default_rng(0).normal(size=(30, 2))
    export_embedding(logs / "ours", vectors)
    export_embedding(logs / "raw", np.c_[vectors, vectors])  # then the checkpoint as others write it:
    for path in (logs / "raw").glob("embeddings.ckpt*"):
        path.unlink()
    write_raw_checkpoint(str(logs / "raw"), {"embedding": vectors.astype(np.float32)})
    server.wait_for_runs({"raw-labels", "ours", "raw"})
    page = ProjectorPage(browser, server.url)
    yield page
    page.page.close()


def test_page_reports_what_raw_labels_break(broken):
    """The check above can fail: a blank raw label makes the projector refuse the metadata."""
    shown = broken.show("raw-labels", "embedding")
    broken.screenshot("browser-raw-labels")
    assert any("Number of tensors (10) do not match the number of lines in metadata (8)" in e for e in shown.errors)


def test_page_draws_no_point_of_a_two_column_tensor_but_of_our_export(broken):
    """Why 2-column vectors are stored with a zero third column: the 3-D PCA view gets NaN."""
    raw = broken.show("raw", "embedding")
    broken.screenshot("browser-raw-two-columns")
    ours = broken.show("ours", "embedding")
    assert (raw.points, raw.dimension, raw.variance) == (30, 2, "Total variance described: NaN%.")
    assert (ours.points, ours.dimension, ours.variance) == (30, 3, "Total variance described: 100.0%.")
