"""Reading a tensor and its metadata back out of a run folder."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

import numpy as np

from projector_export import checkpoint
from projector_export.errors import ProjectorExportError


@dataclass(frozen=True)
class RunTensor:
    """One tensor of a run with the paths of its metadata and sprite (None when absent).

    `name` is the tensor's name (`final`); `key` is what the checkpoint holds it
    under: the name itself, or `final/.ATTRIBUTES/VARIABLE_VALUE` in runs of
    earlier versions.
    """

    run_dir: str
    name: str
    key: str
    vectors: np.ndarray
    metadata_path: str | None
    sprite_path: str | None
    single_image_dim: tuple[int, int] | None


def read_run_tensor(run_dir: str, tensor: str | None = None) -> RunTensor:
    """Load one tensor of a run: `tensor` by name (or by checkpoint key); by
    default the run's only tensor, else the one named `final`.

    Raises:
        ProjectorExportError: no such run, or no such (or no default) tensor.
    """
    import tensorflow as tf

    from projector_export.config import CONFIG_FILENAME, projector_order, read_config

    run_dir = run_dir.rstrip("/")
    if not tf.io.gfile.exists(posixpath.join(run_dir, CONFIG_FILENAME)):
        raise ProjectorExportError(
            f"{run_dir}: not a projector run (no {CONFIG_FILENAME}); give a run folder written by "
            "projector-export, e.g. logs/colours-2d/projector"
        )
    entries = {embedding.tensor_name.removesuffix(":0"): embedding for embedding in read_config(run_dir).embeddings}
    names = {checkpoint.name_of_key(key): key for key in entries}
    reader = tf.train.load_checkpoint(run_dir)
    if tensor is None and (len(entries) == 1 or "final" in names):
        key = next(iter(entries)) if len(entries) == 1 else names["final"]
    elif tensor is None:
        shapes = reader.get_variable_to_shape_map()
        order = projector_order((key, shapes.get(key, []), bool(e.metadata_path)) for key, e in entries.items())
        first = f" (the projector opens {checkpoint.name_of_key(order[0])!r} first)" if order else ""
        raise ProjectorExportError(
            f"{run_dir} holds {len(entries)} tensors; choose one{first}: " + ", ".join(names)
        )
    else:
        key = tensor if tensor in entries else names.get(checkpoint.name_of_key(tensor))
        if key is None:
            raise ProjectorExportError(f"{run_dir} has no tensor {tensor!r}; it has: " + ", ".join(names))
    entry = entries[key]

    def resolve(path: str) -> str | None:
        return posixpath.join(run_dir, path) if path else None

    return RunTensor(
        run_dir=run_dir,
        name=checkpoint.name_of_key(key),
        key=key,
        vectors=np.asarray(reader.get_tensor(key), dtype=np.float32),
        metadata_path=resolve(entry.metadata_path),
        sprite_path=resolve(entry.sprite.image_path),
        single_image_dim=tuple(entry.sprite.single_image_dim) or None,
    )
