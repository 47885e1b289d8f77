"""TensorFlow's checkpoint, checkpoint state and event file formats, read and written without TensorFlow.

Every claim is checked against TensorFlow 2's own readers and writers:
`tf.train.load_checkpoint` reads what we write, we read what `SaveV2`,
`tf.train.Checkpoint` and `tf.compat.v1.train.Saver` write, our files are
byte for byte `SaveV2`'s, and damaged files give one line each.
"""

from __future__ import annotations

import filecmp
import io
import os
import socket
import struct
import subprocess
import sys
import textwrap

import google_crc32c
import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projector_export import machine
from projector_export.format import tensor_bundle
from projector_export.format.checkpoint_state import (
    checkpoint_state_text,
    parse_checkpoint_state,
)
from projector_export.errors import ProjectorExportError
from projector_export.format.event_file import event_file_bytes, event_file_name
from projector_export.format.tensor_bundle import (
    data_filename,
    parse_index,
    read_tensor,
    write_bundle,
)

tf = pytest.importorskip("tensorflow")

DTYPES = [
    np.float16, ml_dtypes.bfloat16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64, np.bool_, np.complex64, np.complex128,
]  # fmt: skip


def random_bits(shape, dtype, seed=0) -> np.ndarray:
    """An array of scrambled bit patterns: NaNs with payloads, -0.0, infinities and subnormals included.

    A multiplicative hash of the byte positions, ten times faster than a random generator on 240 MB.
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    if dtype == np.bool_:
        return (np.arange(count) * (seed + 7) % 3 == 0).reshape(shape)
    words = np.arange(seed << 40, (seed << 40) + count * dtype.itemsize // 8 + 1, dtype=np.uint64)
    words *= np.uint64(0x9E3779B97F4A7C15)
    return words.view(np.uint8)[: count * dtype.itemsize].view(dtype).reshape(shape)


def save_ours(prefix: str, tensors: dict) -> None:
    with open(data_filename(prefix), "wb") as data:
        index = write_bundle(data, tensors)
    with open(prefix + ".index", "wb") as f:
        f.write(index)


def save_tf(prefix: str, tensors: dict) -> None:
    names = list(tensors)
    values = [tf.constant(tensors[name]) for name in names]
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=values)


def read_ours(prefix: str) -> dict:
    """Every numeric tensor of the checkpoint at `prefix`, read by this module."""
    with open(prefix + ".index", "rb") as f:
        index = parse_index(f.read(), prefix + ".index")
    return {
        key: read_tensor(data_filename(prefix, entry.shard, index.num_shards), entry)
        for key, entry in index.entries.items()
        if entry.dtype is not None
    }


def assert_same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert np.array_equal(bits(actual), bits(expected))


def bits(array: np.ndarray) -> np.ndarray:
    """The array's bytes, uncopied where it is contiguous."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def assert_same_files(ours: str, theirs: str) -> None:
    for suffix in (".index", ".data-00000-of-00001"):
        assert filecmp.cmp(ours + suffix, theirs + suffix, shallow=False), suffix


# -- round trips against TensorFlow --------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_every_dtype_round_trips_bit_for_bit_and_matches_save_v2(tmp_path, dtype):
    tensors = {"matrix": random_bits((2, 3), dtype), "scalar": random_bits((), dtype, seed=1)}
    save_ours(str(tmp_path / "ours"), tensors)
    save_tf(str(tmp_path / "theirs"), tensors)

    assert_same_files(str(tmp_path / "ours"), str(tmp_path / "theirs"))
    reader = tf.train.load_checkpoint(str(tmp_path / "ours"))
    ours = read_ours(str(tmp_path / "ours"))
    for key, array in tensors.items():
        assert_same_bits(ours[key], array)
        assert_same_bits(np.asarray(reader.get_tensor(key)), array)


def test_a_big_tensor_round_trips_through_tensorflow(tmp_path):
    vectors = random_bits((200_000, 300), np.float32)
    save_ours(str(tmp_path / "ours"), {"final": vectors})
    assert_same_bits(tf.train.load_checkpoint(str(tmp_path / "ours")).get_tensor("final"), vectors)
    assert_same_bits(read_ours(str(tmp_path / "ours"))["final"], vectors)


