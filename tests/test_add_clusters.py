"""Named clusters added to a run: the `cluster` column TensorBoard serves, a bookmark per cluster that
selects exactly its points, re-running replaces them, and nothing of the user's is overwritten."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blobs import noisy_blobs
from conftest import require_layout_libraries
from projector_export import Embedding, ProjectorExportError, add_clusters, export_embedding, export_embeddings, validate
from projector_export.cli import main
from projector_export.format.metadata import parse_metadata, unescape_label
from projector_export import read_embedding
from test_safety import one_error_line, snapshot

ROWS = 1500


@pytest.fixture(scope="module")
def blobs():
    require_layout_libraries()
    vectors, truth = noisy_blobs(rows=ROWS, dims=16, blobs=4, seed=3)
    table = {"word": [f"w{i}" for i in range(ROWS)], "count": [str(1 + i % 7) for i in range(ROWS)],
             "score": [f"{t / 4:.2f}" for t in truth]}
    return vectors, truth, table


@pytest.fixture
def run(tmp_path, blobs):
    vectors, _, table = blobs
    path = tmp_path / "logs" / "run"
    export_embedding(path, vectors, table, name="final", layouts=["pca"])
    return path


def metadata_of(run, tensor="final"):
    """The tensor's metadata as the projector reads it: (columns, rows of unescaped cells)."""
    found = read_embedding(str(run), tensor)
    header, rows = parse_metadata(found.metadata_text)
    return header, [[unescape_label(cell) for cell in row] for row in rows]


def states_of(run, tensor="final"):
    return json.loads((run / f"{tensor}.bookmarks.json").read_text())


def test_the_clusters_become_a_column_and_a_bookmark_each_selecting_exactly_their_points(run, blobs):
    _, truth, table = blobs
    result = add_clusters(run, seed=0)
    assert result.clusters == 4 and result.tensor == "final"
    # the column, as the projector reads the metadata: the old columns unchanged, the cluster names after them
    header, rows = metadata_of(run)
    assert header == ["word", "count", "score", "cluster"]
    assert [row[:3] for row in rows] == [list(cells) for cells in zip(*table.values())]
    column = [row[3] for row in rows]
    assert column == [result.names[i] if i >= 0 else "(no cluster)" for i in result.ids]
    assert len(set(column)) <= 50  # the page offers "Color by" only for up to 50 values of text
    # found clusters match the true blobs on the points both call clustered
    from sklearn.metrics import adjusted_rand_score

    both = (result.ids >= 0) & (truth >= 0)
    assert adjusted_rand_score(truth[both], result.ids[both]) > 0.9
    # a bookmark per cluster, after the PCA layout it reuses; each selects its cluster's points, coloured by cluster
    states = states_of(run)
    assert [state["projectorExport"]["method"] for state in states] == ["pca"] + ["clusters"] * 4
    for state, name in zip(states[1:], result.names):
        cluster = result.names.index(name)
        assert set(state["selectedPoints"]) == set(np.flatnonzero(result.ids == cluster).tolist())
        assert len(state["selectedPoints"]) == int((result.ids == cluster).sum())
        assert state["selectedColorOptionName"] == "cluster"
        assert state["label"] == f"cluster: {name} ({len(state['selectedPoints']):,} points)"
        assert state["projections"][0]["pca-0"] == states[0]["projections"][0]["pca-0"]  # the layout's own points
    assert validate(str(run.parent)).ok
    # the table: largest first, with the mean of each numeric column; the noise last
    sizes = [row.size for row in result.table if row.ids != (-1,)]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) + result.noise == ROWS
    assert set(result.table[0].means) == {"count", "score"}


def test_running_again_replaces_the_column_and_its_bookmarks_and_keeps_the_rest(run):
    from projector_export import Layout, add_layout

    first = add_clusters(run, seed=0)
    add_layout(run, Layout("pca", dims=2))  # another bookmark, after the cluster ones
    second = add_clusters(run, seed=1, min_size=40)
    header, rows = metadata_of(run)
    assert header.count("cluster") == 1 and len(rows) == ROWS
    labels = [s["label"] for s in states_of(run)]
    assert [label.split(" of ")[0] for label in labels[:2]] == ["PCA (3-D)", "PCA (2-D)"]
    assert len(labels) == 2 + second.bookmarks and all(label.startswith("cluster: ") for label in labels[2:])
    assert first.clusters >= 1 and validate(str(run.parent)).ok


def test_a_bookmarks_file_a_user_changed_is_theirs_and_stops_the_clusters(run):
    states = states_of(run)
    (run / "final.bookmarks.json").write_text(json.dumps(states + [dict(states[0], label="my own view")]))
    before = snapshot(run.parent)
    with pytest.raises(ProjectorExportError, match=r"the bookmarks file was changed since projector-export wrote it"):
        add_clusters(run, seed=0)
    assert snapshot(run.parent) == before


def test_a_cluster_column_of_the_users_is_never_overwritten(tmp_path, blobs):
    vectors, truth, table = blobs
    run = tmp_path / "run"
    export_embedding(run, vectors, {**table, "cluster": [str(t) for t in truth]}, name="final")
    before = snapshot(tmp_path)
    with pytest.raises(ProjectorExportError, match="already has a column 'cluster' that projector-export did not write"):
        add_clusters(run, seed=0)
    assert snapshot(tmp_path) == before


def test_snapshots_sharing_the_metadata_keep_theirs(tmp_path, blobs):
    vectors, _, table = blobs
    run = tmp_path / "run"
    export_embeddings(run, [Embedding(vectors, table, name="final"), Embedding(vectors * 0.5, table, name="epoch-1")])
    assert "cluster" not in metadata_of(run, "epoch-1")[0]
    add_clusters(run, seed=0)
    assert metadata_of(run, "final")[0][-1] == "cluster"
    assert metadata_of(run, "epoch-1")[0] == ["word", "count", "score"]  # its own file, unchanged
    assert validate(str(tmp_path)).ok


def test_the_command_prints_the_table_and_writes_labels_with_clusters(run, tmp_path, capsys):
    out = tmp_path / "clusters.tsv"
    assert main(["clusters", str(run), "--seed", "0", "--out", str(out), "--bookmarks", "2"]) == 0
    printed = capsys.readouterr().out
    assert "4 clusters of tensor 'final'" in printed
    assert printed.splitlines()[1].split() == ["size", "count", "score", "cluster"]
    assert "and 2 bookmarks, one a cluster" in printed
    lines = out.read_text().splitlines()
    assert lines[0] == "label\tcluster" and len(lines) == ROWS + 1 and lines[1].startswith("w0\t")
    assert len([s for s in states_of(run) if s["label"].startswith("cluster: ")]) == 2
    # the file layer's rules hold for --out too
    assert main(["clusters", str(run), "--seed", "0", "--out", str(out)]) == 1
    assert "--force" in one_error_line(capsys.readouterr().err)


def test_validate_reports_a_cluster_bookmark_selecting_points_the_page_lacks(run):
    add_clusters(run, seed=0, bookmarks=1)
    states = states_of(run)
    states[-1]["selectedPoints"] = [0, ROWS]
    (run / "final.bookmarks.json").write_text(json.dumps(states))
    report = validate(str(run.parent))
    assert not report.ok and f"selects point {ROWS}" in str(report)
