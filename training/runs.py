"""A training run's folder, written whole, and what Ctrl-C keeps of it.

Everything one model's training writes (Keras's scalars in `train/`, the projector run
in `projector/`, plots, test scores) is one unit: it is written into a staging folder
beside `LOGDIR/RUN` and swapped in at the end (`projector_export.training_run`), so
the previous run stays whole until the new one is complete. Ctrl-C:

- before anything is trained: the new run is dropped, the previous one stays;
- during training, or an optional step after it (scoring the test set, laying out
  the points): that step stops, the optional steps left are skipped, and the run is
  written from what was trained, as one unit;
- while the run is written (the export, the plots): the new run is dropped, the
  previous one stays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from projector_export.console import say

T = TypeVar("T")


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


def clusters_wanted(clusters: bool | None) -> bool:
    """Whether to add named clusters to `final`: as asked, else when the libraries are installed
    (`pip install "projector-export[layouts]"`), with a line saying how to get them when not."""
    from projector_export import LAYOUTS_INSTALL, ProjectorExportError, clusters_available

    if clusters is None:
        if not clusters_available():
            say(f"(no named clusters in the projector: {LAYOUTS_INSTALL} adds them)")
        return clusters_available()
    if clusters and not clusters_available():  # before the minutes of training: said at once
        raise ProjectorExportError(f"`clusters=True` needs libraries that are not installed: {LAYOUTS_INSTALL}")
    return clusters


def add_final_clusters(export, *, metric: str, seed: int | None):
    """Named clusters of the exported run's `final` (a `cluster` column, a bookmark a cluster: see
    `projector_export.add_clusters`); returns them and the export as it now is (a new checkpoint number)."""
    import dataclasses

    from projector_export import add_clusters

    say(f"clustering the points of final ({metric} distance) and naming the clusters")
    named = add_clusters(export.run_dir, tensor="final", metric=metric, seed=seed)
    return named, dataclasses.replace(export, checkpoint_prefix=named.checkpoint_prefix)


def print_clusters(result, largest: int = 5) -> None:
    """The summary's lines of a run's clusters: how many, and the largest with their sizes and names."""
    if result is None:
        return
    if not result.clusters:
        say(f"  clusters:  none: all {len(result.ids):,} points of final are spread too evenly to group "
            "(a model trained longer draws groups)")
        return
    say(f"  clusters:  {result.clusters} named (column 'cluster', a bookmark each), {result.noise:,} points in none; "
        f"the largest:")
    for row in [row for row in result.table if row.ids != (-1,)][:largest]:
        means = ", ".join(f"{name} {value:.2f}" for name, value in row.means.items() if name != "count")
        say(f"    {row.size:>6,}  {row.name}" + (f"  ({means})" if means else ""))