KEY_SETS = {
    "one": ["final"],
    "names with slashes, unsorted": ["z/b", "a/.ATTRIBUTES/VARIABLE_VALUE", "a", "a/b", "ab", "epoch_3"],
    "unicode": ["émbeddings", "词向量", "emoji 🙂", "Ωmega/ñ"],
    # ~700 kB of keys: three data blocks of the index, joined by shortened separator keys
    "many long keys": [f"{i:04d}/layer/" + "kernel" * 30 + "x" * (i % 13) for i in range(3000)],
}


@pytest.mark.parametrize("keys", KEY_SETS.values(), ids=KEY_SETS.keys())
def test_our_files_are_byte_identical_to_save_v2(tmp_path, keys):
    tensors = {key: random_bits((i % 3 + 1, 2), np.float32, seed=i) for i, key in enumerate(keys)}
    save_ours(str(tmp_path / "ours"), tensors)
    save_tf(str(tmp_path / "theirs"), tensors)

    assert_same_files(str(tmp_path / "ours"), str(tmp_path / "theirs"))
    if len(keys) > 1000:
        assert os.path.getsize(str(tmp_path / "ours.index")) > 2 * 262144  # three blocks at least
    ours = read_ours(str(tmp_path / "theirs"))
    assert list(ours) == sorted(keys, key=lambda key: key.encode())
    for key, array in tensors.items():
        assert_same_bits(ours[key], array)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
        st.tuples(st.sampled_from(DTYPES), st.lists(st.integers(0, 4), max_size=3)),
        min_size=1,
        max_size=6,
    )
)
def test_random_keys_shapes_and_dtypes_match_save_v2(tmp_path_factory, spec):
    folder = tmp_path_factory.mktemp("random")
    tensors = {key: random_bits(tuple(shape), dtype, seed=i) for i, (key, (dtype, shape)) in enumerate(spec.items())}
    save_ours(str(folder / "ours"), tensors)
    save_tf(str(folder / "theirs"), tensors)
    assert_same_files(str(folder / "ours"), str(folder / "theirs"))
    ours = read_ours(str(folder / "ours"))
    for key, array in tensors.items():
        assert_same_bits(ours[key], array)


def test_strided_and_big_endian_arrays_are_written_as_their_values(tmp_path):
    matrix = random_bits((50, 40), np.float64)
    tensors = {"transposed": matrix.T, "every_other_row": matrix[::2], "big_endian": matrix.astype(">f8")}
    save_ours(str(tmp_path / "ours"), tensors)
    ours = read_ours(str(tmp_path / "ours"))
    assert_same_bits(ours["transposed"], np.ascontiguousarray(matrix.T))
    assert_same_bits(ours["every_other_row"], np.ascontiguousarray(matrix[::2]))
    assert_same_bits(ours["big_endian"], matrix)


def test_tensors_read_from_open_files_of_any_kind(small_checkpoint):
    prefix, tensors = small_checkpoint
    with open(prefix + ".index", "rb") as f:
        entries = parse_index(f.read()).entries
    with open(data_filename(prefix), "rb", buffering=0) as raw, open(data_filename(prefix), "rb") as buffered:
        in_memory = io.BytesIO(buffered.read())
        for data in (raw, buffered, in_memory):
            for key, array in tensors.items():
                assert_same_bits(read_tensor(data, entries[key]), array)


def test_arrays_a_checkpoint_cannot_hold_are_refused_before_anything_is_written():
    data = io.BytesIO()
    message = one_line_error(lambda: write_bundle(data, {"final": np.zeros(3, np.float32), "labels": np.array(["a"])}))
    assert message == "tensor 'labels' has dtype <U1, which a checkpoint cannot hold; convert it to float32"
    assert data.getvalue() == b""


def compare_with_tensorflow(prefix: str) -> dict:
    """Our index lists what TensorFlow's reader lists, and our numbers are its numbers; returns our entries."""
    with open(prefix + ".index", "rb") as f:
        index = parse_index(f.read(), prefix + ".index")
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    assert set(index.entries) == set(dtypes)
    for key, entry in index.entries.items():
        assert entry.shape == tuple(reader.get_variable_to_shape_map()[key])
        if entry.dtype is None:
            assert entry.dtype_name == dtypes[key].name
            with pytest.raises(ProjectorExportError, match=f"tensor '{key}' holds {entry.dtype_name} values, not numbers"):
                read_tensor(data_filename(prefix, entry.shard, index.num_shards), entry)
        else:
            ours = read_tensor(data_filename(prefix, entry.shard, index.num_shards), entry)
            assert_same_bits(ours, np.asarray(reader.get_tensor(key)))
    return index.entries


