"""A LevelDB table, the `.index` file of TensorFlow's checkpoints: written and read without TensorFlow.

A table holds (key, value) pairs sorted by key, in blocks: each block stores a key as
the bytes it shares with the key before it and the rest, with a restart point (a
whole key) every 16 keys, and ends in the restart points' offsets; each block is
followed by a compression byte and its masked crc32c; an index block names each data
block by a key between it and the next, and a footer of fixed size points at the index.
`table_bytes` writes it as TensorFlow's TableBuilder does, byte for byte; `TableReader`
reads it, checking every crc, with work and memory bounded by the table's size.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable

from projector_export import _crc32c

# The table: LevelDB's format as tensorflow/core/lib/io writes it for BundleWriter.
BLOCK_SIZE = 262144  # table::Options::block_size
RESTART_INTERVAL = 16  # table::Options::block_restart_interval (1 in the index block)
BLOCK_TRAILER = 5  # a compression type byte and the masked crc32c of the block and that byte
FOOTER = 48  # two block handles padded to 40 bytes, then the magic number
MAGIC = 0xDB4775248B80FB57
_NO_COMPRESSION, _SNAPPY = 0, 1



def table_bytes(items: list[tuple[bytes, bytes]]) -> bytes:
    """A table of sorted (key, value) pairs as TensorFlow's TableBuilder writes it, uncompressed."""
    out = bytearray()
    data, index = _BlockBuilder(RESTART_INTERVAL), _BlockBuilder(1)
    pending = None  # the handle of the last data block, indexed once the next key is known
    last_key = b""

    def write_block(block: _BlockBuilder) -> bytes:
        contents = block.finish()
        block.reset()
        handle = varint(len(out)) + varint(len(contents))
        out.extend(contents)
        out.extend(_block_trailer(contents))
        return handle

    for key, value in items:
        if data.count and len(key) + len(value) >= 2 * BLOCK_SIZE:
            pending = write_block(data)
        if pending is not None:
            index.add(_shortest_separator(last_key, key), pending)
            pending = None
        data.add(key, value)
        last_key = key
        if data.size_estimate() >= BLOCK_SIZE:
            pending = write_block(data)
    if data.count:
        pending = write_block(data)
    metaindex = write_block(_BlockBuilder(RESTART_INTERVAL))
    if pending is not None:
        index.add(_short_successor(last_key), pending)
    footer = (metaindex + write_block(index)).ljust(FOOTER - 8, b"\0") + struct.pack("<Q", MAGIC)
    return bytes(out + footer)


class _BlockBuilder:
    """LevelDB's BlockBuilder: keys sharing a prefix with the one before, a restart point every `interval`."""

    def __init__(self, interval: int):
        self.interval = interval
        self.reset()

    def reset(self) -> None:
        self.buffer = bytearray()
        self.restarts = [0]
        self.count = 0  # entries in the block
        self.run = 0  # entries since the last restart point
        self.last_key = b""

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.run < self.interval:
            limit = min(len(key), len(self.last_key))
            while shared < limit and key[shared] == self.last_key[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buffer))
            self.run = 0
        self.buffer += varint(shared) + varint(len(key) - shared) + varint(len(value))
        self.buffer += key[shared:] + value
        self.last_key = key
        self.count += 1
        self.run += 1

    def size_estimate(self) -> int:
        return len(self.buffer) + 4 * len(self.restarts) + 4

    def finish(self) -> bytes:
        return bytes(self.buffer) + struct.pack(f"<{len(self.restarts) + 1}I", *self.restarts, len(self.restarts))


def _shortest_separator(start: bytes, limit: bytes) -> bytes:
    """A short key >= `start` and < `limit`, for the index entry between two blocks."""
    common = 0
    while common < min(len(start), len(limit)) and start[common] == limit[common]:
        common += 1
    if common < min(len(start), len(limit)):
        byte = start[common]
        if byte < 0xFF and byte + 1 < limit[common]:
            return start[:common] + bytes([byte + 1])
    return start


def _short_successor(key: bytes) -> bytes:
    """A short key >= `key`, for the index entry of the last block."""
    for i, byte in enumerate(key):
        if byte != 0xFF:
            return key[:i] + bytes([byte + 1])
    return key


def _block_trailer(contents: bytes) -> bytes:
    kind = bytes([_NO_COMPRESSION])
    return kind + struct.pack("<I", _crc32c.masked(contents + kind))


