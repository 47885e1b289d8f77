"""The layouts of an export: computed before its run is locked, kept while the vectors stay the same.

`export_embeddings` asks each tensor's layouts (`Embedding.layouts`) here: their label and
colour columns are checked with the rest of the input (`layout_views`), the layouts computed
before the run is locked (`layout_states`, minutes perhaps), the bookmarks of tensors whose
vectors the export leaves unchanged read under the lock (`kept_bookmarks`), and each tensor's
bookmarks file written into the new run (`write_bookmarks`).
"""

from __future__ import annotations

import dataclasses
import logging
import posixpath

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.format.bookmarks import merge_states, origin_key, read_states, state_text
from projector_export.format.checkpoint import key_of, name_of_key
from projector_export.format.config import read_config
from projector_export.format.page_columns import view_columns
from projector_export.layout import bookmarks_filename, layout_bookmark

logger = logging.getLogger(__name__)


def layout_views(layouts, page_view: tuple[list[str], list[list[str]]], *, sprite: bool) -> tuple:
    """Each layout's label column and "Color by" entry (see `page_columns.view_columns`), for metadata
    as the page reads it (`MetadataTable.page_view`); refused now, before minutes of layout."""
    header, rows = page_view
    return tuple(
        view_columns(header, rows, sprite=sprite, color_by=layout.color_by, label_by=layout.label_by) for layout in layouts
    )


def layout_states(prepared) -> dict[str, dict[tuple[str, int], str]]:
    """The bookmark states of the layouts each tensor of an export asks for (`name`, `vectors`,
    `layouts` and their `views`): {name: {(method, dims): state}}."""
    found = {}
    for item in prepared:
        if not item.layouts:
            continue
        found[item.name] = {}
        for layout, (label_column, color_option) in zip(item.layouts, item.views):
            logger.debug("computing a %d-D %s layout of %r", layout.dims, layout.method, item.name)
            bookmark = layout_bookmark(item.vectors, layout)
            found[item.name][(layout.method, layout.dims)] = state_text(
                bookmark, label_column=label_column, color_option=color_option
            )
    return found


def kept_bookmarks(stage, prepared) -> dict[str, list[dict]]:
    """The bookmarks of the current run's tensors whose vectors this export leaves unchanged.

    Read under the export's lock, from inside the run folder only.
    """
    from projector_export.files.paths import inside
    from projector_export.files.reading import read_bytes
    from projector_export.format.checkpoint import Checkpoint

    run_dir = stage.target
    if not stage.exists:
        return {}
    try:
        config = read_config(run_dir)
        checkpoint = Checkpoint(run_dir)
    except Exception:  # noqa: BLE001 - a run that does not read has no bookmarks to keep
        return {}
    items = {item.name: item for item in prepared}
    kept = {}
    for entry in config.embeddings:
        key = key_of(entry.tensor_name)
        item = items.get(name_of_key(key))
        if not entry.bookmarks_path or item is None:
            continue
        try:
            path = inside(run_dir, posixpath.join(run_dir, entry.bookmarks_path), "bookmarks file")
            states = read_states(read_bytes(path, "bookmarks file"), path)
            old_vectors = checkpoint.read(key)
        except (ProjectorExportError, KeyError) as error:
            logger.warning("the old bookmarks of tensor %r are not kept: %s", item.name, error)
            continue
        if old_vectors.shape == item.vectors.shape and np.array_equal(old_vectors, item.vectors):
            kept[item.name] = states
            continue
        replaced = {(layout.method, layout.dims) for layout in item.layouts}
        dropped = [state for state in states if origin_key(state) not in replaced]
        if dropped:
            logger.warning(
                "tensor %r has new vectors, so %s (%s) are dropped: they show the old vectors; add layouts "
                "again with `projector-export layout` or layouts=[...]",
                item.name, "its old bookmark" if len(dropped) == 1 else f"its {len(dropped)} old bookmarks",
                ", ".join(repr(s.get("label", "")) for s in dropped if isinstance(s, dict)),
            )
    return kept


def write_bookmarks(stage, entries: list, new: dict[str, dict], old: dict[str, list[dict]]) -> list:
    """Write each tensor's bookmarks file (its new layouts over the old bookmarks it keeps) into the run
    being written; return the config entries naming them."""
    bookmarks = {name: merge_states(old.get(name, []), new.get(name, {})) for name in {*new, *old}}
    written = []
    for entry in entries:
        if entry.tensor_name in bookmarks:
            filename = bookmarks_filename(entry.tensor_name)
            stage.write(filename, bookmarks[entry.tensor_name])
            entry = dataclasses.replace(entry, bookmarks_path=filename)
        written.append(entry)
    return written
