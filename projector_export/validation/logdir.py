"""Check run folders the way TensorBoard's projector reads them, and what interrupted exports left."""

from __future__ import annotations

import os
import posixpath

from projector_export.errors import REEXPORT, ProjectorExportError
from projector_export.filenames import CHECKPOINT_STATE_FILENAME, CONFIG_FILENAME
from projector_export.files import fs, leftovers, lock
from projector_export.files.fs import is_remote
from projector_export.files.paths import inside
from projector_export.format.checkpoint import Checkpoint, key_of, name_of_key
from projector_export.format.config import read_config
from projector_export.validation.report import Problem, ValidationReport
from projector_export.validation.tensor_checks import check_assets, check_shape, check_values, tensor_file_rows

_PLUGIN_ASSETS = posixpath.join("plugins", "projector")


def validate(logdir: str) -> ValidationReport:
    """Check every projector run under `logdir` as `tensorboard --logdir LOGDIR` reads it.

    For each folder with a `projector_config.pbtxt`: the config parses; the
    run has an event file (else TensorBoard does not list it); a checkpoint is
    found and opens; every tensor named in the config exists, is 2-D, reads
    back whole (each is read: a truncated or corrupt data file shows) and
    holds finite numbers; metadata rows equal tensor rows under the
    frontend's parsing rules; the sprite exists, fits 8192 px and has a cell
    for every point; bookmarks parse and load (every field the loader reads,
    one projection per point, the keys of the selected view). Every file is read from inside its run folder, and only
    if it is a regular file. Pieces left beside a run by an interrupted export
    are reported with what they hold. A run that cannot be checked is a
    problem of its own; the others are still checked. Links are not followed:
    a link within the log dir is checked where it leads, and a link to a folder
    above it, a loop TensorBoard walks round and round, is a problem.

    Example:

    ```python
    from projector_export import validate

    report = validate("logs")
    print(report)  # each problem with its run, tensor and fix
    ```
    """
    logdir = str(logdir).rstrip("/") or "/"
    report = ValidationReport(logdir=logdir)
    if not fs.is_folder(logdir) and not (fs.kind(logdir) == fs.LINK and os.path.isdir(logdir)):
        what = "is a file, not a folder" if fs.exists(logdir) else "no such folder"
        report.problems.append(
            Problem(None, None, f"{logdir}: {what}", "pass the folder you give tensorboard --logdir, e.g. logs")
        )
        return report
    for folder, subfolders, others in fs.walk(logdir):
        subfolders[:] = [name for name in subfolders if not leftovers.LEFTOVER_RE.match(name)]
        for name, kind in others:
            if kind == fs.LINK:
                _check_link(logdir, folder, name, report)
        _check_leftovers(logdir, folder, fs.listdir(folder), report)
        files = [name for name, _ in others]
        if CONFIG_FILENAME not in files:
            continue
        run_dir = posixpath.dirname(posixpath.dirname(folder)) if folder.endswith(_PLUGIN_ASSETS) else folder
        run = posixpath.relpath(run_dir, logdir) if run_dir != logdir else "."
        report.runs.append(run)
        try:
            _check_run(logdir, run, run_dir, folder, report.problems, report.notes)
        except Exception as error:  # noqa: BLE001 - one unreadable run must not hide the others
            report.problems.append(Problem(run, None, f"the run cannot be checked: {' '.join(str(error).split())}", REEXPORT))
    if not report.runs and not report.problems:
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


def _check_link(logdir: str, folder: str, name: str, report: ValidationReport) -> None:
    """Say what TensorBoard, which follows links to folders, makes of the link `folder/name`.

    `fs.walk` follows none: the runs under a link are checked where it leads, if that
    is in the log dir, once.
    """
    path = posixpath.join(folder, name)
    if is_remote(path) or not os.path.isdir(path):
        return
    target = os.path.realpath(path)
    try:
        inside(logdir, os.path.abspath(path), "")
    except ProjectorExportError:
        report.notes.append(f"{path} is a link to {target}, outside {logdir}: not checked")
        return
    if os.path.commonpath([target, os.path.realpath(folder)]) == target:
        report.problems.append(Problem(
            None, None,
            f"{path} is a link to {target}, a folder above it: TensorBoard follows it round and round "
            f"({name}/{name}/...) and lists every run under {target} dozens of times",
            f"remove the link (rm {path})",
        ))
    else:
        report.notes.append(
            f"{path} is a link to {target}, in {logdir}: its runs are checked there, once "
            "(TensorBoard lists them twice, also under the link's name)"
        )