def test_we_read_tf_train_checkpoint_write_and_save(tmp_path):
    checkpoint = tf.train.Checkpoint(final=tf.Variable(random_bits((7, 5), np.float32)), step=tf.Variable(3, dtype=tf.int64))
    written = checkpoint.write(str(tmp_path / "written"))
    saved = checkpoint.save(str(tmp_path / "saved"))

    for prefix in (written, saved):
        entries = compare_with_tensorflow(prefix)
        assert entries["_CHECKPOINTABLE_OBJECT_GRAPH"].dtype_name == "string"
        assert entries["final/.ATTRIBUTES/VARIABLE_VALUE"].shape == (7, 5)
    assert "save_counter/.ATTRIBUTES/VARIABLE_VALUE" in compare_with_tensorflow(saved)


def test_we_read_a_v1_saver_checkpoint_and_its_state_file(tmp_path):
    with tf.Graph().as_default():
        variable = tf.compat.v1.get_variable("embedding/final", initializer=random_bits((9, 4), np.float32))
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            prefix = saver.save(session, str(tmp_path / "model.ckpt"), global_step=12)
            expected = session.run(variable)
    compare_with_tensorflow(prefix)
    assert_same_bits(read_ours(prefix)["embedding/final"], expected)
    with open(tmp_path / "checkpoint", encoding="utf-8") as f:
        state = parse_checkpoint_state(f.read())
    assert os.path.join(tmp_path, state.model_checkpoint_path) == prefix


def test_we_read_a_keras_models_variables_through_tf_train_checkpoint(tmp_path):
    # Keras 3's model.save_weights writes a .weights.h5 file, not a tensor bundle;
    # tf.train.Checkpoint(model=model) is how a Keras model's variables become one.
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Embedding(20, 4), keras.layers.Dense(2)])
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / "keras"))
    entries = compare_with_tensorflow(prefix)
    ours = read_ours(prefix)
    kernels = sorted((value.shape, value.tobytes()) for value in ours.values() if value.ndim == 2)
    assert kernels == sorted((weight.shape, np.asarray(weight).tobytes()) for weight in model.get_weights() if weight.ndim == 2)
    assert any(entry.dtype_name == "string" for entry in entries.values())


# -- damaged files: one line each, bounded work ---------------------------------------------------


@pytest.fixture
def small_checkpoint(tmp_path):
    prefix = str(tmp_path / "embeddings.ckpt-1")
    tensors = {"final": random_bits((30, 8), np.float32), "epoch_1": random_bits((30, 8), np.float32, seed=1)}
    save_ours(prefix, tensors)
    return prefix, tensors


def rewrite(path: str, change) -> None:
    with open(path, "rb") as f:
        data = bytearray(f.read())
    with open(path, "wb") as f:
        f.write(change(data))


def one_line_error(call) -> str:
    with pytest.raises(ProjectorExportError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("kept, have", [(-1, "1,919"), (0, "0")], ids=["last byte cut", "empty"])
def test_a_truncated_data_file_names_both_sizes(small_checkpoint, kept, have):
    prefix, _ = small_checkpoint
    rewrite(data_filename(prefix), lambda data: data[:kept])
    message = one_line_error(lambda: read_ours(prefix))
    assert f"the checkpoint data file {data_filename(prefix)} is truncated ({have} bytes where its index needs 1,920)" in message
    assert message.endswith("export the run again with projector_export.export_embedding(s) or `projector-export export`")


def test_a_flipped_bit_in_the_data_fails_its_crc(small_checkpoint):
    prefix, _ = small_checkpoint
    rewrite(data_filename(prefix), lambda data: data[:5] + bytes([data[5] ^ 4]) + data[6:])
    message = one_line_error(lambda: read_ours(prefix))
    assert message.startswith("tensor 'final': its data in") and "fails its crc32c check (the file is damaged)" in message


def test_trailing_bytes_after_the_data_are_ignored_as_tensorflow_ignores_them(small_checkpoint):
    prefix, tensors = small_checkpoint
    rewrite(data_filename(prefix), lambda data: data + b"garbage")
    for key, array in tensors.items():
        assert_same_bits(read_ours(prefix)[key], array)
        assert_same_bits(tf.train.load_checkpoint(prefix).get_tensor(key), array)


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda data: data[:-1], "it does not end in a table footer"),
        (lambda data: data[: len(data) // 2], "it does not end in a table footer"),
        (lambda data: data + b"\0garbage", "it does not end in a table footer"),
        (lambda data: b"", "the file is empty"),
        (lambda data: bytes([data[0] ^ 1]) + data[1:], "block crc mismatch in the block at byte 0"),
    ],
    ids=["last byte cut", "cut in half", "trailing garbage", "empty", "flipped bit in a block"],
)
def test_a_damaged_index_is_one_line(small_checkpoint, change, reason):
    prefix, _ = small_checkpoint
    rewrite(prefix + ".index", change)
    message = one_line_error(lambda: read_ours(prefix))
    assert message.startswith(f"the checkpoint index {prefix}.index is corrupt: {reason}")


