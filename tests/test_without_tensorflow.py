"""The commands that only read or export vectors work where `import tensorflow` fails; TensorFlow reads their runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from clusters import clustered_matrix
from conftest import require_layout_libraries
from early import Command

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS, DIMS = 40, 6

# Raises on import, after noting who imported it (a caller that catches the ImportError is still caught).
BLOCKER = """
import os, traceback
with open(os.environ["TENSORFLOW_IMPORTS"], "a", encoding="utf-8") as log:
    log.write("".join(traceback.format_stack()) + "\\n")
raise ImportError("tensorflow is blocked by tests/test_without_tensorflow.py")
"""


def blocked_environment(root) -> dict[str, str]:
    """This process's environment with a `tensorflow` under `root` that raises on import, first on the
    path; whoever tries to import it is logged to `root/tensorflow-imports.log`."""
    (root / "blocked" / "tensorflow").mkdir(parents=True)
    (root / "blocked" / "tensorflow" / "__init__.py").write_text(BLOCKER, encoding="utf-8")
    env = dict(os.environ, TENSORFLOW_IMPORTS=str(root / "tensorflow-imports.log"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root / "blocked"), REPOSITORY, os.environ.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A fresh folder, a `tensorflow` that raises on import first on the path, and a .npy with labels."""
    root = tmp_path_factory.mktemp("without-tensorflow")
    env = blocked_environment(root)
    vectors = np.random.default_rng(5).standard_normal((ROWS, DIMS)).astype(np.float32)
    vectors[0, :3] = [np.float32(1e-40), -0.0, np.float32(3.4e38)]  # a subnormal, a negative zero, near the maximum
    np.save(root / "vectors.npy", vectors)
    labels = [f"w{i}" for i in range(ROWS)]
    (root / "labels.tsv").write_text("word\tcount\n" + "".join(f"{w}\t{i}\n" for i, w in enumerate(labels)), "utf-8")
    return {
        "root": root, "env": env, "vectors": vectors, "labels": labels,
        "logs": root / "logs", "run": root / "logs" / "words",
    }


def run(session, *args: str) -> str:
    """Run `projector-export ARGS` as a user does, where tensorflow cannot be imported; return its stdout."""
    log = session["root"] / "tensorflow-imports.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "projector_export.cli", *args], env=session["env"], capture_output=True, text=True,
        timeout=60, check=False,
    )
    imports = log.read_text(encoding="utf-8") if log.exists() else ""
    assert not imports, f"projector-export {args[0]} tried to import tensorflow from:\n{imports}"
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def exported(session):
    out = run(session, "export", str(session["root"] / "vectors.npy"), "--logdir", str(session["logs"]),
              "--run", "words", "--metadata", str(session["root"] / "labels.tsv"))
    assert f"run folder: {session['run']}" in out
    return session


def test_the_blocker_blocks(session):
    log = session["root"] / "blocker-check.log"
    env = dict(session["env"], TENSORFLOW_IMPORTS=str(log))
    done = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "tensorflow is blocked" in done.stderr
    assert "<module>" in log.read_text(encoding="utf-8")


