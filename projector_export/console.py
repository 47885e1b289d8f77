"""A quiet console for the commands: TensorFlow's native start-up lines kept off stderr.

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
