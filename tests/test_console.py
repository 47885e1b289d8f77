"""A quiet console: no TensorFlow native log lines from any command, unless asked for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from reviews import write_aclimdb

# What TensorFlow 2.21 prints from C++ on a CPU-only machine, whatever TF_CPP_MIN_LOG_LEVEL says.
NATIVE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|oneDNN|cuInit|cuda drivers|cpu_feature_guard", re.M)


def start(*args, cwd) -> subprocess.Popen:
    """`python -m ARGS` in `cwd`, as from a shell without our switches, its output piped."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PROJECTOR_EXPORT_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.Popen([sys.executable, "-m", *args], cwd=cwd, env=environment, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(child: subprocess.Popen) -> tuple[subprocess.CompletedProcess, str]:
    """The command's result once it ends, and all it printed."""
    stdout, stderr = child.communicate(timeout=600)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr), stdout + stderr


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("console")
    np.save(root / "v.npy", np.random.default_rng(0).normal(size=(20, 4)))
    (root / "labels.txt").write_text("".join(f"w{i}\n" for i in range(20)))
    write_aclimdb(root, {"train": 40, "test": 20})
    return root


COMMANDS = [
    ("projector_export.cli", "export", "v.npy", "--logdir", "logs", "--run", "v", "--metadata", "labels.txt"),
    ("projector_export.cli", "validate", "logs"),
    ("projector_export.cli", "neighbours", "logs/v", "w1", "w2", "-k", "3"),
    ("projector_export.cli", "tsv", "logs/v", "--out", "standalone"),
    ("training.cli", "colours", "--dims", "2", "--pairs", "2000", "--epochs", "1", "--logdir", "logs"),
    ("training.cli", "imdb", "--aclimdb", "aclImdb", "--epochs", "1", "--vocab-size", "300", "--logdir", "logs"),
]


TRAINING = [command for command in COMMANDS if command[0] == "training.cli"]


@pytest.fixture(scope="module")
def ran(workspace):
    """`ran(command)`: the command run once in the workspace, and what it printed. The projector-export
    commands run one after the other in the order asked (each reads what the one before wrote); the
    first training command asked for starts both, side by side (they write different runs)."""
    started, done = {}, {}

    def get(command):
        if command not in done:
            if command in TRAINING:
                for training in TRAINING:
                    if training not in done:
                        started.setdefault(training, start(*training, cwd=workspace))
            done[command] = finish(started.pop(command, None) or start(*command, cwd=workspace))
        return done[command]

    yield get
    for child in started.values():
        child.kill()
        child.wait()


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_no_native_log_line_reaches_the_console(ran, command):
    done, output = ran(command)
    assert done.returncode == 0, output[-3000:]
    assert not NATIVE.search(output), output[-3000:]


@pytest.mark.parametrize("command", TRAINING, ids=[" ".join(c[:2]) for c in TRAINING])
def test_training_into_a_file_prints_plain_lines_in_plain_words(ran, command):
    """Keras's progress bar draws with carriage returns, backspaces and colour codes even into
    a file or a pipe; off a terminal the commands print whole lines, and paths as given."""
    done, output = ran(command)
    assert done.returncode == 0, output[-3000:]
    assert not re.search("[\r\x08\x1b]", output), repr(output[-3000:])
    printed = done.stdout
    assert "(s)" not in printed
    if command[1] == "imdb":
        assert "tokenising 80 training reviews: 80 in " in printed and "tokenising 40 test reviews: 40 in " in printed
        assert "(1 epoch, batch 10, " in printed and "with epoch 1 of 1 (" in printed and " on 1 replica\n" in printed
        assert "8 of the training reviews held out to choose the epoch" in printed and "\ntest_accuracy " in printed
        assert "\n  vocabulary: " in printed and " tokens in " in printed  # the build's line, once, when done
        assert "\n  projector:  logs/imdb/projector (2 tensors of " in printed
        assert "\n  vocabulary: logs/imdb-vocab300.subwords\n" in printed
        assert "a 3-D UMAP of all " in printed  # the default layout, whose library prints nothing either
        assert not re.search(r"WARNING:(absl|tensorflow)|deprecated", output), output[-3000:]
    else:
        assert "(1 epoch, seed 7)" in printed and "\n  projector: logs/colours-2d/projector (" in printed
        # trained on squared Euclidean distances: the summary says which neighbours suit it
        assert "projector-export neighbours logs/colours-2d/projector red --metric euclidean" in printed


