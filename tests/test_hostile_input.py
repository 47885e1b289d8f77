"""Issue 19's attacks outside the file layer: hostile bookmarks, symlink loops, stray leftovers,
degenerate layouts, settings out of range, and callback labels that fit no layer.

Each case ends in one line (an error, a problem of `validate`, a warning) or a defined result,
never a traceback, a crash, or memory and time that grow without bound.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from conftest import require_layout_libraries
from projector_export import Layout, ProjectorCallback, ProjectorExportError, export_embedding, validate
from projector_export.format.bookmarks import MAX_JSON_CONTAINERS, merge_states
from projector_export.format.bookmark_checks import MAX_LISTED_PROBLEMS
from projector_export.cli import main
from projector_export.reductions import compute_layout, projector_pca, projector_vectors

ROWS = 40


@pytest.fixture
def run(tmp_path):
    """logs/r: a run of one 40 x 8 tensor `final` with a PCA bookmark, as a user exports it."""
    vectors = np.random.default_rng(0).normal(size=(ROWS, 8)).astype(np.float32)
    np.save(tmp_path / "vectors.npy", vectors)
    export_embedding(tmp_path / "logs" / "r", vectors, name="final", layouts=["pca"])
    return tmp_path / "logs" / "r"


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error: ")]
    return line


# 5. validate on a bookmarks file of many states: few lines, bounded memory


def test_validate_lists_twenty_bookmark_problems_and_counts_the_rest(run, capsys):
    (run / "final.bookmarks.json").write_text("[" + ",".join(["{}"] * 5000) + "]")
    assert main(["validate", str(run.parent)]) == 1
    out = capsys.readouterr().out
    listed = [line for line in out.splitlines() if "lacks selectedProjection" in line]
    assert len(listed) == MAX_LISTED_PROBLEMS
    assert f"and {5000 - MAX_LISTED_PROBLEMS:,} more problems in its 5,000 bookmarks, not listed" in out
    assert f"{MAX_LISTED_PROBLEMS + 1} problems" in out
    assert len(out) < 10_000


def test_bookmarks_beyond_what_is_read_are_one_problem_each(run):
    path = run / "final.bookmarks.json"
    report_of = lambda: [p for p in validate(str(run.parent)).problems if "bookmarks" in p.message]  # noqa: E731
    # more arrays and objects than parsing may hold (a million {} take gigabytes as Python objects)
    path.write_text("[" + ",".join(["{}"] * (MAX_JSON_CONTAINERS + 1)) + "]")
    (problem,) = report_of()
    assert f"more than the 10,000,000 in {MAX_JSON_CONTAINERS:,} projector-export reads" in problem.message
    # more bytes than any bookmarks file of the page's 100,000 points (sparse: nothing is written)
    path.write_text("[]")
    os.truncate(path, (256 << 20) + 1)
    (problem,) = report_of()
    assert "268,435,457 bytes, more than" in problem.message


# 11. hostile bookmarks: one problem in validate; layout refuses in one line; re-export leaves them out

HOSTILE = {
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "nests JSON deeper than the 32 levels"),
    "a 5,000-digit number": ("[" + "7" * 5000 + "]", "holds a number of 5,000 digits"),
    "NaN, which JSON.parse refuses": ('[{"x": NaN}]', "holds NaN, which is not JSON"),
}


@pytest.mark.parametrize("text, reason", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bookmarks_are_one_problem_and_reexport_leaves_them_out(run, capsys, caplog, text, reason):
    path = run / "final.bookmarks.json"
    path.write_text(text)
    (problem,) = validate(str(run.parent)).problems
    assert reason in problem.message and "projector-export layout" in problem.fix

    # refused, not dropped: a file changed by hand may hold a person's bookmarks
    assert main(["layout", str(run), "--method", "pca", "--dims", "2"]) == 1
    assert "final.bookmarks.json" in one_line_error(capsys)
    assert path.read_text() == text

    vectors = str(run.parent.parent / "vectors.npy")
    assert main(["export", vectors, "--logdir", str(run.parent), "--run", "r", "--name", "final"]) == 0
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "old bookmarks of tensor 'final' are not kept" in warning and reason in warning
    assert str(path) in warning
    assert validate(str(run.parent)).ok


def test_a_bookmark_with_an_odd_origin_is_someone_elses(run, capsys, caplog):
    odd = {"projectorExport": {"method": [1], "dims": {"x": 2}}, "label": "odd"}
    (run / "final.bookmarks.json").write_text(json.dumps([odd]))
    (problem,) = validate(str(run.parent)).problems
    assert "bookmark 0 ('odd') lacks selectedProjection" in problem.message
    # not one of ours: a layout keeps it ({"method": [1]} was unhashable here)
    assert json.loads(merge_states([odd], {("pca", 3): "{}"})) == [odd, {}]
    np.save(run.parent.parent / "new.npy", np.ones((ROWS, 8)))
    code = main(["export", str(run.parent.parent / "new.npy"), "--logdir", str(run.parent), "--run", "r", "--name", "final"])
    assert code in (0, 1) and "Traceback" not in capsys.readouterr().err
    assert "its old bookmark ('odd') are dropped" in caplog.text


# 9. symlink loops in the log dir: each run once, in no time


def test_links_in_the_log_dir_are_walked_once(run):
    logs = run.parent
    (run / "loop").symlink_to("../r")
    (logs / "self").symlink_to(".")
    (logs / "deep" / "er").mkdir(parents=True)
    (logs / "deep" / "er" / "up").symlink_to("../..")
    (logs / "alias").symlink_to("r")
    report = validate(str(logs))
    assert report.runs == ["r"]
    loops = sorted(p.message.split(" is a link")[0] for p in report.problems)
    assert loops == [f"{logs}/deep/er/up", f"{logs}/r/loop", f"{logs}/self"]
    assert all("rm " in p.fix for p in report.problems)
    (alias,) = [n for n in report.notes if n.startswith(f"{logs}/alias")]
    assert "its runs are checked there, once" in alias


# 12. a stray file named like a leftover of an export


def test_a_file_or_link_named_like_a_leftover_is_only_a_note(run):
    logs = run.parent
    (logs / ".r.old-cafebabe").write_text("not a folder")
    (logs / ".r.swap-12345678").symlink_to("r")
    report = validate(str(logs))
    assert report.ok and report.runs == ["r"]
    for name in (".r.old-cafebabe", ".r.swap-12345678"):
        assert any(n.startswith(f"{logs}/{name} is named like what an interrupted export leaves") for n in report.notes)
    assert (logs / ".r.old-cafebabe").read_text() == "not a folder"


# 7. PCA of a tensor wider than it is tall


def reference_pca(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The page's PCA the direct way: eigenvectors of X'X / n, largest first, and the variance shares."""
    x = points.astype(np.float64)
    values, vectors = np.linalg.eigh(x.T @ x / len(x))
    order = np.argsort(values)[::-1][: min(10, x.shape[1])]
    return x @ vectors[:, order], values[order] / values.sum()


