"""Layouts of every point: `projector-export layout`, `add_layout` and `layouts=`, read back through TensorBoard."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from clusters import clustered_matrix, knn_preservation
from conftest import require_layout_libraries
from projector_export import Embedding, Layout, ProjectorExportError, add_layout, export_embedding, export_embeddings
from projector_export import validate
from projector_export.cli import main
from projector_export.files.records import RECORD_FILENAME

ROWS = 1200


@pytest.fixture(scope="module")
def words(tmp_path_factory):
    """A run of two tensors: `final` (clustered, labelled) and `start` (random)."""
    vectors, clusters = clustered_matrix(ROWS, 20, clusters=12, seed=1)
    table = {"word": [f"w{i}" for i in range(ROWS)], "cluster": [str(c) for c in clusters]}
    logs = tmp_path_factory.mktemp("logs")
    rng = np.random.default_rng(0)
    export_embeddings(logs / "words", [
        Embedding(vectors, table, name="final"),
        Embedding(rng.normal(size=(ROWS, 20)), table, name="start"),
    ])
    return logs, vectors, table


@pytest.fixture(scope="module")
def with_umap(words, tmp_path_factory):
    """The run after `projector-export layout RUN --method umap --seed 0 --out coords.tsv`."""
    require_layout_libraries()
    logs, vectors, table = words
    out = tmp_path_factory.mktemp("out") / "coords.tsv"
    before = files_of(logs / "words")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["layout", str(logs / "words"), "--method", "umap", "--seed", "0", "--out", str(out)])
    assert code == 0
    return logs, vectors, table, out, before, printed.getvalue()


@pytest.fixture(scope="module")
def server(with_umap, start_tensorboard):
    """One TensorBoard over the module's log dir, started once the UMAP is in."""
    server = start_tensorboard(with_umap[0])
    server.wait_for_runs({"words"})
    return server


def files_of(run) -> dict[str, bytes]:
    """The run's files by name, the checkpoint's under its number-free suffix (`.index`, `.data-...`)."""
    return {
        name.split("-", 1)[1].split(".", 1)[1] if name.startswith("embeddings.ckpt-") else name: (run / name).read_bytes()
        for name in os.listdir(run)
        if name not in ("checkpoint", "projector_config.pbtxt", RECORD_FILENAME) and not name.endswith(".bookmarks.json")
    }


def bookmarks(server, run="words", name="final") -> list[dict]:
    return json.loads(server.get("bookmarks", run=run, name=name))


def test_layout_command_adds_a_umap_of_every_point_that_tensorboard_serves(with_umap, server):
    logs, vectors, table, out, _, printed = with_umap
    assert "added bookmark 'UMAP (3-D) of all 1,200 points, n_neighbors 15, min_dist 0.1' to tensor 'final'" in printed
    assert f"tensorboard --logdir {logs}" in printed
    (state,) = bookmarks(server)
    assert state["selectedProjection"] == "umap" and state["umapIs3d"] is True
    points = state["projections"]
    assert len(points) == ROWS
    assert set(points[0]) == {"umap-0", "umap-1", "umap-2"} | {f"pca-{d}" for d in range(10)}
    layout = np.array([[p["umap-0"], p["umap-1"], p["umap-2"]] for p in points])
    # neighbourhoods are kept: a random layout keeps 0.009 of them, the 3 top principal components 0.19
    assert knn_preservation(vectors, layout) > 0.35
    # the TSV holds the same coordinates, then the metadata columns
    lines = out.read_text().splitlines()
    assert lines[0] == "x\ty\tz\tword\tcluster"
    assert len(lines) == ROWS + 1
    first = lines[1].split("\t")
    assert np.float32(first[0]) == np.float32(points[0]["umap-0"])
    assert first[3:] == [table["word"][0], table["cluster"][0]]
    assert validate(str(logs)).ok


def test_pca_values_match_the_projectors_own_pca(with_umap):
    """The PCA tab draws the stored pca-* values after a click: they are the page's PCA (uncentred, 16 < 50 dims)."""
    logs, vectors, _, _, _, _ = with_umap
    (state,) = json.loads((logs / "words" / "final.bookmarks.json").read_text())
    stored = np.array([[p[f"pca-{d}"] for d in range(3)] for p in state["projections"]])
    _, _, right = np.linalg.svd(vectors.astype(np.float64), full_matrices=False)
    expected = vectors @ right[:3].T
    for d in range(3):  # the same components, up to sign
        assert abs(np.corrcoef(stored[:, d], expected[:, d])[0, 1]) > 0.9999


