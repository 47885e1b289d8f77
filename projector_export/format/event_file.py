"""The event file of a run, written without TensorFlow.

TensorBoard lists a folder as a run only when it holds an event file (a name
containing `tfevents`); the projector then looks in the run for its config. An
export therefore ends with one event file holding nothing but its first record:
the `Event` with `file_version: "brain.Event:2"`, as `tf.summary.create_file_writer`
starts every file. The file is a TFRecord: each record is its length (uint64),
the masked crc32c of those 8 bytes, the data, and the masked crc32c of the data.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct

from projector_export import _crc32c

FILE_VERSION = "brain.Event:2"
WRITER = "projector_export"  # the event's source_metadata; TensorFlow writes "tensorflow.core.util.events_writer"

_numbers = itertools.count()  # TensorFlow numbers the event files of a process 0, 1, 2...


def event_file_bytes(wall_time: float, writer: str = WRITER) -> bytes:
    """The bytes of an event file holding only its opening `Event` (`file_version`, `wall_time`).

    Args:
        wall_time: seconds since the Epoch; TensorFlow writes the whole seconds of its file's name.
        writer: the event's `source_metadata.writer`.

    Example:
        now = int(time.time())
        with open(os.path.join(run_dir, event_file_name(now)), "wb") as f:
            f.write(event_file_bytes(now))
    """
    from tensorboard.compat.proto import event_pb2

    event = event_pb2.Event(wall_time=wall_time, file_version=FILE_VERSION)
    event.source_metadata.writer = writer
    return _record(event.SerializeToString())


def event_file_name(wall_time: float, host: str | None = None, pid: int | None = None, number: int | None = None) -> str:
    """The name TensorFlow 2 gives an event file: `events.out.tfevents.{seconds}.{host}.{pid}.{number}.v2`.

    `number` counts the files this process named, as TensorFlow's writers count theirs,
    so that two files named in the same second differ.

    Example:
        event_file_name(1700000000, "vm", 42, 0)  # 'events.out.tfevents.1700000000.vm.42.0.v2'
    """
    host = socket.gethostname() if host is None else host
    pid = os.getpid() if pid is None else pid
    number = next(_numbers) if number is None else number
    return f"events.out.tfevents.{int(wall_time):010d}.{host}.{pid}.{number}.v2"


def _record(data: bytes) -> bytes:
    """One TFRecord: length, masked crc32c of the length, data, masked crc32c of the data."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _crc32c.masked(length)) + data + struct.pack("<I", _crc32c.masked(data))