class TableReader:
    """The blocks of a table, each checked, and their entries in order.

    `corrupt(what)` makes the error raised when the bytes are not a table, saying `what` is wrong.
    """

    def __init__(self, data: memoryview, corrupt: Callable[[str], Exception]):
        self.data, self.corrupt = data, corrupt
        self.key_bytes, self.max_key_bytes = 0, 64 * len(data) + (1 << 20)

    def items(self) -> list[tuple[bytes, memoryview]]:
        data = self.data
        if not data:
            raise self.corrupt("the file is empty")
        if len(data) < FOOTER or struct.unpack_from("<Q", data, len(data) - 8)[0] != MAGIC:
            raise self.corrupt("it does not end in a table footer (it is truncated, appended to, or not an index)")
        footer = Cursor(data[len(data) - FOOTER : len(data) - 8], self)
        footer.handle()  # the metaindex block: TensorFlow writes it empty and never reads it
        index = self.block(*footer.handle())
        items, end = [], 0
        for _, handle in self.entries(index):
            offset, size = Cursor(handle, self).handle()
            if offset < end:  # blocks lie in order, each once: no block is parsed twice
                raise self.corrupt("its index block lists data blocks out of order")
            end = offset + size + BLOCK_TRAILER
            items.extend(self.entries(self.block(offset, size)))
        for (before, _), (after, _) in itertools.pairwise(items):
            if after <= before:
                raise self.corrupt(f"its keys are out of order at {after.decode('utf-8', 'replace')!r}")
        return items

    def block(self, offset: int, size: int) -> memoryview:
        """The contents of the block at `offset`, after checking its trailer."""
        if offset + size + BLOCK_TRAILER > len(self.data) - FOOTER:
            raise self.corrupt(f"a block at byte {offset:,} runs past the end of the file")
        contents = self.data[offset : offset + size + 1]
        (stored,) = struct.unpack_from("<I", self.data, offset + size + 1)
        if _crc32c.masked(bytes(contents)) != stored:
            raise self.corrupt(f"block crc mismatch in the block at byte {offset:,}")
        if contents[size] != _NO_COMPRESSION:
            kind = "snappy-compressed" if contents[size] == _SNAPPY else f"of unknown type {contents[size]}"
            raise self.corrupt(f"the block at byte {offset:,} is {kind}, which this reader cannot read")
        return contents[:size]

    def entries(self, block: memoryview) -> list[tuple[bytes, memoryview]]:
        """The (key, value) pairs of a block, keys rebuilt from their shared prefixes."""
        if len(block) < 4:
            raise self.corrupt("a block is too short to hold its restart points")
        (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
        if restarts == 0 or 4 * (restarts + 1) > len(block):
            raise self.corrupt("a block declares more restart points than it holds")
        cursor = Cursor(block[: len(block) - 4 * (restarts + 1)], self)
        out, key = [], b""
        while not cursor.done():
            shared, unshared, size = cursor.varint(), cursor.varint(), cursor.varint()
            if shared > len(key):
                raise self.corrupt("a key shares more bytes with the key before it than that key has")
            key = key[:shared] + bytes(cursor.take(unshared))
            # Shared prefixes let a few bytes stand for a long key; TensorFlow's restart
            # points keep that under 16 times the file's size, a hostile file not.
            self.key_bytes += len(key)
            if self.key_bytes > self.max_key_bytes:
                raise self.corrupt("its keys expand to more bytes than an index of its size holds")
            out.append((key, cursor.take(size)))
        return out


class Cursor:
    """Reads varints, handles and byte runs from a buffer; running past its end is corruption."""

    def __init__(self, data: memoryview, reader: TableReader):
        self.data, self.at, self.reader = data, 0, reader

    def done(self) -> bool:
        return self.at >= len(self.data)

    def varint(self) -> int:
        value = 0
        for shift in range(0, 70, 7):
            if self.at >= len(self.data):
                break
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
        raise self.reader.corrupt("a number in it is cut off or too long")

    def take(self, size: int) -> memoryview:
        if self.at + size > len(self.data):
            raise self.reader.corrupt("an entry runs past the end of its block")
        self.at += size
        return self.data[self.at - size : self.at]

    def handle(self) -> tuple[int, int]:
        return self.varint(), self.varint()

    def fields(self):
        """The (field number, value) pairs of a protobuf message: ints for varints and fixed, views for bytes."""
        while not self.done():
            tag = self.varint()
            number, wire = tag >> 3, tag & 7
            if wire == 0:
                yield number, self.varint()
            elif wire == 1:
                yield number, int.from_bytes(self.take(8), "little")
            elif wire == 2:
                yield number, self.take(self.varint())
            elif wire == 5:
                yield number, int.from_bytes(self.take(4), "little")
            else:
                raise self.reader.corrupt(f"a protobuf field of wire type {wire}")


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value
