"""TensorFlow's tensor bundle (a V2 checkpoint), read and written without TensorFlow.

A checkpoint `prefix` is two kinds of file. `prefix.index` is a LevelDB-style
table sorted by key: under the key "" a `BundleHeaderProto` (number of data
files, byte order, format version), under every other key a `BundleEntryProto`
saying where a tensor lies: its dtype, shape, data file (shard), offset, size
and the masked crc32c of its bytes. `prefix.data-00000-of-00001` holds the
tensors' raw little-endian bytes end to end, in the order they were saved.

`write_bundle` writes both exactly as `tf.raw_ops.SaveV2` does (the same bytes),
so that `tf.train.load_checkpoint` and the projector read them; `parse_index`
and `read_tensor` read what TensorFlow writes, checking every crc on the way.
Nothing here opens a path it is not handed: the caller opens the files. The table the
index is stored in is `table`; this module keeps the bundle's own rules (header, entries,
dtypes, the data and its checks) together, some 400 lines of one format.

Example:
    with open(prefix + ".data-00000-of-00001", "wb") as data:
        index = write_bundle(data, {"final": vectors})
    with open(prefix + ".index", "wb") as f:
        f.write(index)
    entry = parse_index(index, "embeddings.ckpt-1.index").entries["final"]
    vectors = read_tensor(prefix + ".data-00000-of-00001", entry)
"""

from __future__ import annotations

import functools
import math
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from projector_export import _crc32c
from projector_export.errors import REEXPORT, ProjectorExportError
from projector_export.format.table import Cursor, TableReader, field_bytes, field_varint, table_bytes
from projector_export.machine import check_memory

INDEX_SUFFIX = ".index"
HEADER_KEY = b""  # the key of the BundleHeaderProto, always the table's first entry

_BUNDLE_VERSION = 1  # kTensorBundleVersion: what this code writes and the newest it reads
_MAX_RANK = 254  # TensorShape::MaxDimensions