def test_every_flipped_bit_and_every_truncation_of_an_index_is_refused_or_harmless(small_checkpoint):
    prefix, _ = small_checkpoint
    with open(prefix + ".index", "rb") as f:
        index = f.read()
    damaged = [index[:n] for n in range(len(index))]
    damaged += [index[:i] + bytes([index[i] ^ (1 << bit)]) + index[i + 1 :] for i in range(len(index)) for bit in range(8)]
    for data in damaged:
        try:
            entries = parse_index(data, "x.index").entries
        except ProjectorExportError:
            continue
        # only the footer's padding and the unread metaindex handle may change unnoticed
        assert {key: (entry.shape, entry.offset) for key, entry in entries.items()} == {
            "epoch_1": ((30, 8), 960), "final": ((30, 8), 0),
        }  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_refused_as_an_index(data):
    with pytest.raises(ProjectorExportError):
        parse_index(data + struct.pack("<Q", 0xDB4775248B80FB57))


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def field(number: int, value: int | bytes) -> bytes:
    """A protobuf field: a varint for an int, length-delimited for bytes."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def entry_value(dtype: int, dims: list[int], size: int = 0, crc: int | None = None) -> bytes:
    """A BundleEntryProto: dtype, shape, size and crc32c."""
    shape = b"".join(field(2, field(1, dim)) for dim in dims)
    out = field(1, dtype) + field(2, shape) + (field(5, size) if size else b"")
    return out + (b"\x35" + struct.pack("<I", crc) if crc is not None else b"")


def mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def table(block: bytes) -> bytes:
    """A table of one data block holding the entries `block` (built apart from the module's writer)."""

    def framed(contents: bytes) -> bytes:
        return contents + b"\0" + struct.pack("<I", mask(google_crc32c.value(contents + b"\0")))

    data = framed(block + struct.pack("<II", 0, 1))
    metaindex = framed(struct.pack("<II", 0, 1))
    handle = varint(0) + varint(len(data) - 5)
    index = framed(b"\0\x01" + varint(len(handle)) + b"\xff" + handle + struct.pack("<II", 0, 1))
    handles = varint(len(data)) + varint(len(metaindex) - 5) + varint(len(data) + len(metaindex)) + varint(len(index) - 5)
    return data + metaindex + index + handles.ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)


def entry(key: bytes, value: bytes, shared: int = 0) -> bytes:
    """A block entry: shared prefix length, key suffix length, value length, key suffix, value."""
    return varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value


HEADER = entry(b"", field(1, 1) + field(3, field(1, 1)))  # BundleHeaderProto(num_shards=1, version 1)


def test_keys_that_expand_without_bound_are_refused_before_memory_runs_out():
    # one long key, then entries each sharing all of the key before and adding a byte:
    # 4 bytes of file for ~50 kB of key, 3 GB in all if nothing stopped them
    long_key = b"k" * 50_000
    block = HEADER + entry(long_key, b"")
    block += b"".join(entry(long_key + bytes([65 + i % 26]), b"", shared=len(long_key)) for i in range(60_000))
    assert "its keys expand to more bytes than an index of its size holds" in one_line_error(lambda: parse_index(table(block)))


@pytest.mark.parametrize(
    "shape, reason",
    [
        (field(2, field(1, 1 << 62)), "an impossible shape"),
        (field(2, field(1, 1 << 31)) * 2, "an impossible shape"),  # 2**62 elements
        (field(2, field(1, -1)), "an impossible shape"),
        (field(2, b"") * 300, "an impossible shape"),  # rank 300
        (field(3, 1), "a shape of unknown rank"),
    ],
    ids=["2**62 rows", "2**62 elements", "negative", "rank 300", "unknown rank"],
)
def test_impossible_shapes_are_refused_by_the_index(shape, reason):
    index = table(HEADER + entry(b"final", field(1, 1) + field(2, shape)))
    assert f"tensor 'final' has {reason}" in one_line_error(lambda: parse_index(index))


