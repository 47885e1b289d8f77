"""The `checkpoint` state file beside a checkpoint, read and written without TensorFlow.

It is a `tensorflow.CheckpointState` message in protobuf text format, naming
the latest checkpoint's prefix (`model_checkpoint_path: "embeddings.ckpt-1"`),
usually relative to the file's folder. `tf.train.latest_checkpoint`, which the
projector calls, parses it with `google.protobuf.text_format.Merge`; so does
this module, on the same message built from the same descriptor, so that it
accepts and refuses exactly the texts TensorFlow does (escapes, comments,
fields in any order, a repeated singular field: the last one wins).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from projector_export.errors import REEXPORT, ProjectorExportError
from projector_export.filenames import CHECKPOINT_STATE_FILENAME


@dataclass(frozen=True)
class CheckpointState:
    """The checkpoints a state file names, as written (relative paths stay relative)."""

    model_checkpoint_path: str
    all_model_checkpoint_paths: tuple[str, ...] = ()


def parse_checkpoint_state(text: str, name: str = CHECKPOINT_STATE_FILENAME) -> CheckpointState:
    """The checkpoint paths of a state file's text, parsed as `tf.train.get_checkpoint_state` parses it.

    Args:
        text: the file's contents, decoded as UTF-8.
        name: how messages name the file.

    Raises:
        ProjectorExportError: the text is not a CheckpointState, or names no checkpoint
            (where TensorFlow ignores the file, or fails).

    Example:
        parse_checkpoint_state('model_checkpoint_path: "embeddings.ckpt-1"\\n').model_checkpoint_path
        # 'embeddings.ckpt-1'
    """
    from google.protobuf import text_format

    state = _message_class()()
    try:
        text_format.Merge(text, state)
    except text_format.ParseError as error:
        raise ProjectorExportError(
            f"the checkpoint state file {name} is not a CheckpointState ({error}); {REEXPORT}"
        ) from None
    if not state.model_checkpoint_path:
        raise ProjectorExportError(f"the checkpoint state file {name} names no checkpoint; {REEXPORT}")
    return CheckpointState(state.model_checkpoint_path, tuple(state.all_model_checkpoint_paths))


def checkpoint_state_text(model_checkpoint_path: str, all_model_checkpoint_paths: Sequence[str] = ()) -> str:
    """A state file's text naming `model_checkpoint_path` as the latest checkpoint, as TensorFlow writes it.

    As `tf.train.update_checkpoint_state` does, the latest path ends
    `all_model_checkpoint_paths`, appended when it is not already last.

    Example:
        checkpoint_state_text("embeddings.ckpt-1")
        # 'model_checkpoint_path: "embeddings.ckpt-1"\\nall_model_checkpoint_paths: "embeddings.ckpt-1"\\n'
    """
    from google.protobuf import text_format

    paths = list(all_model_checkpoint_paths)
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    state = _message_class()(model_checkpoint_path=model_checkpoint_path, all_model_checkpoint_paths=paths)
    return text_format.MessageToString(state)


@functools.cache
def _message_class():
    """TensorFlow's `tensorflow.CheckpointState` (checkpoint_state.proto), in a pool of its own.

    A private pool, so that TensorFlow can still register its own copy of the
    file in the default pool when it is imported later in the same process.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="tensorflow/python/training/checkpoint_state.proto", package="tensorflow", syntax="proto3"
    )
    message = proto.message_type.add(name="CheckpointState")
    for number, (field_name, label, kind) in enumerate(
        [
            ("model_checkpoint_path", field.LABEL_OPTIONAL, field.TYPE_STRING),
            ("all_model_checkpoint_paths", field.LABEL_REPEATED, field.TYPE_STRING),
            ("all_model_checkpoint_timestamps", field.LABEL_REPEATED, field.TYPE_DOUBLE),
            ("last_preserved_timestamp", field.LABEL_OPTIONAL, field.TYPE_DOUBLE),
        ],
        start=1,
    ):
        message.field.add(name=field_name, number=number, label=label, type=kind)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.CheckpointState"))
