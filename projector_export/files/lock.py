"""The lock of a folder being written: `.TARGET.export-lock` beside it, held with `flock`.

`flock` is kept by the kernel for the open file, whichever process or PID namespace
holds it, and released when the holder dies, so writes of one folder from several
processes or containers wait their turn and a dead holder never blocks the next.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
from collections.abc import Iterator

from projector_export.errors import ProjectorExportError
from projector_export.files import fs
from projector_export.files.paths import shown
from projector_export.files.writing import write_errors

logger = logging.getLogger(__name__)

LOCK_SUFFIX = ".export-lock"
_LOCK_SIGNATURE = b"projector-export lock: "


@contextlib.contextmanager
def locked(parent: str, base: str, target: str) -> Iterator[None]:
    """Hold `.BASE.export-lock` beside the target for the whole write.

    `flock` is kept by the kernel for the open file, whichever process or PID namespace
    holds it, and released when the holder dies. The file is removed when the write
    ends; a waiter that locked a removed file tries again. On object stores (no locks)
    writes of one folder are not serialised.
    """
    if fs.is_remote(parent):
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
                logger.warning("waiting for another export of %s to finish", shown(target))
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
    info = os.fstat(descriptor)
    head = os.pread(descriptor, len(_LOCK_SIGNATURE), 0) if stat.S_ISREG(info.st_mode) else b"?"
    if head and head != _LOCK_SIGNATURE:
        raise ProjectorExportError(f"{shown(path)} is not a lock file of projector-export; move it away and export again")


def is_locked(parent: str, base: str) -> bool:
    """Whether a write of `parent/base` holds its lock right now (for `validate`)."""
    if fs.is_remote(parent):
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