def test_rerunning_a_method_replaces_its_bookmark_and_keeps_the_rest(with_umap, tmp_path):
    words, _, _, _, before, _ = with_umap
    logs = tmp_path / "logs"
    run = logs / "words"
    shutil.copytree(words / "words", run)
    add_layout(str(run), "pca")
    add_layout(str(run), Layout("pca", dims=2))
    add_layout(str(run), Layout("pca"))  # again: replaces the first
    states = json.loads((run / "final.bookmarks.json").read_text())
    labels = [state["label"] for state in states]
    assert [label.split(" of ")[0] for label in labels] == ["UMAP (3-D)", "PCA (3-D)", "PCA (2-D)"]
    # the other tensor and the metadata are untouched; the checkpoint number went up with each write
    config = (run / "projector_config.pbtxt").read_text()
    assert config.count("bookmarks_path") == 1
    assert files_of(run) == before
    assert (run / "checkpoint").read_text().startswith('model_checkpoint_path: "embeddings.ckpt-5"')
    assert os.listdir(logs) == ["words"]  # no staging folder left
    assert validate(str(logs)).ok


def test_a_2d_tsne_keeps_neighbourhoods_and_is_shown_in_the_custom_view(laid_out):
    """The session's one 2-D t-SNE (`laid_out`): openTSNE's FFT gradient costs ~15 CPU-s even for 1,000 points."""
    tsne = laid_out.bookmarks()[1]
    assert tsne["label"] == "t-SNE (2-D) of all 6,000 points, perplexity 30; computed once, shown in the Custom view"
    assert tsne["selectedProjection"] == "custom"  # a `tsne` bookmark would restart t-SNE in the page
    layout = np.array([[p["linear-x"], p["linear-y"]] for p in tsne["projections"]])
    # a random layout keeps 0.002 of the neighbourhoods, the 2 top principal components 0.07
    assert knn_preservation(laid_out.vectors, layout) > 0.35


def test_a_3d_tsne_is_stored_under_the_umap_tabs_keys(tmp_path):
    """The Custom view is 2-D; in 3-D the UMAP tab is the view that shows stored points as they are."""
    require_layout_libraries()
    vectors, _ = clustered_matrix(150, 8, clusters=4)
    export_embedding(tmp_path / "run", vectors, name="final", layouts=[Layout("tsne", dims=3, perplexity=10)])
    (state,) = json.loads((tmp_path / "run" / "final.bookmarks.json").read_text())
    assert state["label"].endswith("perplexity 10; computed once, shown in the UMAP tab")
    assert (state["selectedProjection"], state["umapIs3d"]) == ("umap", True)
    assert {"umap-0", "umap-1", "umap-2", "pca-0"} <= set(state["projections"][0])
    assert validate(str(tmp_path)).ok


def test_a_running_tensorboard_offers_a_new_bookmark(server):
    logs = Path(server.logdir)
    vectors, _ = clustered_matrix(300, 8, clusters=5)
    export_embedding(logs / "run", vectors, name="final")
    server.wait_for_runs({"run"})
    assert "bookmarks_path" not in (logs / "run" / "projector_config.pbtxt").read_text()
    assert server.info("run")["embeddings"][0].get("bookmarksPath", "") == ""
    add_layout(str(logs / "run"), "pca")
    for _ in range(60):  # TensorBoard re-reads the config once the checkpoint path changes
        if server.info("run")["embeddings"][0].get("bookmarksPath"):
            break
        time.sleep(0.5)
    assert [s["label"].split(", exact")[0] for s in bookmarks(server, "run")] == ["PCA (3-D) of all 300 points"]


def test_export_with_layouts_and_what_a_reexport_keeps(tmp_path, caplog):
    vectors, _ = clustered_matrix(400, 12, clusters=6)
    labels = [f"p{i}" for i in range(400)]
    run = tmp_path / "run"
    result = export_embedding(run, vectors, labels, name="final", layouts=["pca", Layout("pca", dims=2)])
    states = json.loads((run / "final.bookmarks.json").read_text())
    assert [s["label"].split(" of ")[0] for s in states] == ["PCA (3-D)", "PCA (2-D)"]
    assert states[0]["selectedLabelOption"] == "label"  # one column: the page names it `label`
    assert result.tensors[0].name == "final"
    # same vectors, new labels: the layouts still show these vectors, so they stay
    export_embedding(run, vectors, [f"q{i}" for i in range(400)], name="final")
    assert len(json.loads((run / "final.bookmarks.json").read_text())) == 2
    # new vectors: the old layouts would show the old vectors, so they go, with a warning
    with caplog.at_level(logging.WARNING):
        export_embedding(run, vectors * 2 + 1, labels, name="final")
    assert "has new vectors, so its 2 old bookmarks" in caplog.text
    assert not (run / "final.bookmarks.json").exists()
    assert "bookmarks_path" not in (run / "projector_config.pbtxt").read_text()