@pytest.mark.parametrize("shape", [(300, 20), (10, 600)], ids=["tall", "wide"])
def test_pca_is_the_same_through_either_side(shape):
    points = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    ours, share = projector_pca(points)
    expected, expected_share = reference_pca(points)
    rank = min(shape)  # beyond a wide tensor's rank the components are zeros, in both
    np.testing.assert_allclose(np.abs(ours), np.abs(expected), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(share[:rank], expected_share[:rank], rtol=1e-6)


def test_pca_layout_of_10_by_30000(tmp_path):
    vectors = np.random.default_rng(2).normal(size=(10, 30_000)).astype(np.float32)
    export_embedding(tmp_path / "wide", vectors, name="final")
    assert main(["layout", str(tmp_path / "wide"), "--method", "pca"]) == 0
    (state,) = json.loads((tmp_path / "wide" / "final.bookmarks.json").read_text())
    stored = np.array([[p[f"pca-{d}"] for d in range(10)] for p in state["projections"]])
    left, singular, _ = np.linalg.svd(projector_vectors(vectors).astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(np.abs(stored), np.abs(left * singular), rtol=1e-3, atol=1e-5)
    assert validate(str(tmp_path)).ok


# 10. degenerate input to UMAP and t-SNE

TSNE_CASES = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one thread: openTSNE is fast on few points
    from projector_export.reductions import Layout, compute_layout
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8))
    cases = {
        "identical": (np.ones((30, 8)), 2),
        "zero": (np.zeros((30, 8)), 2),
        "identical but one": (np.vstack([np.ones((29, 8)), np.full((1, 8), 2.0)]), 3),
        "times 2**100": (x * 2.0**100, 3),
        "times 2**-100": (x * 2.0**-100, 3),
        "times 1e30": (x * 1e30, 3),
    }
    found = {}
    for name, (vectors, dims) in cases.items():
        layout = compute_layout(vectors.astype(np.float32), Layout("tsne", dims=dims, seed=0, metric="euclidean"))
        found[name] = layout.tolist()
    print(json.dumps(found))
    """
)


def test_tsne_of_degenerate_rows_does_not_crash():
    require_layout_libraries()
    done = subprocess.run([sys.executable, "-c", TSNE_CASES], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]  # -11 was openTSNE's SIGSEGV
    found = {name: np.array(layout) for name, layout in json.loads(done.stdout).items()}
    assert not found["identical"].any() and not found["zero"].any()  # all at the origin
    assert "all 30 points are the same vector: the t-SNE layout puts every point at the origin" in done.stderr
    spread = found["identical but one"]
    assert np.isfinite(spread).all() and np.ptp(spread, axis=0).min() > 0
    # the scale of the input does not matter, exactly
    np.testing.assert_array_equal(found["times 2**100"], found["times 2**-100"])
    assert np.isfinite(found["times 1e30"]).all() and np.ptp(found["times 1e30"], axis=0).min() > 0


def test_tsne_by_cosine_refuses_zero_rows(capsys):
    require_layout_libraries()
    vectors = np.random.default_rng(0).normal(size=(30, 8)).astype(np.float32)
    vectors[[3, 7]] = 0
    with pytest.raises(ProjectorExportError, match=r"row 3 \(2 row\(s\) in all\) is all zeros.*`metric=euclidean`"):
        compute_layout(vectors, Layout("tsne"))


@pytest.mark.parametrize("method", ["umap", "tsne"])
@pytest.mark.parametrize("rows", [2, 3])
def test_too_few_points_for_umap_or_tsne_is_one_line(tmp_path, capsys, method, rows):
    require_layout_libraries()
    export_embedding(tmp_path / "tiny", np.eye(rows, 4), name="final")
    assert main(["layout", str(tmp_path / "tiny"), "--method", method]) == 1
    assert f"needs at least 4 points, and the tensor has {rows}; use the pca method" in one_line_error(capsys)


def test_umap_of_few_identical_or_huge_rows(caplog):
    require_layout_libraries()
    rng = np.random.default_rng(0)
    for rows in (4, 5):  # umap-learn's spectral start raised scipy's TypeError on 4
        layout = compute_layout(rng.normal(size=(rows, 8)).astype(np.float32), Layout("umap", seed=0))
        assert layout.shape == (rows, 3) and np.isfinite(layout).all()
    with caplog.at_level(logging.WARNING):
        same = compute_layout(np.ones((20, 8), np.float32), Layout("umap", seed=0))
    assert not same.any() and "the UMAP layout puts every point at the origin" in caplog.text
    huge = projector_vectors(rng.normal(size=(20, 8)) * 1e30)
    layout = compute_layout(huge, Layout("umap", seed=0, metric="euclidean"))
    assert np.isfinite(layout).all() and np.ptp(layout, axis=0).min() > 0


# 13. settings out of range, wrong types, names that are not UTF-8

FLAG_CASES = [
    (["--seed", "-5"], "--seed -5: a layout's seed must be an integer from 0 to 4,294,967,295"),
    (["--seed", "4294967296"], "--seed 4294967296: a layout's seed must be"),
    (["--method", "tsne", "--perplexity", "1e-9", "--dims", "3"], "--perplexity 1e-09: a layout's perplexity must be a finite number of at least 1"),
    (["--neighbors", "0"], "--neighbors 0: a layout's n_neighbors must be an integer of at least 2"),
    (["--min-dist", "-1"], "--min-dist -1.0: a layout's min_dist must be a number from 0 to 1"),
    (["--min-dist", "nan"], "--min-dist nan: a layout's min_dist must be"),
]


@pytest.mark.parametrize("flags, message", FLAG_CASES, ids=[" ".join(f) for f, _ in FLAG_CASES])
def test_layout_settings_out_of_range_name_the_flag(run, capsys, flags, message):
    assert main(["layout", str(run), *flags]) == 1
    assert one_line_error(capsys).startswith(f"error: {message}")


def test_layout_settings_of_the_wrong_type_say_what_they_take(tmp_path):
    for settings, message in [
        (dict(min_dist="0.1"), "`min_dist='0.1'`: a layout's min_dist must be a number from 0 to 1"),
        (dict(dims=2.0), "`dims=2.0`: a layout's dims must be 2 or 3"),
        (dict(seed=True), "`seed=True`: a layout's seed must be an integer"),
        (dict(n_neighbors=2.5), "`n_neighbors=2.5`: a layout's n_neighbors must be an integer"),
        (dict(metric=None), "`metric=None`: a layout's metric must be 'cosine' or 'euclidean'"),
        (dict(method=["pca"]), "`method=['pca']`: a layout's method must be one of umap, tsne, pca"),
    ]:
        with pytest.raises(ProjectorExportError) as raised:
            Layout(**settings)
        assert str(raised.value).startswith(message)
    # numpy's numbers are numbers, stored as Python's in the bookmark's JSON
    layout = Layout("pca", dims=np.int64(2), seed=np.uint32(3))
    export_embedding(tmp_path / "r", np.eye(5, 4), name="final", layouts=[layout])
    (state,) = json.loads((tmp_path / "r" / "final.bookmarks.json").read_text())
    assert state["projectorExport"]["seed"] == 3


def test_a_run_name_that_is_not_utf8_is_one_line(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.eye(4))
    assert main(["export", str(tmp_path / "v.npy"), "--logdir", str(tmp_path / "logs"), "--run", "\udcff"]) == 1
    assert "error: the run name b'\\xff' is not UTF-8 text" in one_line_error(capsys)
    assert not (tmp_path / "logs").exists()


def test_layout_of_a_bare_run_name_prints_a_logdir(run, capsys, monkeypatch):
    monkeypatch.chdir(run.parent)
    assert main(["layout", "r", "--method", "pca", "--dims", "2"]) == 0
    assert "open it with: tensorboard --logdir .   (" in capsys.readouterr().out


# 14. ProjectorCallback: labels or images that fit no layer are refused before training


def tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,), dtype="int32"), keras.layers.Embedding(4, 2, name="tokens"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("settings, message", [
    (dict(metadata=["a", "b", "c"]), "`metadata` covers 3 points, but no Embedding layer has as many rows (tokens has 4)"),
    (dict(sprite=np.zeros((5, 8, 8, 3))), "`sprite` covers 5 points, but no Embedding layer has as many rows (tokens has 4)"),
    (dict(layers=["words"]), "`layers=['words']`: the model has no Embedding layer named 'words'; it has: tokens"),
])
def test_the_callback_refuses_what_fits_no_layer_before_training(tmp_path, settings, message):
    epochs = []
    with pytest.raises(ProjectorExportError) as raised:
        tiny_model().fit(np.array([[0, 1], [2, 3]]), np.array([0.0, 1.0]), epochs=2, verbose=0, callbacks=[
            ProjectorCallback(tmp_path / "toy", **settings),
            keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs.append(epoch)),
        ])
    assert str(raised.value).startswith(message)
    assert epochs == [] and not (tmp_path / "toy").exists()


def test_the_callback_checks_its_settings_in_one_style(tmp_path):
    with pytest.raises(ProjectorExportError, match=r"`every_n_epochs=0`: ProjectorCallback's every_n_epochs must be"):
        ProjectorCallback(tmp_path, every_n_epochs=0)
