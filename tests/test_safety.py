"""What an export may touch: only folders that are new, empty or its own; never through links; one-line errors.

Each case is a session of a careless user (or an attacker) from issue 11,
replayed on real folders: the export is refused before anything changes, or
it writes where it should and keeps every file it did not write.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from projector_export import Embedding, ProjectorExportError, export_embedding, export_embeddings, validate
from projector_export.cli import main
from projector_export import read_embedding
from projector_export import export_file
from projector_export.files.records import RECORD_FILENAME
from projector_export.files.staging import RUN, TRAINING, staged_folder
from projector_export import export_standalone

IS_ROOT = os.geteuid() == 0


def snapshot(folder) -> dict[str, str]:
    """Every file under `folder` (links as their target) with a hash of its bytes."""
    found = {}
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder)
            if os.path.islink(path):
                found[relative] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                found[relative] = hashlib.sha256(open(path, "rb").read()).hexdigest()
            else:
                found[relative] = "folder"
    return found


def one_error_line(stderr: str) -> str:
    """The command's error: exactly one line, no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


def cli(*args, cwd=None, env=None, preexec_fn=None, prefix=()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "projector_export.cli", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, preexec_fn=preexec_fn, timeout=300,
    )


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A user's project folder (with a neighbour): notes, an input array, and the shell standing in it."""
    project = tmp_path / "proj"
    project.mkdir()
    (tmp_path / "neighbour.txt").write_text("beside the project\n")
    (project / "notes.txt").write_text("my notes\n")
    np.save(project / "v.npy", np.random.default_rng(0).normal(size=(5, 4)))
    monkeypatch.chdir(project)
    return project


