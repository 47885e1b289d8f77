"""How fast the exporter writes, and how much memory it needs.

Run from the repository root:

    python benchmarks/export_speed.py                     # 1,000,000 x 100
    python benchmarks/export_speed.py --rows 200000 --baseline-rows 50000

On one random float32 matrix (with labels) it times, back to back in this
process, `projector_export.standalone.write_vectors_tsv` against the ways
embeddings are usually written as TSV: `numpy.savetxt(fmt="%.7g")`, the
notebook loop ("\\t".join(str(x) for x in row)) and tensorboardX's
`SummaryWriter.add_embedding`; checks that our TSV reads back bit for bit as
float32; times `projector_export.export_embedding` (the checkpoint run folder);
and measures the peak memory of both paths in child processes.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

MIB = 2**20
MEMORY_ALLOWANCE = 200 * 10**6  # the goal: peak memory at most the matrix + 200 MB
CHILD_FLAG = "--child"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="matrix rows (default: 1,000,000)")
    parser.add_argument("--dims", type=int, default=100, help="matrix columns (default: 100)")
    parser.add_argument(
        "--baseline-rows", type=int, metavar="N",
        help="time the slow baselines (savetxt, notebook loop, tensorboardX) on the first N rows only "
        "and scale their times linearly to --rows",
    )
    parser.add_argument("--skip-memory", action="store_true", help="skip the peak-memory child processes")
    parser.add_argument("--workdir", help="where to write the files (default: a temporary folder, removed)")
    parser.add_argument(CHILD_FLAG, choices=["tsv", "checkpoint"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)

    baseline_rows = min(args.baseline_rows or args.rows, args.rows)
    workdir = args.workdir or tempfile.mkdtemp(prefix="export-speed-")
    os.makedirs(workdir, exist_ok=True)
    try:
        _run(args.rows, args.dims, baseline_rows, workdir, args.skip_memory)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _matrix(rows: int, dims: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((rows, dims), dtype=np.float32)


def _labels(rows: int) -> list[str]:
    return [f"w{i}" for i in range(rows)]


def _run(rows: int, dims: int, baseline_rows: int, workdir: str, skip_memory: bool) -> None:
    import tensorflow as tf

    from projector_export import export_embedding
    from projector_export.format.checkpoint import write_checkpoint
    from projector_export.standalone import write_vectors_tsv

    matrix = _matrix(rows, dims)
    labels = _labels(rows)
    size_mb = matrix.nbytes / 1e6
    print(f"matrix: {rows:,} x {dims} float32 ({size_mb:,.0f} MB), standard normal, labels 'w0', 'w1', ...")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; numpy {np.__version__}, "
          f"tensorflow {tf.__version__}; load average at start {_load()}")
    if baseline_rows < rows:
        print(f"baselines timed on the first {baseline_rows:,} rows, scaled x{rows / baseline_rows:g} to {rows:,} rows")
    # Warm up: TensorFlow's first file and checkpoint calls, our digit tables.
    write_vectors_tsv(os.path.join(workdir, "warm.tsv"), matrix[:100])
    export_embedding(os.path.join(workdir, "warm"), matrix[:100], labels[:100])

    print("\n== TSV of the vectors (wall clock; cpu = this process's CPU seconds) ==")
    ours_path = os.path.join(workdir, "ours.tsv")
    ours = _timed("projector_export write_vectors_tsv", rows, rows, lambda: write_vectors_tsv(ours_path, matrix))
    print(f"  {os.path.getsize(ours_path) / 1e6:,.0f} MB written")
    part = matrix[:baseline_rows]
    baselines = {}
    savetxt_path = os.path.join(workdir, "savetxt.tsv")
    baselines["numpy.savetxt %.7g"] = _timed("numpy.savetxt(fmt='%.7g')", baseline_rows, rows,
                                             lambda: np.savetxt(savetxt_path, part, fmt="%.7g", delimiter="\t"))
    baselines["notebook loop"] = _timed("notebook loop: '\\t'.join(str(x) for x in row)", baseline_rows, rows,
                                        lambda: _notebook_loop(os.path.join(workdir, "loop.tsv"), part))
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        print("  tensorboardX: not installed, skipped (pip install tensorboardX to compare with it)")
    else:
        def tensorboardx():
            writer = SummaryWriter(os.path.join(workdir, "tbx"))
            writer.add_embedding(part, metadata=labels[:baseline_rows])
            writer.close()

        baselines["tensorboardX add_embedding"] = _timed("tensorboardX SummaryWriter.add_embedding", baseline_rows,
                                                         rows, tensorboardx)

    print("\n== ratios (their time at full size / ours) ==")
    print(f"  {'':28s} {'wall clock':>10s} {'CPU time':>10s}")
    for name, (seconds, cpu) in baselines.items():
        print(f"  {name:28s} {seconds / ours[0]:9.1f}x {cpu / ours[1]:9.1f}x")
    print("  (CPU time: seconds of CPU this process used, all its threads; other jobs on the machine "
          "slow the wall clock, not this)")

    print("\n== exactness ==")
    checked = _check_round_trip(ours_path, matrix)
    print(f"  ours: all {checked:,} values read back (text -> double -> float32) to the same float32 bits")
    lossy = _count_changed(savetxt_path, part)
    print(f"  numpy.savetxt %.7g, for comparison: {lossy:,} of {part.size:,} values come back different")

    print("\n== checkpoint run folder (export_embedding, TensorFlow already imported) ==")
    run_dir = os.path.join(workdir, "run")
    start = time.perf_counter()
    export_embedding(run_dir, matrix, labels)
    export_seconds = time.perf_counter() - start
    print(f"  export_embedding(run, matrix, labels): {export_seconds:.2f} s -> {size_mb / export_seconds:,.0f} MB/s "
          "of float32 (metadata, checkpoint, config and event file together)")
    start = time.perf_counter()
    write_checkpoint(os.path.join(workdir, "checkpoint-only"), {"embedding": matrix})
    checkpoint_seconds = time.perf_counter() - start
    print(f"  of which the checkpoint alone (write_checkpoint): {checkpoint_seconds:.2f} s -> "
          f"{size_mb / checkpoint_seconds:,.0f} MB/s")

    memory = {} if skip_memory else _memory(rows, dims, workdir)

    print("\n== goals ==")
    savetxt = baselines["numpy.savetxt %.7g"][0] / ours[0]
    _goal(f"TSV >= 5x faster than numpy.savetxt (wall clock: {savetxt:.1f}x)", savetxt >= 5)
    if "tensorboardX add_embedding" in baselines:
        tbx = baselines["tensorboardX add_embedding"][0] / ours[0]
        _goal(f"TSV >= 20x faster than tensorboardX (wall clock: {tbx:.1f}x)", tbx >= 20)
    _goal("TSV round-trips exactly as float32", True)
    _goal(f"checkpoint export >= 300 MB/s ({size_mb / export_seconds:,.0f} MB/s)", size_mb / export_seconds >= 300)
    for path, within in memory.items():
        _goal(f"{path} path peak memory <= matrix + 200 MB", within)
    print(f"load average at the end {_load()}; with other jobs on the machine, run again if numbers look disturbed")


def _timed(label: str, timed_rows: int, rows: int, work) -> tuple[float, float]:
    """Run `work`; return its wall-clock and CPU seconds, scaled to `rows`."""
    load = _load()
    start, cpu = time.perf_counter(), time.process_time()
    work()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    scale = rows / timed_rows
    scaled = f" -> {seconds * scale:7.2f} s for {rows:,} rows (scaled)" if scale != 1 else ""
    print(f"  {label:48s} {seconds:7.2f} s  (cpu {cpu:6.2f} s){scaled}  [load {load}]")
    return seconds * scale, cpu * scale


def _notebook_loop(path: str, matrix: np.ndarray) -> None:
    with open(path, "w") as f:
        for row in matrix:
            f.write("\t".join(str(x) for x in row) + "\n")


def _check_round_trip(path: str, matrix: np.ndarray) -> int:
    """Parse the whole file with C's strtod (correctly rounded, like float() and Number())."""
    flat = matrix.reshape(-1).view(np.uint32)
    done = 0
    with open(path, "rb") as f:
        rest = b""
        while True:
            piece = f.read(64 * MIB)
            text = rest + piece
            cut = text.rfind(b"\n") + 1 if piece else len(text)
            text, rest = text[:cut], text[cut:]
            if text:
                lines = text.count(b"\n")
                values = np.fromstring(text, dtype=np.float64, sep=" ").astype(np.float32)
                assert values.size == lines * matrix.shape[1], "a row with the wrong number of values"
                if not np.array_equal(values.view(np.uint32), flat[done : done + values.size]):
                    bad = done + int(np.argmax(values.view(np.uint32) != flat[done : done + values.size]))
                    raise AssertionError(f"value {bad} reads back as a different float32")
                done += values.size
            if not piece:
                break
    assert done == matrix.size, f"{done} values in the file, {matrix.size} in the matrix"
    # and the same through Python's float(), on a sample of cells
    with open(path) as f:
        for row, line in zip(range(200), f):
            cells = line.rstrip("\n").split("\t")
            assert np.array_equal(np.array([float(c) for c in cells], dtype=np.float32), matrix[row])
    return done


