"""Writing a folder whole: lock it, write beside it, swap it into place, repair what a kill left.

Every writer of the package goes through `staged_folder`:

```python
with staged_folder("logs/words", RUN) as stage:
    ...  # write the new files into stage.path
# logs/words is now the new folder; its subfolders and files the tool did not write are kept
```

What it guarantees about the target folder:

* it is written only when it is absent, empty, or a folder of the same kind
  this tool wrote (`owned_entries`); anything else is refused before
  anything changes, naming up to five of its files;
* a symbolic link is refused, so nothing is written where it points;
* the new folder replaces the old in one step (Linux `renameat2` with
  RENAME_EXCHANGE; elsewhere two renames); subfolders (Keras's `train/`) and
  loose files the tool did not write are moved into the new folder, never deleted;
* exports of one target are serialised by a file lock (`flock`), so two of
  them never mix their files, whatever process or container runs them;
* a kill at any moment leaves pieces beside the target, named below, that
  `validate` reports and the next export of the target repairs.

Beside TARGET, in its parent folder:

    .TARGET.export-lock     the lock, removed when the export ends
    .TARGET.new-XXXXXXXX    being written; holds only files the export wrote
    .TARGET.swap-XXXXXXXX   complete, about to be swapped in; after the exchange, the previous TARGET
    .TARGET.old-XXXXXXXX    the previous TARGET moved aside where there is no exchange
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import os
import posixpath
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from projector_export import folders
from projector_export.errors import ProjectorExportError
from projector_export.files import is_remote, write_errors
from projector_export.folders import RUN, STANDALONE, normalise, owned_entries  # noqa: F401 - RUN, STANDALONE: the kinds

logger = logging.getLogger(__name__)

LOCK_SUFFIX = ".export-lock"
_LOCK_SIGNATURE = b"projector-export lock: "
# The longest name put beside a target: ".TARGET.swap-XXXXXXXX".
SIBLING_EXTRA_CHARACTERS = len("..swap-") + 8
# Pieces beside a target, of this version (new, swap, old) and of earlier ones.
LEFTOVER_RE = re.compile(
    r"^\.(?P<target>.+)\.(?:(?P<state>new|swap|old)-[0-9a-f]{8}"
    r"|(?P<legacy>export|old|standalone|standalone-old)-\d+-[0-9a-f]+)$"
)
_NAME_MAX = 255


@dataclass(frozen=True)
class Stage:
    """The folder to write into (`path`) and the folder it will replace (`target`)."""

    path: str
    target: str
    exists: bool  # whether `target` holds an earlier folder of this kind


@contextlib.contextmanager
def staged_folder(target: str, kind: str, *, copy_current: bool = False) -> Iterator[Stage]:
    """Lock `target`, check it may be written, yield a staging folder, and swap it in on success.

    Args:
        target: the folder to write: a local path or a `tf.io.gfile` URL.
        kind: `RUN` (a projector run) or `STANDALONE` (files for the standalone projector).
        copy_current: start the staging folder with copies of the files the
            tool wrote in the current `target` (to change one file of a run).

    Raises:
        ProjectorExportError: `target` is a link, too long a name, or a folder
            this tool may not replace; nothing has changed then.
        OSError: the file system refused a write (disk full, read-only, ...),
            as one line naming the target; the previous folder is unchanged.
    """
    import tensorflow as tf

    target = normalise(target)
    parent, base = posixpath.split(target)
    _check_name(parent, base, target)
    with write_errors(target):
        tf.io.gfile.makedirs(parent)
    with _locked(parent, base, target):
        with write_errors(target):
            recover(parent, base)
            carried = _entries_to_carry(target, kind)
            staging = posixpath.join(parent, f".{base}.new-{uuid.uuid4().hex[:8]}")
            tf.io.gfile.makedirs(staging)
        try:
            with write_errors(target):  # the writer's own writes too: a full disk is one line
                if copy_current and carried is not None:
                    for name in sorted(owned_entries(target, kind) or ()):
                        source = posixpath.join(target, name)
                        if not tf.io.gfile.isdir(source):
                            tf.io.gfile.copy(source, posixpath.join(staging, name))
                yield Stage(path=staging, target=target, exists=carried is not None)
                clashes = sorted(set(carried or ()) & {n.rstrip("/") for n in tf.io.gfile.listdir(staging)})
                if clashes:
                    raise ProjectorExportError(
                        f"{target} holds {_listing(clashes)}, which projector-export did not write, and this "
                        "export writes files of the same names; move them out of the folder and export again"
                    )
                ready = posixpath.join(parent, f".{base}.swap-{staging.rsplit('-', 1)[1]}")
                _rename_dir(staging, ready)
                staging = ready
                previous = _swap(ready, target)
        except BaseException:
            with contextlib.suppress(Exception):  # else the next export tidies it
                if tf.io.gfile.exists(staging):
                    _discard(staging)
            raise
        # The new folder is in place: what follows must not fail the export.
        if previous is not None:
            _carry_and_discard(previous, target, announce=False)


def check_target(target: str, kind: str) -> None:
    """Refuse `target` as `staged_folder` would, writing nothing: for writers about to do long work first.

    Raises:
        ProjectorExportError: a link, too long a name, or a folder this tool may not replace.
    """
    target = normalise(target)
    _check_name(*posixpath.split(target), target)
    _entries_to_carry(target, kind)


def _check_name(parent: str, base: str, target: str) -> None:
    if not base or base in (".", ".."):
        raise ProjectorExportError(f"{target!r} does not name a folder; give a folder such as logs/words")
    if not is_remote(target) and os.path.islink(target):
        raise ProjectorExportError(
            f"{target} is a symbolic link (to {os.readlink(target)}); projector-export does not write "
            "through links, which would replace files where they point: remove the link, or give the folder itself"
        )
    name_max = _NAME_MAX
    if not is_remote(parent):
        existing = parent
        while not os.path.isdir(existing) and existing != os.path.dirname(existing):
            if os.path.lexists(existing):
                raise ProjectorExportError(
                    f"could not write {target}: {existing} is a file, not a folder; choose another folder"
                )
            existing = os.path.dirname(existing)
        with contextlib.suppress(OSError, ValueError):
            name_max = os.pathconf(existing, "PC_NAME_MAX")
    size = len(base.encode("utf-8"))
    if size + SIBLING_EXTRA_CHARACTERS > name_max:
        raise ProjectorExportError(
            f"the folder name {base[:40]!r}... is {size} bytes; with the {SIBLING_EXTRA_CHARACTERS} characters "
            f"of its staging folder beside it, it exceeds the {name_max} the file system allows: choose a "
            f"name of at most {name_max - SIBLING_EXTRA_CHARACTERS} bytes"
        )


def _entries_to_carry(target: str, kind: str) -> list[str] | None:
    """The entries of the current `target` to move into the new one; None when there is no target.

    Raises:
        ProjectorExportError: the target is a file, or a folder this tool may not replace.
    """
    import tensorflow as tf

    if not tf.io.gfile.exists(target):
        return None
    if not tf.io.gfile.isdir(target):
        raise ProjectorExportError(f"{target} is a file; give a folder (a new one is made)")
    entries = sorted(name.rstrip("/") for name in tf.io.gfile.listdir(target))
    if not entries:
        return []
    owned = owned_entries(target, kind)
    if owned is None:
        noun = "output folder" if kind == STANDALONE else "run folder"
        hint = ""
        if kind == RUN and all(tf.io.gfile.isdir(posixpath.join(target, name)) for name in entries):
            hint = f" (Keras's logs? put the projector run in a subfolder, e.g. {posixpath.join(target, 'projector')})"
        raise ProjectorExportError(
            f"{target} holds other files ({_listing(entries)}): projector-export writes only into a folder that is "
            f"new, empty, or a {kind} it wrote, and changes nothing here; choose a new or empty {noun}{hint}, or "
            "move those files out"
        )
    return [name for name in entries if name not in owned]


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _swap(ready: str, target: str) -> str | None:
    """Make `ready` the target; return the folder now holding the previous target, if any."""
    import tensorflow as tf

    if not tf.io.gfile.exists(target):
        _rename_dir(ready, target)
        return None
    if exchange(ready, target):
        return ready  # the two names swapped: `ready` now holds the previous target
    old = ready.replace(".swap-", ".old-")
    _rename_dir(target, old)
    try:
        _rename_dir(ready, target)  # a kill before this leaves no target: `recover` restores `ready`
    except BaseException:
        _rename_dir(old, target)
        raise
    return old


def exchange(a: str, b: str) -> bool:
    """Swap two local folders in one step (Linux renameat2); False where unsupported."""
    if is_remote(a):
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


def recover(parent: str, base: str) -> None:
    """Repair what killed exports of `parent/base` left beside it (call with the lock held).

    A missing target is restored from a complete leftover (the new version
    first); then each leftover's subfolders and files the tool did not write
    are moved into the target, and the leftover is deleted. A leftover whose
    entries cannot all be moved is kept, with a warning.
    """
    import tensorflow as tf

    target = posixpath.join(parent, base)
    leftovers = leftovers_of(parent, base)
    if not tf.io.gfile.exists(target):
        whole = restorable(leftovers)
        if whole is not None:
            logger.warning("restoring %s from %s, left by an interrupted export", target, whole)
            _rename_dir(whole, target)
            leftovers.remove(whole)
    for leftover in leftovers:
        _carry_and_discard(leftover, target, announce=True)


def restorable(leftovers: list[str]) -> str | None:
    """The leftover to restore a missing target from: the first whole folder the tool wrote
    (of `leftovers_of`, so the new version before the previous one)."""
    for leftover in leftovers:
        if LEFTOVER_RE.match(posixpath.basename(leftover))["state"] != "new" and folders.kind_of(leftover):
            return leftover
    return None


def leftovers_of(parent: str, base: str) -> list[str]:
    """The pieces killed exports of `parent/base` left, newest version first (swap, old, then the rest)."""
    import tensorflow as tf

    found = []
    for entry in tf.io.gfile.listdir(parent):
        match = LEFTOVER_RE.match(entry.rstrip("/"))
        if match and match["target"] == base:
            found.append((("swap", "old").index(match["state"]) if match["state"] in ("swap", "old") else 2, entry))
    return [posixpath.join(parent, entry.rstrip("/")) for _, entry in sorted(found)]


def _carry_and_discard(leftover: str, target: str, *, announce: bool) -> None:
    """Move the user's entries of `leftover` into `target`, then delete it.

    `announce`: log the removal (a leftover of a stopped export); the previous run an
    export has just replaced is removed without a word.
    """
    import tensorflow as tf

    try:
        stranded = []
        for name in folders.user_entries(leftover):
            destination = posixpath.join(target, name)
            if tf.io.gfile.exists(target) and not tf.io.gfile.exists(destination):
                _move(posixpath.join(leftover, name), destination)
            else:
                stranded.append(name)
        if stranded:
            logger.warning(
                "%s keeps %s: %s", leftover, _listing(stranded),
                f"{target} has entries of the same names; compare them and move what you need by hand"
                if tf.io.gfile.exists(target) else f"{target} is missing",
            )
            return
        if announce:
            logger.info("removing %s, left by an export", leftover)
        _discard(leftover)
    except Exception as error:  # noqa: BLE001 - the target is whole; tidying must not fail an export
        logger.warning("could not tidy %s (%s); `projector-export validate` says what it holds",
                       leftover, " ".join(str(error).split()))


def _move(source: str, destination: str) -> None:
    import tensorflow as tf

    if tf.io.gfile.isdir(source):
        _rename_dir(source, destination)
    else:
        tf.io.gfile.rename(source, destination)


def _rename_dir(source: str, target: str) -> None:
    """Rename a folder; on object stores (gs://, ram://) file by file, the event file last."""
    import tensorflow as tf

    if not is_remote(source):
        os.rename(source, target)
        return
    for folder, _, files in tf.io.gfile.walk(source):
        destination = target + folder[len(source) :]
        tf.io.gfile.makedirs(destination)
        for name in sorted(files, key=lambda n: n.startswith("events.out.tfevents")):
            tf.io.gfile.rename(posixpath.join(folder, name), posixpath.join(destination, name))
    tf.io.gfile.rmtree(source)


def _discard(folder: str) -> None:
    """Delete a folder of the tool's files, its event file first: TensorBoard never lists it half deleted."""
    import tensorflow as tf

    for event_file in tf.io.gfile.glob(posixpath.join(folder, "events.out.tfevents*")):
        tf.io.gfile.remove(event_file)
    tf.io.gfile.rmtree(folder)


@contextlib.contextmanager
def _locked(parent: str, base: str, target: str) -> Iterator[None]:
    """Hold `.BASE.export-lock` beside the target for the whole export.

    `flock` is kept by the kernel for the open file, whichever process or PID
    namespace holds it, and released when the holder dies. The file is
    removed when the export ends; a waiter that locked a removed file tries again.
    On object stores (no locks) exports of one run are not serialised.
    """
    if is_remote(parent):
        yield
        return
    path = os.path.join(parent, f".{base}{LOCK_SUFFIX}")
    while True:
        with write_errors(target):
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        try:
            _check_lock_file(descriptor, path)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.warning("waiting for another export of %s to finish", target)
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            with contextlib.suppress(FileNotFoundError):
                if os.path.samestat(os.fstat(descriptor), os.stat(path)):
                    break
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)  # the holder removed the file we locked: lock the new one
    try:
        if os.fstat(descriptor).st_size == 0:
            os.write(descriptor, _LOCK_SIGNATURE + base.encode("utf-8", "surrogateescape") + b"\n")
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(descriptor)


def _check_lock_file(descriptor: int, path: str) -> None:
    import stat

    info = os.fstat(descriptor)
    head = os.pread(descriptor, len(_LOCK_SIGNATURE), 0) if stat.S_ISREG(info.st_mode) else b"?"
    if head and head != _LOCK_SIGNATURE:
        raise ProjectorExportError(f"{path} is not a lock file of projector-export; move it away and export again")


def is_locked(parent: str, base: str) -> bool:
    """Whether an export of `parent/base` holds its lock right now (for `validate`)."""
    if is_remote(parent):
        return False
    try:
        descriptor = os.open(os.path.join(parent, f".{base}{LOCK_SUFFIX}"), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
