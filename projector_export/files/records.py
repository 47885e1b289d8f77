"""Which folders, and which files in them, this tool wrote: decided by what it recorded, never by names.

Every folder the tool writes whole gets a record, `.projector-export.json`, written
last into its staging folder: its kind and, for every file in it, the size,
modification time and checksum (CRC-32C) it had when written. A file is the tool's while it is
as recorded (same size and time, or, after a copy, same size and content); anything
else in the folder (a file a user added or changed, a link, a FIFO) is the user's: it
is carried into the next version of the folder, never deleted. A subfolder with a
record of its own (a training run's `projector/`) answers for its own files.

Kinds:

* `RUN`: a projector run (`projector_config.pbtxt`, a checkpoint, assets, an event file);
* `STANDALONE`: files for the standalone projector (`projector_config.json`, `vectors.tsv`);
* `TRAINING`: a `projector-train` run: Keras's logs, the projector run, plots.

Folders written by versions before the record are recognised by their own files (a
run: its config and a `checkpoint` state file naming `embeddings.ckpt-N`; a standalone
export: its `projector_config.json`). Of those, the tool claims only the files it can
name exactly: the config, the state file, the named checkpoint's files and the assets
the config names; anything else, their event files included, stays the user's.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re

from projector_export.errors import ProjectorExportError
from projector_export.filenames import (
    CHECKPOINT_PREFIX,
    CHECKPOINT_STATE_FILENAME,
    CONFIG_FILENAME,
    STANDALONE_CONFIG_FILENAME,
    VECTORS_FILENAME,
)
from projector_export.files import fs
from projector_export.files.reading import MAX_CONFIG_BYTES, checksum, read_bytes

RECORD_FILENAME = ".projector-export.json"
RUN = "projector run"
STANDALONE = "standalone export"
TRAINING = "training run"
KINDS = (RUN, STANDALONE, TRAINING)

# The files by which folders of earlier versions are recognised.
_LEGACY_STATE_RE = re.compile(rf'^model_checkpoint_path:\s*"({re.escape(CHECKPOINT_PREFIX)}-\d+)"\s*$', re.MULTILINE)
_FORMAT = 1


class Record:
    """A folder's record: its kind, the files written (path -> (size, mtime_ns, checksum)) and the
    subfolders that keep records of their own."""

    def __init__(self, kind: str, files: dict[str, tuple[int, int, str]], folders: list[str]):
        self.kind = kind
        self.files = files
        self.folders = folders

    def text(self) -> str:
        return json.dumps(
            {"projector-export": _FORMAT, "kind": self.kind, "folders": self.folders,
             "files": {path: list(values) for path, values in sorted(self.files.items())}},
            indent=1, ensure_ascii=False,
        ) + "\n"


def make_record(folder: str, kind: str, known: dict[str, str] | None = None) -> Record:
    """The record of `folder` as it is now: every regular file in it, with its checksum (from
    `known`, relative path -> checksum of what was written, or by reading), subfolders with a record of
    their own named and not entered."""
    known = known or {}
    files: dict[str, tuple[int, int, str]] = {}
    delegated: list[str] = []
    for current, subfolders, others in fs.walk(folder):
        relative = "" if current == folder else current[len(folder) + 1 :]
        for name in list(subfolders):
            if fs.kind(fs.join(current, name, RECORD_FILENAME)) == fs.FILE:
                delegated.append(posixpath.join(relative, name) if relative else name)
                subfolders.remove(name)
        for name, found in others:
            path = posixpath.join(relative, name) if relative else name
            if found != fs.FILE or path == RECORD_FILENAME:
                continue
            entry = fs.entry(fs.join(current, name))
            digest = known.get(path) or checksum(fs.join(current, name))
            files[path] = (entry.size, entry.mtime_ns, digest)
    return Record(kind, files, sorted(delegated))


def read_record(folder: str) -> Record | None:
    """The record of `folder`; None when it has none, or one this version cannot read."""
    path = fs.join(folder, RECORD_FILENAME)
    if fs.kind(path) != fs.FILE:
        return None
    try:
        data = json.loads(read_bytes(path, "record", limit=MAX_CONFIG_BYTES).decode("utf-8"))
    except (ProjectorExportError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    try:
        if data.get("projector-export") != _FORMAT or data.get("kind") not in KINDS:
            return None
        files = {}
        for path, (size, mtime_ns, digest) in data["files"].items():
            if not isinstance(path, str) or not _plain(path) or not isinstance(digest, str):
                return None
            files[path] = (int(size), int(mtime_ns), digest)
        folders = [name for name in data.get("folders", []) if isinstance(name, str) and _plain(name)]
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return Record(data["kind"], files, folders)


def _plain(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(part not in ("", ".", "..") for part in parts)


def kind_of(folder: str) -> str | None:
    """`RUN`, `STANDALONE` or `TRAINING` for a folder this tool wrote; None for any other."""
    record = read_record(folder)
    if record is not None:
        return record.kind
    try:
        names = set(fs.listdir(folder))
    except OSError:
        return None
    except Exception:  # noqa: BLE001 - a URL that cannot be listed
        return None
    if CONFIG_FILENAME in names and CHECKPOINT_STATE_FILENAME in names and _legacy_prefix(folder):
        return RUN
    if STANDALONE_CONFIG_FILENAME in names and _legacy_standalone_config(folder) is not None:
        return STANDALONE
    return None


def owned_files(folder: str) -> set[str] | None:
    """Paths (relative to `folder`) of the files in it that this tool wrote and nobody changed since;
    None when `folder` is not a folder the tool wrote."""
    record = read_record(folder)
    if record is None:
        return _legacy_owned(folder)
    owned = {RECORD_FILENAME}
    for path, (size, mtime_ns, digest) in record.files.items():
        found = fs.entry(fs.join(folder, path))
        if found is None or found.kind != fs.FILE or found.size != size:
            continue
        if (mtime_ns and found.mtime_ns == mtime_ns) or checksum(fs.join(folder, path)) == digest:
            owned.add(path)
    for name in record.folders:
        inner = owned_files(fs.join(folder, name)) if fs.is_folder(fs.join(folder, name)) else None
        owned |= {posixpath.join(name, path) for path in inner or ()}
    return owned


def user_entries(folder: str) -> list[str]:
    """Paths (relative to `folder`) of what in it the tool did not write: files, links and other
    entries, and whole folders holding nothing of the tool's. To be kept when the folder goes.

    A folder the tool does not recognise is the user's whole: every entry in it is returned.
    """
    owned = owned_files(folder)
    if owned is None:
        return fs.listdir(folder)
    return _unowned(folder, "", owned)


def _unowned(folder: str, relative: str, owned: set[str]) -> list[str]:
    found = []
    for name, kind in fs.scan(fs.join(folder, relative) if relative else folder):
        path = posixpath.join(relative, name) if relative else name
        if kind != fs.FOLDER:
            if path not in owned:
                found.append(path)
        elif not any(item.startswith(path + "/") for item in owned):
            found.append(path)  # nothing of the tool's in it: it moves as one
        else:
            found.extend(_unowned(folder, path, owned))
    return found


def enclosing_tool_folder(path: str) -> str | None:
    """The folder the tool writes whole that `path` (a folder) is, or lies in; None if none."""
    if fs.is_remote(path):
        return None
    current = os.path.abspath(path or ".")
    while True:
        if fs.is_folder(current) and kind_of(current) is not None:
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _legacy_prefix(folder: str) -> str | None:
    try:
        text = read_bytes(fs.join(folder, CHECKPOINT_STATE_FILENAME), "checkpoint state", limit=MAX_CONFIG_BYTES)
    except ProjectorExportError:
        return None
    match = _LEGACY_STATE_RE.search(text.decode("utf-8", "replace"))
    return match[1] if match else None


def _legacy_owned(folder: str) -> set[str] | None:
    """The files of a folder written before records that the tool can name exactly."""
    kind = kind_of(folder)
    names = set(fs.listdir(folder))
    if kind == RUN:
        prefix = _legacy_prefix(folder)
        owned = {CONFIG_FILENAME, CHECKPOINT_STATE_FILENAME, f"{prefix}.index"}
        owned |= {n for n in names if fnmatch.fnmatchcase(n, f"{prefix}.data-[0-9]*-of-[0-9]*")}
        owned |= _legacy_config_assets(folder)
    elif kind == STANDALONE:
        config = _legacy_standalone_config(folder) or {}
        owned = {STANDALONE_CONFIG_FILENAME, VECTORS_FILENAME}
        for embedding in config.get("embeddings", []):
            if isinstance(embedding, dict):
                sprite = embedding.get("sprite") if isinstance(embedding.get("sprite"), dict) else {}
                owned |= {p for p in (embedding.get("tensorPath"), embedding.get("metadataPath"),
                                      embedding.get("bookmarksPath"), sprite.get("imagePath")) if isinstance(p, str)}
    else:
        return None
    return {name for name in owned & names if fs.kind(fs.join(folder, name)) == fs.FILE}


def _legacy_config_assets(folder: str) -> set[str]:
    """The files a run's config names, as names in the folder (paths elsewhere are not the run's files)."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    try:
        data = read_bytes(fs.join(folder, CONFIG_FILENAME), "config", limit=MAX_CONFIG_BYTES)
        config = text_format.Parse(data.decode("utf-8"), ProjectorConfig())
    except (ProjectorExportError, UnicodeDecodeError, text_format.ParseError):
        return set()
    paths = set()
    for embedding in config.embeddings:
        paths |= {embedding.metadata_path, embedding.sprite.image_path, embedding.bookmarks_path}
    return {path for path in paths if path and "/" not in path and path not in (".", "..")}


def _legacy_standalone_config(folder: str) -> dict | None:
    try:
        data = read_bytes(fs.join(folder, STANDALONE_CONFIG_FILENAME), "standalone config", limit=MAX_CONFIG_BYTES)
        config = json.loads(data.decode("utf-8"))
    except (ProjectorExportError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return config if isinstance(config, dict) and isinstance(config.get("embeddings"), list) else None

