"""The float formatter on its own: shortest round-trip text of float32 rows, signs across chunk edges."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from projector_export.format._float_text import NotFiniteError, format_float32_rows


def text(rows, first=True, following=None) -> str:
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    return b"".join(format_float32_rows(rows, first=first, following=following)).decode("ascii")


def shortest(value: np.float32) -> str:
    """numpy's shortest repr, positional from 1e-4 up to 1e9 like the formatter."""
    if 1e-4 <= abs(value) < 1e9 or value == 0:
        return np.format_float_positional(value, unique=True, trim="-")
    return np.format_float_scientific(value, unique=True, trim="-", exp_digits=2)


def test_each_value_is_numpys_shortest_text_and_reads_back_to_its_bits():
    rng = np.random.default_rng(3)
    values = np.concatenate([
        rng.normal(size=3000), rng.normal(size=3000) * 1e-6, rng.normal(size=3000) * 1e6,
        np.array([0.0, -0.0, 1e-45, 3.4028235e38, 9.999999, 99999.99, 1e9, 999999940.0]),
    ]).astype(np.float32).reshape(-1, 8)
    written = text(values)
    lines = written.split("\n")
    assert lines[-1] == "" and len(lines) == len(values) + 1
    cells = [line.split("\t") for line in lines[:-1]]
    assert cells == [[shortest(v) for v in row] for row in values]
    back = np.array(cells, dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(back.view(np.uint32), values.view(np.uint32))


def test_every_bit_pattern_of_a_random_sample_round_trips():
    patterns = np.random.default_rng(4).integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32)
    values = patterns.view(np.float32)
    values = values[np.isfinite(values)][:190_000].reshape(-1, 10)
    back = np.array([line.split("\t") for line in text(values).split("\n")[:-1]], dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(back.view(np.uint32), values.view(np.uint32))


def test_a_sign_is_written_after_the_separator_before_it_even_across_chunks():
    rows = np.array([[-1.0, 2.0], [3.0, -4.0]], dtype=np.float32)
    assert text(rows) == "-1\t2\n3\t-4\n"
    # a chunk that does not start the file leaves its first sign to the chunk before ...
    assert text(rows, first=False) == "1\t2\n3\t-4\n"
    # ... and writes the sign of the row that follows it
    assert text(rows, following=np.array([[-5.0, 6.0]], dtype=np.float32)) == "-1\t2\n3\t-4\n-"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_value_that_is_not_finite_is_reported_by_its_index(bad):
    rows = np.zeros((50_000, 3), dtype=np.float32)  # more than one block
    rows[40_000, 2] = bad
    with pytest.raises(NotFiniteError) as raised:
        text(rows)
    assert raised.value.index == 40_000 * 3 + 2


def test_threads_keep_their_own_work_arrays():
    rng = np.random.default_rng(5)
    chunks = [rng.normal(size=(2000, 13)).astype(np.float32) for _ in range(4)]
    expected = [text(chunk) for chunk in chunks]
    results: dict[int, list[str]] = {}

    def work(index: int) -> None:
        results[index] = [text(chunks[index]) for _ in range(5)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[i] == [expected[i]] * 5 for i in range(4))