@pytest.mark.parametrize("run", ["..", ".", "", "../escape", "/abs/path", "a/../..", "a//b"])
def test_run_names_that_leave_the_logdir_are_refused(project, capsys, run):
    before = snapshot(project.parent)
    assert main(["export", "v.npy", "--logdir", "logs", "--run", run]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert f"run name {run!r} does not name a folder inside logs" in line
    assert snapshot(project.parent) == before  # notes.txt, v.npy, everything beside: as they were


def test_a_folder_the_tool_did_not_write_is_refused_before_anything_changes(project):
    for i in range(5):
        (project / f"file{i}.txt").write_text(str(i))
    before = snapshot(project)
    for folder in (project, ".", "notes-folder"):
        if folder == "notes-folder":
            (project / folder).mkdir()
            (project / folder / "draft.md").write_text("x")
            before = snapshot(project)
        with pytest.raises(ProjectorExportError) as refused:
            export_embedding(folder, np.eye(3), ["a", "b", "c"])
        assert "holds other files (" in str(refused.value) and "changes nothing here" in str(refused.value)
        assert snapshot(project) == before
    message = str(pytest.raises(ProjectorExportError, export_embedding, project, np.eye(3)).value)
    assert "(file0.txt, file1.txt, file2.txt, file3.txt, file4.txt and 3 more)" in message


def test_a_keras_log_folder_is_refused_with_the_subfolder_to_use(tmp_path):
    (tmp_path / "my-model" / "train").mkdir(parents=True)
    (tmp_path / "my-model" / "train" / "events.out.tfevents.1").write_bytes(b"keras")
    with pytest.raises(ProjectorExportError, match=r"holds other files \(train\).*my-model/projector"):
        export_embedding(tmp_path / "my-model", np.eye(3))
    export_embedding(tmp_path / "my-model" / "projector", np.eye(3))
    assert (tmp_path / "my-model" / "train" / "events.out.tfevents.1").read_bytes() == b"keras"


def test_tsv_out_into_a_folder_of_other_files_is_refused(project, capsys):
    export_embedding(project / "logs" / "r", np.eye(3), ["a", "b", "c"])
    out = project / "out"
    (out / "mydir").mkdir(parents=True)
    (out / "notes.txt").write_text("keep")
    before = snapshot(project)
    assert main(["tsv", "logs/r", "--out", "out"]) == 1
    assert "holds other files (mydir, notes.txt)" in one_error_line(capsys.readouterr().err)
    assert snapshot(project) == before
    for refused in (".", "logs/r", ""):  # the project, the run, nothing
        assert main(["tsv", "logs/r", "--out", refused]) == 1
        one_error_line(capsys.readouterr().err)
        assert snapshot(project) == before


def test_a_symlinked_run_is_refused_and_its_target_untouched(project, capsys):
    elsewhere = project / "elsewhere"
    (elsewhere / "sub").mkdir(parents=True)
    (elsewhere / "precious.txt").write_text("precious")
    (project / "logs").mkdir()
    os.symlink("../elsewhere", project / "logs" / "r")
    os.symlink("../elsewhere", project / "logs" / "a")
    before = snapshot(project)
    for _ in range(2):  # and every later export says the same, without a traceback
        assert main(["export", "v.npy", "--logdir", "logs", "--run", "r"]) == 1
        assert "is a symbolic link" in one_error_line(capsys.readouterr().err)
    assert main(["export", "v.npy", "--logdir", "logs", "--run", "a/projector"]) == 1  # a link on the way out
    assert "leads out of logs through a symbolic link" in one_error_line(capsys.readouterr().err)
    with pytest.raises(ProjectorExportError, match="symbolic link"):
        export_embedding(project / "logs" / "r", np.eye(3))
    export_embedding(project / "run", np.eye(3))
    with pytest.raises(ProjectorExportError, match="symbolic link"):
        export_standalone(project / "run", project / "logs" / "r")
    before["run"] = "folder"
    assert {k: v for k, v in snapshot(project).items() if not k.startswith("run/")} == before


def test_reexport_keeps_subfolders_and_the_files_a_user_added(tmp_path):
    run = tmp_path / "run"
    export_embedding(run, np.eye(3), ["a", "b", "c"], name="first")
    (run / "train").mkdir()
    (run / "train" / "events.out.tfevents.keras").write_bytes(b"scalars")
    (run / "my notes.txt").write_text("mine")
    (run / "other.metadata.tsv").write_text("a file of mine with a name like the tool's")
    export_embedding(run, np.eye(4), list("wxyz"), name="second")
    assert (run / "train" / "events.out.tfevents.keras").read_bytes() == b"scalars"
    assert (run / "my notes.txt").read_text() == "mine"
    assert (run / "other.metadata.tsv").read_text().startswith("a file of mine")
    assert not (run / "first.metadata.tsv").exists() and read_embedding(str(run)).name == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging piece, no lock file

    # a file of the user's with the name of a file this export writes: refused, nothing changes
    (run / "third.metadata.tsv").write_text("mine too")
    before = snapshot(tmp_path)
    with pytest.raises(ProjectorExportError, match=r"holds third\.metadata\.tsv, which projector-export did not write"):
        export_embedding(run, np.eye(3), ["a", "b", "c"], name="third")
    assert snapshot(tmp_path) == before


def test_export_file_is_what_the_command_does(tmp_path):
    np.save(tmp_path / "v.npy", np.arange(40, dtype=np.float32).reshape(10, 4))
    (tmp_path / "labels.tsv").write_text("word\tn\n" + "".join(f"w{i}\t{i}\n" for i in range(10)))
    result = export_file(tmp_path / "v.npy", tmp_path / "run", metadata=tmp_path / "labels.tsv", name="words", max_rows=6)
    assert (result.name, result.shape) == ("words", (6, 4))
    run = read_embedding(str(tmp_path / "run"))
    assert run.labels() == [f"w{i}" for i in range(6)]
    with pytest.raises(ProjectorExportError, match=r"`max_rows=0`"):
        export_file(tmp_path / "v.npy", tmp_path / "run", max_rows=0)


def test_the_command_names_flags_where_the_library_names_parameters(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.eye(3))
    assert main(["export", str(tmp_path / "v.npy"), "--logdir", str(tmp_path), "--run", "r", "--max-rows", "0"]) == 1
    assert "--max-rows 0: keep at least 1 row" in one_error_line(capsys.readouterr().err)
    export_embeddings(tmp_path / "two", [Embedding(np.eye(3), name="a"), Embedding(np.eye(3), name="b")])
    assert main(["neighbours", str(tmp_path / "two"), "0"]) == 1
    assert "choose one with --tensor NAME" in one_error_line(capsys.readouterr().err)
    assert main(["neighbours", str(tmp_path / "two"), "0", "--tensor", "a", "--metric", "euclidean"]) == 0


HOLDER = textwrap.dedent(
    """
    import sys, time
    from projector_export.files.staging import RUN, staged_folder
    with staged_folder(sys.argv[1], RUN, copy_current=True) as stage:
        open(sys.argv[1] + "/holder.txt", "w").write("a user's file, written while an export holds the lock")
        print("holding", flush=True)
        sys.stdin.readline()  # until the other export says it waits
    print("done", time.time(), flush=True)
    """
)


class ReleaseWhenWaiting(logging.Handler):
    """Tells the holder to finish once an export logs that it waits for the lock."""

    def __init__(self, holder: subprocess.Popen):
        super().__init__()
        self.holder = holder
        self.waited = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("waiting for another export of "):
            self.waited = True
            self.holder.stdin.write("go\n")
            self.holder.stdin.flush()


@pytest.mark.skipif(not IS_ROOT or not shutil.which("unshare"), reason="a second PID namespace needs root")
def test_the_lock_holds_across_pid_namespaces(tmp_path):
    """An export in another container (PID namespace) is waited for, not taken for dead and deleted."""
    run = tmp_path / "run"
    export_embedding(run, np.eye(3), ["a", "b", "c"])
    holder = subprocess.Popen(
        ["unshare", "--pid", "--fork", sys.executable, "-c", HOLDER, str(run)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    assert [p.name for p in tmp_path.iterdir() if ".new-" in p.name]  # its staging folder, PID unknown here
    release = ReleaseWhenWaiting(holder)
    library_log = logging.getLogger("projector_export")  # whichever module says it waits
    library_log.addHandler(release)
    # an export that waits without saying so fails, not hangs: the holder's whole group is killed
    timer = threading.Timer(120, os.killpg, (holder.pid, signal.SIGKILL))
    timer.start()
    try:
        export_embedding(run, np.eye(4), list("abcd"))  # waits for the holder
    finally:
        timer.cancel()
        library_log.removeHandler(release)
    finished = time.time()
    out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err
    assert release.waited
    assert float(out.split()[-1]) <= finished
    assert read_embedding(str(run)).vectors.shape == (4, 4)
    assert (run / "holder.txt").read_text().startswith("a user's file")  # a file the tool did not write: kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


EXPORTER = textwrap.dedent(
    """
    import sys, numpy as np
    from projector_export import export_embedding
    for i in range(int(sys.argv[2])):
        result = export_embedding(sys.argv[1], np.random.default_rng(i).normal(size=(50, 8)), [str(j) for j in range(50)])
        print(result.checkpoint_prefix, flush=True)
    """
)


def test_concurrent_exports_are_serialised_and_get_distinct_checkpoint_numbers(tmp_path):
    run = tmp_path / "logs" / "run"
    children = [
        subprocess.Popen([sys.executable, "-c", EXPORTER, str(run), "5"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    prefixes = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        prefixes += out.split()
    numbers = sorted(int(prefix.rsplit("-", 1)[1]) for prefix in prefixes)
    assert numbers == list(range(1, 11))  # one each, none shared: a running TensorBoard sees every change
    assert validate(str(tmp_path / "logs")).ok
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["run"]


def test_a_stray_lock_is_harmless_and_a_foreign_one_is_not_taken(tmp_path):
    export_embedding(tmp_path / "run", np.eye(3))
    (tmp_path / ".run.export-lock").write_bytes(b"")  # left by an export killed while holding it
    report = validate(str(tmp_path))
    assert report.ok and "lock of an interrupted export" in str(report)
    export_embedding(tmp_path / "run", np.eye(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    (tmp_path / ".run.export-lock").write_text("somebody else's file")
    with pytest.raises(ProjectorExportError, match="is not a lock file of projector-export"):
        export_embedding(tmp_path / "run", np.eye(3))
    assert (tmp_path / ".run.export-lock").read_text() == "somebody else's file"


def test_names_too_long_for_the_file_system_are_one_line_errors(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.eye(3))
    export_embedding(tmp_path / "logs" / "r", np.eye(3))
    before = snapshot(tmp_path)
    assert main(["export", str(tmp_path / "v.npy"), "--logdir", str(tmp_path / "logs"), "--run", "r" * 250]) == 1
    assert "choose a name of at most 240 bytes" in one_error_line(capsys.readouterr().err)
    assert main(["export", str(tmp_path / "v.npy"), "--logdir", str(tmp_path / "logs"), "--run", "r", "--name", "n" * 250]) == 1
    assert "at most 242 of them" in one_error_line(capsys.readouterr().err)
    assert snapshot(tmp_path) == before


def test_a_logdir_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.eye(3))
    (tmp_path / "logs").write_text("a file")
    assert main(["export", str(tmp_path / "v.npy"), "--logdir", str(tmp_path / "logs"), "--run", "r"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert f"could not write {tmp_path / 'logs' / 'r'}" in line and "is a file, not a folder" in line
    assert (tmp_path / "logs").read_text() == "a file"


def mounted(command: str) -> list[str]:
    """`command` run by sh in a mount namespace of its own (root only)."""
    return ["unshare", "--mount", "sh", "-euc", command]


needs_mounts = pytest.mark.skipif(not IS_ROOT or not shutil.which("unshare"), reason="mounting needs root")


@needs_mounts
def test_a_read_only_target_is_a_one_line_error_and_the_run_stays(tmp_path):
    export_embedding(tmp_path / "logs" / "r", np.eye(3), ["a", "b", "c"])
    np.save(tmp_path / "v.npy", np.ones((4, 4)))
    before = snapshot(tmp_path / "logs")
    logs = tmp_path / "logs"
    done = subprocess.run(mounted(
        f"mount --bind {logs} {logs}; mount -o remount,bind,ro {logs}; "
        f"exec {sys.executable} -m projector_export.cli export {tmp_path / 'v.npy'} --logdir {logs} --run r"
    ), capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    line = one_error_line(done.stderr)
    assert "Read-only file system" in line and "choose a folder you can write to" in line
    assert snapshot(logs) == before and validate(str(logs)).ok


@needs_mounts
def test_a_full_disk_is_a_one_line_error_and_the_run_stays(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    np.save(tmp_path / "big.npy", np.ones((20_000, 64), dtype=np.float32))  # 5 MB: more than is left
    script = textwrap.dedent(f"""
        mount -t tmpfs -o size=4m tmpfs {disk}
        {sys.executable} -c "import numpy as np; from projector_export import export_embedding; export_embedding('{disk}/logs/r', np.eye(3), ['a','b','c'])"
        {sys.executable} -m projector_export.cli export {tmp_path / 'big.npy'} --logdir {disk}/logs --run r && echo "exit 0" || echo "exit $?"
        ls -a {disk}/logs
        {sys.executable} -m projector_export.cli validate {disk}/logs
    """)
    done = subprocess.run(mounted(script), capture_output=True, text=True, timeout=300)
    assert "exit 1" in done.stdout, done.stdout + done.stderr
    line = one_error_line(done.stderr)
    assert "No space left on device" in line and "free some space" in line
    assert ".\n..\n.r.export-lock" not in done.stdout and "\nr\n" in done.stdout
    assert "1 projector run checked" in done.stdout and "all good" in done.stdout


def limit_file_size():
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_a_file_size_limit_is_a_one_line_error_and_the_run_stays(tmp_path):
    """What any user can reproduce without root: writes refused by the system midway through an export."""
    export_embedding(tmp_path / "logs" / "r", np.eye(3), ["a", "b", "c"])
    np.save(tmp_path / "big.npy", np.ones((20_000, 64), dtype=np.float32))
    before = snapshot(tmp_path / "logs")
    done = cli("export", tmp_path / "big.npy", "--logdir", tmp_path / "logs", "--run", "r", preexec_fn=limit_file_size)
    assert done.returncode == 1
    assert "could not write" in one_error_line(done.stderr) and "File too large" in done.stderr
    assert snapshot(tmp_path / "logs") == before


@pytest.mark.skipif(not IS_ROOT or not shutil.which("chattr"), reason="chattr +i needs root")
def test_an_immutable_file_in_the_old_run_does_not_fail_an_export_that_replaced_it(tmp_path):
    logs = tmp_path / "logs"
    export_embedding(logs / "r", np.eye(3), ["a", "b", "c"])
    np.save(tmp_path / "v.npy", np.ones((4, 5)))
    stuck = logs / "r" / "embedding.metadata.tsv"
    if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True).returncode:
        pytest.skip("this file system has no immutable attribute")
    try:
        done = cli("export", tmp_path / "v.npy", "--logdir", logs, "--run", "r")
        assert done.returncode == 0, done.stderr  # the run was replaced: that is success
        assert "could not tidy" in done.stderr and "Traceback" not in done.stderr
        assert read_embedding(str(logs / "r")).vectors.shape == (4, 5)
        report = validate(str(logs))
        assert report.ok and "holds only files it wrote" in str(report)
    finally:
        for path in logs.rglob("embedding.metadata.tsv"):
            subprocess.run(["chattr", "-i", str(path)])
    export_embedding(logs / "r", np.eye(3))  # the next export tidies it
    assert sorted(p.name for p in logs.iterdir()) == ["r"]


def test_staging_can_start_from_a_copy_of_the_run(tmp_path):
    """For writers that change one file of a run (the layouts' bookmarks): copy, add, swap."""
    run = tmp_path / "run"
    export_embedding(run, np.eye(3), ["a", "b", "c"])
    (run / "train").mkdir()
    with staged_folder(run, RUN, copy_current=True) as stage:
        assert stage.exists and sorted(os.listdir(stage.path)) == sorted(
            p for p in os.listdir(run) if p not in ("train", RECORD_FILENAME)
        )
        stage.write("embedding.bookmarks.json", "[]")
    assert (run / "embedding.bookmarks.json").read_text() == "[]"
    assert (run / "train").is_dir() and validate(str(tmp_path)).ok
    assert tf.train.load_checkpoint(str(run)).get_tensor("embedding").shape == (3, 3)


def test_the_callback_refuses_a_folder_it_may_not_write_before_training(tmp_path):
    import keras

    from projector_export import ProjectorCallback

    (tmp_path / "model" / "projector").mkdir(parents=True)
    (tmp_path / "model" / "projector" / "mine.txt").write_text("mine")
    model = keras.Sequential([keras.Input((2,), dtype="int32"), keras.layers.Embedding(4, 3),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    epochs = []
    with pytest.raises(ProjectorExportError, match=r"holds other files \(mine\.txt\)"):
        model.fit(np.array([[0, 1], [2, 3]]), np.array([0.0, 1.0]), epochs=2, verbose=0, callbacks=[
            ProjectorCallback(tmp_path / "model"),
            keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs.append(epoch)),
        ])
    assert epochs == [] and os.listdir(tmp_path / "model" / "projector") == ["mine.txt"]


def write_training_run(run_dir, version: str) -> None:
    """What a `projector-train` run writes, in miniature: Keras's logs (written by "Keras", not
    through the stage), a projector run inside, plots."""
    with staged_folder(run_dir, TRAINING) as stage:
        for folder in ("train", "validation"):
            os.makedirs(stage.join(f"{folder}/plugins/profile/2024"))
            open(stage.join(f"{folder}/events.out.tfevents.{version}.host.v2"), "wb").write(version.encode())
            open(stage.join(f"{folder}/plugins/profile/2024/host.xplane.pb"), "wb").write(version.encode())
        export_embedding(stage.join("projector"), np.eye(3) * float(version), ["a", "b", "c"])
        stage.write("plots/embedding-2d.png", version)


def test_a_training_run_is_replaced_whole_and_keeps_what_a_user_added_anywhere_in_it(tmp_path):
    run = tmp_path / "logs" / "model"
    write_training_run(run, "1")
    (run / "train" / "plugins" / "profile" / "2024" / "my-trace.json").write_text("mine")
    (run / "validation" / "notes.txt").write_text("mine")
    (run / "plots" / "my-figure.pdf").write_text("mine")
    (run / "mine").mkdir()
    (run / "mine" / "a.txt").write_text("mine")
    (run / "projector" / "notes.txt").write_text("mine")
    (run / "train" / "events.out.tfevents.my-scalars").write_text("mine: not a name the tool gives")
    write_training_run(run, "2")
    assert (run / "train" / "plugins" / "profile" / "2024" / "my-trace.json").read_text() == "mine"
    for mine in ("validation/notes.txt", "plots/my-figure.pdf", "mine/a.txt", "projector/notes.txt",
                 "train/events.out.tfevents.my-scalars"):
        assert (run / mine).read_text().startswith("mine"), mine
    # the tool's own files of the first run are gone, the second run's are there
    assert sorted(p.name for p in (run / "train").glob("events.out.tfevents.*.host.v2")) == ["events.out.tfevents.2.host.v2"]
    assert (run / "plots" / "embedding-2d.png").read_text() == "2"
    assert read_embedding(str(run / "projector")).vectors[0, 0] == 2.0
    assert sorted(p.name for p in run.parent.iterdir()) == ["model"]  # no staging piece, no lock


def test_a_training_run_file_a_user_changed_is_kept_or_stops_the_run(tmp_path):
    run = tmp_path / "model"
    write_training_run(run, "1")
    (run / "plots" / "embedding-2d.png").write_text("my own drawing over the tool's plot")
    before = snapshot(tmp_path)
    with pytest.raises(ProjectorExportError, match=r"holds plots/embedding-2d\.png, changed since projector-export"):
        write_training_run(run, "2")
    assert snapshot(tmp_path) == before


def test_a_training_run_of_an_earlier_version_is_refused_not_deleted(tmp_path):
    run = tmp_path / "model"
    export_embedding(run / "projector", np.eye(3))  # an earlier projector-train: no record of its own
    (run / "train").mkdir()
    (run / "train" / "events.out.tfevents.1.host.v2").write_bytes(b"e")
    before = snapshot(tmp_path)
    with pytest.raises(ProjectorExportError, match=r"an earlier projector-train, which kept no record"):
        write_training_run(run, "2")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("model", ["colours", "imdb"])
def test_projector_train_refuses_a_folder_it_may_not_write_before_training(model, tmp_path, capsys):
    from training import cli

    run = tmp_path / "logs" / ("colours-2d" if model == "colours" else "imdb")
    projector = run / "projector"
    projector.mkdir(parents=True)
    (projector / "mine.txt").write_text("mine")
    # imdb: a missing data dir would be the next error, after the folder check
    argv = [model, "--logdir", str(tmp_path / "logs")] + (["--data-dir", str(tmp_path / "none")] if model == "imdb" else [])
    start = time.monotonic()
    assert cli.main(argv) == 1
    assert time.monotonic() - start < 10  # before reading data or training
    err = capsys.readouterr().err
    assert f"error: {run} holds other files (projector)" in err
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "logs", f"logs/{projector.parent.name}", f"logs/{projector.parent.name}/projector",
        f"logs/{projector.parent.name}/projector/mine.txt",
    ]
