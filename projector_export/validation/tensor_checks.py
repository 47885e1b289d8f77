"""The checks `validate` makes of one tensor of a run: its shape and values, its metadata and sprite.

Each appends `Problem`s; assets are opened through the file layer, so a path
out of the run folder, a FIFO or a device is a problem, never a hang.
"""

from __future__ import annotations

import io

import numpy as np

from projector_export.errors import REEXPORT, ProjectorExportError
from projector_export.files import fs
from projector_export.files.paths import inside
from projector_export.files.reading import decode_utf8, file_size, read_bytes
from projector_export.format.metadata import parse_metadata
from projector_export.format.sprite import MAX_SPRITE_PX
from projector_export.validation.report import Problem


def check_shape(run, name, shape, problems) -> None:
    """What the projector page does with few rows or columns."""
    rows, columns = shape
    if rows < 2 or columns < 2:
        problems.append(Problem(
            run, name,
            f"the tensor has shape {list(shape)}; the projector lists only tensors of at least 2 rows "
            "and 2 columns, so it does not offer this one",
            "export at least 2 points; projector_export gives 1-column vectors two more columns of zeros",
        ))
    elif columns == 2:
        problems.append(Problem(
            run, name,
            "the tensor has 2 columns; the projector's PCA view, 3-D by default, reads a third "
            "component that 2 columns do not have, and draws no point (\"Total variance "
            "described: NaN%\")",
            f"{REEXPORT}: it adds a third column of zeros, so the points lie flat at z=0 "
            "(or, in the projector, untick the Z component)",
        ))


def check_values(run, name, vectors: np.ndarray, problems) -> None:
    """NaN or infinite values: the projector cannot place those points, and PCA fails for all."""
    if vectors.dtype.kind not in "biuf":
        problems.append(Problem(run, name, f"the tensor holds {vectors.dtype}, not numbers", REEXPORT))
        return
    bad = np.argwhere(~np.isfinite(vectors))
    if len(bad):
        row, column = bad[0]
        problems.append(Problem(
            run, name,
            f"row {row}, column {column} holds {vectors[row, column]} ({len(bad)} value(s) not finite); "
            "the projector cannot place such points",
            f"drop or replace those rows and {REEXPORT}",
        ))


def tensor_file_rows(run, name, embedding, config_dir, problems) -> int | None:
    """Rows of a tensor stored as a TSV file (`tensor_path`) rather than in the checkpoint."""
    shape = list(embedding.tensor_shape)
    data = _read_asset(run, name, embedding.tensor_path, config_dir, "tensor file", problems)
    if data is None:
        return None
    if len(shape) == 2:
        check_shape(run, name, shape, problems)
        return shape[0]
    return sum(1 for line in data.split(b"\n") if line.strip())


def check_assets(run, name, embedding, config_dir, rows, problems, notes) -> None:
    options = None
    if embedding.metadata_path:
        options = _check_metadata(run, name, embedding.metadata_path, config_dir, rows, problems)
    if embedding.sprite.image_path:
        _check_sprite(run, name, embedding.sprite, config_dir, rows, problems)
    if embedding.bookmarks_path:
        _check_bookmarks(run, name, embedding.bookmarks_path, config_dir, rows, problems, notes, options)


def _check_bookmarks(run, name, relative, config_dir, rows, problems, notes, options=None) -> None:
    """The bookmarks file as the projector's loader reads it (see `bookmark_checks.check_states`)."""
    from projector_export.format.bookmark_checks import check_states
    from projector_export.format.bookmarks import read_states

    data = _read_asset(run, name, relative, config_dir, "bookmarks file", problems)
    if data is None:
        return
    try:
        states = read_states(data, repr(relative))
    except ProjectorExportError as error:
        problems.append(Problem(
            run, name, f"bookmarks {error}",
            f"{REEXPORT}, which leaves it out (with a warning); or fix it by hand; or delete it and add "
            "layouts again with `projector-export layout RUN --method ...`",
        ))
        return
    del data  # up to 256 MB, not needed beside the parsed states
    found, remarks = check_states(states, rows, options)
    problems.extend(Problem(run, name, f"bookmarks {relative!r}: {message}", fix) for message, fix in found)
    notes.extend(f"run {run!r}, tensor {name!r}: {remark}" for remark in remarks)


