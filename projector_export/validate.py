"""Check run folders the way TensorBoard's projector reads them."""

from __future__ import annotations

import io
import posixpath
from dataclasses import dataclass, field

from projector_export.checkpoint import name_of_key
from projector_export.config import CONFIG_FILENAME, read_config
from projector_export.export import STAGING_RE
from projector_export.metadata import parse_metadata
from projector_export.sprite import MAX_SPRITE_PX

_PLUGIN_ASSETS = posixpath.join("plugins", "projector")
_REEXPORT = "export the run again with projector_export.export_embedding(s) or `projector-export`"


@dataclass(frozen=True)
class Problem:
    """One thing that stops the projector from showing a run correctly."""

    run: str | None  # None: the log dir itself
    tensor: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        if self.run is None:
            return f"{self.message}\n  fix: {self.fix}"
        where = f"run {self.run!r}" + (f", tensor {self.tensor!r}" if self.tensor else "")
        return f"{where}: {self.message}\n  fix: {self.fix}"


@dataclass
class ValidationReport:
    """What `validate` found: the projector runs it checked and their problems."""

    logdir: str
    runs: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [str(problem) for problem in self.problems] + [f"note: {note}" for note in self.notes]
        lines.append(
            f"{_count(len(self.runs), 'projector run')} checked in {self.logdir}: "
            + ("all good" if self.ok else _count(len(self.problems), "problem"))
        )
        return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def validate(logdir: str) -> ValidationReport:
    """Check every projector run under `logdir` as `tensorboard --logdir LOGDIR` reads it.

    For each folder with a `projector_config.pbtxt`: the config parses; the
    run has an event file (else TensorBoard does not list it); a checkpoint is
    found; every tensor named in the config exists and is 2-D; metadata rows
    equal tensor rows under the frontend's parsing rules; the sprite exists,
    fits 8192 px and has a cell for every point.

    Example:

    ```python
    from projector_export import validate

    report = validate("logs")
    print(report)  # each problem with its run, tensor and fix
    ```
    """
    import tensorflow as tf

    logdir = logdir.rstrip("/") or "/"
    report = ValidationReport(logdir=logdir)
    if not tf.io.gfile.isdir(logdir):
        what = "is a file, not a folder" if tf.io.gfile.exists(logdir) else "no such folder"
        report.problems.append(
            Problem(None, None, f"{logdir}: {what}", "pass the folder you give tensorboard --logdir, e.g. logs")
        )
        return report
    for folder, subfolders, files in tf.io.gfile.walk(logdir):
        leftovers = [name for name in subfolders if STAGING_RE.match(name.rstrip("/"))]
        for name in leftovers:
            report.notes.append(
                f"{posixpath.join(folder, name.rstrip('/'))} was left by an interrupted export; "
                "the next export of that run removes it, or delete it"
            )
            subfolders.remove(name)
        if CONFIG_FILENAME not in files:
            continue
        if folder.endswith(_PLUGIN_ASSETS):  # TensorBoard also reads run/plugins/projector/
            run_dir = posixpath.dirname(posixpath.dirname(folder))
            _check_run(logdir, run_dir, folder, tf.io.gfile.listdir(run_dir), report)
        else:
            _check_run(logdir, folder, folder, files, report)
    if not report.runs:
        report.problems.append(
            Problem(
                None,
                None,
                f"no projector runs under {logdir} (no folder in it holds a {CONFIG_FILENAME})",
                "pass the log dir that holds your runs, or write one: `projector-export export "
                f"vectors.npy --logdir {logdir} --run NAME` or `projector-train colours --logdir {logdir}`",
            )
        )
    return report


