"""The file layer of every reader: paths confined to a folder, regular files only, sizes capped, text decoded.

A run's config names its metadata, sprite and checkpoint; a careless or hostile
config may name `/etc/passwd`, `../../secret`, a link out of the folder, or a
FIFO that blocks whoever opens it. Readers therefore resolve every path of a
run with `inside` (TensorBoard's own rule: the real path must lie in the real
path of the folder) and open files with `read_bytes`/`read_text`, which look
at what a path is before reading and never wait on it.

Local paths are checked on the file system; URLs (`gs://...`, anything
`tf.io.gfile` reads) lexically, since an object store has no links or FIFOs.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import posixpath
import stat
from collections.abc import Iterator

from projector_export.errors import ProjectorExportError

BOM = "\ufeff"
MAX_CONFIG_BYTES = 16 << 20  # a projector_config.pbtxt, a checkpoint state file
MAX_ASSET_BYTES = 256 << 20  # a metadata TSV, a sprite PNG, a bookmarks file


def is_remote(path: str) -> bool:
    """Whether `path` is a URL for `tf.io.gfile` (gs://, s3://, ram://) rather than a local path."""
    return "://" in os.fspath(path)


def inside(folder: str, path: str, what: str, *, folder_kind: str = "run folder") -> str:
    """`path` (relative to `folder`, or absolute) resolved, refused when it leaves `folder`.

    Raises:
        ProjectorExportError: the path resolves outside `folder`, through `..`
            or an absolute path or a symbolic link.
    """
    if is_remote(folder):  # an object store has no links: the path is judged by its text
        root = _normalise_url(folder)
        candidate = _normalise_url(path if is_remote(path) else posixpath.join(root, path))
        if candidate != root and not candidate.startswith(root + "/"):
            raise _outside(folder, path, what, folder_kind)
        return candidate
    root = os.path.realpath(folder)
    candidate = os.path.realpath(os.path.join(root, os.path.expanduser(path)))
    if os.path.commonpath([root, candidate]) != root:
        raise _outside(folder, path, what, folder_kind)
    return candidate


def _normalise_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{posixpath.normpath(rest).lstrip('/')}".rstrip("/")


def _named(what: str, path: str) -> str:
    """`what` and `path` as an error message begins: "metadata file logs/r/x.tsv"."""
    return f"{what} {path}" if what else path


def _outside(folder: str, path: str, what: str, folder_kind: str) -> ProjectorExportError:
    return ProjectorExportError(
        f"{_named(what, repr(path))} lies outside the {folder_kind} {folder}; projector-export (like "
        f"TensorBoard) reads only files inside it: keep the file there and name it relative to it"
    )


def file_size(path: str, what: str, *, allow_pipe: bool = False) -> int | None:
    """The size of the regular file at `path`, after refusing anything else.

    Folders, FIFOs, sockets and devices are refused at once (opening a FIFO
    would wait for a writer). With `allow_pipe`, a pipe or FIFO the user named
    themselves (`<(zcat vectors.gz)`) is accepted and its size is None.

    Raises:
        ProjectorExportError: missing, not a regular file, or unreadable.
    """
    if is_remote(path):
        import tensorflow as tf

        if not tf.io.gfile.exists(path):
            raise ProjectorExportError(f"{_named(what, path)}: no such file")
        if tf.io.gfile.isdir(path):
            raise ProjectorExportError(f"{_named(what, path)} is a folder, not a file")
        return tf.io.gfile.stat(path).length
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ProjectorExportError(f"{_named(what, path)}: no such file") from None
    except OSError as error:
        raise ProjectorExportError(f"{_named(what, path)}: cannot be read ({error.strerror})") from None
    return _regular_size(info.st_mode, info.st_size, path, what, allow_pipe)


def _regular_size(mode: int, size: int, path: str, what: str, allow_pipe: bool) -> int | None:
    if stat.S_ISREG(mode):
        return size
    if stat.S_ISFIFO(mode) and allow_pipe:
        return None
    kind = (
        "a folder" if stat.S_ISDIR(mode)
        else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise ProjectorExportError(f"{_named(what, path)} is {kind}, not a file; projector-export reads only regular files")


def read_bytes(path: str, what: str, *, limit: int = MAX_ASSET_BYTES) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them.

    Locally the file is opened without blocking and checked on the open
    descriptor, so a FIFO or device swapped in after a check still cannot hang it.

    Raises:
        ProjectorExportError: missing, not a regular file, larger than `limit`, or unreadable.
    """
    if is_remote(path):
        import tensorflow as tf

        size = file_size(path, what)
        _check_limit(size, limit, path, what)
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise ProjectorExportError(f"{_named(what, path)}: no such file") from None
    except OSError as error:
        if error.errno == errno.EISDIR:
            raise ProjectorExportError(f"{_named(what, path)} is a folder, not a file") from None
        raise ProjectorExportError(f"{_named(what, path)}: cannot be read ({error.strerror})") from None
    try:
        info = os.fstat(descriptor)
        size = _regular_size(info.st_mode, info.st_size, path, what, allow_pipe=False)
        _check_limit(size, limit, path, what)
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as f:
        data = f.read(limit + 1)
    _check_limit(len(data), limit, path, what)
    return data


def _check_limit(size: int, limit: int, path: str, what: str) -> None:
    if size > limit:
        raise ProjectorExportError(
            f"{_named(what, path)} is {size:,} bytes, more than the {limit:,} projector-export reads; "
            "is it the right file?"
        )


def read_text(path: str, what: str, *, limit: int = MAX_ASSET_BYTES) -> str:
    """The UTF-8 text of the regular file at `path`, a leading byte-order mark removed.

    Raises:
        ProjectorExportError: as `read_bytes`, or the file is not UTF-8 (naming the line).
    """
    return decode_utf8(read_bytes(path, what, limit=limit), path, what)


def decode_utf8(data: bytes, path: str, what: str) -> str:
    """`data` as text, without a leading byte-order mark; an error naming the line that is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ProjectorExportError(
            f"{_named(what, path)}, line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); "
            "save it as UTF-8"
        ) from None
    return text.removeprefix(BOM)


def utf8_lines(path: str, what: str, *, fix: str = "save it as UTF-8"):
    """(line number, text) of a text file, read a line at a time; the first line's byte-order mark removed.

    For inputs the user names (vectors, word2vec files, metadata): any size,
    and a pipe is fine. Lines keep their line break.

    Raises:
        ProjectorExportError: missing, not a file, or a line that is not UTF-8 (with `fix`).
    """
    import tensorflow as tf

    file_size(path, what, allow_pipe=True)
    decoder = codecs.getincrementaldecoder("utf-8")()
    opener = tf.io.gfile.GFile(path, "rb") if is_remote(path) else open(path, "rb")  # noqa: SIM115
    with opener as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = decoder.decode(raw)
            except UnicodeDecodeError:
                raise ProjectorExportError(f"{_named(what, path)}, line {number}: not UTF-8 text; {fix}") from None
            yield number, line.removeprefix(BOM) if number == 1 else line


@contextlib.contextmanager
def write_errors(target: str) -> Iterator[None]:
    """Turn what the file system refuses (disk full, read-only, names too long) into one OSError line."""
    import tensorflow as tf

    try:
        yield
    except ProjectorExportError:
        raise
    except (OSError, tf.errors.OpError) as error:
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
        raise OSError(code, f"could not write {target}: {os_reason(error)}; {advice}") from None


_TF_REASONS = {
    "No space left": errno.ENOSPC, "Disk quota": errno.EDQUOT, "Read-only file system": errno.EROFS,
    "Permission denied": errno.EACCES, "Operation not permitted": errno.EPERM,
    "File name too long": errno.ENAMETOOLONG, "Not a directory": errno.ENOTDIR, "is not a directory": errno.ENOTDIR, "File too large": errno.EFBIG,
    "already exists": errno.EEXIST,
}


def _errno(error: Exception) -> int | None:
    if isinstance(error, OSError) and error.errno:
        return error.errno
    text = str(error)
    return next((code for phrase, code in _TF_REASONS.items() if phrase in text), None)


def os_reason(error: Exception) -> str:
    """An OSError or TensorFlow error in a few words, on one line."""
    if isinstance(error, OSError) and error.strerror:
        where = f" ({os.fsdecode(error.filename)})" if error.filename else ""
        return error.strerror + where
    code = _errno(error)
    if code is not None:
        return os.strerror(code)
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(text.split())[:300]
