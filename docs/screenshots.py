"""Take the README's screenshots: the projector page over the colour runs and an IMDB run.

Trains the colour embeddings with the defaults of `projector-train colours` and the IMDB
model as `projector-train imdb --sample` does, on generated reviews (this machine cannot
download IMDB), starts TensorBoard over them, opens `#projector` in headless Chromium and
saves

- `docs/colours-2d.png`, `docs/colours-3d.png`: the final embeddings, each point a swatch
  of its own colour, as the page opens them (only the run is chosen);
- `docs/imdb.png`: the IMDB subword embedding after one click on its UMAP bookmark, which
  labels the tokens by token and colours them by sentiment.

Needs the test extra and Chromium (`pip install -e ".[test]"`, `apt-get install chromium`):

    python docs/screenshots.py
    python docs/screenshots.py --logdir logs   # reuse runs already there; train what is missing
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import TensorBoard, free_ports  # noqa: E402
from projector_export.console import quiet_tensorflow  # noqa: E402
from projector_page import CHROMIUM, CHROMIUM_FLAGS, ProjectorPage  # noqa: E402

# the file, its run, and whether its first bookmark is clicked
SHOTS = {
    "colours-2d.png": ("colours-2d/projector", False),
    "colours-3d.png": ("colours-3d/projector", False),
    "imdb.png": ("imdb-sample/projector", True),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logdir", help="log dir to use (default: a new temporary one)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="where the PNGs go (default: docs/)")
    args = parser.parse_args(argv)
    quiet_tensorflow()
    logdir = Path(args.logdir or tempfile.mkdtemp(prefix="screenshots-"))
    train_missing(logdir)

    import subprocess

    from playwright.sync_api import sync_playwright

    (port,) = free_ports()
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        server = TensorBoard(str(logdir), port, process)
        server.wait_for_runs({run for run, _ in SHOTS.values()})
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            page = ProjectorPage(browser, server.url)
            for name, (run, bookmark) in SHOTS.items():
                shown = page.show(run)  # only the run is chosen: the tensor is the page's own pick
                if shown.tensor != "final":
                    raise SystemExit(f"{run} opens on {shown.tensor!r}, not on 'final': the README would mislead")
                if bookmark:
                    radios = page.frame.locator("vz-projector-bookmark-panel paper-icon-button[icon=radio-button-unchecked]")
                    radios.nth(0).click()
                page.page.wait_for_timeout(3000)  # the scatter plot settles
                path = Path(args.out) / name
                page.page.screenshot(path=str(path))
                print(f"{path}: run {run}, {shown.points} points, {shown.dimension} dimensions")
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
    return 0


def train_missing(logdir: Path) -> None:
    if not all((logdir / name / "projector").is_dir() for name in ("colours-2d", "colours-3d")):
        from training.colours.job import train_colours

        train_colours(logdir=str(logdir), verbose=0)
    if not (logdir / "imdb-sample" / "projector").is_dir():
        from training.imdb import SAMPLE_REVIEWS, SAMPLE_VOCAB_SIZE
        from training.imdb.job import train_imdb

        train_imdb(sample=SAMPLE_REVIEWS, vocab_size=SAMPLE_VOCAB_SIZE, logdir=str(logdir), verbose=0)


if __name__ == "__main__":
    sys.exit(main())