def _check_run(logdir: str, run_dir: str, config_dir: str, run_files: list[str], report: ValidationReport) -> None:
    from google.protobuf import text_format

    run = posixpath.relpath(run_dir, logdir) if run_dir != logdir else "."
    report.runs.append(run)
    problems = report.problems
    try:
        config = read_config(config_dir)
    except text_format.ParseError as error:
        problems.append(Problem(run, None, f"{CONFIG_FILENAME} does not parse: {error}", _REEXPORT))
        return
    if run != "." and not any(name.startswith("events.out.tfevents") for name in run_files):
        problems.append(
            Problem(
                run,
                None,
                "the run folder has no event file (events.out.tfevents...), so "
                "`tensorboard --logdir` over its parent does not list it",
                f"{_REEXPORT}, or write one: tf.summary.create_file_writer({run_dir!r}).flush()",
            )
        )
    reader = _checkpoint_reader(config, run_dir)
    shapes = reader.get_variable_to_shape_map() if reader else {}
    if reader is None and any(not embedding.tensor_path for embedding in config.embeddings):
        if any(e.tensor_name.startswith("layer_with_weights-") for e in config.embeddings):
            problems.append(
                Problem(
                    run,
                    None,
                    "no checkpoint found: this config comes from Keras 3's TensorBoard(embeddings_freq=...), "
                    "whose .weights.h5 files the projector cannot read (keras-team/keras#20210)",
                    "use projector_export.ProjectorCallback(log_dir) instead of embeddings_freq, "
                    f"and delete {posixpath.join(config_dir, CONFIG_FILENAME)}",
                )
            )
        else:
            problems.append(
                Problem(
                    run,
                    None,
                    "no checkpoint found: the folder has no `checkpoint` file naming a saved checkpoint",
                    _REEXPORT,
                )
            )
    if not config.embeddings:
        problems.append(Problem(run, None, f"{CONFIG_FILENAME} names no embeddings", _REEXPORT))
    for embedding in config.embeddings:
        key = embedding.tensor_name.removesuffix(":0")
        name = name_of_key(key)
        rows = _tensor_rows(run, name, key, embedding, config_dir, shapes, reader, problems)
        if rows is None:
            continue
        if embedding.metadata_path:
            _check_metadata(run, name, embedding.metadata_path, config_dir, rows, problems)
        if embedding.sprite.image_path:
            _check_sprite(run, name, embedding.sprite, config_dir, rows, problems)


def _checkpoint_reader(config, run_dir: str):
    """The checkpoint the projector would open: the config's, else the run folder's, else its parent's."""
    import tensorflow as tf

    candidates = [config.model_checkpoint_path] if config.model_checkpoint_path else [run_dir, posixpath.dirname(run_dir)]
    for candidate in candidates:
        try:
            return tf.train.load_checkpoint(candidate)
        except Exception:  # noqa: BLE001 - missing and unreadable are the same problem here
            continue
    return None


def _tensor_rows(run, name, key, embedding, config_dir, shapes, reader, problems) -> int | None:
    import tensorflow as tf

    if embedding.tensor_path:
        path = _asset_path(run, name, embedding.tensor_path, config_dir, "tensor file", problems)
        if path is None:
            return None
        shape = list(embedding.tensor_shape)
        if len(shape) == 2:
            _check_shape(run, name, shape, problems)
            return shape[0]
        with tf.io.gfile.GFile(path, "r") as f:
            return sum(1 for line in f if line.strip())
    if reader is None:
        return None
    if key not in shapes:
        held = sorted(name_of_key(k) for k, s in shapes.items() if len(s) == 2)
        problems.append(
            Problem(
                run,
                name,
                f"the config names a tensor the checkpoint does not hold (it holds: {', '.join(held) or 'no 2-D tensors'})",
                _REEXPORT,
            )
        )
        return None
    shape = shapes[key]
    if len(shape) != 2:
        problems.append(Problem(run, name, f"the tensor has shape {shape}; the projector needs 2-D", _REEXPORT))
        return None
    _check_shape(run, name, shape, problems)
    return shape[0]


def _check_shape(run, name, shape, problems) -> None:
    """What the projector page does with few rows or columns."""
    rows, columns = shape
    if rows < 2 or columns < 2:
        problems.append(
            Problem(
                run,
                name,
                f"the tensor has shape {list(shape)}; the projector lists only tensors of at least 2 rows "
                "and 2 columns, so it does not offer this one",
                "export at least 2 points; projector_export gives 1-column vectors two more columns of zeros",
            )
        )
    elif columns == 2:
        problems.append(
            Problem(
                run,
                name,
                "the tensor has 2 columns; the projector's PCA view, 3-D by default, reads a third "
                "component that 2 columns do not have, and draws no point (\"Total variance "
                "described: NaN%\")",
                f"{_REEXPORT}: it adds a third column of zeros, so the points lie flat at z=0 "
                "(or, in the projector, untick the Z component)",
            )
        )


