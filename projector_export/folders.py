"""Which folders, and which files in them, this tool wrote.

An export replaces a folder only when it is new, empty, or one it wrote
itself, and then replaces only the files it wrote: everything else in it (a
subfolder such as Keras's `train/`, a note the user added) is kept. A folder
is recognised by its own files, so runs of earlier versions count too:

* a projector run (`RUN`): `projector_config.pbtxt` and a `checkpoint` state
  file naming `embeddings.ckpt-N`. The tool wrote those two, the checkpoint's
  `embeddings.ckpt*` files (and TensorFlow's temporary ones), the event
  files, and the assets the config names (metadata, sprites, bookmarks).
* a standalone export (`STANDALONE`): `projector_config.json`, `vectors.tsv`,
  and the files the JSON names.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re

from projector_export.checkpoint import CHECKPOINT_PREFIX, CHECKPOINT_STATE_FILENAME
from projector_export.config import CONFIG_FILENAME, read_config
from projector_export.errors import ProjectorExportError
from projector_export.files import MAX_CONFIG_BYTES, is_remote, read_text, write_errors

RUN = "projector run"
STANDALONE = "standalone export"

STANDALONE_CONFIG_FILENAME = "projector_config.json"  # read by the standalone projector
VECTORS_FILENAME = "vectors.tsv"

_CHECKPOINT_STATE_RE = re.compile(rf'^model_checkpoint_path:\s*"{re.escape(CHECKPOINT_PREFIX)}-\d+"\s*$', re.MULTILINE)
# Names that only this tool (or TensorFlow while it writes for it) gives files
# in the folders it writes: used for leftovers that are not whole folders.
TOOL_PATTERNS = (
    CONFIG_FILENAME, CHECKPOINT_STATE_FILENAME, "checkpoint.tmp*", f"{CHECKPOINT_PREFIX}*", "events.out.tfevents.*",
    "*.tempstate*", "*.metadata.tsv", "*.sprite.png", "*.bookmarks.json",
    STANDALONE_CONFIG_FILENAME, VECTORS_FILENAME, "tensor.bytes", "metadata.tsv",
)


def kind_of(folder: str) -> str | None:
    """`RUN` or `STANDALONE` for a folder this tool wrote; None for any other folder."""
    import tensorflow as tf

    try:
        names = {name.rstrip("/") for name in tf.io.gfile.listdir(folder)}
    except (OSError, tf.errors.OpError):
        return None
    if CONFIG_FILENAME in names and CHECKPOINT_STATE_FILENAME in names and _checkpoint_named(folder):
        return RUN
    if STANDALONE_CONFIG_FILENAME in names and _standalone_config(folder) is not None:
        return STANDALONE
    return None


def owned_entries(folder: str, kind: str) -> set[str] | None:
    """The entries of `folder` this tool wrote, if it is a folder of `kind` the tool wrote; else None."""
    import tensorflow as tf

    if kind_of(folder) != kind:
        return None
    names = {name.rstrip("/") for name in tf.io.gfile.listdir(folder)}
    if kind == RUN:
        owned = {CONFIG_FILENAME, CHECKPOINT_STATE_FILENAME}
        owned |= {n for n in names if n.startswith((CHECKPOINT_PREFIX, "events.out.tfevents.", "checkpoint.tmp"))}
        owned |= {n for n in names if ".tempstate" in n}
        owned |= _config_assets(folder)
    else:
        config = _standalone_config(folder) or {}
        owned = {STANDALONE_CONFIG_FILENAME, VECTORS_FILENAME}
        for embedding in config.get("embeddings", []):
            if isinstance(embedding, dict):
                sprite = embedding.get("sprite") if isinstance(embedding.get("sprite"), dict) else {}
                owned |= {p for p in (embedding.get("tensorPath"), embedding.get("metadataPath"),
                                      embedding.get("bookmarksPath"), sprite.get("imagePath")) if isinstance(p, str)}
    return owned & names


def user_entries(folder: str) -> list[str]:
    """The entries of `folder` the tool did not write: to be kept when the folder goes.

    For a folder the tool wrote whole, everything `owned_entries` leaves out;
    for a part-written one, whatever does not carry a name the tool gives.
    """
    import tensorflow as tf

    names = sorted(name.rstrip("/") for name in tf.io.gfile.listdir(folder))
    kind = kind_of(folder)
    if kind is not None:
        owned = owned_entries(folder, kind) or set()
        return [name for name in names if name not in owned]
    return [name for name in names if not any(fnmatch.fnmatchcase(name, p) for p in TOOL_PATTERNS)]


def _checkpoint_named(folder: str) -> bool:
    try:
        text = read_text(posixpath.join(folder, CHECKPOINT_STATE_FILENAME), "checkpoint state", limit=MAX_CONFIG_BYTES)
    except ProjectorExportError:
        return False
    return bool(_CHECKPOINT_STATE_RE.search(text))


def _config_assets(folder: str) -> set[str]:
    """The files the run's config names, as names in the folder (paths elsewhere are not the run's files)."""
    try:
        config = read_config(folder)
    except ProjectorExportError:
        return set()
    paths = set()
    for embedding in config.embeddings:
        paths |= {embedding.metadata_path, embedding.sprite.image_path, embedding.bookmarks_path}
    return {path for path in paths if path and "/" not in path and path not in (".", "..")}


def _standalone_config(folder: str) -> dict | None:
    try:
        text = read_text(posixpath.join(folder, STANDALONE_CONFIG_FILENAME), "standalone config", limit=MAX_CONFIG_BYTES)
        config = json.loads(text)
    except (ProjectorExportError, ValueError, RecursionError):
        return None
    return config if isinstance(config, dict) and isinstance(config.get("embeddings"), list) else None


def normalise(folder) -> str:
    """A folder as the package names it: an absolute local path, or a URL without a trailing slash."""
    folder = os.fspath(folder)
    if is_remote(folder):
        return folder.rstrip("/")
    if not folder.strip():
        raise ProjectorExportError("the folder name is empty; give a folder, e.g. logs/words")
    return os.path.abspath(folder)


def folder_in(logdir: str, name: str, what: str = "run") -> str:
    """`logdir/name`, refused unless it stays inside `logdir`: no `..`, `.`, empty or absolute names,
    and no symbolic link on the way that leads out of it.

    Raises:
        ProjectorExportError: naming the bad name and what to give instead.
    """
    parts = name.replace("\\", "/").split("/")
    if not name.strip() or posixpath.isabs(name) or any(part in ("", ".", "..") for part in parts):
        raise ProjectorExportError(
            f"{what} name {name!r} does not name a folder inside {logdir}; give a plain name such as "
            "'words' or 'model/projector' (no '..', '.', leading '/' or empty parts)"
        )
    folder = posixpath.join(logdir.rstrip("/"), *parts)
    if not is_remote(folder):
        root, resolved = os.path.realpath(logdir), os.path.realpath(os.path.dirname(os.path.abspath(folder)))
        if os.path.commonpath([root, resolved]) != root:
            raise ProjectorExportError(
                f"{what} {name!r} leads out of {logdir} through a symbolic link (to {resolved}); "
                "TensorBoard would not show it there: remove the link or choose another name"
            )
    return folder


# What Keras's TensorBoard callback writes into its train/ and validation/ folders.
KERAS_LOG_FILES = ("events.out.tfevents.*", "plugins/profile/*")


def remove_written_folder(folder: str, patterns: tuple[str, ...]) -> None:
    """Delete `folder` when every file in it matches `patterns` (paths relative to it; `*` spans `/`).

    For folders a tool wrote whole and writes again (Keras's `train/`, a run's
    `plots/`): anything else in them is the user's, so the folder is refused.

    Raises:
        ProjectorExportError: naming up to five files the patterns do not cover; nothing is deleted then.
    """
    import tensorflow as tf

    folder = normalise(folder)
    if not tf.io.gfile.exists(folder):
        return
    if not is_remote(folder) and os.path.islink(folder):
        raise ProjectorExportError(f"{folder} is a symbolic link; remove it by hand if it should go")
    foreign = []
    for root, _, files in tf.io.gfile.walk(folder):
        for name in files:
            relative = posixpath.relpath(posixpath.join(root, name), folder) if not is_remote(folder) else (
                posixpath.join(root, name)[len(folder) + 1 :])
            if not any(fnmatch.fnmatchcase(relative, pattern) for pattern in patterns):
                foreign.append(relative)
    if foreign:
        listing = ", ".join(sorted(foreign)[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ProjectorExportError(
            f"{folder} holds files this tool did not write ({listing}), so it is not replaced; "
            "move them out, or choose another log dir"
        )
    with write_errors(folder):
        tf.io.gfile.rmtree(folder)