# TensorFlow's DataType enum (types.proto) for the dtypes numpy holds, by numpy's kind and item size.
_DTYPE_ENUMS = {
    ("f", 4): 1, ("f", 8): 2, ("i", 4): 3, ("u", 1): 4, ("i", 2): 5, ("i", 1): 6, ("c", 8): 8,
    ("i", 8): 9, ("b", 1): 10, ("u", 2): 17, ("c", 16): 18, ("f", 2): 19, ("u", 4): 22, ("u", 8): 23,
}  # fmt: skip
_NUMPY_DTYPES = {enum: np.dtype(f"<{kind}{size}") for (kind, size), enum in _DTYPE_ENUMS.items()}
_BFLOAT16 = 14
# Every other dtype a checkpoint may list, by name, to say what a key holds.
_OTHER_DTYPES = {
    7: "string", 11: "qint8", 12: "quint8", 13: "qint32", 15: "qint16", 16: "quint16",
    20: "resource", 21: "variant", 24: "float8_e5m2", 25: "float8_e4m3fn",
}  # fmt: skip


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor of a checkpoint lies, as its index says.

    `dtype` is the numpy dtype, or None for values numpy cannot hold
    (`dtype_name` "string", "resource", "variant", ...). `crc32c` is masked, as stored.
    `sliced` is true for a partitioned variable, stored as slices under other keys.
    """

    key: str
    dtype: np.dtype | None
    dtype_name: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int
    sliced: bool = False
    big_endian: bool = False  # the data's byte order, from the index's header

    @property
    def nbytes(self) -> int:
        """The bytes the shape and dtype need (`size` must be this for a numeric tensor)."""
        return math.prod(self.shape) * (self.dtype.itemsize if self.dtype is not None else 0)


@dataclass(frozen=True)
class BundleIndex:
    """A parsed `.index` file: the number of data files, their byte order, and the entries by key."""

    num_shards: int
    big_endian: bool
    entries: dict[str, BundleEntry]

    def shard_sizes(self) -> list[int]:
        """The least size of each data file: the end of its last tensor."""
        sizes = [0] * self.num_shards
        for entry in self.entries.values():
            if not entry.sliced:
                sizes[entry.shard] = max(sizes[entry.shard], entry.offset + entry.size)
        return sizes


def data_filename(prefix: str, shard: int = 0, num_shards: int = 1) -> str:
    """The path of data file `shard` of a checkpoint: `prefix.data-00000-of-00001`."""
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


# -- writing -----------------------------------------------------------------------------------


def write_bundle(data_file: BinaryIO, tensors: Mapping[str, np.ndarray]) -> bytes:
    """Write the tensors' bytes to `data_file` in order; return the `.index` file's bytes.

    The bytes of both files are those `tf.raw_ops.SaveV2` writes for the same
    keys and arrays. Each array is streamed a megabyte at a time, never copied whole.

    Args:
        data_file: a binary file open for writing, positioned at its start.
        tensors: checkpoint key -> array; numeric dtypes only.

    Returns:
        The bytes of the `.index` file.

    Raises:
        ProjectorExportError: an array whose dtype a checkpoint cannot hold, or an empty key.

    Example:
        with open("run/embeddings.ckpt-1.data-00000-of-00001", "wb") as data:
            index = write_bundle(data, {"final": np.eye(3, dtype=np.float32)})
    """
    checked = [(_encoded_key(key), np.asarray(array)) for key, array in tensors.items()]
    enums = [_dtype_enum(array.dtype, key) for (key, array) in checked]  # all refused before any is written
    entries = {}
    offset = 0
    for (key, array), enum in zip(checked, enums):
        crc = 0
        for chunk in _little_endian_chunks(array):
            data_file.write(chunk)
            crc = _crc32c.extend(crc, chunk)
        entries[key] = _entry_bytes(enum, array.shape, offset, array.nbytes, _crc32c.mask(crc))
        offset += array.nbytes
    header = field_varint(1, 1) + field_bytes(3, field_varint(1, _BUNDLE_VERSION))  # little endian: 0, omitted
    return table_bytes([(HEADER_KEY, header)] + sorted(entries.items()))


def _encoded_key(key: str) -> bytes:
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise ProjectorExportError(f"the checkpoint key {key!r} is not valid Unicode; name the tensor anew") from None
    if encoded == HEADER_KEY:
        raise ProjectorExportError("a checkpoint key cannot be empty; name the tensor")
    return encoded


def _dtype_enum(dtype: np.dtype, key: bytes) -> int:
    if (dtype.kind, dtype.itemsize) in _DTYPE_ENUMS:
        return _DTYPE_ENUMS[dtype.kind, dtype.itemsize]
    if dtype.name == "bfloat16":  # ml_dtypes' (its array exists, so ml_dtypes is imported)
        return _BFLOAT16
    raise ProjectorExportError(
        f"tensor {key.decode()!r} has dtype {dtype}, which a checkpoint cannot hold; convert it to float32"
    )


def _little_endian_chunks(array: np.ndarray):
    """The array's bytes in C order, little endian, as chunks of about a megabyte, none copied whole."""
    if array.size == 0:
        return
    if array.ndim == 0 or array.flags.c_contiguous:
        parts, step = array.reshape(-1), max(1, _crc32c.CHUNK // array.itemsize)
    else:  # strided: a few rows at a time made contiguous
        parts, step = array, max(1, _crc32c.CHUNK // max(1, array[0].nbytes))
    for start in range(0, len(parts), step):
        chunk = parts[start : start + step]
        if chunk.dtype.byteorder == ">":
            chunk = chunk.astype(chunk.dtype.newbyteorder("<"))
        yield chunk.tobytes()


def _entry_bytes(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    """A BundleEntryProto as C++ protobuf serializes it: fields in number order, zeros left out."""
    dims = b"".join(field_bytes(2, field_varint(1, dim) if dim else b"") for dim in shape)
    out = field_varint(1, dtype) + field_bytes(2, dims)  # the shape is always set, even for a scalar
    out += field_varint(4, offset) if offset else b""
    out += field_varint(5, size) if size else b""
    return out + (b"\x35" + struct.pack("<I", crc) if crc else b"")


# -- reading -----------------------------------------------------------------------------------


def parse_index(data: bytes, name: str = "") -> BundleIndex:
    """The header and entries of a checkpoint's `.index` file, every block's crc checked.

    Work and memory are bounded by `len(data)`, whatever the bytes hold.

    Args:
        data: the whole `.index` file.
        name: how messages name the file (its path, or the run and file name); none by default.

    Raises:
        ProjectorExportError: the bytes are not an index, fail a crc, or declare impossible
            shapes, sizes, shards or versions; or the checkpoint is newer than this reader.

    Example:
        index = parse_index(open("run/embeddings.ckpt-1.index", "rb").read(), "embeddings.ckpt-1.index")
        index.entries["final"].shape  # (10000, 100)
    """
    reader = TableReader(
        memoryview(bytes(data)),
        lambda what: ProjectorExportError(f"{_named('the checkpoint index', name)} is corrupt: {what}; {REEXPORT}"),
    )
    items = reader.items()
    if not items or items[0][0] != HEADER_KEY:
        raise reader.corrupt("it has no header entry")
    num_shards, big_endian = _parse_header(items[0][1], reader)
    entries = {}
    for key, value in items[1:]:
        entry = _parse_entry(key, value, big_endian, reader)
        if entry.shard >= num_shards:
            raise reader.corrupt(f"tensor {entry.key!r} lies in data file {entry.shard} of {num_shards}")
        entries[entry.key] = entry
    return BundleIndex(num_shards=num_shards, big_endian=big_endian, entries=entries)


def read_tensor(data_file: str | os.PathLike | BinaryIO, entry: BundleEntry, name: str | None = None) -> np.ndarray:
    """The array `entry` describes, read from its data file and checked against its crc32c.

    The bytes are read once, straight into the array; its declared size is
    checked against the file and this process's memory before anything is allocated.

    Args:
        data_file: the path of the entry's data file (`data_filename(prefix, entry.shard, ...)`),
            or that file open in binary mode (it must be seekable).
        entry: from `parse_index(...).entries[key]`.
        name: how messages name the data file; by default its path.

    Raises:
        ProjectorExportError: the tensor is not numeric, sliced, truncated, or fails its crc32c.

    Example:
        vectors = read_tensor("run/embeddings.ckpt-1.data-00000-of-00001", index.entries["final"])
    """
    if not hasattr(data_file, "readinto"):
        with open(data_file, "rb") as f:
            return read_tensor(f, entry, os.fspath(data_file) if name is None else name)
    file = _named("the checkpoint data file", name if name is not None else str(getattr(data_file, "name", "")))
    what = f"tensor {entry.key!r}"
    if entry.sliced:
        raise ProjectorExportError(f"{what} is saved in slices (a partitioned variable), which this reader cannot join")
    if entry.dtype is None and entry.dtype_name == "bfloat16":
        raise ProjectorExportError(f"{what} is bfloat16, which numpy reads with the ml_dtypes package; pip install ml-dtypes")
    if entry.dtype is None:
        raise ProjectorExportError(f"{what} holds {entry.dtype_name} values, not numbers; it cannot be read as an array")
    if entry.size != entry.nbytes:  # parse_index refuses such entries; this one was made by hand
        raise ProjectorExportError(f"{what} {list(entry.shape)} needs {entry.nbytes:,} bytes, its entry says {entry.size:,}")
    have = _file_size(data_file)
    if have < entry.offset + entry.size:
        raise ProjectorExportError(
            f"{file} is truncated ({have:,} bytes where its index needs "
            f"{entry.offset + entry.size:,}); {REEXPORT}"
        )
    check_memory(entry.size, f"{what} {list(entry.shape)}", REEXPORT)
    array = np.empty(entry.shape, entry.dtype)
    buffer = memoryview(array.reshape(-1).view(np.uint8))
    data_file.seek(entry.offset)
    crc = 0
    for start in range(0, entry.size, _crc32c.CHUNK):
        chunk = buffer[start : start + _crc32c.CHUNK]
        filled = 0
        while filled < len(chunk):  # a raw file may return less than asked
            count = data_file.readinto(chunk[filled:])
            if not count:
                raise ProjectorExportError(f"{file} is truncated within {what}; {REEXPORT}")
            filled += count
        crc = _crc32c.extend(crc, bytes(chunk))  # google_crc32c takes only bytes
    if _crc32c.mask(crc) != entry.crc32c:
        raise ProjectorExportError(f"{what}: its data in {file} fails its crc32c check (the file is damaged); {REEXPORT}")
    return array.byteswap(inplace=True) if entry.big_endian else array


def _named(kind: str, name: str) -> str:
    return f"{kind} {name}" if name else kind


def _file_size(f: BinaryIO) -> int:
    try:
        return os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # not a real file (BytesIO)
        return f.seek(0, os.SEEK_END)


def _parse_header(value: memoryview, reader: TableReader) -> tuple[int, bool]:
    num_shards, endianness, min_consumer, bad = 0, 0, 0, set()
    for number, field in Cursor(value, reader).fields():
        if number == 1 and isinstance(field, int):
            num_shards = _int32(field)
        elif number == 2 and isinstance(field, int):
            endianness = field
        elif number == 3 and not isinstance(field, int):
            for sub, version in Cursor(field, reader).fields():
                if sub == 2 and isinstance(version, int):
                    min_consumer = _int32(version)
                elif sub == 3 and isinstance(version, int):
                    bad.add(_int32(version))
                elif sub == 3:  # packed
                    packed = Cursor(version, reader)
                    while not packed.done():
                        bad.add(_int32(packed.varint()))
    if num_shards < 1 or num_shards > 99999:
        raise reader.corrupt(f"its header declares {num_shards} data files")
    if endianness not in (0, 1):
        raise reader.corrupt(f"its header declares byte order {endianness}")
    if min_consumer > _BUNDLE_VERSION or _BUNDLE_VERSION in bad:
        raise ProjectorExportError(
            f"{_named('the checkpoint index', reader.name)} is of a newer format (version {min_consumer}) than this "
            "reader's; read it with the TensorFlow that wrote it"
        )
    return num_shards, endianness == 1


def _parse_entry(key: bytes, value: memoryview, big_endian: bool, reader: TableReader) -> BundleEntry:
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        text = key.decode("utf-8", "surrogateescape")
    fields = {"dtype": 0, "shard": 0, "offset": 0, "size": 0, "crc32c": 0}
    shape, has_shape, sliced = (), False, False
    names = {1: "dtype", 3: "shard", 4: "offset", 5: "size", 6: "crc32c"}
    for number, field in Cursor(value, reader).fields():
        if number in names and isinstance(field, int):
            fields[names[number]] = field
        elif number == 2 and not isinstance(field, int):
            shape, has_shape = _parse_shape(field, text, reader), True
        elif number == 7:
            sliced = True
    enum = fields["dtype"]
    if enum in _NUMPY_DTYPES:
        dtype = _NUMPY_DTYPES[enum]
        dtype_name = dtype.name
    elif enum == _BFLOAT16:
        dtype, dtype_name = _bfloat16(), "bfloat16"  # None without ml_dtypes: listed, not read
    else:
        dtype, dtype_name = None, _OTHER_DTYPES.get(enum, f"unknown dtype {enum}")
    if not has_shape and not sliced:
        raise reader.corrupt(f"tensor {text!r} has no shape")
    offset, size, shard = _int64(fields["offset"]), _int64(fields["size"]), _int32(fields["shard"])
    if offset < 0 or size < 0 or shard < 0:
        raise reader.corrupt(f"tensor {text!r} has a negative offset, size or data file")
    needed = math.prod(shape) * dtype.itemsize if dtype is not None else size
    if size != needed and not sliced:
        raise reader.corrupt(f"tensor {text!r} {list(shape)} of {dtype_name} needs {needed:,} bytes, its entry says {size:,}")
    return BundleEntry(text, dtype, dtype_name, shape, shard, offset, size, fields["crc32c"], sliced, big_endian)


def _parse_shape(value: memoryview, key: str, reader: TableReader) -> tuple[int, ...]:
    dims = []
    for number, field in Cursor(value, reader).fields():
        if number == 2 and not isinstance(field, int):
            size = 0
            for sub, dim in Cursor(field, reader).fields():
                if sub == 1 and isinstance(dim, int):
                    size = _int64(dim)
            dims.append(size)
        elif number == 3 and field:
            raise reader.corrupt(f"tensor {key!r} has a shape of unknown rank")
    if len(dims) > _MAX_RANK or any(dim < 0 for dim in dims) or math.prod(dims) >= 1 << 62:
        raise reader.corrupt(f"tensor {key!r} has an impossible shape {dims[:8]}{'...' if len(dims) > 8 else ''}")
    return tuple(dims)


def _int64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _int32(value: int) -> int:
    value &= (1 << 32) - 1
    return value - (1 << 32) if value >= 1 << 31 else value


@functools.cache
def _bfloat16() -> np.dtype | None:
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)