def test_a_giant_declared_tensor_is_refused_before_allocating(tmp_path, monkeypatch):
    # float32 [1e9, 1e9]: its entry is consistent, its data file is 4 bytes
    entries = parse_index(table(HEADER + entry(b"final", entry_value(1, [10**9, 10**9], 4 * 10**18)))).entries
    assert entries["final"].size == entries["final"].nbytes == 4 * 10**18
    (tmp_path / "data").write_bytes(b"\0" * 4)
    message = one_line_error(lambda: read_tensor(str(tmp_path / "data"), entries["final"]))
    assert "is truncated (4 bytes where its index needs 4,000,000,000,000,000,000)" in message

    # a real file larger than this process may allocate
    prefix = str(tmp_path / "big")
    save_ours(prefix, {"final": np.zeros((100, 100), np.float32)})
    monkeypatch.setattr(machine, "available_memory", lambda: 1000)
    message = one_line_error(lambda: read_ours(prefix))
    assert message.startswith("tensor 'final' [100, 100] needs") and "of memory" in message


def test_unordered_or_duplicate_keys_are_corrupt():
    value = entry_value(1, [], crc=mask(0))
    for block in (HEADER + entry(b"b", value) + entry(b"a", value), HEADER + entry(b"a", value) + entry(b"a", value)):
        index = table(block)
        assert "its keys are out of order" in one_line_error(lambda: parse_index(index))  # noqa: B023 - called at once


def test_a_string_tensor_is_listed_and_refused_to_read_and_a_wrong_size_is_corrupt():
    string_entry = parse_index(table(HEADER + entry(b"graph", entry_value(7, [])))).entries["graph"]
    assert string_entry.dtype is None and string_entry.dtype_name == "string"
    assert "tensor 'graph' holds string values, not numbers" in one_line_error(lambda: read_tensor(io.BytesIO(), string_entry))
    message = one_line_error(lambda: parse_index(table(HEADER + entry(b"final", entry_value(1, [3], 8))), "x.index"))
    assert message.startswith("the checkpoint index x.index is corrupt: tensor 'final' [3] of float32 needs 12 bytes, its entry says 8")


def test_a_big_endian_checkpoint_reads_as_its_values():
    values = np.array([[1.5, -2.0, np.inf]], np.float32)
    stored = values.astype(">f4").tobytes()  # as a big-endian machine saved it, crc32c over those bytes
    value = entry_value(1, [1, 3], len(stored), mask(google_crc32c.value(stored)))
    header = entry(b"", field(1, 1) + field(2, 1) + field(3, field(1, 1)))  # endianness: BIG
    index = parse_index(table(header + entry(b"final", value)))
    assert index.big_endian
    assert_same_bits(read_tensor(io.BytesIO(stored), index.entries["final"]), values)


def test_bfloat16_without_ml_dtypes_is_listed_and_refused_to_read(tmp_path, monkeypatch):
    prefix = str(tmp_path / "ckpt")
    save_ours(prefix, {"final": np.zeros(3, ml_dtypes.bfloat16)})
    monkeypatch.setattr(tensor_bundle, "_bfloat16", lambda: None)  # as where ml_dtypes is not installed
    with open(prefix + ".index", "rb") as f:
        final = parse_index(f.read()).entries["final"]
    assert (final.dtype, final.dtype_name, final.shape) == (None, "bfloat16", (3,))
    message = one_line_error(lambda: read_tensor(data_filename(prefix), final))
    assert message == "tensor 'final' is bfloat16, which numpy reads with the ml_dtypes package; pip install ml-dtypes"


# -- the checkpoint state file -------------------------------------------------------------------

STATE_TEXTS = [
    'model_checkpoint_path: "embeddings.ckpt-1"\nall_model_checkpoint_paths: "embeddings.ckpt-1"\n',
    '# a comment\nall_model_checkpoint_paths: "a"\nmodel_checkpoint_path: \'b\\n\\"c\\303\\251\'  # trailing\n',
    'model_checkpoint_path: "first" model_checkpoint_path: "last"',
    'model_checkpoint_path: "x"\nall_model_checkpoint_timestamps: 1.5\nlast_preserved_timestamp: 2\n',
    'model_checkpoint_path: "x" "y"',
    'model_checkpoint_path: "émbeddings ckpt"',
    "",
    'all_model_checkpoint_paths: "a"',
    'model_checkpoint_path: ""',
    "model_checkpoint_path: x",
    'unknown_field: "x"\nmodel_checkpoint_path: "y"',
    'model_checkpoint_path: "x',
    'model_checkpoint_path: "\\xff"',
]


