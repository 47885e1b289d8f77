"""An export killed with SIGKILL at random points never leaves a half run."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time

import tensorflow as tf

from projector_export import export_embedding, validate
from projector_export.metadata import parse_metadata
from projector_export.runs import read_run_tensor

# Re-exports the same run forever, each time with a different row count, so a
# run mixing two exports shows up as tensor rows != metadata rows.
EXPORTER = textwrap.dedent(
    """
    import sys, numpy as np, tensorflow
    from projector_export import export_embeddings, Embedding
    run = sys.argv[1]
    rng = np.random.default_rng(int(sys.argv[2]))
    print("ready", flush=True)
    while True:
        rows = int(rng.integers(1000, 20000))
        vectors = rng.normal(size=(rows, 32))
        labels = [f"w{i}" for i in range(rows)]
        export_embeddings(run, [Embedding(vectors, labels, name="a", sprite=np.full((rows, 3), 0.5)),
                                Embedding(vectors[:, :8], labels, name="b")])
    """
)


def assert_whole(logdir, run):
    report = validate(str(logdir))
    assert report.ok, str(report)
    if not run.exists():
        return
    rows = None
    for name in ("a", "b"):
        tensor = read_run_tensor(str(run), name)
        _, labels = parse_metadata(open(tensor.metadata_path, encoding="utf-8").read())
        assert len(labels) == len(tensor.vectors)
        assert rows in (None, len(tensor.vectors))
        rows = len(tensor.vectors)
    hidden = [p for p in logdir.iterdir() if p.name.startswith(".")]
    for leftover in hidden:  # TensorBoard lists a folder only once its event file is there
        if list(leftover.glob("events.out.tfevents*")):
            assert validate(str(leftover)).ok


def test_sigkill_at_random_points_never_leaves_a_half_run(tmp_path):
    logdir = tmp_path / "logs"
    run = logdir / "run"
    logdir.mkdir()
    rng = random.Random(7)
    for attempt in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", EXPORTER, str(run), str(attempt)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 2.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert_whole(logdir, run)

    # the next export tidies whatever the kills left
    export_embedding(run, [[1.0, 2.0, 0.5], [3.0, 4.0, 0.5]], ["x", "y"])
    assert sorted(p.name for p in logdir.iterdir()) == ["run"]
    assert validate(str(logdir)).ok
    assert tf.train.load_checkpoint(str(run)).get_tensor("embedding").shape == (2, 3)


def test_ctrl_c_during_training_leaves_the_last_snapshot_valid_and_exportable(tmp_path):
    logs = tmp_path / "logs"
    child = subprocess.Popen(
        [sys.executable, "-m", "training.cli", "colours", "--dims", "2", "--pairs", "400000",
         "--epochs", "200", "--logdir", str(logs), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    for line in child.stdout:
        if line.startswith("Training"):
            break
    time.sleep(4.0)  # some steps in
    child.send_signal(signal.SIGINT)
    output = child.communicate(timeout=120)[0]
    assert child.returncode == 130, output
    assert "interrupted at step" in output

    report = validate(str(logs))
    assert report.ok and report.runs == ["colours-2d/projector"], str(report)
    final = read_run_tensor(str(logs / "colours-2d" / "projector"), "final")
    assert final.vectors.shape == (550, 3)  # 2-D, with the zero column the projector needs
    out = tmp_path / "standalone"
    from projector_export.cli import main

    assert main(["tsv", str(logs / "colours-2d" / "projector"), "--out", str(out)]) == 0
    assert len((out / "vectors.tsv").read_text().splitlines()) == 550
