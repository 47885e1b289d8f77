"""Writing a folder whole: lock it, write beside it, swap it into place, repair what a kill left.

Every folder the tool writes (a projector run, a standalone export, a training run) is
written through `staged_folder`:

```python
with staged_folder("logs/words", RUN) as stage:
    stage.write("notes.txt", "...")            # or `with stage.file(name) as f: f.write(...)`
# logs/words is now the new folder; the files in it the tool did not write are kept
```

What it guarantees about the target folder:

* it is written only when it is absent, empty, or a folder of the same kind this
  tool wrote (`records`); anything else is refused before anything changes,
  naming up to five of its files;
* a symbolic link is refused, so nothing is written where it points;
* the new folder is written beside the target, its record last, and replaces the
  target in one step (Linux `renameat2` with RENAME_EXCHANGE; elsewhere two
  renames); what the tool did not write in the old folder (a file a user added or
  changed, anywhere in it) is moved into the new one at the same place, and only
  the files the tool recorded are deleted with the old folder;
* writes of one target are serialised by a file lock (`flock`), so two of them
  never mix their files, whatever process or container runs them;
* a kill at any moment leaves pieces beside the target, named below, that
  `validate` reports and the next write of the target repairs.

Beside TARGET, in its parent folder:

    .TARGET.export-lock     the lock, removed when the write ends
    .TARGET.new-XXXXXXXX    being written; holds only files the tool wrote
    .TARGET.swap-XXXXXXXX   complete, about to be swapped in; after the exchange, the previous TARGET
    .TARGET.old-XXXXXXXX    the previous TARGET moved aside where there is no exchange
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import logging
import os
import posixpath
import uuid
from collections.abc import Iterator

from projector_export.errors import ProjectorExportError
from projector_export.files import fs, records
from projector_export.files.leftovers import carry_and_discard, discard_written, listing, moves, recover
from projector_export.files.lock import locked
from projector_export.files.paths import normalise, shown
from projector_export.files.records import RUN, STANDALONE, TRAINING  # noqa: F401 - the kinds, for callers
from projector_export.files.writing import HashingWriter, new_file, write_errors

logger = logging.getLogger(__name__)

# The longest name put beside a target: ".TARGET.swap-XXXXXXXX".
SIBLING_EXTRA_CHARACTERS = len("..swap-") + 8
_NAME_MAX = 255
_NOUNS = {RUN: "run folder", STANDALONE: "output folder", TRAINING: "training run folder"}


class Stage:
    """The folder to write into (`path`), the folder it will replace (`target`), and whether
    `target` holds an earlier folder of this kind (`exists`)."""

    def __init__(self, path: str, target: str, exists: bool):
        self.path = path
        self.target = target
        self.exists = exists
        self._written: dict[str, str] = {}  # relative path -> checksum, for the record

    def final(self, value):
        """`value` with every path inside the staging folder as it will be after the swap: for a
        path, or a (frozen) dataclass, tuple or list holding paths, such as an `ExportResult`."""
        if isinstance(value, str):
            if value == self.path or value.startswith(self.path + "/"):
                return self.target + value[len(self.path) :]
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {field.name: self.final(getattr(value, field.name)) for field in dataclasses.fields(value)}
            return dataclasses.replace(value, **changes)
        if isinstance(value, (tuple, list)):
            return type(value)(self.final(item) for item in value)
        return value

    def join(self, name: str) -> str:
        """The path of `name` (relative, `/`-separated) in the staging folder."""
        return fs.join(self.path, name)

    @contextlib.contextmanager
    def file(self, name: str) -> Iterator[HashingWriter]:
        """Write the new file `name` (its folders are made) into the staging folder."""
        path = self.join(name)
        fs.makedirs(posixpath.dirname(path))
        with new_file(path) as f:
            yield f
        self._written[name] = f.checksum

    def remove(self, name: str) -> None:
        """Remove a file of the staging folder (one copied from the current folder, to write anew)."""
        fs.remove(self.join(name))
        self._written.pop(name, None)

    def write(self, name: str, data: bytes | str) -> str:
        """Write `data` (text as UTF-8) as the new file `name`; return its path in the staging folder."""
        with self.file(name) as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        return self.join(name)


@contextlib.contextmanager
def staged_folder(target: str, kind: str, *, copy_current: bool = False) -> Iterator[Stage]:
    """Lock `target`, check it may be written, yield a staging folder, and swap it in on success.

    Args:
        target: the folder to write: a local path or a `tf.io.gfile` URL.
        kind: `RUN`, `STANDALONE` or `TRAINING` (see `records`).
        copy_current: start the staging folder with copies of the files the tool wrote
            in the current `target` (to change a few files of it).

    Raises:
        ProjectorExportError: `target` is a link, too long a name, or a folder this
            tool may not replace, or the new folder would overwrite a file the tool
            did not write; nothing has changed then.
        OSError: the file system refused a write (disk full, read-only, ...), as one
            line naming the target; the previous folder is unchanged.
    """
    target = normalise(target)
    parent, base = posixpath.split(target)
    _check_name(parent, base, target)
    with write_errors(target):
        fs.makedirs(parent)
    with locked(parent, base, target):
        with write_errors(target):
            recover(parent, base)
            kept = _entries_to_keep(target, kind)
            staging = posixpath.join(parent, f".{base}.new-{uuid.uuid4().hex[:8]}")
            fs.makedirs(staging)
        stage = Stage(staging, target, exists=kept is not None)
        try:
            with write_errors(target):  # the writer's own writes too: a full disk is one line
                if copy_current and kept is not None:
                    for name in sorted(records.owned_files(target) or ()):
                        if name != records.RECORD_FILENAME:
                            fs.makedirs(posixpath.dirname(stage.join(name)))
                            fs.copy(fs.join(target, name), stage.join(name))
                yield stage
                _refuse_clashes(target, staging, kept or [])
                _write_record(stage, kind)
                ready = posixpath.join(parent, f".{base}.swap-{staging.rsplit('-', 1)[1]}")
                fs.rename(staging, ready)
                staging = ready
                previous = _swap(ready, target)
        except BaseException:
            with contextlib.suppress(Exception):  # else the next write tidies it
                if fs.exists(staging):
                    discard_written(staging)
            raise
        # The new folder is in place: what follows must not fail the write.
        if previous is not None:
            carry_and_discard(previous, target, announce=False)


def _write_record(stage: Stage, kind: str) -> None:
    """The record of what the staging folder holds, written last into it (see `records`)."""
    text = records.make_record(stage.path, kind, stage._written).text()
    with new_file(stage.join(records.RECORD_FILENAME)) as f:
        f.write(text.encode("utf-8"))


def check_target(target: str, kind: str) -> None:
    """Refuse `target` as `staged_folder` would, writing nothing: for writers about to do long work first.

    Raises:
        ProjectorExportError: a link, too long a name, or a folder this tool may not replace.
    """
    target = normalise(target)
    _check_name(*posixpath.split(target), target)
    _entries_to_keep(target, kind)


def _check_name(parent: str, base: str, target: str) -> None:
    if not base or base in (".", ".."):
        raise ProjectorExportError(f"{shown(target)!r} does not name a folder; give a folder such as logs/words")
    if not fs.is_remote(target) and os.path.islink(target):
        raise ProjectorExportError(
            f"{shown(target)} is a symbolic link (to {shown(os.readlink(target))}); projector-export does not "
            "write through links, which would replace files where they point: remove the link, or give the "
            "folder itself"
        )
    name_max = _NAME_MAX
    if not fs.is_remote(parent):
        existing = parent
        while not os.path.isdir(existing) and existing != os.path.dirname(existing):
            if os.path.lexists(existing):
                raise ProjectorExportError(
                    f"could not write {shown(target)}: {shown(existing)} is a file, not a folder; choose another folder"
                )
            existing = os.path.dirname(existing)
        with contextlib.suppress(OSError, ValueError):
            name_max = os.pathconf(existing, "PC_NAME_MAX")
    size = len(base.encode("utf-8", "surrogateescape"))
    if size + SIBLING_EXTRA_CHARACTERS > name_max:
        raise ProjectorExportError(
            f"the folder name {shown(base[:40])!r}... is {size} bytes; with the {SIBLING_EXTRA_CHARACTERS} characters "
            f"of its staging folder beside it, it exceeds the {name_max} the file system allows: choose a "
            f"name of at most {name_max - SIBLING_EXTRA_CHARACTERS} bytes"
        )


def _entries_to_keep(target: str, kind: str) -> list[str] | None:
    """What of the current `target` to move into the new one (paths relative to it); None when
    there is no target.

    Raises:
        ProjectorExportError: the target is a file, or a folder this tool may not replace.
    """
    found = fs.kind(target)
    if found is None:
        return None
    if found != fs.FOLDER:
        raise ProjectorExportError(f"{shown(target)} is a file; give a folder (a new one is made)")
    entries = fs.listdir(target)
    if not entries:
        return []
    if records.kind_of(target) != kind:
        raise _foreign(target, kind, entries)
    return records.user_entries(target)


def _foreign(target: str, kind: str, entries: list[str]) -> ProjectorExportError:
    noun = _NOUNS[kind]
    hint = ""
    other = records.kind_of(target)
    if other is not None:
        hint = f" (it is a {other} of projector-export, not a {kind})"
    elif kind == RUN and all(fs.is_folder(fs.join(target, name)) for name in entries):
        hint = f" (Keras's logs? put the projector run in a subfolder, e.g. {shown(fs.join(target, 'projector'))})"
    elif kind == TRAINING and records.kind_of(fs.join(target, "projector")) == RUN:
        hint = (" (a run of an earlier projector-train, which kept no record of its files: move it away or "
                "delete it yourself, then train again)")
    return ProjectorExportError(
        f"{shown(target)} holds other files ({listing(entries)}){hint}: projector-export writes only into a "
        f"folder that is new, empty, or a {kind} it wrote, and changes nothing here; choose a new or empty "
        f"{noun}, or move those files out"
    )


def _refuse_clashes(target: str, staging: str, kept: list[str]) -> None:
    """Refuse when a file to keep has the name of one the new folder holds (or one of its folders)."""
    _, clashes = moves(target, kept, staging)
    if clashes:
        changed = [path for path in clashes if path in (_recorded(target))]
        why = "changed since projector-export wrote them" if changed else "which projector-export did not write"
        raise ProjectorExportError(
            f"{shown(target)} holds {listing(clashes)}, {why}, and this write makes files of the same "
            "names; move them out of the folder (or rename them) and write again"
        )


def _recorded(target: str) -> set[str]:
    record = records.read_record(target)
    return set(record.files) if record else set()


def _swap(ready: str, target: str) -> str | None:
    """Make `ready` the target; return the folder now holding the previous target, if any."""
    if not fs.exists(target):
        fs.rename(ready, target)
        return None
    if exchange(ready, target):
        return ready  # the two names swapped: `ready` now holds the previous target
    old = ready.replace(".swap-", ".old-")
    fs.rename(target, old)
    try:
        fs.rename(ready, target)  # a kill before this leaves no target: `recover` restores `ready`
    except BaseException:
        fs.rename(old, target)
        raise
    return old


def exchange(a: str, b: str) -> bool:
    """Swap two local folders in one step (Linux renameat2); False where unsupported."""
    if fs.is_remote(a):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # a kernel or file system without RENAME_EXCHANGE: two renames instead
    raise OSError(code, os.strerror(code), b)




def training_run(run_dir: str) -> contextlib.AbstractContextManager[Stage]:
    """A `projector-train`-style run folder written whole (Keras's logs, a projector run, plots, ...):
    the staging folder to write into, swapped in when the block ends without an error.

    Example:

    ```python
    with training_run("logs/my-model") as stage:
        model.fit(..., callbacks=[keras.callbacks.TensorBoard(stage.path)])
        export_embedding(stage.join("projector"), vectors, labels)
    ```
    """
    return staged_folder(run_dir, TRAINING)


def check_training_run(run_dir: str) -> None:
    """Refuse, writing nothing, a run folder that `training_run` may not replace: for a job about to train.

    Raises:
        ProjectorExportError: a link, too long a name, or a folder this tool did not write.
    """
    check_target(run_dir, TRAINING)
