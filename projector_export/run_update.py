"""Changing a few files of a run (its bookmarks, its metadata) under its lock, the rest kept as it is.

`add_layout` and `add_clusters` compute for minutes from a tensor they read, then change
a run another export may have replaced meanwhile. `updating` copies the run into a
staging folder under its export lock, checks there that the tensor is still the one
read (by the checkpoint index's shape, dtype and crc32c, without reading it again),
hands the copy over to be changed, renumbers the checkpoint (a running TensorBoard
re-reads a run's config only when its checkpoint path changes) and swaps the copy in
as every export does: a failure or a kill leaves the run as it was.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Iterator

from projector_export.errors import ProjectorExportError
from projector_export.filenames import CONFIG_FILENAME
from projector_export.files import fs
from projector_export.files.paths import inside, shown
from projector_export.files.reading import read_bytes
from projector_export.files.staging import RUN, Stage, staged_folder
from projector_export.format.bookmarks import read_states
from projector_export.format.checkpoint import Checkpoint, checkpoint_number, key_of, renumber_checkpoint
from projector_export.format.config import read_config
from projector_export.read import StoredEmbedding, stored_identity


class RunUpdate:
    """The staged copy of a run being changed: its config, the entry of the tensor, and writes."""

    def __init__(self, stage: Stage, run: StoredEmbedding):
        self.stage = stage
        self.run = run
        self.config = read_config(stage.path)
        self.entry = next(e for e in self.config.embeddings if key_of(e.tensor_name) == run.key)

    def states(self) -> list[dict]:
        """The tensor's bookmarks as the run holds them now (none without a bookmarks file).

        Raises:
            ProjectorExportError: the bookmarks file is no longer as the tool wrote it: it is
                the user's now, and neither read nor replaced.
        """
        relative = self.entry.bookmarks_path
        if not relative:
            return []
        path = inside(self.stage.path, posixpath.join(self.stage.path, relative), "bookmarks file")
        if not fs.exists(path):
            self.refuse_if_yours(relative, "bookmarks file")
            return []
        shown_path = posixpath.join(self.run.run_dir, relative)  # as the user knows it, not the staging copy
        try:
            return read_states(read_bytes(path, f"bookmarks file {shown(shown_path)}"), shown_path)
        except ProjectorExportError as error:
            # Refused, not dropped: the file may hold bookmarks a person made.
            raise ProjectorExportError(
                f"{error}; new bookmarks would lose the ones in it: fix it by hand, or delete it (or export the "
                "run again, which leaves it out) and add them again"
            ) from None

    def refuse_if_yours(self, relative: str, what: str) -> None:
        """Refuse to write over a file of the run that the tool wrote but someone changed since
        (the staged copy holds only the files still as the tool wrote them)."""
        original = posixpath.join(self.run.run_dir, relative)
        if posixpath.dirname(relative) == "" and fs.exists(original) and not fs.exists(self.stage.join(relative)):
            raise ProjectorExportError(
                f"{shown(original)}: the {what} was changed since projector-export wrote it, so it is yours and "
                f"is left as it is: rename it (and the {relative!r} line of {CONFIG_FILENAME}) to keep it, or "
                "export the run again"
            )

    def file_name(self, relative: str | None, default: str) -> str:
        """The file to write: the one the config names when it lies in the run folder itself, else `default`."""
        return relative if relative and posixpath.dirname(relative) == "" else default

    def write(self, name: str, text: str) -> None:
        """Write (or replace) the file `name` of the run."""
        if fs.exists(self.stage.join(name)):
            self.stage.remove(name)
        self.stage.write(name, text)

    def remove_unused(self, name: str | None) -> None:
        """Remove the run's file `name` when no tensor of the config names it any more."""
        if not name or posixpath.dirname(name) or not fs.exists(self.stage.join(name)):
            return
        for embedding in self.config.embeddings:
            if name in (embedding.metadata_path, embedding.bookmarks_path, embedding.sprite.image_path):
                return
        self.stage.remove(name)

    def write_config(self) -> None:
        from google.protobuf import text_format

        self.write(CONFIG_FILENAME, text_format.MessageToString(self.config))


@contextlib.contextmanager
def updating(run: StoredEmbedding) -> Iterator[RunUpdate]:
    """Lock and copy `run`'s folder, check its tensor is the one read, yield the copy to change,
    renumber its checkpoint and swap it in.

    Raises:
        ProjectorExportError: the tensor was replaced or removed since `run` was read; the run
            is left as the other export wrote it.
    """
    with staged_folder(run.run_dir, RUN, copy_current=True) as stage:
        _check_unchanged(run, stage.path)
        update = RunUpdate(stage, run)
        yield update
        renumber_checkpoint(stage, checkpoint_number(stage.target) + 1)


def _check_unchanged(read: StoredEmbedding, staging: str) -> None:
    keys = {key_of(entry.tensor_name) for entry in read_config(staging).embeddings}
    try:
        now = stored_identity(Checkpoint(staging), read.key) if read.key in keys else None
    except (ProjectorExportError, KeyError):
        now = None
    if now != read.stored:
        raise ProjectorExportError(
            f"{shown(read.run_dir)}: tensor {read.name!r} was replaced while it was laid out (another export "
            "wrote the run meanwhile); the run is left as that export wrote it: lay it out again"
        )
