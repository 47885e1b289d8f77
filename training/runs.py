"""A training run's folder, written whole, and what Ctrl-C keeps of it.

Everything one model's training writes (Keras's scalars in `train/`, the projector run
in `projector/`, plots, test scores) is one unit: it is written into a staging folder
beside `LOGDIR/RUN` and swapped in at the end (`projector_export.files.staging`), so
the previous run stays whole until the new one is complete. Ctrl-C:

- before anything is trained: the new run is dropped, the previous one stays;
- during training, or an optional step after it (scoring the test set, laying out
  the points): that step stops, the optional steps left are skipped, and the run is
  written from what was trained, as one unit;
- while the run is written (the export, the plots): the new run is dropped, the
  previous one stays.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

from projector_export.files.staging import TRAINING, Stage, check_target, staged_folder

T = TypeVar("T")


def check_run_folder(run_dir: str) -> None:
    """Refuse, before the minutes of training, a run folder that the run may not replace."""
    check_target(run_dir, TRAINING)


@contextlib.contextmanager
def training_run(run_dir: str) -> Iterator[Stage]:
    """The staging folder of the training run `run_dir`, swapped in when the block ends without error."""
    with staged_folder(run_dir, TRAINING) as stage:
        yield stage


class CtrlC:
    """Runs the steps of a job so that the first Ctrl-C stops the step under way and skips the rest,
    keeping what was done; `pressed` then says so."""

    def __init__(self):
        self.pressed = False

    def run(self, step: Callable[[], T], *, keep: Callable[[], bool] = lambda: True) -> T | None:
        """`step()`, or None when Ctrl-C was pressed during it (or before: it is skipped).

        `keep()` says whether enough was done to keep; if not, the Ctrl-C goes on up and
        the whole job stops.
        """
        if self.pressed:
            return None
        try:
            return step()
        except KeyboardInterrupt:
            if not keep():
                raise
            self.pressed = True
            return None
