"""Reading what the tool is given: regular files only, sizes capped, text decoded strictly.

Every input passes here: the files of a run (through `paths.inside` first), and what a
user names (vectors, metadata, a colour CSV, a vocabulary, a folder of reviews). A FIFO,
device, socket or folder where a file belongs is refused before it is opened (opening a
FIFO waits for a writer), and locally the file is opened without blocking and checked
again on the open descriptor, so one swapped in after the check cannot hang the reader.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from projector_export import _crc32c
from projector_export.errors import ProjectorExportError
from projector_export.files import fs
from projector_export.files.paths import named

BOM = "\ufeff"
MAX_CONFIG_BYTES = 16 << 20  # a projector_config.pbtxt, a checkpoint state file, a record
MAX_ASSET_BYTES = 256 << 20  # a metadata TSV, a sprite PNG, a bookmarks file

_KIND_WORDS = {
    fs.FOLDER: "a folder", fs.FIFO: "a FIFO (named pipe)", fs.DEVICE: "a device", fs.SOCKET: "a socket",
    fs.LINK: "a symbolic link", fs.OTHER: "not a regular file",
}


def not_a_file(path: str, what: str, kind: str) -> ProjectorExportError:
    return ProjectorExportError(
        f"{named(what, path)} is {_KIND_WORDS.get(kind, kind)}, not a file; projector-export reads only regular files"
    )


def file_size(path: str, what: str, *, allow_pipe: bool = False) -> int | None:
    """The size of the regular file at `path` (a link is followed), after refusing anything else.

    With `allow_pipe`, a pipe or FIFO the user named themselves (`<(zcat vectors.gz)`)
    is accepted and its size is None.

    Raises:
        ProjectorExportError: missing, not a regular file, or unreadable.
    """
    if fs.is_remote(path):
        found = fs.entry(path)
        if found is None:
            raise ProjectorExportError(f"{named(what, path)}: no such file")
        if found.kind != fs.FILE:
            raise not_a_file(path, what, found.kind)
        return found.size
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ProjectorExportError(f"{named(what, path)}: no such file") from None
    except OSError as error:
        raise ProjectorExportError(f"{named(what, path)}: cannot be read ({error.strerror})") from None
    kind = fs.mode_kind(info.st_mode)
    if kind == fs.FILE:
        return info.st_size
    if kind == fs.FIFO and allow_pipe:
        return None
    raise not_a_file(path, what, kind)


def open_file(path: str, what: str, *, allow_pipe: bool = False, limit: int | None = None):
    """A binary file object reading the regular file at `path` (or a pipe, with `allow_pipe`).

    Raises:
        ProjectorExportError: missing, not a regular file, larger than `limit`, or unreadable.
    """
    if fs.is_remote(path):
        size = file_size(path, what)
        check_limit(size, limit, path, what)
        return fs.open_read(path)
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    if not allow_pipe:
        flags |= os.O_NONBLOCK
    elif file_size(path, what, allow_pipe=True) is not None:
        flags |= os.O_NONBLOCK  # a regular file: no reason to block
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise ProjectorExportError(f"{named(what, path)}: no such file") from None
    except OSError as error:
        if error.errno == errno.EISDIR:
            raise not_a_file(path, what, fs.FOLDER) from None
        raise ProjectorExportError(f"{named(what, path)}: cannot be read ({error.strerror})") from None
    try:
        info = os.fstat(descriptor)
        kind = fs.mode_kind(info.st_mode)
        if kind != fs.FILE and not (allow_pipe and kind == fs.FIFO):
            raise not_a_file(path, what, kind)
        if kind == fs.FILE:
            check_limit(info.st_size, limit, path, what)
        if flags & os.O_NONBLOCK and kind == fs.FIFO:
            os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb")


def read_bytes(path: str, what: str, *, limit: int = MAX_ASSET_BYTES) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them.

    Raises:
        ProjectorExportError: missing, not a regular file, larger than `limit`, or unreadable.
    """
    with open_file(path, what, limit=limit) as f:
        try:
            data = f.read(limit + 1)
        except OSError as error:
            raise ProjectorExportError(f"{named(what, path)}: cannot be read ({error.strerror})") from None
    check_limit(len(data), limit, path, what)
    return data


def check_limit(size: int | None, limit: int | None, path: str, what: str) -> None:
    if size is not None and limit is not None and size > limit:
        raise ProjectorExportError(
            f"{named(what, path)} is {size:,} bytes, more than the {limit:,} projector-export reads "
            f"for {what or 'such a file'}; is it the right file?"
        )


def read_text(path: str, what: str, *, limit: int = MAX_ASSET_BYTES) -> str:
    """The UTF-8 text of the regular file at `path`, a leading byte-order mark removed.

    Raises:
        ProjectorExportError: as `read_bytes`, or the file is not UTF-8 (naming the line).
    """
    return decode_utf8(read_bytes(path, what, limit=limit), path, what)


def decode_utf8(data: bytes, path: str, what: str, *, fix: str = "save it as UTF-8") -> str:
    """`data` as text, without a leading byte-order mark; an error naming the line that is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ProjectorExportError(
            f"{named(what, path)}, line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); {fix}"
        ) from None
    return text.removeprefix(BOM)


def utf8_lines(path: str, what: str, *, fix: str = "save it as UTF-8") -> Iterator[tuple[int, str]]:
    """(line number, text) of a text file, read a line at a time; the first line's byte-order mark removed.

    For inputs the user names (vectors, word2vec files, metadata): any size, and a
    pipe is fine. Lines keep their line break.

    Raises:
        ProjectorExportError: missing, not a file, or a line that is not UTF-8 (with `fix`).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open_file(path, what, allow_pipe=True) as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = decoder.decode(raw)
            except UnicodeDecodeError:
                raise ProjectorExportError(f"{named(what, path)}, line {number}: not UTF-8 text; {fix}") from None
            yield number, line.removeprefix(BOM) if number == 1 else line


def checksum(path: str) -> str:
    """What a record keeps of a file's content: its CRC-32C, which tells a file the tool wrote
    from one changed since (a check against accidents, not forgery: 0.1 s for 400 MB)."""
    crc = 0
    with fs.open_read(path) as f:
        while chunk := f.read(_crc32c.CHUNK):
            crc = _crc32c.extend(crc, chunk)
    return checksum_text(crc)


def checksum_text(crc: int) -> str:
    return f"crc32c:{crc:08x}"


@dataclass
class Skipped:
    """What a folder of inputs held besides the files read: counted, never opened."""

    links: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # FIFOs, devices, sockets, folders named like files

    def __bool__(self) -> bool:
        return bool(self.links or self.other)

    def summary(self) -> str:
        parts = []
        if self.links:
            parts.append(f"{len(self.links):,} symbolic link(s) (e.g. {self.links[0]})")
        if self.other:
            parts.append(f"{len(self.other):,} entries that are not regular files (e.g. {self.other[0]})")
        return " and ".join(parts)


def files_in(folder: str, pattern: str, skipped: Skipped) -> list[str]:
    """The regular files directly in `folder` whose names match `pattern` (a regex), sorted by name.

    Links (to anything, in or out of the folder) and entries that are not regular
    files are not read: they are added to `skipped`. A missing folder has no files.
    """
    if not fs.is_folder(folder):
        return []
    name_re = re.compile(pattern)
    found = []
    for name, kind in fs.scan(folder):
        if not name_re.fullmatch(name):
            continue
        path = fs.join(folder, name)
        if kind == fs.FILE:
            found.append(path)
        elif kind == fs.LINK:
            skipped.links.append(path)
        else:
            skipped.other.append(path)
    return found
