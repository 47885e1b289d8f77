"""The console of the commands: TensorFlow's native start-up lines kept off stderr, and one progress display.

TensorFlow 2.21 writes lines such as `I0000 00:00:... port.cc:153] oneDNN custom
operations are on`, `E0000 ... failed call to cuInit` and `WARNING: All log messages
before absl::InitializeLog() is called are written to STDERR` from C++, straight to
file descriptor 2, before its own logging reads `TF_CPP_MIN_LOG_LEVEL`: setting that
variable, even to 3, does not hide them. So the commands put a filter on descriptor 2
itself: a pipe whose reader thread passes every line on, except those in the native
log format. Set `PROJECTOR_EXPORT_VERBOSE=1` (or pass `--verbose`) to see them.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading
import time

VERBOSE_ENV = "PROJECTOR_EXPORT_VERBOSE"

# absl's C++ log line prefix (`I0000 00:00:1796449240.360231   12538 port.cc:153] `), the
# notice absl prints before its logging starts, and the second line of the CPU notice.
_NATIVE_LINE = re.compile(
    rb"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
)
# A line start that may still become one of those: held back until its line ends.
_NATIVE_START = re.compile(rb"[IWEF]\d{0,4}( |$)|W(A(R(N(I(N(G(:.*)?)?)?)?)?)?)?$|T(o( .*)?)?$")

_installed = False


def quiet_tensorflow(verbose: bool = False) -> None:
    """Keep TensorFlow's native log lines and chatty Python loggers off the console.

    Call it before TensorFlow is imported. With `verbose`, or `PROJECTOR_EXPORT_VERBOSE`
    set to anything but 0, nothing is hidden.
    """
    global _installed
    if verbose or os.environ.get(VERBOSE_ENV, "0") not in ("", "0"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's own logging, once it starts
    # tfds and TensorFlow log through absl's Python logger; their warnings are for developers.
    logging.getLogger("absl").setLevel(logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if _installed or not hasattr(os, "pipe"):
        return
    try:
        _filter_descriptor(2)
    except OSError:
        return  # no descriptor 2 to filter (a closed stderr): nothing to keep quiet
    _installed = True


def _filter_descriptor(fd: int) -> None:
    console = os.dup(fd)
    read_end, write_end = os.pipe()
    os.dup2(write_end, fd)
    os.close(write_end)
    pump = threading.Thread(target=_pump, args=(read_end, console), name="quiet-stderr", daemon=True)
    pump.start()

    def restore() -> None:
        # Give descriptor 2 back, so the pipe's last writer is gone and the pump ends.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os.dup2(console, fd)
        pump.join(timeout=5)

    atexit.register(restore)


def _pump(read_end: int, console: int) -> None:
    pending = b""
    while True:
        try:
            chunk = os.read(read_end, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        shown = b"".join(line + b"\n" for line in lines if not _NATIVE_LINE.match(line))
        if pending and not _NATIVE_START.match(pending):
            # A line in progress that cannot be a native one (a `\r` progress line): now.
            shown, pending = shown + pending, b""
        _write_all(console, shown)
    if pending and not _NATIVE_LINE.match(pending):
        _write_all(console, pending)
    os.close(read_end)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data) :]
        except OSError:
            return


# ------------------------------------------------------------------------ progress


def say(text: str = "") -> None:
    """Print a line of a command's output on stdout, after ending any progress line on the screen."""
    Progress.end_line()
    print(text, flush=True)


def interactive(stream=None) -> bool:
    """Whether a progress line may be redrawn in place: `stream` (default stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 epoch`, `10 epochs`, `25,000 reviews`: a count with its noun, in the right number."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


class Progress:
    """The one progress display of the commands: a line that says what is being done and how far.

    `progress(count)` reports a count (`tokenising 25,000 reviews: 12,000 (48%)`),
    `progress("stage")` a stage of work (`computing the UMAP layout (12 s)`); library
    functions take it as their `progress` callable. On a terminal the line is redrawn in
    place (at most ten times a second) and, with `ticking`, its clock refreshed every
    second while nothing is reported; anywhere else (a file, a pipe, a CI log) nothing is
    redrawn: a plain line at most every `every` seconds. Nothing shows before `delay`
    seconds, so quick jobs stay quiet. `done` (or the end of a `with` block) finishes the
    line, with `result` and the time taken when given.

    Example:

    ```python
    with Progress("tokenising 25,000 reviews", total=25_000, stream=sys.stdout) as progress:
        for number, review in enumerate(reviews, 1):
            progress(number)
        progress.done()  # tokenising 25,000 reviews: 25,000 in 12 s
    ```
    """

    _open: Progress | None = None  # the display whose line is on the screen, unfinished

    def __init__(
        self,
        what: str = "",
        total: int | None = None,
        *,
        stream=None,
        live: bool | None = None,
        delay: float = 0.0,
        every: float = 10.0,
        ticking: bool = False,
        show: bool = True,
        noun: str = "",
    ):
        self.what = what
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.live = interactive(self.stream) if live is None else live
        self.delay, self.every, self.show, self.noun = delay, every, show, noun
        self.start = time.monotonic()
        self.current = ""
        self._width = 0
        self._drawn_at = -1e9
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True) if ticking and show else None
        if self._ticker is not None:
            self._ticker.start()

    def __call__(self, value: int | str, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        if isinstance(value, str):
            self.current = value
        else:
            share = f" ({100 * value / self.total:.0f}%)" if self.total else ""
            self.current = f"{value:,}{' ' + self.noun if self.noun else ''}{share}"
        self._show(force=False)

    def done(self, result: str | None = None, *, timed: bool = True) -> None:
        """End the line: `what: result in N s` (or, without a result, the line as it stands)."""
        self._stop.set()
        if not self.show:
            return
        with self._lock:
            if result is not None:
                took = f" in {time.monotonic() - self.start:.0f} s" if timed else ""
                self._write(f"{self._prefix()}{result}{took}", final=True)
            elif Progress._open is self:
                self._finish()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.done()

    @staticmethod
    def end_line() -> None:
        """Finish a redrawn line that is on the screen, so that a message starts on a line of its own."""
        shown = Progress._open
        if shown is not None:
            with shown._lock:
                shown._finish()

    def _prefix(self) -> str:
        return f"{self.what}: " if self.what else ""

    def _show(self, *, force: bool) -> None:
        now = time.monotonic()
        if not self.show or now - self.start < self.delay or not (self.current or self.what):
            return
        with self._lock:
            if self.live and (force or now - self._drawn_at >= 0.1):
                clock = f" ({now - self.start:.0f} s)" if self._ticker is not None else ""
                self._write(f"{self._prefix()}{self.current}{clock}", final=False)
            elif not self.live and now - self._drawn_at >= self.every:
                self._write(f"{self._prefix()}{self.current} ({now - self.start:.0f} s)", final=True)
            else:
                return
            self._drawn_at = now

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self._show(force=True)

    def _write(self, text: str, *, final: bool) -> None:
        if self.live:
            other = Progress._open
            if other is not None and other is not self:
                other._finish()
            self.stream.write("\r" + text.ljust(self._width) + ("\n" if final else ""))
            self._width = 0 if final else len(text)
            Progress._open = None if final else self
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _finish(self) -> None:
        if Progress._open is self:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
            Progress._open = None
