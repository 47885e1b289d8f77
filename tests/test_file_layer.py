"""The file layer, attacked by class: every writer creates new files or replaces its own, every
reader takes regular files only, capped, and nothing the tool did not write is deleted.

Each case of issue 19 is replayed on real folders: the command is refused with one line before
anything changes, or it writes where it should and keeps every file it did not write.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import threading

import numpy as np
import pytest

from projector_export import ProjectorExportError, export_embedding, validate
from projector_export.cli import main
from projector_export.files.reading import Skipped, files_in, read_bytes, read_text
from projector_export.files.writing import write_file
from projector_export import read_embedding
from test_safety import IS_ROOT, one_error_line, snapshot


@pytest.fixture
def run(tmp_path):
    """A small run in `tmp_path/logs/run`, with labels."""
    path = tmp_path / "logs" / "run"
    export_embedding(path, np.random.default_rng(0).normal(size=(40, 5)), [f"w{i}" for i in range(40)])
    return path


def make_fifo(path) -> str:
    os.mkfifo(path)
    return str(path)


def make_device(path) -> str:
    """A character device like /dev/null (root only), else skip."""
    if not IS_ROOT:
        pytest.skip("making a device node needs root")
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return str(path)


# ------------------------------------------------------------------- single files


def test_write_file_creates_new_files_and_replaces_only_its_own_or_on_request(tmp_path):
    target = tmp_path / "out" / "coords.tsv"
    assert write_file(target, "x\n", what="coordinates file") == str(target)
    assert target.read_text() == "x\n"
    with pytest.raises(ProjectorExportError, match=r"coords\.tsv exists and projector-export did not write it"):
        write_file(target, "y\n", what="coordinates file")
    assert target.read_text() == "x\n"
    write_file(target, "y\n", what="coordinates file", written_by_us=lambda path: True)
    write_file(target, "z\n", what="coordinates file", overwrite=True)
    assert target.read_text() == "z\n"
    assert sorted(os.listdir(tmp_path / "out")) == ["coords.tsv"]  # no partial file left


@pytest.mark.parametrize("kind", ["folder", "FIFO", "device", "link to a file", "dangling link", "empty", "slash"])
def test_write_file_refuses_what_is_not_a_new_or_regular_file(tmp_path, kind):
    target = tmp_path / "target"
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("a user's file")
    if kind == "folder":
        target.mkdir()
    elif kind == "FIFO":
        make_fifo(target)
    elif kind == "device":
        make_device(target)
    elif kind == "link to a file":
        target.symlink_to(elsewhere)
    elif kind == "dangling link":
        target.symlink_to(tmp_path / "nowhere")
    path = {"empty": "", "slash": str(tmp_path) + "/"}.get(kind, str(target))
    before = snapshot(tmp_path)
    with pytest.raises(ProjectorExportError) as error:
        write_file(path, "data", what="coordinates file", overwrite=True)
    assert "\n" not in str(error.value)
    assert snapshot(tmp_path) == before  # nothing written, nothing replaced, no partial file
    assert elsewhere.read_text() == "a user's file"


def test_write_file_refuses_paths_inside_folders_the_tool_writes_whole(run):
    for inside in (run / "coords.tsv", run / "checkpoint", run / "embedding.metadata.tsv"):
        with pytest.raises(ProjectorExportError, match="a folder projector-export writes whole"):
            write_file(inside, "x", what="coordinates file", overwrite=True)
    assert validate(str(run.parent)).ok and not (run / "coords.tsv").exists()


def test_write_file_never_replaces_a_file_made_while_it_wrote(tmp_path, monkeypatch):
    from projector_export.files import writing

    target = tmp_path / "coords.tsv"
    new_file = writing.new_file

    def racing(path):  # a user's program creates the file while ours is written
        if ".partial-" in str(path):
            target.write_text("theirs")
        return new_file(path)

    monkeypatch.setattr(writing, "new_file", racing)
    with pytest.raises(ProjectorExportError, match="was created by someone else"):
        write_file(target, "ours", what="coordinates file")
    assert target.read_text() == "theirs" and os.listdir(tmp_path) == ["coords.tsv"]


# ---------------------------------------------------------------- layout --out


@pytest.mark.parametrize("case", [
    "a user's file", "the run's checkpoint", "the run's metadata", "a FIFO", "a device", "a folder", "empty",
])
def test_layout_out_is_refused_before_the_run_changes(run, tmp_path, capsys, case):
    if case == "a user's file":
        out = tmp_path / "mine.tsv"
        out.write_text("my coordinates")
    elif case == "the run's checkpoint":
        out = run / "checkpoint"
    elif case == "the run's metadata":
        out = run / "embedding.metadata.tsv"
    elif case == "a FIFO":
        out = make_fifo(tmp_path / "pipe")
    elif case == "a device":
        out = make_device(tmp_path / "null")
    elif case == "a folder":
        out = tmp_path / "folder"
        out.mkdir()
    else:
        out = ""
    before = snapshot(tmp_path)
    assert main(["layout", str(run), "--method", "pca", "--out", str(out)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "coordinates file" in line or "does not name a file" in line, line
    assert snapshot(tmp_path) == before  # no bookmark in the run, no temp file anywhere
    assert validate(str(run.parent)).ok


def test_layout_out_replaces_a_users_earlier_file_only_with_force(run, tmp_path, capsys):
    out = tmp_path / "coords.tsv"
    assert main(["layout", str(run), "--method", "pca", "--out", str(out)]) == 0
    first = out.read_text()
    assert first.startswith("x\ty\tz\tlabel\n") and len(first.splitlines()) == 41
    assert main(["layout", str(run), "--method", "pca", "--dims", "2", "--out", str(out)]) == 1
    assert "--force" in one_error_line(capsys.readouterr().err)
    assert main(["layout", str(run), "--method", "pca", "--dims", "2", "--out", str(out), "--force"]) == 0
    assert out.read_text().startswith("x\ty\tlabel\n")
    assert sorted(os.listdir(tmp_path)) == ["coords.tsv", "logs"]


def test_a_layout_of_vectors_replaced_meanwhile_is_refused_not_stored(run, monkeypatch):
    """An export that replaces the vectors while the layout runs wins; the stale layout is dropped."""
    from projector_export import add_layout, reductions

    compute = reductions.compute_layout

    def slow(points, layout, **kwargs):  # another process re-exports while the layout is computed
        export_embedding(run, np.random.default_rng(1).normal(size=(30, 5)), [f"v{i}" for i in range(30)])
        return compute(points, layout, **kwargs)

    monkeypatch.setattr("projector_export.layout.compute_layout", slow)
    with pytest.raises(ProjectorExportError, match="was replaced while it was laid out"):
        add_layout(run, "pca")
    tensor = read_embedding(str(run))
    assert tensor.vectors.shape == (30, 5) and tensor.labels()[0] == "v0"
    assert "bookmarks" not in (run / "projector_config.pbtxt").read_text()
    assert validate(str(run.parent)).ok

    def renamed(points, layout, **kwargs):
        export_embedding(run, np.ones((30, 5)), name="other")
        return compute(points, layout, **kwargs)

    monkeypatch.setattr("projector_export.layout.compute_layout", renamed)
    with pytest.raises(ProjectorExportError, match="tensor 'embedding' was replaced while it was laid out"):
        add_layout(run, "pca")  # the tensor is gone from the run: the same line, not a StopIteration


# ------------------------------------------------------------- re-export keeps


def test_reexport_never_deletes_files_named_like_the_tools(run):
    mine = {
        "events.out.tfevents.my-scalars": b"my scalars",
        "embeddings.ckpt-1.index.bak": b"my backup of the index",
        "embeddings.ckpt-1.index.tempstate123": b"mine",
        "other.metadata.tsv": b"my labels",
        "projector_config.pbtxt.orig": b"my copy",
    }
    for name, data in mine.items():
        (run / name).write_bytes(data)
    export_embedding(run, np.eye(4), list("abcd"))
    export_embedding(run, np.eye(5), list("abcde"))
    for name, data in mine.items():
        assert (run / name).read_bytes() == data, name
    assert read_embedding(str(run)).vectors.shape == (5, 5) and validate(str(run.parent)).ok


def test_a_run_of_an_earlier_version_keeps_what_cannot_be_named_exactly(run):
    """A run without a record (an earlier version): the tool claims its config, checkpoint and assets only."""
    from projector_export.files.records import RECORD_FILENAME

    (run / RECORD_FILENAME).unlink()
    old_events = sorted(p.name for p in run.glob("events.out.tfevents*"))
    export_embedding(run, np.eye(4), list("abcd"))
    assert not (run / "embeddings.ckpt-1.index").exists()  # the old checkpoint: named by its state file
    assert set(old_events) < {p.name for p in run.glob("events.out.tfevents*")}  # kept: not named exactly
    assert validate(str(run.parent)).ok


# ----------------------------------------------------------------------- reading


@pytest.mark.parametrize("kind", ["FIFO", "device", "folder"])
def test_readers_refuse_at_once_what_is_not_a_regular_file(tmp_path, kind):
    path = tmp_path / "input"
    {"FIFO": make_fifo, "device": make_device, "folder": os.mkdir}[kind](path)
    result = {}

    def read():
        try:
            read_bytes(str(path), "vocabulary", limit=1 << 20)
        except ProjectorExportError as error:
            result["error"] = str(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "the reader waited on the input"
    assert "not a file" in result["error"]


def test_reads_are_capped_and_decoded_strictly_naming_the_line(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(ProjectorExportError, match=r"is 2,048 bytes, more than the 1,024"):
        read_bytes(str(big), "review", limit=1024)
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"fine\nstill fine\n\xff\xfe bad\n")
    with pytest.raises(ProjectorExportError, match=r"garbage\.txt, line 3: not UTF-8"):
        read_text(str(garbage), "vocabulary")


def test_folders_of_inputs_skip_links_and_odd_entries_without_opening_them(tmp_path):
    folder = tmp_path / "pos"
    folder.mkdir()
    (folder / "1_7.txt").write_text("a review")
    (tmp_path / "secret.txt").write_text("a file outside the folder")
    (folder / "2_8.txt").symlink_to(tmp_path / "secret.txt")
    (folder / "3_9.txt").symlink_to(folder / "1_7.txt")  # a link inside the folder is not read either
    make_fifo(folder / "4_1.txt")
    (folder / "5_2.txt").mkdir()
    skipped = Skipped()
    assert files_in(str(folder), r".*\.txt", skipped) == [str(folder / "1_7.txt")]
    assert len(skipped.links) == 2 and len(skipped.other) == 2
    assert "2 symbolic link(s)" in skipped.summary()


def aclimdb_folder(root, reviews=2):
    for split in ("train", "test"):
        for label, word in (("pos", "great"), ("neg", "awful")):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(reviews):
                (folder / f"{i}_5.txt").write_text(f"a {word} film, {word} acting {i}")
    return root / "aclImdb"


def test_an_aclimdb_folder_reads_only_its_regular_files(tmp_path, caplog):
    from training.imdb.data import read_aclimdb

    folder = aclimdb_folder(tmp_path)
    (tmp_path / "secret.txt").write_text("PASSWORD hunter2")
    (folder / "train" / "pos" / "9_9.txt").symlink_to(tmp_path / "secret.txt")
    make_fifo(folder / "train" / "neg" / "8_1.txt")
    (folder / "test" / "pos" / "x.txt").mkdir()
    train, test = read_aclimdb(str(folder))
    assert len(train) == 4 and len(test) == 4
    assert not any("hunter2" in text for text in train.texts + test.texts)
    assert "skipped 1 symbolic link(s)" in caplog.text and "2 entries that are not regular files" in caplog.text


def test_an_oversized_review_is_refused_in_a_folder_and_in_an_archive(tmp_path):
    from training.imdb.data import MAX_REVIEW_BYTES, read_aclimdb

    folder = aclimdb_folder(tmp_path / "folder")
    (folder / "train" / "pos" / "big_1.txt").write_bytes(b"a" * (MAX_REVIEW_BYTES + 1))
    with pytest.raises(ProjectorExportError, match=r"review .*big_1\.txt is 1,048,577 bytes"):
        read_aclimdb(str(folder))

    # an archive member that declares 3 GB: refused from its header, before any of it is read
    archive = tmp_path / "aclImdb_v1.tar.gz"
    info = tarfile.TarInfo("aclImdb/train/pos/0_9.txt")
    info.size = 3 << 30
    with gzip.open(archive, "wb") as raw:  # the header only: the data would be 3 GB
        raw.write(info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 4096)
    with pytest.raises(ProjectorExportError, match=r"member aclImdb/train/pos/0_9\.txt is 3,221,225,472 bytes"):
        read_aclimdb(str(archive))


# ------------------------------------------------------------- every input kind


def _vocabulary(path):
    from training.imdb.vocabulary import subword_encoder

    return subword_encoder(path, ["a review"], 300, given=True, live=False)


def _colours(path):
    from training.colours.data import load_colours

    return load_colours(path)


def _metadata(path):
    from projector_export.inputs.sources import read_labels

    return read_labels(path)


def _keras(path):
    from projector_export.inputs.keras_models import read_keras

    return read_keras(path, None)


def _aclimdb(path):
    from training.imdb.data import read_aclimdb

    return read_aclimdb(path)


@pytest.mark.parametrize("reader", [_vocabulary, _colours, _metadata, _keras, _aclimdb],
                         ids=["--vocab", "--data", "--metadata", ".keras", "--aclimdb archive"])
@pytest.mark.parametrize("kind", ["FIFO", "device", "folder", "garbage"])
def test_every_input_kind_is_read_through_the_layer(tmp_path, reader, kind):
    """A FIFO is never waited on, a device never read until memory runs out, a folder where a file
    belongs and bytes that are not what the input should be are each one line, for every input."""
    if kind in ("FIFO", "device") and reader is _metadata:
        pytest.skip("a metadata file may be a pipe the user named (<(cut -f1 words.tsv)): read as it comes")
    path = tmp_path / ("input.keras" if reader is _keras else "input.subwords" if reader is _vocabulary else "input")
    if kind == "FIFO":
        make_fifo(path)
    elif kind == "device":
        make_device(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"\xff\xfe\x00garbage\n\x80\x81")
    outcome = {}

    def read():
        try:
            reader(str(path))
            outcome["error"] = None
        except ProjectorExportError as error:
            outcome["error"] = str(error)
        except BaseException as error:  # noqa: BLE001 - anything else is the failure this test looks for
            outcome["error"] = f"{type(error).__name__}: {error}"

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the reader waited on its input"
    message = outcome["error"]
    assert message and "\n" not in message and not message.split(":")[0].endswith("Error"), message
