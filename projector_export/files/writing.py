"""Writing: new files, and files this tool wrote; anything else is refused.

The rule, once: projector-export creates new files, and replaces only files it wrote
itself (recognised by its record, `records`, or by the caller's own check of a file's
content), never a user's file, a FIFO, a device, a folder or a link's target. Files
of a folder the tool writes whole (a run, a training run, a standalone export) are
written into its staging folder (`staging.Stage.file`); a single file elsewhere (a
coordinates TSV, a vocabulary) goes through `write_file`, which writes beside it and
renames into place. What the file system refuses (a full disk, a read-only folder, a
name too long) is one line naming the target (`write_errors`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import uuid
from collections.abc import Callable, Iterator

from projector_export import _crc32c
from projector_export.errors import ProjectorExportError
from projector_export.files import fs
from projector_export.files.paths import named, normalise, path_text, shown
from projector_export.files.reading import checksum_text


class HashingWriter:
    """A binary file being written, with the checksum (see `checksum`) and size of what was written so far."""

    def __init__(self, file, path: str | None = None):
        self._file = file
        self._crc = 0
        self.size = 0
        self.path = path

    def write(self, data) -> int:
        if not isinstance(data, bytes):
            data = memoryview(data).cast("B").tobytes()  # crc32c and tf.io.gfile take bytes only
        for start in range(0, len(data), _crc32c.CHUNK):
            self._crc = _crc32c.extend(self._crc, data[start : start + _crc32c.CHUNK])
        self._file.write(data)
        self.size += len(data)
        return len(data)

    @property
    def checksum(self) -> str:
        return checksum_text(self._crc)



@contextlib.contextmanager
def new_file(path: str) -> Iterator[HashingWriter]:
    """Write the new file `path`; on any error the part written is removed.

    Raises:
        FileExistsError: something is already at `path` (nothing is truncated).
    """
    handle = fs.open_new(path)
    writer = HashingWriter(handle, path)
    try:
        yield writer
        handle.close()
    except BaseException:
        handle.close()
        with contextlib.suppress(OSError):
            fs.remove(path)
        raise


def write_file(
    path,
    data: bytes | str,
    *,
    what: str,
    overwrite: bool = False,
    written_by_us: Callable[[str], bool] | None = None,
) -> str:
    """Write one file outside the folders the tool writes whole; return its path.

    A new file is created; an existing regular file is replaced only when
    `written_by_us(path)` says the tool wrote it, or with `overwrite` (the user's
    own choice). The file is written beside `path` and renamed into place, so a
    reader never sees half of it and a failure leaves the old file as it was.

    Raises:
        ProjectorExportError: `path` is empty, a folder, a link, a FIFO or device,
            lies inside a folder this tool writes whole (a run), or is a file the
            tool did not write (without `overwrite`).
        OSError: the file system refused the write (one line).
    """
    with replacing(path, what=what, overwrite=overwrite, written_by_us=written_by_us) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return f.path


def check_file_target(
    path, *, what: str, overwrite: bool = False, written_by_us: Callable[[str], bool] | None = None
) -> str:
    """Refuse `path` as `write_file` would, writing nothing; return it as `write_file` names it."""
    path = _file_path(path, what)
    _check_file_target(path, what, overwrite, written_by_us)
    return path


@contextlib.contextmanager
def replacing(
    path,
    *,
    what: str,
    overwrite: bool = False,
    written_by_us: Callable[[str], bool] | None = None,
) -> Iterator[HashingWriter]:
    """`write_file` for content written in pieces: yields the file being written (`.path` is
    where it goes), moved into place when the block ends without an error."""
    path = _file_path(path, what)
    found = _check_file_target(path, what, overwrite, written_by_us)
    parent, base = posixpath.split(path)
    with write_errors(path):
        fs.makedirs(parent or ".")
        partial = posixpath.join(parent, f".{base}.partial-{uuid.uuid4().hex[:8]}")
        try:
            with new_file(partial) as f:
                f.path = path
                yield f
            if found is None:
                _create_from(partial, path, what)
            else:
                fs.replace(partial, path)
        finally:
            with contextlib.suppress(OSError):
                if fs.exists(partial):
                    fs.remove(partial)


def _check_file_target(path: str, what: str, overwrite: bool, written_by_us) -> fs.Entry | None:
    from projector_export.files import records

    parent = posixpath.dirname(path)
    found = fs.entry(path)
    if found is not None and found.kind != fs.FILE:
        raise ProjectorExportError(
            f"{named(what, path)} is {_kind_word(found.kind)}; projector-export writes only regular files and "
            "never through links: give the path of a new file"
        )
    owner = records.enclosing_tool_folder(parent)
    if owner is not None:
        raise ProjectorExportError(
            f"{named(what, path)} lies inside {shown(owner)}, a folder projector-export writes whole; a file "
            "there would be carried from export to export as the user's: give a path outside it"
        )
    if found is not None and not overwrite and not (written_by_us and written_by_us(path)):
        raise ProjectorExportError(
            f"{named(what, path)} exists and projector-export did not write it; choose another path, or "
            "replace it on purpose with `overwrite=True`"
        )
    return found


def _file_path(path, what: str) -> str:
    text = path_text(path, what)
    if not text.strip() or text.endswith(("/", os.sep)):
        raise ProjectorExportError(f"{what} {text!r} does not name a file; give a file name such as coordinates.tsv")
    return normalise(text)


def _create_from(partial: str, path: str, what: str) -> None:
    """Give `partial` the name `path` only if nothing took that name meanwhile."""
    if fs.is_remote(path):
        fs.rename(partial, path)
        return
    try:
        os.link(partial, path)  # fails if `path` appeared since the check: nothing is replaced
    except FileExistsError:
        raise ProjectorExportError(
            f"{named(what, path)} was created by someone else while projector-export wrote it; it is left as "
            "it is: choose another path"
        ) from None
    except OSError:
        fs.rename(partial, path)  # a file system without hard links; rename refuses an existing name too
        return
    fs.remove(partial)


def _kind_word(kind: str) -> str:
    return {
        fs.FOLDER: "a folder", fs.LINK: "a symbolic link", fs.FIFO: "a FIFO (named pipe)",
        fs.DEVICE: "a device", fs.SOCKET: "a socket",
    }.get(kind, "not a regular file")


@contextlib.contextmanager
def write_errors(target: str) -> Iterator[None]:
    """Turn what the file system refuses (disk full, read-only, names too long) into one OSError line."""
    try:
        yield
    except ProjectorExportError:
        raise
    except Exception as error:
        if not isinstance(error, OSError) and not _is_tensorflow_error(error):
            raise
        code = _errno(error)
        advice = {
            errno.ENOSPC: "free some space and export again",
            errno.EDQUOT: "free some space and export again",
            errno.EROFS: "choose a folder you can write to",
            errno.EACCES: "choose a folder you can write to",
            errno.EPERM: "choose a folder you can write to",
            errno.ENAMETOOLONG: "choose a shorter name",
            errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
            errno.EEXIST: "a part of the path is a file, not a folder: choose another path",
        }.get(code, "the previous folder is unchanged")
        raise OSError(code, f"could not write {shown(target)}: {os_reason(error)}; {advice}") from None


def _is_tensorflow_error(error: Exception) -> bool:
    return type(error).__module__.startswith("tensorflow") and hasattr(error, "error_code")


_TF_REASONS = {
    "No space left": errno.ENOSPC, "Disk quota": errno.EDQUOT, "Read-only file system": errno.EROFS,
    "Permission denied": errno.EACCES, "Operation not permitted": errno.EPERM,
    "File name too long": errno.ENAMETOOLONG, "Not a directory": errno.ENOTDIR, "is not a directory": errno.ENOTDIR,
    "File too large": errno.EFBIG, "already exists": errno.EEXIST,
}


def _errno(error: Exception) -> int | None:
    if isinstance(error, OSError) and error.errno:
        return error.errno
    text = str(error)
    return next((code for phrase, code in _TF_REASONS.items() if phrase in text), None)


def os_reason(error: Exception) -> str:
    """An OSError or TensorFlow error in a few words, on one line."""
    if isinstance(error, OSError) and error.strerror:
        where = f" ({shown(os.fsdecode(error.filename))})" if error.filename else ""
        return error.strerror + where
    code = _errno(error)
    if code is not None:
        return os.strerror(code)
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(text.split())[:300]
