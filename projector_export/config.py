"""`projector_config.pbtxt`: which tensor goes with which metadata and sprite."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

CONFIG_FILENAME = "projector_config.pbtxt"


@dataclass(frozen=True)
class ConfigEntry:
    """One embedding of the config; paths are relative to the run folder."""

    tensor_name: str
    metadata_path: str | None = None
    sprite_path: str | None = None
    single_image_dim: tuple[int, int] | None = None
    bookmarks_path: str | None = None


def config_text(entries: list[ConfigEntry]) -> str:
    """The config as protobuf text, built with TensorBoard's own `ProjectorConfig`."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    config = ProjectorConfig()
    # model_checkpoint_path stays unset: TensorBoard then finds the checkpoint
    # in the run folder itself, while a path written here would pin one place.
    for entry in entries:
        embedding = config.embeddings.add()
        embedding.tensor_name = entry.tensor_name
        if entry.metadata_path:
            embedding.metadata_path = entry.metadata_path
        if entry.sprite_path:
            embedding.sprite.image_path = entry.sprite_path
            embedding.sprite.single_image_dim.extend(entry.single_image_dim)
        if entry.bookmarks_path:
            embedding.bookmarks_path = entry.bookmarks_path
    return text_format.MessageToString(config)


def with_bookmarks_path(config, tensor_name: str, bookmarks_path: str) -> str:
    """The text of `config` (a parsed `ProjectorConfig`) with `tensor_name`'s bookmarks file set."""
    from google.protobuf import text_format

    for embedding in config.embeddings:
        if embedding.tensor_name.removesuffix(":0") == tensor_name:
            embedding.bookmarks_path = bookmarks_path
    return text_format.MessageToString(config)


def read_config(run_dir: str):
    """Parse a run's config with TensorBoard's parser; raises `text_format.ParseError`."""
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    with tf.io.gfile.GFile(posixpath.join(run_dir, CONFIG_FILENAME), "r") as f:
        return text_format.Parse(f.read(), ProjectorConfig())
