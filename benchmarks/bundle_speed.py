"""How fast a checkpoint is written and read without TensorFlow, against TensorFlow's own writer and reader.

Run from the repository root:

    python benchmarks/bundle_speed.py                       # 10,000 x 100, 8,185 x 16, 500,000 x 100
    python benchmarks/bundle_speed.py --process-repeats 1   # quicker

For each float32 matrix it times, in this process with TensorFlow already
imported, `projector_export.format.tensor_bundle` (`write_bundle`; `parse_index` +
`read_tensor`) against TensorFlow (`tf.raw_ops.SaveV2` over the array's memory,
as `checkpoint.write_checkpoint` calls it; `tf.train.load_checkpoint(prefix)
.get_tensor(key)`), best of --repeats; checks that both write the same bytes;
then times whole processes doing the same, `import tensorflow` included, best
of --process-repeats. Ratios are TensorFlow's time over ours (above 1: ours is faster).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

SHAPES = [(10_000, 100), (8_185, 16), (500_000, 100)]  # 8,185 x 16: the IMDB example's embedding
KEY = "final"

OURS_WRITE = """
import sys, numpy as np
from projector_export.format.tensor_bundle import data_filename, write_bundle
prefix = sys.argv[1]
vectors = np.load(sys.argv[2])
with open(data_filename(prefix), "wb") as data:
    index = write_bundle(data, {"final": vectors})
with open(prefix + ".index", "wb") as f:
    f.write(index)
"""
TF_WRITE = """
import sys, numpy as np, tensorflow as tf
vectors = np.load(sys.argv[2])
with tf.device("/cpu:0"):
    tensor = tf.experimental.dlpack.from_dlpack(vectors.__dlpack__())
    tf.raw_ops.SaveV2(prefix=sys.argv[1], tensor_names=["final"], shape_and_slices=[""], tensors=[tensor])
"""
OURS_READ = """
import sys
from projector_export.format.tensor_bundle import data_filename, parse_index, read_tensor
prefix = sys.argv[1]
with open(prefix + ".index", "rb") as f:
    entry = parse_index(f.read()).entries["final"]
read_tensor(data_filename(prefix), entry)
"""
TF_READ = """
import sys, tensorflow as tf
tf.train.load_checkpoint(sys.argv[1]).get_tensor("final")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="in-process timings, best of (default: 5)")
    parser.add_argument("--process-repeats", type=int, default=3, help="whole-process timings, best of (default: 3)")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from projector_export.format.tensor_bundle import (
        data_filename,
        parse_index,
        read_tensor,
        write_bundle,
    )

    def ours_write(prefix, vectors):
        with open(data_filename(prefix), "wb") as data:
            index = write_bundle(data, {KEY: vectors})
        with open(prefix + ".index", "wb") as f:
            f.write(index)

    def tf_write(prefix, vectors):
        with tf.device("/cpu:0"):
            tensor = tf.experimental.dlpack.from_dlpack(vectors.__dlpack__())
            tf.raw_ops.SaveV2(prefix=prefix, tensor_names=[KEY], shape_and_slices=[""], tensors=[tensor])

    def ours_read(prefix):
        with open(prefix + ".index", "rb") as f:
            entry = parse_index(f.read()).entries[KEY]
        return read_tensor(data_filename(prefix), entry)

    def tf_read(prefix):
        return tf.train.load_checkpoint(prefix).get_tensor(KEY)

    print(f"python {platform.python_version()}, tensorflow {tf.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    workdir = tempfile.mkdtemp(prefix="bundle-speed-")
    rows = []
    try:
        for shape in SHAPES:
            vectors = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
            ours, theirs = os.path.join(workdir, "ours"), os.path.join(workdir, "theirs")
            timings = {
                "write": (_best(args.repeats, tf_write, theirs, vectors), _best(args.repeats, ours_write, ours, vectors)),
                "read": (_best(args.repeats, tf_read, theirs), _best(args.repeats, ours_read, ours)),
            }
            for suffix in (".index", ".data-00000-of-00001"):
                assert filecmp.cmp(ours + suffix, theirs + suffix, shallow=False), f"the {suffix} files differ"
            assert np.array_equal(ours_read(theirs), tf_read(ours))
            matrix = os.path.join(workdir, "vectors.npy")
            np.save(matrix, vectors)
            timings["write, whole process"] = (
                _best_process(args.process_repeats, TF_WRITE, theirs, matrix),
                _best_process(args.process_repeats, OURS_WRITE, ours, matrix),
            )
            timings["read, whole process"] = (
                _best_process(args.process_repeats, TF_READ, theirs),
                _best_process(args.process_repeats, OURS_READ, ours),
            )
            rows += [(f"{shape[0]:,} x {shape[1]}", what, tf_s, ours_s) for what, (tf_s, ours_s) in timings.items()]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print("\nfloat32 matrix   what                   TensorFlow        ours   TF / ours")
    for shape, what, tf_s, ours_s in rows:
        print(f"{shape:<16} {what:<21} {tf_s * 1000:9.1f} ms {ours_s * 1000:8.1f} ms {tf_s / ours_s:9.1f}x")
    print("(files identical byte for byte; whole-process times include starting Python and its imports)")
    return 0


def _best(repeats: int, work, *args) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def _best_process(repeats: int, script: str, *args: str) -> float:
    return _best(repeats, _run_child, script, *args)


def _run_child(script: str, *args: str) -> None:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the timed child process failed:\n{done.stderr}")


if __name__ == "__main__":
    sys.exit(main())
