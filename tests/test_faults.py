"""An export killed with SIGKILL at random points never leaves a half run."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from projector_export import export_embedding, validate
from projector_export.format.metadata import parse_metadata
from projector_export import read_embedding

# Re-exports the same run forever, each time with a different row count, so a
# run mixing two exports shows up as tensor rows != metadata rows. An export takes
# 0.05 to 0.2 s, so a kill in the first 0.6 s lands in one of several (or, on a loaded
# machine, in the first, before any run is in place).
EXPORTER = textwrap.dedent(
    """
    import sys, numpy as np
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
    if not run.exists():  # killed before its first export was in place (a loaded machine): no run shows
        assert report.runs == [] and [p.message.split(" (")[0] for p in report.problems] == [
            f"no projector runs under {logdir}"], str(report)
        return
    assert report.ok, str(report)
    rows = None
    for name in ("a", "b"):
        tensor = read_embedding(str(run), name)
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
        time.sleep(rng.uniform(0.05, 0.6))
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert_whole(logdir, run)

    # the next export tidies whatever the kills left
    export_embedding(run, [[1.0, 2.0, 0.5], [3.0, 4.0, 0.5]], ["x", "y"])
    assert sorted(p.name for p in logdir.iterdir()) == ["run"]
    assert validate(str(logdir)).ok
    assert tf.train.load_checkpoint(str(run)).get_tensor("embedding").shape == (2, 3)


# Kills at chosen points: the test process patches where the export stands, then SIGKILLs itself there.
KILLED_AT = textwrap.dedent(
    """
    import os, signal, sys, numpy as np
    from projector_export import export_embedding
    from projector_export.files import fs, staging
    import projector_export.export as export

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    point, exchange, rename = sys.argv[2], staging.exchange, fs.rename
    if point == "right after the exchange":
        staging.exchange = lambda a, b: exchange(a, b) and die()
    elif point == "between the two renames":  # the path without renameat2
        staging.exchange = lambda a, b: False
        fs.rename = lambda a, b: (rename(a, b), ".old-" in b and die())
    elif point == "during the checkpoint write":  # what a checkpoint writer leaves while it writes
        def write_checkpoint(stage, tensors, number):
            open(stage.join(f"embeddings.ckpt-{number}.index.tempstate42"), "wb").write(b"half")
            os.makedirs(stage.join(f"embeddings.ckpt-{number}_temp"))
            die()
        export.write_checkpoint = write_checkpoint
    export_embedding(sys.argv[1], np.ones((5, 4)), list("abcde"), name="second")
    """
)


def keras_logs(run):
    (run / "train").mkdir()
    (run / "train" / "events.out.tfevents.keras").write_bytes(b"scalars")


@pytest.mark.parametrize("point", ["right after the exchange", "between the two renames", "during the checkpoint write"])
def test_a_kill_at_each_step_of_the_swap_is_reported_truthfully_and_repaired(tmp_path, point):
    logs = tmp_path / "logs"
    run = logs / "run"
    export_embedding(run, np.eye(3), ["a", "b", "c"], name="first")
    keras_logs(run)
    child = subprocess.run([sys.executable, "-c", KILLED_AT, str(run), point], capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr

    leftovers = sorted(p.name for p in logs.iterdir() if p.name != "run")
    report = validate(str(logs))
    if point == "during the checkpoint write":  # the run is untouched; the leftover holds only the export's files
        assert read_embedding(str(run)).name == "first" and (run / "train").is_dir()
        assert report.ok and "holds only files it wrote" in str(report), str(report)
    else:
        assert not report.ok
        problems = "\n".join(str(p) for p in report.problems)
        assert "train" in problems and "do not delete" in problems, problems  # never "delete it" for the only copy
        assert not any(leftover in note and "delete it" in note for note in report.notes for leftover in leftovers
                       if (logs / leftover / "train").exists())
        if point == "between the two renames":
            assert not run.exists() and "the folder is missing" in problems

    export_embedding(run, np.ones((4, 4)), list("wxyz"), name="third")  # the next export repairs
    assert (run / "train" / "events.out.tfevents.keras").read_bytes() == b"scalars"
    assert sorted(p.name for p in logs.iterdir()) == ["run"]
    assert not [p for p in run.iterdir() if "temp" in p.name]  # no staging piece inside the live run
    assert validate(str(logs)).ok and read_embedding(str(run)).name == "third"


FALLBACK_EXPORTER = EXPORTER.replace(
    "print(\"ready\", flush=True)",
    "from projector_export.files import staging\nstaging.exchange = lambda a, b: False\nprint(\"ready\", flush=True)",
)


def test_sigkill_on_the_path_without_renameat2_loses_nothing(tmp_path):
    logdir = tmp_path / "logs"
    run = logdir / "run"
    export_embedding(run, np.eye(3), ["a", "b", "c"])
    keras_logs(run)
    rng = random.Random(11)
    for attempt in range(4):
        child = subprocess.Popen([sys.executable, "-c", FALLBACK_EXPORTER, str(run), str(attempt)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.6))
        child.send_signal(signal.SIGKILL)
        child.wait()
        # train/ is in the run or in a leftover that says so; validate never calls it deletable
        holders = [p for p in [run, *logdir.glob(".run.*")] if (p / "train").is_dir()]
        assert len(holders) == 1
        report = validate(str(logdir))
        assert report.ok or all("interrupted" in p.message or "no projector runs" in p.message
                                for p in report.problems), str(report)
        if holders[0] != run:
            assert any("train" in p.message for p in report.problems)
    export_embedding(run, np.eye(3), ["a", "b", "c"])
    assert (run / "train" / "events.out.tfevents.keras").read_bytes() == b"scalars"
    assert sorted(p.name for p in logdir.iterdir()) == ["run"] and validate(str(logdir)).ok


def test_standalone_leftovers_are_tidied_like_exports(tmp_path):
    from projector_export.standalone import export_standalone

    export_embedding(tmp_path / "run", np.eye(3), ["a", "b", "c"])
    export_standalone(tmp_path / "run", tmp_path / "sa")
    for leftover in (".sa.standalone-123-0badc0de", ".sa.new-0123abcd", ".sa.standalone-old-7-abc"):
        (tmp_path / leftover).mkdir()
        (tmp_path / leftover / "vectors.tsv").write_text("half")
    report = str(validate(str(tmp_path)))
    assert "holds only files it wrote" in report
    # a previous folder moved aside that is not recognisable as the tool's: the user's, kept
    assert "vectors.tsv belong in sa and are in .sa.standalone-old-7-abc" in report and "do not delete" in report
    export_standalone(tmp_path / "run", tmp_path / "sa")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".sa.standalone-old-7-abc", "run", "sa"]
    assert (tmp_path / ".sa.standalone-old-7-abc" / "vectors.tsv").read_text() == "half"