def run_until(pattern: re.Pattern, argv: list[str], *, cwd) -> tuple[bool, str]:
    """Run `python ARGV` until a line of its stderr matches `pattern`, then kill it: whether one did, and stderr."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PROJECTOR_EXPORT_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    child = subprocess.Popen([sys.executable, *argv], cwd=cwd, env=environment, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    timer = threading.Timer(300, child.kill)  # a hung child fails the test rather than the suite
    timer.start()
    lines = []
    try:
        for line in child.stderr:
            lines.append(line)
            if pattern.search(line):
                return True, "".join(lines)
        return False, "".join(lines)
    finally:
        timer.cancel()
        child.kill()
        child.wait()


def test_verbose_brings_them_back(workspace):
    """TensorFlow does print them here (training imports it), so the test above can fail; the switch shows them."""
    found, stderr = run_until(NATIVE, ["-m", "training.cli", "--verbose", "colours", "--dims", "2", "--pairs", "2000",
                                       "--epochs", "1", "--logdir", "verbose-logs"], cwd=workspace)
    assert found, stderr[-3000:]


def test_the_environment_switch_leaves_stderr_alone(monkeypatch):
    from projector_export import console

    monkeypatch.setenv("PROJECTOR_EXPORT_VERBOSE", "1")
    monkeypatch.setattr(console, "_filter_descriptor", lambda fd: pytest.fail("stderr filtered despite the switch"))
    console.quiet_tensorflow()


def test_the_filter_passes_everything_else_in_order(tmp_path):
    script = textwrap.dedent(
        """
        import os, sys
        from projector_export.console import quiet_tensorflow
        quiet_tensorflow()
        os.write(2, b"I0000 00:00:1796449240.360231   12538 port.cc:153] oneDNN custom operations are on.\\n")
        sys.stderr.write("\\rreading: 1 rows"); sys.stderr.flush()
        sys.stderr.write("\\rreading: 2 rows\\n"); sys.stderr.flush()
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
        os.write(2, b"E0000 00:00:1796449244.090185   12538 cuda_platform.cc:52] failed call")
        os.write(2, b" to cuInit: INTERNAL\\nIt works: I said so.\\n")
        raise SystemExit("error: something the user must see")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == b"\rreading: 1 rows\rreading: 2 rows\nIt works: I said so.\nerror: something the user must see\n"


TFDS_RUN = textwrap.dedent(
    """
    import os, sys
    import tensorflow_datasets as tfds
    from training.cli import main
    data_dir = os.path.abspath("tensorflow_datasets")
    builder = tfds.builder("imdb_reviews", data_dir=data_dir)
    os.makedirs(builder.data_dir, exist_ok=True)
    builder.info.write_to_directory(builder.data_dir)
    with tfds.testing.mock_data(num_examples=20, data_dir=data_dir):
        sys.exit(main(sys.argv[1:] + ["imdb", "--data-dir", data_dir, "--logdir", "logs", "--epochs", "1",
                                      "--vocab-size", "300", "--layout", "pca"]))
    """
)


def test_tfds_warnings_stay_off_the_console_too(tmp_path):
    """Reading IMDB through tfds (mocked here) logs deprecation warnings meant for developers.
    (The default UMAP layout's output is checked with the `training.cli imdb` command above.)"""
    for folder in ("quiet", "verbose"):  # the two runs side by side, each in its own folder
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "tfds_run.py").write_text(TFDS_RUN)
    quiet = subprocess.Popen([sys.executable, "tfds_run.py"], cwd=tmp_path / "quiet", text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        found, stderr = run_until(re.compile("WARNING:absl"), ["tfds_run.py", "--verbose"], cwd=tmp_path / "verbose")
    finally:
        out, err = quiet.communicate(timeout=300)
    assert quiet.returncode == 0, err[-3000:]
    assert "20 training and 20 test reviews" in out
    assert not re.search(r"WARNING:(absl|tensorflow)|deprecated", out + err), err
    assert not NATIVE.search(out + err), err
    assert found, stderr[-3000:]  # what the quiet run held back
