"""How long deleting an iterator of the IMDB pipeline waits, with tf.data's autotuning and without.

Run from the repository root:

    python benchmarks/iterator_deletion.py               # 40 iterators each way, 2 busy processes
    python benchmarks/iterator_deletion.py --busy 0      # on an otherwise quiet machine

Each iterator of `training.imdb.pipeline.make_dataset` (2,000 IMDB-shaped tokenised reviews,
log-normal lengths around 226 tokens; the training settings: shuffled, token dropout, batches of 32) is made, drained of 20 batches, kept for
`--age` seconds, then deleted with `del`, timed. The baseline is the same pipeline with
`options.autotune.enabled = True`, TensorFlow's default, which `make_dataset` turns off:
an autotuned iterator runs a model thread that sleeps between optimisations (10 ms at first,
doubling up to 60 s), and in TensorFlow 2.21 the deletion's cancellation can wake it before
the cancellation is marked done, so it sleeps out the rest of its period while the deletion
waits. The two kinds are deleted in turn, so load falls on both alike; `--busy` processes
spin meanwhile, as other jobs do on a loaded machine (the race is likelier when the deleting
thread loses its core).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterators", type=int, default=40, help="iterators deleted each way")
    parser.add_argument("--age", type=float, default=1.5, help="seconds each iterator lives after its batches")
    parser.add_argument("--busy", type=int, default=2, help="processes spinning meanwhile")
    args = parser.parse_args()

    from projector_export.console import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    import numpy as np

    from training.imdb.pipeline import Tokens, make_dataset

    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(np.log(226), 0.75, size=2000), 10, 3000).astype(np.int64)
    tokens = Tokens(ids=rng.integers(1, 8185, size=int(lengths.sum())).astype(np.int32), lengths=lengths,
                    labels=rng.integers(0, 2, size=2000).astype(np.float32))
    ours = make_dataset(tokens, 32, shuffle=True, seed=0, token_dropout=0.2)
    options = tf.data.Options()
    options.autotune.enabled = True
    autotuned = ours.with_options(options)
    assert ours.options().autotune.enabled is False and autotuned.options().autotune.enabled is True

    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for spinner in spinners:
        spinner.start()
    waits: dict[str, list[float]] = {"TensorFlow's default (autotune on)": [], "make_dataset (autotune off)": []}
    try:
        for _ in range(args.iterators):
            for name, dataset in zip(waits, (autotuned, ours)):
                iterator = iter(dataset.repeat())
                for _ in range(20):
                    next(iterator)
                time.sleep(args.age)  # the model thread's period grows past a second
                start = time.perf_counter()
                del iterator
                waits[name].append(time.perf_counter() - start)
    finally:
        for spinner in spinners:
            spinner.terminate()

    print(f"{args.iterators} iterators each, kept {args.age} s after 20 batches, {args.busy} busy processes, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'pipeline':36} {'median':>8} {'max':>8} {'over 0.5 s':>11} {'all waits':>10}")
    for name, times in waits.items():
        print(f"{name:36} {statistics.median(times):7.3f}s {max(times):7.3f}s {sum(t > 0.5 for t in times):11d} "
              f"{sum(times):9.2f}s")
    baseline, ours_total = (sum(times) for times in waits.values())
    print(f"waiting on deletions: {baseline / ours_total:.0f}x less without autotuning")


if __name__ == "__main__":
    main()
