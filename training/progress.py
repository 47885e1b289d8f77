"""Progress for the `projector-train` commands: one line that says what it counts, and counted words.

TensorFlow-free. On a terminal a progress line is redrawn in place; anywhere else (a file,
a pipe, a CI log) only whole lines are written, so a log holds no carriage returns,
backspaces or colour codes.
"""

from __future__ import annotations

import sys
import time


def interactive() -> bool:
    """Whether progress may redraw a line: standard output is a terminal."""
    return sys.stdout.isatty()


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 epoch`, `10 epochs`, `25,000 reviews`: a count with its noun, in the right number."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


class Progress:
    """One line that says what it counts: `tokenising 25,000 training reviews: 12,000`.

    On a terminal the line is redrawn as `update` (or `say`) is called; elsewhere it is
    printed once, by `done`, with the time taken (and `done`'s result in place of the
    total, if given). Silent when `show` is False.

    Example:

    ```python
    progress = Progress("tokenising 25,000 training reviews", total=25_000)
    for number, review in enumerate(reviews, 1):
        ...
        progress.update(number)
    progress.done()  # tokenising 25,000 training reviews: 25,000 in 12 s
    ```
    """

    def __init__(self, what: str, total: int, *, show: bool = True, live: bool | None = None):
        self.what = what
        self.total = total
        self.show = show
        self.live = interactive() if live is None else live
        self.start = time.perf_counter()
        self._width = 0
        self._drawn_at = 0.0

    def update(self, count: int) -> None:
        now = time.perf_counter()
        if self.show and self.live and now - self._drawn_at >= 0.1:
            self._redraw(f"{self.what}: {count:,} ({100 * count / max(self.total, 1):.0f}%)")
            self._drawn_at = now

    def say(self, text: str) -> None:
        """On a terminal, redraw the line as `what: text` (a step without a count)."""
        if self.show and self.live:
            self._redraw(f"{self.what}: {text}")
            self._drawn_at = time.perf_counter()

    def done(self, result: str | None = None) -> None:
        if not self.show:
            return
        line = f"{self.what}: {result or f'{self.total:,}'} in {time.perf_counter() - self.start:.0f} s"
        if self.live:
            self._redraw(line)
            line = ""
        print(line, flush=True)

    def _redraw(self, text: str) -> None:
        # Back to the line's start; spaces over what the last drawing left beyond the new text.
        sys.stdout.write("\r" + text.ljust(self._width))
        sys.stdout.flush()
        self._width = len(text)
