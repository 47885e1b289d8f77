"""Every Embedding layer of a Keras 3 `.keras` file, read from its archive without running it.

The archive is read directly rather than through `keras.saving.load_model`, so
models with Lambda layers or unregistered custom layers load too and no code
stored in the file runs. Sizes are checked before anything is read: the
config's uncompressed size, and each weight's declared shape against memory.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from projector_export.errors import ProjectorExportError
from projector_export.files.reading import file_size, open_file
from projector_export.format.checkpoint import safe_tensor_name
from projector_export.machine import check_memory

CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.h5"
MAX_CONFIG_BYTES = 64 << 20  # a model config is kilobytes; a huge one is a zip bomb
MAX_DEPTH = 64  # nested models deeper than this are not a real model's config


def read_keras(path: str, max_rows: int | None) -> dict[str, np.ndarray]:
    """{tensor name: weights} of every Embedding layer in a `.keras` file, the first `max_rows` rows of each.

    Raises:
        ProjectorExportError: not a .keras archive, an oversized or odd
            config, missing weights, weights too large for memory, or no Embedding layer.
    """
    import h5py

    file_size(path, "")
    opened = open_file(path, "")
    try:
        archive = zipfile.ZipFile(opened)
        config = _read_config(path, archive)
        layers = list(_embedding_layers(path, config))
        weights = h5py.File(_member(archive, WEIGHTS_MEMBER), "r")
    except ProjectorExportError:
        opened.close()
        raise
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        opened.close()
        raise ProjectorExportError(f"{path}: not a Keras 3 .keras model file ({error})") from None
    tensors: dict[str, np.ndarray] = {}
    with opened, weights:
        for layer_name, h5_path in layers:
            dataset = weights.get(h5_path)
            if not isinstance(dataset, h5py.Dataset):
                raise ProjectorExportError(f"{path}: no weights stored for Embedding layer {layer_name!r}")
            shape = dataset.shape
            if len(shape) != 2 or dataset.dtype.kind not in "biuf":
                raise ProjectorExportError(
                    f"{path}: the weights of Embedding layer {layer_name!r} have shape {shape} and dtype "
                    f"{dataset.dtype}; an Embedding's weights are a 2-D array of numbers"
                )
            rows = shape[0] if max_rows is None else min(shape[0], max_rows)
            check_memory(
                rows * shape[1] * max(4, dataset.dtype.itemsize),
                f"{path}: Embedding layer {layer_name!r} ({rows:,} x {shape[1]:,})",
                "pass `max_rows=` to read fewer rows",
            )
            tensors[_tensor_name(layer_name, tensors)] = np.asarray(dataset[:rows])
    if not tensors:
        raise ProjectorExportError(
            f"{path}: the model has no Embedding layer; export the layer's weights as a .npy "
            "file instead (np.save('vectors.npy', layer.get_weights()[0]))"
        )
    return tensors


def _read_config(path: str, archive: zipfile.ZipFile) -> dict:
    info = archive.getinfo(CONFIG_MEMBER)
    if info.file_size > MAX_CONFIG_BYTES:
        raise _too_large(path, info.file_size)
    with archive.open(info) as member:
        data = member.read(MAX_CONFIG_BYTES + 1)  # whatever the archive claims
    if len(data) > MAX_CONFIG_BYTES:
        raise _too_large(path, len(data))
    try:
        config = json.loads(data)
    except RecursionError:
        raise ProjectorExportError(f"{path}: {CONFIG_MEMBER} is nested too deeply to be a model config") from None
    except ValueError as error:
        raise ProjectorExportError(f"{path}: {CONFIG_MEMBER} is not JSON ({error})") from None
    if not isinstance(config, dict):
        raise ProjectorExportError(f"{path}: {CONFIG_MEMBER} holds a {type(config).__name__}, not a model config")
    return config


def _too_large(path: str, size: int) -> ProjectorExportError:
    return ProjectorExportError(
        f"{path}: its {CONFIG_MEMBER} is {size:,} bytes uncompressed, more than the {MAX_CONFIG_BYTES:,} a model "
        "config can need; this is not a Keras model saved by Keras (a zip bomb?)"
    )


def _member(archive: zipfile.ZipFile, name: str):
    """A seekable file over one archive member; a stored member (how Keras saves) is read in place."""
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        return archive.open(info)
    archive.fp.seek(info.header_offset)
    header = archive.fp.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header of {name}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return _Window(archive.fp, info.header_offset + 30 + name_length + extra_length, info.file_size)


class _Window(io.RawIOBase):
    """Bytes `start:start+size` of a seekable file, as a file of its own."""

    def __init__(self, file, start: int, size: int):
        super().__init__()
        self._file, self._start, self._size, self._position = file, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self._size - self._position))
        self._file.seek(self._start + self._position)
        data = self._file.read(count)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def _embedding_layers(path: str, config: dict) -> Iterator[tuple[str, str]]:
    """(layer name, weights path) of every Embedding layer under a serialized model, in order.

    Keras stores a container's layers under `layers/<snake_case class name>`,
    numbering repeats (`embedding`, `embedding_1`), in the order of the
    container's `layers` (which for Sequential leaves out the InputLayer).
    """
    stack = [(config, "", 0)]
    while stack:
        layer, h5_prefix, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProjectorExportError(f"{path}: {CONFIG_MEMBER} nests layers more than {MAX_DEPTH} deep")
        inner = layer.get("config", {})
        inner = inner if isinstance(inner, dict) else {}
        if layer.get("class_name") == "Embedding":
            name = inner.get("name", "embedding")
            yield (name if isinstance(name, str) else "embedding"), f"{h5_prefix}vars/0"
        children = inner.get("layers") or []
        if not isinstance(children, list) or not all(isinstance(child, dict) for child in children):
            raise ProjectorExportError(
                f"{path}: {CONFIG_MEMBER} has a `layers` entry that is not a list of layer objects; "
                "is it a model saved by Keras 3?"
            )
        used: dict[str, int] = {}
        nested = []
        for child in children:
            if layer.get("class_name") == "Sequential" and child.get("class_name") == "InputLayer":
                continue
            class_name = child.get("class_name")
            name = _snake_case(class_name if isinstance(class_name, str) else "layer")
            if name in used:
                used[name] += 1
                name = f"{name}_{used[name]}"
            else:
                used[name] = 0
            nested.append((child, f"{h5_prefix}layers/{name}/", depth + 1))
        stack.extend(reversed(nested))  # depth first, in the container's order


def _snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _tensor_name(layer_name: str, taken: dict[str, Any]) -> str:
    name = safe_tensor_name(layer_name) or "embedding"
    while name in taken:
        name += "_"
    return name
