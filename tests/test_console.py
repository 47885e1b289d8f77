"""A quiet console: no TensorFlow native log lines from any command, unless asked for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from early import Command, Ran, run_command
from reviews import write_aclimdb

# What TensorFlow 2.21 prints from C++ on a CPU-only machine, whatever TF_CPP_MIN_LOG_LEVEL says.
NATIVE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|oneDNN|cuInit|cuda drivers|cpu_feature_guard", re.M)


def shell_environment() -> dict[str, str]:
    """This process's environment as a shell without our switches has it."""
    return {k: v for k, v in os.environ.items() if k not in ("PROJECTOR_EXPORT_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}


def command_in(folder, *args, until: re.Pattern | None = None) -> Command:
    """`python -m ARGS` in `folder`, as from a shell without our switches."""
    return Command([sys.executable, "-m", *args], cwd=folder, env=shell_environment(), until=until)


def completed(argv: tuple[str, ...], ran: Ran) -> tuple[subprocess.CompletedProcess, str]:
    """What a command did as a `CompletedProcess`, and all it printed."""
    return subprocess.CompletedProcess(argv, ran.returncode, ran.stdout, ran.stderr), ran.stdout + ran.stderr


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


def training_job(folder) -> list[Command]:
    """The two training commands, side by side (they write different runs), in a workspace of their own."""
    write_aclimdb(folder, {"train": 40, "test": 20})
    return [command_in(folder, *command) for command in TRAINING]


@pytest.fixture(scope="module")
def ran(workspace, early_jobs):
    """`ran(command)`: the command run once, and what it printed. The projector-export commands run
    one after the other in the workspace in the order asked (each reads what the one before wrote);
    the training commands are `training_job`, run early."""
    done = {}

    def get(command):
        if command not in done:
            if command in TRAINING:
                _, results = early_jobs.wait("test_console.training_job")
                done[command] = completed(command, results[TRAINING.index(command)])
            else:
                done[command] = completed(command, run_command(command_in(workspace, *command)))
        return done[command]

    return get


def each(commands):
    """The commands as parameters, the training ones marked as `training_job`'s."""
    return [pytest.param(c, id=" ".join(c[:2]), marks=[pytest.mark.early("training_job")] if c in TRAINING else [])
            for c in commands]


@pytest.mark.parametrize("command", each(COMMANDS))
def test_no_native_log_line_reaches_the_console(ran, command):
    done, output = ran(command)
    assert done.returncode == 0, output[-3000:]
    assert not NATIVE.search(output), output[-3000:]


@pytest.mark.parametrize("command", each(TRAINING))
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


def verbose_job(folder) -> list[Command]:
    """A training command with --verbose, until its first native line."""
    return [command_in(folder, "training.cli", "--verbose", "colours", "--dims", "2", "--pairs", "2000",
                       "--epochs", "1", "--logdir", "logs", until=NATIVE)]


@pytest.mark.early("verbose_job")
def test_verbose_brings_them_back(early):
    """TensorFlow does print them here (training imports it), so the test above can fail; the switch shows them."""
    _, (verbose,) = early
    assert verbose.found, verbose.stderr[-3000:]


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


def tfds_job(folder) -> list[Command]:
    """The mocked tfds run quietly to its end and, side by side in a folder of its own, with
    --verbose until its first absl warning."""
    commands = []
    for name, extra, until in (("quiet", [], None), ("verbose", ["--verbose"], re.compile("WARNING:absl"))):
        (folder / name).mkdir()
        (folder / name / "tfds_run.py").write_text(TFDS_RUN)
        commands.append(Command([sys.executable, "tfds_run.py", *extra], cwd=folder / name, env=shell_environment(),
                                until=until))
    return commands


@pytest.mark.early("tfds_job")
def test_tfds_warnings_stay_off_the_console_too(early):
    """Reading IMDB through tfds (mocked here) logs deprecation warnings meant for developers.
    (The default UMAP layout's output is checked with the `training.cli imdb` command above.)"""
    _, (quiet, verbose) = early
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert "20 training and 20 test reviews" in quiet.stdout
    assert not re.search(r"WARNING:(absl|tensorflow)|deprecated", quiet.stdout + quiet.stderr), quiet.stderr
    assert not NATIVE.search(quiet.stdout + quiet.stderr), quiet.stderr
    assert verbose.found, verbose.stderr[-3000:]  # what the quiet run held back