def test_a_bookmark_says_what_to_colour_and_label_the_points_by(tmp_path):
    vectors, clusters = clustered_matrix(300, 8, clusters=4)
    table = {
        "word": [f"w{i}" for i in range(300)],
        "kind": [f"k{c}" for c in clusters],  # 4 texts: the page colours each
        "constant": ["1"] * 300,  # numbers, but one value: nothing to see
        "score": [f"{v:.3f}" for v in vectors[:, 0]],  # numbers that differ: a gradient
    }
    export_embedding(tmp_path / "run", vectors, table, name="final", layouts=["pca"])
    (state,) = json.loads((tmp_path / "run" / "final.bookmarks.json").read_text())
    assert (state["selectedColorOptionName"], state["selectedLabelOption"]) == ("score", "word")

    add_layout(str(tmp_path / "run"), Layout("pca", dims=2, color_by="kind", label_by="kind"))
    states = json.loads((tmp_path / "run" / "final.bookmarks.json").read_text())
    assert [(s["selectedColorOptionName"], s["selectedLabelOption"]) for s in states] == [
        ("score", "word"), ("kind", "kind")
    ]
    # a sprite shows its own colours only without a colour map
    colours = np.random.default_rng(0).integers(0, 256, size=(300, 3), dtype=np.uint8)
    export_embedding(tmp_path / "swatches", vectors, table, name="final", sprite=colours, layouts=["pca"])
    (state,) = json.loads((tmp_path / "swatches" / "final.bookmarks.json").read_text())
    assert state["selectedColorOptionName"] == "No color map"
    # nothing to colour by: the field is left out, and the page keeps its choice
    export_embedding(tmp_path / "words", vectors, table["word"], name="final", layouts=["pca"])
    (state,) = json.loads((tmp_path / "words" / "final.bookmarks.json").read_text())
    assert "selectedColorOptionName" not in state and state["selectedLabelOption"] == "label"

    listing = sorted(os.listdir(tmp_path / "run"))
    with pytest.raises(ProjectorExportError, match=r"`color_by=word`: the projector colours by columns of numbers or "
                       r"of at most 50 values, and 'word' has 300 different texts; choose one of kind, constant, score"):
        export_embedding(tmp_path / "run", vectors, table, name="final", layouts=[Layout("pca", color_by="word")])
    with pytest.raises(ProjectorExportError, match=r"`label_by=token` is not a metadata column; the columns are word, kind"):
        add_layout(str(tmp_path / "run"), Layout("pca", label_by="token"))
    assert sorted(os.listdir(tmp_path / "run")) == listing


def test_layout_of_more_rows_than_the_page_loads(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(100_050, 3)).astype(np.float32)
    export_embedding(tmp_path / "big", vectors, name="final")
    result = add_layout(str(tmp_path / "big"), Layout("pca", dims=2))
    assert result.label == "PCA (2-D) of the first 100,000 of 100,050 points (the page loads 100,000), exact: " + (
        result.label.split("exact: ")[1]
    )
    (state,) = json.loads((tmp_path / "big" / "final.bookmarks.json").read_text())
    assert len(state["projections"]) == 100_000 == result.points
    assert validate(str(tmp_path)).ok


def test_bad_settings_are_refused_before_anything_is_written(tmp_path, capsys):
    export_embedding(tmp_path / "run", np.eye(5), name="final")
    listing = sorted(os.listdir(tmp_path / "run"))
    with pytest.raises(ProjectorExportError, match=r"`dims=4`: a layout.s dims must be 2 or 3"):
        Layout("umap", dims=4)
    with pytest.raises(ProjectorExportError, match="must be one of umap, tsne, pca"):
        add_layout(str(tmp_path / "run"), "mds")
    assert main(["layout", str(tmp_path / "run"), "--tensor", "nope", "--method", "pca"]) == 1
    assert "has no tensor 'nope'; it has: final" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "run")) == listing


