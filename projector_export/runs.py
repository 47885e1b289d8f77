"""Reading a tensor and its metadata back out of a run folder."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

import numpy as np

from projector_export import checkpoint
from projector_export.errors import ProjectorExportError


@dataclass(frozen=True)
class RunTensor:
    """One tensor of a run with the paths of its metadata and sprite (None when absent)."""

    run_dir: str
    tensor_name: str
    vectors: np.ndarray
    metadata_path: str | None
    sprite_path: str | None
    single_image_dim: tuple[int, int] | None

    @property
    def short_name(self) -> str:
        return checkpoint.short_name(self.tensor_name)


def read_run_tensor(run_dir: str, tensor: str | None = None) -> RunTensor:
    """Load one tensor of a run: `tensor` by short or full name; by default the
    run's only tensor, else the one named `final`.

    Raises:
        ProjectorExportError: no such run, or no such (or no default) tensor.
    """
    import tensorflow as tf

    from projector_export.config import CONFIG_FILENAME, read_config

    run_dir = run_dir.rstrip("/")
    if not tf.io.gfile.exists(posixpath.join(run_dir, CONFIG_FILENAME)):
        raise ProjectorExportError(
            f"{run_dir}: not a projector run (no {CONFIG_FILENAME}); give a run folder written by "
            "projector-export, e.g. logs/colours-2d/projector"
        )
    entries = {embedding.tensor_name.removesuffix(":0"): embedding for embedding in read_config(run_dir).embeddings}
    names = list(entries)
    if tensor is None:
        if len(names) == 1:
            tensor = names[0]
        elif checkpoint.tensor_name("final") in entries:
            tensor = checkpoint.tensor_name("final")
        else:
            raise ProjectorExportError(
                f"{run_dir} holds {len(names)} tensors; choose one with --tensor: "
                + ", ".join(checkpoint.short_name(name) for name in names)
            )
    elif tensor not in entries and checkpoint.tensor_name(tensor) in entries:
        tensor = checkpoint.tensor_name(tensor)
    if tensor not in entries:
        raise ProjectorExportError(
            f"{run_dir} has no tensor {tensor!r}; it has: "
            + ", ".join(checkpoint.short_name(name) for name in names)
        )
    entry = entries[tensor]
    vectors = tf.train.load_checkpoint(run_dir).get_tensor(tensor)

    def resolve(path: str) -> str | None:
        return posixpath.join(run_dir, path) if path else None

    return RunTensor(
        run_dir=run_dir,
        tensor_name=tensor,
        vectors=np.asarray(vectors, dtype=np.float32),
        metadata_path=resolve(entry.metadata_path),
        sprite_path=resolve(entry.sprite.image_path),
        single_image_dim=tuple(entry.sprite.single_image_dim) or None,
    )
