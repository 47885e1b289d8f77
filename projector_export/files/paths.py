"""Which paths the tool may use: folders named plainly, files confined to the folder they belong to.

A run's config names its metadata, sprite and checkpoint; a careless or hostile config
may name `/etc/passwd`, `../../secret` or a link out of the folder. Every such path is
resolved with `inside` (TensorBoard's own rule: the real path must lie in the real path
of the folder). Local paths are judged on the file system; URLs by their text, since an
object store has no links.
"""

from __future__ import annotations

import os
import posixpath

from projector_export.errors import ProjectorExportError
from projector_export.files.fs import is_remote


def normalise(folder) -> str:
    """A folder as the package names it: an absolute local path, or a URL without a trailing slash.

    Raises:
        ProjectorExportError: an empty name, or one that is not text.
    """
    folder = path_text(folder, "a folder")
    if is_remote(folder):
        return folder.rstrip("/")
    if not folder.strip():
        raise ProjectorExportError("the folder name is empty; give a folder, e.g. logs/words")
    return os.path.abspath(folder)


def path_text(path, what: str) -> str:
    """`path` (a str, bytes or `os.PathLike`) as text, or a one-line error saying it is no path."""
    try:
        text = os.fspath(path)
    except TypeError:
        raise ProjectorExportError(f"{what} must be a path such as logs/words, not {path!r}") from None
    return os.fsdecode(text) if isinstance(text, bytes) else text


def shown(path: str) -> str:
    """`path` as messages show it: undecodable bytes escaped, so printing it cannot fail."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(path, str) else repr(path)


def named(what: str, path: str) -> str:
    """`what` and `path` as an error message begins: "metadata file logs/r/x.tsv"."""
    return f"{what} {shown(path)}" if what else shown(path)


def inside(folder: str, path: str, what: str, *, folder_kind: str = "run folder") -> str:
    """`path` (relative to `folder`, or absolute) resolved, refused when it leaves `folder`.

    Raises:
        ProjectorExportError: the path resolves outside `folder`, through `..`,
            an absolute path or a symbolic link.
    """
    if is_remote(folder):
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


def _outside(folder: str, path: str, what: str, folder_kind: str) -> ProjectorExportError:
    return ProjectorExportError(
        f"{named(what, repr(path))} lies outside the {folder_kind} {shown(folder)}; projector-export (like "
        f"TensorBoard) reads only files inside it: keep the file there and name it relative to it"
    )


def folder_in(logdir: str, name: str, what: str = "run") -> str:
    """`logdir/name`, refused unless it stays inside `logdir`: no `..`, `.`, empty or absolute names,
    no bytes that are not text, and no symbolic link on the way that leads out of it.

    Raises:
        ProjectorExportError: naming the bad name and what to give instead.
    """
    parts = name.replace("\\", "/").split("/")
    if not name.strip() or posixpath.isabs(name) or any(part in ("", ".", "..") for part in parts):
        raise ProjectorExportError(
            f"{what} name {shown(name)!r} does not name a folder inside {shown(logdir)}; give a plain name such "
            "as 'words' or 'model/projector' (no '..', '.', leading '/' or empty parts)"
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ProjectorExportError(
            f"{what} name {shown(name)!r} holds bytes that are not UTF-8 text; TensorBoard shows run names as "
            "text: choose a name of letters, digits, '-' and '_'"
        ) from None
    folder = posixpath.join(logdir.rstrip("/"), *parts)
    if not is_remote(folder):
        root, resolved = os.path.realpath(logdir), os.path.realpath(os.path.dirname(os.path.abspath(folder)))
        if os.path.commonpath([root, resolved]) != root:
            raise ProjectorExportError(
                f"{what} {shown(name)!r} leads out of {shown(logdir)} through a symbolic link (to {shown(resolved)}); "
                "TensorBoard would not show it there: remove the link or choose another name"
            )
    return folder