def test_a_failed_layout_leaves_the_run_as_it_was(tmp_path, monkeypatch):
    export_embedding(tmp_path / "run", np.eye(6), name="final", layouts=["pca"])
    before = {name: (tmp_path / "run" / name).read_bytes() for name in os.listdir(tmp_path / "run")}
    from projector_export.files.staging import Stage

    def broken_write(stage, name, data):
        if name.endswith(".bookmarks.json"):
            raise OSError(28, "No space left on device")
        return original(stage, name, data)

    original = Stage.write
    monkeypatch.setattr(Stage, "write", broken_write)
    with pytest.raises(OSError, match="No space left on device"):
        add_layout(str(tmp_path / "run"), Layout("pca", dims=2))
    after = {name: (tmp_path / "run" / name).read_bytes() for name in os.listdir(tmp_path / "run")}
    assert after == before
    assert os.listdir(tmp_path) == ["run"]


def test_without_the_libraries_layout_says_what_to_install(tmp_path):
    export_embedding(tmp_path / "run", np.eye(6), name="final")
    script = textwrap.dedent(f"""
        import sys
        sys.modules["umap"] = sys.modules["openTSNE"] = None  # as if not installed: importing them fails
        from projector_export.cli import main
        codes = [main(["layout", {str(tmp_path / "run")!r}, "--method", method]) for method in ("umap", "tsne")]
        sys.exit(0 if codes == [1, 1] else 3)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for package in ("umap-learn", "openTSNE"):
        assert f"needs the {package} package, which is not installed" in done.stderr
    assert done.stderr.count('pip install "projector-export[layouts]"') == 2
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "final.bookmarks.json").exists()


def test_validate_reports_bookmarks_the_projector_cannot_load(tmp_path):
    export_embedding(tmp_path / "run", np.random.default_rng(0).normal(size=(20, 4)), name="final", layouts=["pca"])
    path = tmp_path / "run" / "final.bookmarks.json"
    good = json.loads(path.read_text())
    assert validate(str(tmp_path)).ok

    def report_for(states) -> str:
        path.write_text(states if isinstance(states, str) else json.dumps(states))
        return str(validate(str(tmp_path)))

    assert "is not JSON" in report_for("[{")
    missing = [dict(good[0])]
    del missing[0]["selectedPoints"]
    assert "lacks selectedPoints; the projector's loader throws on it" in report_for(missing)
    short = [dict(good[0], projections=good[0]["projections"][:19])]
    assert "has 19 projections but the page loads 20 points" in report_for(short)
    umap = [dict(good[0], selectedProjection="umap", umapIs3d=True)]
    assert "point 0: no number under 'umap-0', which the 'umap' view" in report_for(umap)
    no_pca = [dict(good[0], selectedProjection="custom",
                   projections=[{"linear-x": 1.0, "linear-y": 2.0} for _ in range(20)])]
    assert "stores no pca-* values; after it is clicked the PCA tab draws nothing" in report_for(no_pca)
    tsne = [dict(good[0], selectedProjection="tsne", tSNEis3d=False,
                 projections=[dict(p, **{"tsne-0": 1.0, "tsne-1": 2.0}) for p in good[0]["projections"]])]
    report = report_for(tsne)
    assert "all good" in report and "the projector restarts t-SNE from its coordinates" in report


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_nearest_rows_are_those_of_a_full_sort(metric):
    from projector_export.distances import nearest_rows

    points = np.random.default_rng(3).normal(size=(700, 12)).astype(np.float32)
    points[5] = 0  # no direction: at cosine distance 1 from every other point
    x = points.astype(np.float64)
    if metric == "cosine":
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
        full = 1 - unit @ unit.T
    else:
        full = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(full, -1)
    indices, distances = nearest_rows(points, 8, metric, block_rows=300)  # blocks of 300, 300, 100
    np.testing.assert_array_equal(indices[:, 0], np.arange(700))  # itself first, at distance 0
    assert (distances[:, 0] == 0).all() and (np.diff(distances, axis=1) >= 0).all()
    expected = np.argsort(full, axis=1, kind="stable")[:, :8]
    np.testing.assert_allclose(distances[:, 1:], np.maximum(np.take_along_axis(full, expected, 1), 0)[:, 1:], atol=1e-5)
    agree = (indices[:, 1:] == expected[:, 1:]).mean()
    assert agree > 0.99  # float32 against float64: only near-ties may swap