def _read_asset(run, name, relative, config_dir, what, problems) -> bytes | None:
    """An asset's bytes as TensorBoard would serve them, or None after a problem.

    TensorBoard serves only paths that resolve inside the config's folder.
    """
    try:
        path = inside(config_dir, relative, what)
        if not fs.exists(path):
            problems.append(Problem(run, name, f"{what} {relative!r} does not exist", REEXPORT))
            return None
        file_size(path, what)
        return read_bytes(path, what)
    except ProjectorExportError as error:
        problems.append(Problem(run, name, str(error), "keep every file inside the run folder, a regular file, "
                                "named relative to it; or " + REEXPORT))
        return None


def _check_metadata(run, name, relative, config_dir, rows, problems) -> set[str] | None:
    """Check the metadata file; return the "Color by" entries it gives the page (None if unreadable)."""
    from projector_export.format.page_columns import colour_options

    data = _read_asset(run, name, relative, config_dir, "metadata file", problems)
    if data is None:
        return None
    try:
        text = decode_utf8(data, relative, "metadata file")
    except ProjectorExportError as error:
        problems.append(Problem(run, name, f"{error}: the projector shows such labels garbled", REEXPORT))
        return None
    header, points = parse_metadata(text)
    if len(points) == rows:
        _check_columns(run, name, relative, header, points, problems)
        return colour_options(header, points)
    hint = "export it with projector_export, which escapes awkward labels"
    if len(header) == 1 and len(points) == rows + 1:
        hint = "a one-column file must not have a header row; drop the first line"
    raw_lines = len(text.rstrip("\n").split("\n"))
    if raw_lines != len(points) + (len(header) > 1):
        hint += "; the file has blank or whitespace-only lines, which the projector skips"
    problems.append(Problem(
        run, name,
        f"metadata {relative!r} has {len(points)} rows as the projector reads it, but the tensor "
        f"has {rows} (the projector says: Number of tensors ({rows}) do not match the number of "
        f"lines in metadata ({len(points)}))",
        hint,
    ))
    return None


def _check_columns(run, name, relative, header, points, problems) -> None:
    """Rows with more cells than the header: a raw tab split a label, the rest is dropped."""
    for index, cells in enumerate(points):
        if len(cells) > len(header):
            problems.append(Problem(
                run, name,
                f"metadata {relative!r}, row {index}: {len(cells)} tab-separated cells under "
                f"{len(header)} column(s), so the projector shows {cells[0]!r} and drops the rest "
                "of that label",
                "escape tabs inside labels; projector_export does (a\\tb)",
            ))
            return


def _check_sprite(run, name, sprite, config_dir, rows, problems) -> None:
    from PIL import Image

    data = _read_asset(run, name, sprite.image_path, config_dir, "sprite image", problems)
    if data is None:
        return
    try:
        width, height = Image.open(io.BytesIO(data)).size
    except Exception:  # noqa: BLE001 - PIL raises several types for a bad image
        problems.append(Problem(run, name, f"sprite {sprite.image_path!r} is not a readable image", REEXPORT))
        return
    if width > MAX_SPRITE_PX or height > MAX_SPRITE_PX:
        problems.append(Problem(
            run, name,
            f"sprite is {width}x{height} px; the projector refuses sprites over {MAX_SPRITE_PX}x{MAX_SPRITE_PX} px",
            f"{REEXPORT} (it shrinks the cells to fit)",
        ))
    dim = list(sprite.single_image_dim)
    if len(dim) != 2 or min(dim) <= 0:
        problems.append(
            Problem(run, name, f"sprite single_image_dim is {dim}; it must be [width, height] in pixels", REEXPORT)
        )
        return
    capacity = (width // dim[0]) * (height // dim[1])
    if capacity < rows:
        problems.append(Problem(
            run, name, f"sprite holds {capacity} cells of {dim[0]}x{dim[1]} px but the tensor has {rows} points", REEXPORT
        ))

