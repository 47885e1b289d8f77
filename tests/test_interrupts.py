"""Ctrl-C at each phase of `projector-train`: the previous run stays whole, or the new one is written
whole from what was trained; never a mix.

SIGINT is sent when the command prints the line of the phase (a real SIGINT to this process,
handled as in a terminal; one test sends it to a child process), never after a fixed sleep.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from projector_export import validate
from projector_export import read_embedding
from projector_export.cli import main as export_main
from reviews import write_aclimdb
from test_safety import snapshot
from training import cli


class InterruptAt(io.TextIOBase):
    """Standard output that sends SIGINT to this process when a line matching `pattern` is printed."""

    def __init__(self, pattern: str):
        self.pattern = re.compile(pattern, re.MULTILINE)
        self.text = ""
        self.sent = False

    def write(self, text: str) -> int:
        self.text += text
        if not self.sent and self.pattern.search(self.text):
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)  # handled at once, in this (the main) thread
        return len(text)


def train_until(pattern: str, argv: list[str]) -> tuple[int, str]:
    """`projector-train ARGV` in this process, interrupted at the first line matching `pattern`."""
    stdout = InterruptAt(pattern)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    real = sys.stdout
    sys.stdout = stdout
    try:
        status = cli.main(argv)
    finally:
        sys.stdout = real
        signal.signal(signal.SIGINT, previous)
    assert stdout.sent, f"the line {pattern!r} never came:\n{stdout.text}"
    return status, stdout.text


def user_files(run) -> None:
    (run / "train" / "my-notes.txt").write_text("mine")
    (run / "projector" / "mine.tsv").write_text("mine")


def kept_user_files(run) -> bool:
    return (run / "train" / "my-notes.txt").read_text() == "mine" and (run / "projector" / "mine.tsv").exists()


def scalar_steps(folder, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not folder.is_dir():
        return []
    events = EventAccumulator(str(folder))
    events.Reload()
    return [event.step for event in events.Tensors(tag)] if tag in events.Tags()["tensors"] else []


COLOURS = ["colours", "--dims", "2", "--quiet"]


@pytest.fixture(scope="module")
def colour_logs(tmp_path_factory):
    """A finished colour run, with a file of the user's in it."""
    logs = tmp_path_factory.mktemp("colour-logs")
    assert cli.main([*COLOURS, "--pairs", "20000", "--epochs", "2", "--logdir", str(logs)]) == 0
    user_files(logs / "colours-2d")
    return logs


def test_ctrl_c_before_anything_is_trained_leaves_the_previous_run_whole(colour_logs):
    before = snapshot(colour_logs)
    status, output = train_until(r"^Training ", [*COLOURS, "--pairs", "20000", "--epochs", "50",
                                                 "--logdir", str(colour_logs)])
    assert status == 130, output
    assert snapshot(colour_logs) == before  # scalars, projector run and plots as they were; no leftover
    assert validate(str(colour_logs)).ok


def test_ctrl_c_during_the_fit_writes_the_run_whole_from_what_was_trained(colour_logs):
    run = colour_logs / "colours-2d"
    status, output = train_until(r"^epoch 2/", [*COLOURS, "--pairs", "20000", "--epochs", "50",
                                                "--logdir", str(colour_logs)])
    assert status == 130 and "interrupted at step" in output, output
    assert validate(str(colour_logs)).ok
    final = read_embedding(str(run / "projector"), "final")
    assert final.vectors.shape == (550, 3) and final.labels()[0]
    assert scalar_steps(run / "train", "epoch_loss") == [0, 1]  # the new run's two epochs, not the old run's
    assert sorted(p.name for p in (run / "plots").iterdir()) == ["embedding-2d.png", "training.gif"]
    assert kept_user_files(run)
    assert sorted(p.name for p in colour_logs.iterdir()) == ["colours-2d"]


def test_ctrl_c_from_outside_during_the_fit_of_a_child_process(tmp_path):
    """As in a terminal: SIGINT to the `projector-train` process while it trains."""
    logs = tmp_path / "logs"
    child = subprocess.Popen(
        [sys.executable, "-m", "training.cli", *COLOURS, "--pairs", "20000", "--epochs", "200", "--logdir", str(logs)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # a shell's background job inherits SIGINT ignored; a terminal's does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    output = []
    timer = threading.Timer(600, child.kill)  # a hung child fails the test rather than the suite
    timer.start()
    try:
        for line in child.stdout:
            output.append(line)
            if line.startswith("epoch 1/"):
                child.send_signal(signal.SIGINT)
                break
        output.append(child.stdout.read())
        status = child.wait()
    finally:
        timer.cancel()
    assert status == 130, "".join(output)
    assert "interrupted at step" in "".join(output)
    report = validate(str(logs))
    assert report.ok and report.runs == ["colours-2d/projector"], str(report)
    final = read_embedding(str(logs / "colours-2d" / "projector"), "final")
    assert final.vectors.shape == (550, 3)  # 2-D, with the zero column the projector needs
    # what was trained exports on as any run does
    out = tmp_path / "standalone"
    assert export_main(["tsv", str(logs / "colours-2d" / "projector"), "--out", str(out)]) == 0
    assert len((out / "vectors.tsv").read_text().splitlines()) == 550


IMDB = ["imdb", "--vocab-size", "400", "--learning-rate", "0.003", "--layout", "pca", "--no-clusters"]


@pytest.fixture(scope="module")
def imdb_logs(tmp_path_factory):
    reviews = write_aclimdb(tmp_path_factory.mktemp("reviews"), {"train": 30, "test": 10})
    logs = tmp_path_factory.mktemp("imdb-logs")
    assert cli.main([*IMDB, "--aclimdb", str(reviews), "--epochs", "2", "--logdir", str(logs)]) == 0
    user_files(logs / "imdb")
    return logs, reviews


def test_imdb_ctrl_c_while_the_data_is_prepared_leaves_the_previous_run_whole(imdb_logs):
    logs, reviews = imdb_logs
    before = snapshot(logs)
    status, output = train_until(r"^Training ", [*IMDB, "--aclimdb", str(reviews), "--epochs", "20",
                                                 "--logdir", str(logs)])
    assert status == 130, output
    assert snapshot(logs) == before


@pytest.mark.parametrize("phase", ["^epoch 1/", "^scoring the ", "^laying out "])
def test_imdb_ctrl_c_after_an_epoch_keeps_what_was_trained_whole(imdb_logs, phase):
    logs, reviews = imdb_logs
    run = logs / "imdb"
    epochs = "20" if phase == "^epoch 1/" else "1"
    status, output = train_until(phase, [*IMDB, "--aclimdb", str(reviews), "--epochs", epochs, "--logdir", str(logs)])
    assert status == 130 and "interrupted after" in output, output
    assert validate(str(logs)).ok
    final = read_embedding(str(run / "projector"), "final")
    config = (run / "projector" / "projector_config.pbtxt").read_text()
    # the line counts the epochs the run keeps (Ctrl-C while epoch 1's line prints: Keras's history lacks it)
    assert config.count('tensor_name: "snapshot-epoch-') == 1 and "\ninterrupted after 1 epoch:" in output, output
    assert "bookmarks_path" not in config  # the layout was skipped (or stopped)
    scored = scalar_steps(run / "test", "test_accuracy")
    assert scored == ([0] if phase == "^laying out " else [])  # this run's test score, or none: never the old one's
    assert len(final.labels()) == len(final.vectors)
    assert kept_user_files(run)
    assert sorted(p.name for p in logs.iterdir()) == ["imdb", "imdb-vocab400.subwords"]