def _check_leftovers(logdir: str, folder: str, names: list[str], report: ValidationReport) -> None:
    """Report what interrupted exports left beside their targets, truthfully: never call the only copy deletable."""
    targets = []
    for name in names:
        match = leftovers.LEFTOVER_RE.match(name)
        if name.startswith(".") and name.endswith(lock.LOCK_SUFFIX):
            target = name[1 : -len(lock.LOCK_SUFFIX)]
            if not lock.is_locked(folder, target):
                path = posixpath.join(folder, name)
                report.notes.append(f"{path} is the lock of an interrupted export; harmless, the next export removes it")
        elif match and not fs.is_folder(posixpath.join(folder, name)):
            report.notes.append(
                f"{posixpath.join(folder, name)} is named like what an interrupted export leaves, but is not a "
                "folder: projector-export did not write it"
            )
        elif match and match["target"] not in targets:
            targets.append(match["target"])
    for target in targets:
        run = posixpath.relpath(posixpath.join(folder, target), logdir)
        pieces = leftovers.leftovers_of(folder, target)
        if lock.is_locked(folder, target):
            report.notes.append(f"{', '.join(pieces)}: an export of {run} is writing them now")
            continue
        target_exists = fs.exists(posixpath.join(folder, target))
        if not target_exists:
            restorable = leftovers.restorable(pieces)
            if restorable is not None:
                report.problems.append(Problem(
                    run, None,
                    "the folder is missing: an export was interrupted while replacing it, and left it whole in "
                    f"{posixpath.basename(restorable)}",
                    f"export it again (which first restores it), or rename {restorable} to {target}",
                ))
                pieces.remove(restorable)
        for leftover in pieces:
            kept = leftovers.leftover_user_entries(leftover)
            if kept:
                where = f"belong in {target} and are" if target_exists else "are"
                report.problems.append(Problem(
                    run, None,
                    f"{', '.join(kept[:5])} {where} in {posixpath.basename(leftover)}, left by an export that was "
                    "interrupted",
                    f"export {target} again (which first moves them back), or move them by hand; do not delete {leftover}",
                ))
            else:
                report.notes.append(
                    f"{leftover} was left by an interrupted export of {run} and holds only files it wrote: "
                    "the next export of it removes it, or delete it"
                )


def _check_run(logdir: str, run: str, run_dir: str, config_dir: str, problems: list[Problem], notes: list[str]) -> None:
    try:
        config = read_config(config_dir)
    except ProjectorExportError as error:
        problems.append(_problem(run, None, error))
        return
    run_files = fs.listdir(run_dir)
    if run != "." and not any(name.startswith("events.out.tfevents") for name in run_files):
        problems.append(Problem(
            run, None,
            "the run folder has no event file (events.out.tfevents...), so `tensorboard --logdir` over its "
            "parent does not list it",
            f"{REEXPORT}, or write one: tf.summary.create_file_writer({run_dir!r}).flush()",
        ))
    if not config.embeddings:
        problems.append(Problem(run, None, f"{CONFIG_FILENAME} names no embeddings", REEXPORT))
    saved = None
    if any(not embedding.tensor_path for embedding in config.embeddings):
        saved = _open_checkpoint(logdir, run, run_dir, config, problems, notes)
    for embedding in config.embeddings:
        key = key_of(embedding.tensor_name)
        name = name_of_key(key)
        rows = _tensor_rows(run, name, key, embedding, config_dir, saved, problems)
        if rows is not None:
            check_assets(run, name, embedding, config_dir, rows, problems, notes)


def _open_checkpoint(logdir, run, run_dir, config, problems, notes) -> Checkpoint | None:
    """The checkpoint the projector would open: the config's, else the run folder's, else its parent's."""
    try:
        if config.model_checkpoint_path:
            prefix = config.model_checkpoint_path
            try:
                inside(logdir, prefix if posixpath.isabs(prefix) or is_remote(prefix) else posixpath.join(run_dir, prefix), "")
            except ProjectorExportError:
                notes.append(f"run {run!r}: its checkpoint {prefix} lies outside {logdir} and was not checked")
                return None
            return Checkpoint(run_dir, root=logdir, prefix=posixpath.join(run_dir, prefix))
        for folder in (run_dir, posixpath.dirname(run_dir)):
            if folder == posixpath.dirname(logdir):
                break
            if fs.exists(posixpath.join(folder, CHECKPOINT_STATE_FILENAME)):
                return Checkpoint(folder, root=logdir)
    except ProjectorExportError as error:
        problems.append(_problem(run, None, error))
        return None
    if any(e.tensor_name.startswith("layer_with_weights-") for e in config.embeddings):
        problems.append(Problem(
            run, None,
            "no checkpoint found: this config comes from Keras 3's TensorBoard(embeddings_freq=...), "
            "whose .weights.h5 files the projector cannot read (keras-team/keras#20210)",
            "use projector_export.ProjectorCallback(log_dir) instead of embeddings_freq, "
            f"and delete {posixpath.join(run_dir, CONFIG_FILENAME)}",
        ))
    else:
        problems.append(Problem(
            run, None, "no checkpoint found: the folder has no `checkpoint` file naming a saved checkpoint", REEXPORT
        ))
    return None


def _tensor_rows(run, name, key, embedding, config_dir, saved, problems) -> int | None:
    """The tensor's rows, once its shape and values proved readable; None after a problem."""
    if embedding.tensor_path:
        return tensor_file_rows(run, name, embedding, config_dir, problems)
    if saved is None:
        return None
    if key not in saved.shapes:
        held = sorted(name_of_key(k) for k, s in saved.shapes.items() if len(s) == 2)
        problems.append(Problem(
            run, name,
            f"the config names a tensor the checkpoint does not hold (it holds: {', '.join(held) or 'no 2-D tensors'})",
            REEXPORT,
        ))
        return None
    shape = list(saved.shapes[key])
    if len(shape) != 2:
        problems.append(Problem(run, name, f"the tensor has shape {shape}; the projector needs 2-D", REEXPORT))
        return None
    check_shape(run, name, shape, problems)
    if shape[0] and shape[1]:
        try:
            check_values(run, name, saved.read(key), problems)
        except ProjectorExportError as error:
            problems.append(_problem(run, name, error))
    return shape[0]


def _problem(run: str, name: str | None, error: ProjectorExportError) -> Problem:
    """A reader's one-line error as a problem: the message, and the fix it ends with."""
    message, _, fix = str(error).rpartition("; ")
    if fix != REEXPORT:
        message, fix = str(error), REEXPORT
    return Problem(run, name, message, fix)
