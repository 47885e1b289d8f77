"""The file system under the file layer: local paths through `os`, URLs through `tf.io.gfile`.

Only this module touches the file system for the rest of the layer. A local path never
imports TensorFlow; a URL (`gs://`, `s3://`, `ram://`, anything `tf.io.gfile` opens)
imports it on first use. Nothing here follows a symbolic link it was not given: `kind`
and `scan` report a link as a link, and a link's target is never listed, walked,
renamed or deleted.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass

# What an entry of a folder is, as `kind` names it.
FILE, FOLDER, LINK, FIFO, DEVICE, SOCKET, OTHER = "file", "folder", "link", "FIFO", "device", "socket", "other"


def is_remote(path) -> bool:
    """Whether `path` is a URL for `tf.io.gfile` (gs://, s3://, ram://) rather than a local path."""
    return "://" in os.fspath(path)


def gfile():
    """`tf.io.gfile`, imported on first use: only URLs need it."""
    import tensorflow as tf

    return tf.io.gfile


def join(folder: str, *names: str) -> str:
    return posixpath.join(folder, *names)


@dataclass(frozen=True)
class Entry:
    """What `lstat` says of a path: its kind, size and modification time (0 for URLs)."""

    kind: str
    size: int
    mtime_ns: int = 0


def entry(path: str) -> Entry | None:
    """The entry at `path` without following a final link; None when there is none."""
    if is_remote(path):
        g = gfile()
        if not g.exists(path):
            return None
        if g.isdir(path):
            return Entry(FOLDER, 0)
        return Entry(FILE, g.stat(path).length)
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Entry(mode_kind(info.st_mode), info.st_size, info.st_mtime_ns)


def mode_kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return FOLDER
    if stat.S_ISLNK(mode):
        return LINK
    if stat.S_ISFIFO(mode):
        return FIFO
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return DEVICE
    if stat.S_ISSOCK(mode):
        return SOCKET
    return OTHER


def kind(path: str) -> str | None:
    """FILE, FOLDER, LINK, FIFO, DEVICE, SOCKET or OTHER; None when nothing is there."""
    found = entry(path)
    return None if found is None else found.kind


def exists(path: str) -> bool:
    """Whether anything is at `path` (a dangling link counts)."""
    return kind(path) is not None


def is_folder(path: str) -> bool:
    """Whether `path` is a folder itself, not a link to one."""
    return kind(path) == FOLDER


def listdir(folder: str) -> list[str]:
    """The names in `folder`, sorted."""
    if is_remote(folder):
        return sorted(name.rstrip("/") for name in gfile().listdir(folder))
    return sorted(os.listdir(folder))


def scan(folder: str) -> list[tuple[str, str]]:
    """(name, kind) of each entry of `folder`, sorted by name; links are LINK, never followed."""
    if is_remote(folder):
        g = gfile()
        return [(name, FOLDER if g.isdir(join(folder, name)) else FILE) for name in listdir(folder)]
    found = []
    with os.scandir(folder) as entries:
        for item in entries:
            try:
                found.append((item.name, mode_kind(item.stat(follow_symlinks=False).st_mode)))
            except FileNotFoundError:
                continue  # gone meanwhile
    return sorted(found)


def walk(root: str) -> Iterator[tuple[str, list[str], list[tuple[str, str]]]]:
    """(folder, subfolders, other entries with their kinds) for `root` and every folder in it.

    Top-down; a caller may prune `subfolders` in place. Links are entries, never
    followed, so a link loop costs nothing. A folder that vanishes or cannot be read
    is skipped.
    """
    try:
        entries = scan(root)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return
    subfolders = [name for name, found in entries if found == FOLDER]
    others = [(name, found) for name, found in entries if found != FOLDER]
    yield root, subfolders, others
    for name in subfolders:
        yield from walk(join(root, name))


def files_under(root: str) -> Iterator[tuple[str, str]]:
    """(path relative to `root`, kind) of every entry under `root` that is not a folder."""
    for folder, _, others in walk(root):
        prefix = "" if folder == root else folder[len(root) + 1 :]
        for name, found in others:
            yield (posixpath.join(prefix, name) if prefix else name), found


def makedirs(folder: str) -> None:
    if is_remote(folder):
        gfile().makedirs(folder)
    else:
        os.makedirs(folder, exist_ok=True)


def open_read(path: str):
    """A binary file object reading `path` (callers check what the path is first: see `reading`)."""
    if is_remote(path):
        return gfile().GFile(path, "rb")
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


def open_new(path: str):
    """A binary file object writing a NEW file at `path`; an existing entry is an error (EEXIST).

    Locally `O_EXCL | O_NOFOLLOW`: nothing is truncated, and no link is written through.
    """
    if is_remote(path):
        if gfile().exists(path):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
        return gfile().GFile(path, "wb")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    return os.fdopen(os.open(path, flags, 0o644), "wb")


def rename(source: str, target: str) -> None:
    """Rename a file or folder; `target` must not exist. On object stores file by file, event files last."""
    if not is_remote(source):
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target)
        os.rename(source, target)
        return
    g = gfile()
    if not g.isdir(source):
        g.rename(source, target, overwrite=False)
        return
    for folder, _, files in g.walk(source):
        destination = target + folder[len(source) :]
        g.makedirs(destination)
        for name in sorted(files, key=lambda n: n.startswith("events.out.tfevents")):
            g.rename(join(folder, name), join(destination, name))
    g.rmtree(source)


def replace(source: str, target: str) -> None:
    """Rename the file `source` over the file `target` in one step (locally; object stores copy)."""
    if is_remote(source):
        gfile().rename(source, target, overwrite=True)
    else:
        os.replace(source, target)


def copy(source: str, target: str) -> None:
    """Copy the regular file `source` to the new file `target`."""
    if is_remote(source) or is_remote(target):
        gfile().copy(source, target, overwrite=False)
        return
    with open_read(source) as reader, open_new(target) as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)


def remove(path: str) -> None:
    """Remove one file (or link, FIFO, ...), not a folder."""
    if is_remote(path):
        gfile().remove(path)
    else:
        os.unlink(path)


def remove_folder(folder: str) -> None:
    """Remove an empty folder."""
    if is_remote(folder):
        if gfile().listdir(folder):
            raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY), folder)
        gfile().rmtree(folder)
    else:
        os.rmdir(folder)
