"""What killed writes leave beside a folder, and the repair the next write makes.

Beside TARGET, in its parent folder, a write leaves (see `staging`):

    .TARGET.new-XXXXXXXX    being written; holds only files the tool wrote
    .TARGET.swap-XXXXXXXX   complete, about to be swapped in; after the exchange, the previous TARGET
    .TARGET.old-XXXXXXXX    the previous TARGET moved aside where there is no exchange

`recover` restores a missing target from a complete leftover, moves what the user owns
in each leftover into the target, and deletes only the files the tool recorded.
`validate` reports leftovers with the same rules.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import re

from projector_export.files import fs, records
from projector_export.files.paths import shown

logger = logging.getLogger(__name__)

# Pieces beside a target, of this version (new, swap, old) and of earlier ones.
LEFTOVER_RE = re.compile(
    r"^\.(?P<target>.+)\.(?:(?P<state>new|swap|old)-[0-9a-f]{8}"
    r"|(?P<legacy>export|old|standalone|standalone-old)-\d+-[0-9a-f]+)$"
)


def recover(parent: str, base: str) -> None:
    """Repair what killed writes of `parent/base` left beside it (call with the lock held).

    A missing target is restored from a complete leftover (the new version first); then
    what the user owns in each leftover is moved into the target, and the leftover's own
    files are deleted. A leftover whose entries cannot all be moved is kept, with a warning.
    """
    target = posixpath.join(parent, base)
    leftovers = leftovers_of(parent, base)
    if not fs.exists(target):
        whole = restorable(leftovers)
        if whole is not None:
            logger.warning("restoring %s from %s, left by an interrupted export", shown(target), shown(whole))
            fs.rename(whole, target)
            leftovers.remove(whole)
    for leftover in leftovers:
        carry_and_discard(leftover, target, announce=True)


def restorable(leftovers: list[str]) -> str | None:
    """The leftover to restore a missing target from: the first whole folder the tool wrote
    (of `leftovers_of`, so the new version before the previous one)."""
    for leftover in leftovers:
        if _state(leftover) != "new" and records.kind_of(leftover):
            return leftover
    return None


def _state(leftover: str) -> str | None:
    """`new`, `swap` or `old`; the staging folders of earlier versions (`.T.export-...`,
    `.T.standalone-...`) count as `new`, their previous folders moved aside as `old`."""
    match = LEFTOVER_RE.match(posixpath.basename(leftover))
    if not match:
        return None
    if match["legacy"]:
        return "old" if match["legacy"].endswith("old") else "new"
    return match["state"]


def leftovers_of(parent: str, base: str) -> list[str]:
    """The folders killed writes of `parent/base` left, newest version first (swap, old, then the rest).

    Only folders count: a file named like a leftover is not one of the tool's.
    """
    found = []
    for name, kind in fs.scan(parent):
        match = LEFTOVER_RE.match(name)
        if match and match["target"] == base and kind == fs.FOLDER:
            found.append((("swap", "old").index(match["state"]) if match["state"] in ("swap", "old") else 2, name))
    return [posixpath.join(parent, name) for _, name in sorted(found)]


def leftover_user_entries(leftover: str) -> list[str]:
    """What in a leftover belongs to the user (see `recover`): nothing in a staging folder being
    written, which holds only what the tool wrote."""
    if _state(leftover) == "new":
        return []
    return records.user_entries(leftover)


def carry_and_discard(leftover: str, target: str, *, announce: bool) -> None:
    """Move the user's entries of `leftover` into `target`, then delete the tool's files of it.

    `announce`: log the removal (a leftover of a stopped write); the previous folder a
    write has just replaced is removed without a word.
    """
    try:
        target_exists = fs.exists(target)
        kept = leftover_user_entries(leftover)
        moving, stranded = moves(leftover, kept, target) if target_exists else ([], kept)
        for path in moving:
            destination = fs.join(target, path)
            fs.makedirs(posixpath.dirname(destination))
            fs.rename(fs.join(leftover, path), destination)
        if stranded:
            logger.warning(
                "%s keeps %s: %s", shown(leftover), listing(stranded),
                f"{shown(target)} has entries of the same names; compare them and move what you need by hand"
                if target_exists else f"{shown(target)} is missing",
            )
            return
        if announce:
            logger.info("removing %s, left by an export", shown(leftover))
        discard_written(leftover)
    except Exception as error:  # noqa: BLE001 - the target is whole; tidying must not fail a write
        logger.warning("could not tidy %s (%s); `projector-export validate` says what it holds",
                       shown(leftover), " ".join(str(error).split()))


def discard_written(folder: str) -> None:
    """Delete the tool's files of `folder` (event files first: TensorBoard never lists it half
    deleted), then the folders left empty, then `folder` itself if nothing else is in it.

    A staging folder being written (`.new-`) holds only the tool's files.
    """
    if _state(folder) == "new":
        owned = {path for path, _ in fs.files_under(folder)}
    else:
        owned = records.owned_files(folder) or set()
    order = sorted(owned, key=lambda path: (not posixpath.basename(path).startswith("events.out.tfevents"),
                                            path == records.RECORD_FILENAME, path))
    for path in order:
        with contextlib.suppress(FileNotFoundError):
            fs.remove(fs.join(folder, path))
    for current in reversed([current for current, _, _ in fs.walk(folder)]):
        with contextlib.suppress(OSError):
            fs.remove_folder(current)
    if fs.exists(folder):
        logger.warning("%s keeps files projector-export did not write: %s; move what you need by hand",
                       shown(folder), listing([path for path, _ in fs.files_under(folder)]))


def moves(source: str, kept: list[str], destination: str) -> tuple[list[str], list[str]]:
    """How the entries `kept` of `source` go into `destination` at the same place: (the paths to
    move, the paths that clash with an entry there). A kept folder whose name is a folder in
    `destination` too is merged: its entries are placed one by one."""
    moves, clashes = [], []
    pending = list(kept)
    while pending:
        path = pending.pop(0)
        there = fs.kind(fs.join(destination, path))
        if there is None and all(fs.kind(fs.join(destination, parent)) in (None, fs.FOLDER) for parent in _parents(path)):
            moves.append(path)
        elif there == fs.FOLDER and fs.kind(fs.join(source, path)) == fs.FOLDER:
            pending[:0] = [posixpath.join(path, name) for name in fs.listdir(fs.join(source, path))]
        else:
            clashes.append(path)
    return moves, clashes


def listing(names: list[str], limit: int = 5) -> str:
    shown_names = ", ".join(shown(name) for name in names[:limit])
    return shown_names + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]
