"""Memory stays within the matrix being exported plus a bounded working set, whatever the input declares."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib

import h5py
import numpy as np
import pytest

from projector_export import ProjectorExportError
from projector_export.inputs.sources import read_source

GB = 1 << 30


def zip_bomb(path, gigabytes: int = 3) -> None:
    """A .keras archive whose config.json inflates to `gigabytes` GB of spaces: 3 MB on disk for 3 GB."""
    block = b" " * (1 << 24)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)  # the same bytes from here on
    count = gigabytes * GB // len(block)
    data = head + repeat * (count - 1) + compressor.flush()
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    name, size = b"config.json", count * len(block)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size, len(name), 0) + name
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(data), size, len(name),
                          0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    with open(path, "wb") as f:
        f.write(local + data + central + end)


def limited(address_space: int):
    def limit():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    return limit


def test_a_zip_bomb_is_refused_under_a_memory_ceiling(tmp_path):
    zip_bomb(tmp_path / "bomb.keras", gigabytes=3)
    assert os.path.getsize(tmp_path / "bomb.keras") < 4 << 20
    done = subprocess.run(
        [sys.executable, "-m", "projector_export.cli", "export", str(tmp_path / "bomb.keras"),
         "--logdir", str(tmp_path / "logs"), "--run", "bomb"],
        capture_output=True, text=True, timeout=300, preexec_fn=limited(1 * GB),
        env={**os.environ, "MALLOC_ARENA_MAX": "2"},
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert "its config.json is 3,221,225,472 bytes uncompressed" in done.stderr and "zip bomb" in done.stderr


def keras_file(path, shape, layers=None) -> None:
    """A .keras archive with one Embedding layer whose weights declare `shape` (written as fill values: tiny)."""
    config = {"class_name": "Sequential", "config": {"layers": layers or [
        {"class_name": "Embedding", "config": {"name": "words"}}]}}
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:
        f.create_dataset("layers/embedding/vars/0", shape=shape, dtype="float32", chunks=(min(100, shape[0]), min(100, shape[1])))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights.getvalue())


def test_declared_weight_shapes_are_checked_before_reading(tmp_path):
    keras_file(tmp_path / "huge.keras", (10**9, 1000))
    with pytest.raises(ProjectorExportError, match=r"huge\.keras: Embedding layer 'words' \(1,000,000,000 x 1,000\) "
                                                   r"needs 4\.0 TB of memory.*pass `max_rows=`"):
        read_source(tmp_path / "huge.keras")
    assert read_source(tmp_path / "huge.keras", max_rows=5).tensors["words"].shape == (5, 1000)


@pytest.mark.parametrize("layers, message", [
    ([{"class_name": "Embedding", "config": "nope"}, "not a layer"], r"`layers` entry that is not a list of layer objects"),
    ({"class_name": "Embedding"}, r"`layers` entry that is not a list"),
])
def test_odd_configs_are_clear_errors(tmp_path, layers, message):
    keras_file(tmp_path / "odd.keras", (4, 3), layers=layers)
    with pytest.raises(ProjectorExportError, match=message):
        read_source(tmp_path / "odd.keras")


def test_deeply_nested_configs_are_clear_errors(tmp_path):
    nested = {"class_name": "Embedding", "config": {}}
    for _ in range(200):
        nested = {"class_name": "Sequential", "config": {"layers": [nested]}}
    keras_file(tmp_path / "deep.keras", (4, 3), layers=[nested])
    with pytest.raises(ProjectorExportError, match=r"nests layers more than 64 deep"):
        read_source(tmp_path / "deep.keras")
    with zipfile.ZipFile(tmp_path / "deeper.keras", "w") as archive:
        archive.writestr("config.json", "[" * 100_000 + "]" * 100_000)
        archive.writestr("model.weights.h5", b"")
    with pytest.raises(ProjectorExportError, match=r"config\.json is nested too deeply|holds a list"):
        read_source(tmp_path / "deeper.keras")


def test_a_npy_header_that_declares_more_than_the_file_holds_is_refused(tmp_path):
    with open(tmp_path / "liar.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**11, 100)})
        f.write(b"\0" * 400)
    with pytest.raises(ProjectorExportError, match=r"declares a \(100000000000, 100\) float32 array \(40\.0 TB\), "
                                                   r"but the file holds 400 bytes"):
        read_source(tmp_path / "liar.npy")


def test_a_word2vec_header_is_checked_against_memory(tmp_path):
    (tmp_path / "v.txt").write_text("1000000000 300\nthe " + " ".join(["0.1"] * 300) + "\n")
    with pytest.raises(ProjectorExportError, match=r"1,000,000,000 x 300 float32 values\) needs 1\.2 TB of memory"):
        read_source(tmp_path / "v.txt")


MEASURE = textwrap.dedent(
    """
    import resource, sys
    from projector_export.cli import main

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    assert main(["export", sys.argv[1], "--logdir", sys.argv[3], "--run", "small"]) == 0  # all an export loads, loaded
    before = peak()
    assert main(["export", sys.argv[2], "--logdir", sys.argv[3], "--run", "big", "--max-rows", "1000"]) == 0
    print(peak() - before)
    """
)


def test_max_rows_of_a_big_npy_reads_only_those_rows(tmp_path):
    """A 1.6 GB .npy (sparse on disk), cut to 1,000 rows: the peak grows by far less than the file."""
    big = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float32, shape=(4_000_000, 100))
    big[:1000] = 1.0
    del big
    np.save(tmp_path / "small.npy", np.ones((1000, 100), dtype=np.float32))
    done = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "small.npy"), str(tmp_path / "big.npy"),
                           str(tmp_path / "logs")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    growth = int(done.stdout.split()[-1])
    assert growth < 200 * (1 << 20), f"peak memory grew by {growth / (1 << 20):.0f} MB"