def _asset_path(run, name, relative, config_dir, what, problems) -> str | None:
    """Resolve a config path as TensorBoard does: inside the config folder only."""
    import os

    import tensorflow as tf

    path = relative if posixpath.isabs(relative) or "://" in relative else posixpath.join(config_dir, relative)
    if "://" not in path:
        inside = os.path.commonpath([os.path.realpath(config_dir), os.path.realpath(path)])
        if inside != os.path.realpath(config_dir):
            problems.append(
                Problem(
                    run,
                    name,
                    f"{what} {relative!r} lies outside the run folder; TensorBoard refuses such paths",
                    "keep every file inside the run folder and name it relative to it",
                )
            )
            return None
    if not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
        problems.append(Problem(run, name, f"{what} {relative!r} does not exist", _REEXPORT))
        return None
    return path


def _check_metadata(run, name, relative, config_dir, rows, problems) -> None:
    import tensorflow as tf

    path = _asset_path(run, name, relative, config_dir, "metadata file", problems)
    if path is None:
        return
    with tf.io.gfile.GFile(path, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    header, points = parse_metadata(text)
    if len(points) == rows:
        _check_columns(run, name, relative, header, points, problems)
        return
    hint = "export it with projector_export, which escapes awkward labels"
    if len(header) == 1 and len(points) == rows + 1:
        hint = "a one-column file must not have a header row; drop the first line"
    raw_lines = len(text.rstrip("\n").split("\n"))
    if raw_lines != len(points) + (len(header) > 1):
        hint += "; the file has blank or whitespace-only lines, which the projector skips"
    problems.append(
        Problem(
            run,
            name,
            f"metadata {relative!r} has {len(points)} rows as the projector reads it, but the tensor "
            f"has {rows} (the projector says: Number of tensors ({rows}) do not match the number of "
            f"lines in metadata ({len(points)}))",
            hint,
        )
    )


def _check_columns(run, name, relative, header, points, problems) -> None:
    """Rows with more cells than the header: a raw tab split a label, the rest is dropped."""
    for index, cells in enumerate(points):
        if len(cells) > len(header):
            problems.append(
                Problem(
                    run,
                    name,
                    f"metadata {relative!r}, row {index}: {len(cells)} tab-separated cells under "
                    f"{len(header)} column(s), so the projector shows {cells[0]!r} and drops the rest "
                    "of that label",
                    "escape tabs inside labels; projector_export does (a\\tb)",
                )
            )
            return


def _check_sprite(run, name, sprite, config_dir, rows, problems) -> None:
    import tensorflow as tf
    from PIL import Image

    path = _asset_path(run, name, sprite.image_path, config_dir, "sprite image", problems)
    if path is None:
        return
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    try:
        width, height = Image.open(io.BytesIO(data)).size
    except Exception:  # noqa: BLE001 - PIL raises several types for a bad image
        problems.append(Problem(run, name, f"sprite {sprite.image_path!r} is not a readable image", _REEXPORT))
        return
    if width > MAX_SPRITE_PX or height > MAX_SPRITE_PX:
        problems.append(
            Problem(
                run,
                name,
                f"sprite is {width}x{height} px; the projector refuses sprites over "
                f"{MAX_SPRITE_PX}x{MAX_SPRITE_PX} px",
                f"{_REEXPORT} (it shrinks the cells to fit)",
            )
        )
    dim = list(sprite.single_image_dim)
    if len(dim) != 2 or min(dim) <= 0:
        problems.append(
            Problem(run, name, f"sprite single_image_dim is {dim}; it must be [width, height] in pixels", _REEXPORT)
        )
        return
    capacity = (width // dim[0]) * (height // dim[1])
    if capacity < rows:
        problems.append(
            Problem(
                run,
                name,
                f"sprite holds {capacity} cells of {dim[0]}x{dim[1]} px but the tensor has {rows} points",
                _REEXPORT,
            )
        )