def _count_changed(path: str, matrix: np.ndarray) -> int:
    values = np.loadtxt(path, dtype=np.float64, delimiter="\t", ndmin=2).astype(np.float32)
    return int((values.view(np.uint32) != matrix.view(np.uint32)).sum())


def _memory(rows: int, dims: int, workdir: str) -> dict[str, bool]:
    print("\n== peak memory (a child process per path; VmHWM reset just before the call) ==")
    matrix_bytes = rows * dims * 4
    results = {}
    for path in ("tsv", "checkpoint"):
        done = subprocess.run(
            [sys.executable, __file__, CHILD_FLAG, path, "--rows", str(rows), "--dims", str(dims),
             "--workdir", workdir],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            print(f"  {path}: the child failed:\n{done.stderr[-2000:]}")
            continue
        base, inputs, peak, how = (float(v) if i < 3 else v for i, v in enumerate(done.stdout.split()[-4:]))
        above_base = peak - base
        extra = peak - inputs
        input_text = "matrix" if path == "tsv" else f"matrix and {rows:,} labels"
        results[path] = above_base <= (inputs - base) + MEMORY_ALLOWANCE and extra <= MEMORY_ALLOWANCE
        print(f"  {path:10s} peak {above_base / MIB:7,.0f} MiB above the process before the data existed; "
              f"inputs ({input_text}) {(inputs - base) / MIB:,.0f} MiB, so the call added {extra / MIB:,.0f} MiB "
              f"at most (allowance {MEMORY_ALLOWANCE / MIB:,.0f} MiB; matrix {matrix_bytes / MIB:,.0f} MiB) [{how}]")
    print("  (base = TensorFlow imported and warmed up; the call's own peak is measured with /proc's VmHWM, "
          "which counts every byte of the process, TensorFlow's allocations included)")
    return results


def _child(args) -> int:
    """Measure one path's peak memory: print base, with-inputs and peak RSS in bytes."""
    import tensorflow as tf  # noqa: F401

    from projector_export import export_embedding
    from projector_export.standalone import write_vectors_tsv

    warm = _matrix(100, args.dims)
    write_vectors_tsv(os.path.join(args.workdir, "child-warm.tsv"), warm)
    export_embedding(os.path.join(args.workdir, "child-warm"), warm, _labels(100))
    base = _rss("VmRSS")
    matrix = _matrix(args.rows, args.dims)
    labels = _labels(args.rows) if args.child == "checkpoint" else None
    inputs = _rss("VmRSS")
    how = "VmHWM"
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak to the current RSS
    except OSError:
        how = "ru_maxrss (peak could not be reset: an upper bound)"
    if args.child == "tsv":
        write_vectors_tsv(os.path.join(args.workdir, "child.tsv"), matrix)
    else:
        export_embedding(os.path.join(args.workdir, "child-run"), matrix, labels)
    peak = _rss("VmHWM")
    print(base, inputs, peak, how.split()[0])
    return 0


def _rss(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _goal(text: str, met: bool) -> None:
    print(f"  [{'met' if met else 'NOT met'}] {text}")


if __name__ == "__main__":
    sys.exit(main())