def test_importing_the_library_and_the_command_line_leaves_tensorflow_alone(session):
    (session["root"] / "tensorflow-imports.log").unlink(missing_ok=True)
    code = (
        "import sys, projector_export, projector_export.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith(('tensorflow', 'keras'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], env=session["env"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert not (session["root"] / "tensorflow-imports.log").exists()


def test_export_writes_a_run_that_tensorflow_reads_bit_for_bit(exported):
    tf = pytest.importorskip("tensorflow")
    reader = tf.train.load_checkpoint(str(exported["run"]))
    assert reader.get_variable_to_shape_map() == {"embedding": [ROWS, DIMS]}
    read = reader.get_tensor("embedding")
    assert read.dtype == np.float32
    assert np.array_equal(read.view(np.uint32), exported["vectors"].view(np.uint32))


def test_validate_finds_the_run_good(exported):
    out = run(exported, "validate", str(exported["logs"]))
    assert "1 projector run checked" in out and "all good" in out


def test_neighbours_are_the_cosine_nearest(exported):
    out = run(exported, "neighbours", str(exported["run"]), "w3", "-k", "4")
    x = exported["vectors"].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    distance = 1 - x @ x[3]
    distance[3] = np.inf
    expected = [exported["labels"][i] for i in np.argsort(distance)[:4]]
    assert re.findall(r"^\s+\d+\s+(\S+)\s+[\d.]+$", out, re.MULTILINE) == expected


def test_tsv_writes_the_vectors_exactly_and_the_labels(exported):
    out_dir = exported["root"] / "standalone"
    out = run(exported, "tsv", str(exported["run"]), "--out", str(out_dir))
    assert f"to {out_dir}" in out
    read = np.loadtxt(out_dir / "vectors.tsv", delimiter="\t", dtype=np.float64).astype(np.float32)
    assert np.array_equal(read.view(np.uint32), exported["vectors"].view(np.uint32))
    assert (out_dir / "metadata.tsv").read_text("utf-8").splitlines()[:2] == ["word\tcount", "w0\t0"]


def test_layout_pca_adds_its_bookmark(exported):
    out = run(exported, "layout", str(exported["run"]), "--method", "pca")
    assert "added bookmark 'PCA (3-D)" in out
    bookmarks = json.loads((exported["run"] / "embedding.bookmarks.json").read_text("utf-8"))
    assert [b["selectedProjection"] for b in bookmarks] == ["pca"]
    assert run(exported, "validate", str(exported["logs"])).count("all good") == 1


def umap_job(folder) -> list[Command]:
    """`projector-export clusters` (a UMAP, then HDBSCAN) and `layout --method umap`, side by side on
    two runs of 600 points in 6 groups, where tensorflow cannot be imported (umap-learn's package
    imports it whenever it is installed, for a ParametricUMAP that neither uses: ~5 s), with numba's
    cache in the job's folder."""
    from projector_export import export_embedding

    vectors, _ = clustered_matrix(600, 8, clusters=6, seed=3)
    for run in ("groups", "laid-out"):
        export_embedding(folder / "logs" / run, vectors, [f"w{i}" for i in range(600)])
    env = dict(blocked_environment(folder), NUMBA_CACHE_DIR=str(folder / "numba"))
    command = [sys.executable, "-m", "projector_export.cli"]
    return [Command([*command, "clusters", str(folder / "logs" / "groups"), "--seed", "0"], env=env),
            Command([*command, "layout", str(folder / "logs" / "laid-out"), "--method", "umap", "--seed", "0"], env=env)]


@pytest.mark.early("umap_job")
def test_clusters_and_umap_layouts_leave_tensorflow_alone(early):
    require_layout_libraries()
    folder, (clusters, layout) = early
    log = folder / "tensorflow-imports.log"
    assert not log.exists(), f"a UMAP tried to import tensorflow from:\n{log.read_text()}"
    assert clusters.returncode == 0, clusters.stdout + clusters.stderr
    assert layout.returncode == 0, layout.stdout + layout.stderr
    assert "clusters" in clusters.stdout and "added bookmark 'UMAP (3-D)" in layout.stdout
    from projector_export import read_embedding, validate

    assert "cluster" in read_embedding(str(folder / "logs" / "groups")).metadata.header
    assert validate(str(folder / "logs")).ok
    # umap-learn's numba functions were compiled into numba's cache, for the next process to load
    # (umap-learn does not ask for it; pynndescent, which it uses, does)
    assert list((folder / "numba").glob("umap_*/layouts._optimize_layout_euclidean_single_epoch-*.nbi"))
    assert list((folder / "numba").glob("umap_*/umap_.*.nbi"))