@pytest.mark.parametrize("text", STATE_TEXTS)
def test_state_files_parse_as_tensorflow_parses_them(tmp_path, text):
    (tmp_path / "checkpoint").write_text(text, encoding="utf-8")
    try:
        expected = tf.train.get_checkpoint_state(str(tmp_path))
    except ValueError:  # TensorFlow's "Invalid checkpoint state": no path
        expected = None
    if expected is None:
        assert "the checkpoint state file" in one_line_error(lambda: parse_checkpoint_state(text))
        return
    state = parse_checkpoint_state(text)
    assert os.path.join(tmp_path, state.model_checkpoint_path) == expected.model_checkpoint_path
    assert [os.path.join(tmp_path, path) for path in state.all_model_checkpoint_paths] == list(
        expected.all_model_checkpoint_paths
    )


@pytest.mark.parametrize("prefix", ["embeddings.ckpt-3", 'odd "name"\\ with\ttabs and ünicode'])
def test_our_state_file_is_what_tensorflow_writes(tmp_path, prefix):
    tf.compat.v1.train.update_checkpoint_state(str(tmp_path), prefix)
    assert checkpoint_state_text(prefix) == (tmp_path / "checkpoint").read_text(encoding="utf-8")
    (tmp_path / "checkpoint").write_text(checkpoint_state_text(prefix), encoding="utf-8")
    assert tf.train.get_checkpoint_state(str(tmp_path)).model_checkpoint_path == os.path.join(tmp_path, prefix)


# -- the event file ------------------------------------------------------------------------------


def test_our_event_file_is_what_tensorflow_writes_and_tensorboard_lists_its_run(tmp_path):
    from tensorboard.backend.event_processing import event_file_loader, io_wrapper

    theirs = tmp_path / "theirs"
    writer = tf.summary.create_file_writer(str(theirs))
    writer.close()
    (their_file,) = os.listdir(theirs)
    wall_time = int(their_file.split(".")[3])

    run = tmp_path / "logs" / "run"
    run.mkdir(parents=True)
    name = event_file_name(wall_time)
    (run / name).write_bytes(event_file_bytes(wall_time))

    assert name.rsplit(".", 2)[0] == their_file.rsplit(".", 2)[0] == f"events.out.tfevents.{wall_time:010d}.{socket.gethostname()}.{os.getpid()}"
    assert event_file_bytes(wall_time, writer="tensorflow.core.util.events_writer") == (theirs / their_file).read_bytes()
    (event,) = event_file_loader.EventFileLoader(str(run / name)).Load()
    assert (event.file_version, event.wall_time, event.source_metadata.writer) == ("brain.Event:2", wall_time, "projector_export")
    assert io_wrapper.IsTensorFlowEventsFile(name)
    assert list(io_wrapper.GetLogdirSubdirectories(str(tmp_path / "logs"))) == [str(run)]


# -- no TensorFlow -------------------------------------------------------------------------------


def test_the_format_modules_work_where_tensorflow_cannot_be_imported(tmp_path):
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text("raise RuntimeError('tensorflow was imported')\n")
    script = textwrap.dedent(
        f"""
        import sys, numpy as np
        from projector_export.format import checkpoint_state, event_file, tensor_bundle
        prefix = {str(tmp_path / "ckpt")!r}
        with open(tensor_bundle.data_filename(prefix), "wb") as data:
            index = tensor_bundle.write_bundle(data, {{"final": np.eye(3, dtype=np.float32)}})
        entry = tensor_bundle.parse_index(index).entries["final"]
        assert (tensor_bundle.read_tensor(tensor_bundle.data_filename(prefix), entry) == np.eye(3)).all()
        assert checkpoint_state.parse_checkpoint_state(checkpoint_state.checkpoint_state_text("x")).model_checkpoint_path == "x"
        event_file.event_file_bytes(1.0)
        assert "tensorflow" not in sys.modules, sorted(sys.modules)
        """
    )
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    result = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
