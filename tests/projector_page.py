"""The Embedding Projector page in headless Chromium: what a person sees for each tensor."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass

import pytest

CHROMIUM = "/usr/bin/chromium"
# Headless Chromium on a machine with no GPU: WebGL through SwiftShader, and no
# background connections to a network that is not there.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
]
SCREENSHOT_DIR = os.environ.get("PROJECTOR_SCREENSHOTS", os.path.join("test-artifacts", "screenshots"))

# The projector lives in an iframe, inside shadow roots:
# vz-projector-dashboard > vz-projector > vz-projector-data-panel.
_STATE_JS = """() => {
  const projector = document.querySelector('vz-projector-dashboard').shadowRoot.querySelector('vz-projector');
  const panel = projector.shadowRoot.querySelector('vz-projector-data-panel');
  const data = projector.dataSet;
  const info = data && data.spriteAndMetadataInfo;
  return {
    run: panel.selectedRun, tensor: panel.selectedTensor, runs: panel.runNames,
    tensors: (panel.tensorNames || []).map(t => t.name),
    points: data ? data.points.length : null,
    sprite: info && info.spriteImage ? [info.spriteImage.width, info.spriteImage.height] : null,
    labels: data ? data.points.slice(0, 5).map(p => p.metadata[Object.keys(p.metadata)[0]]) : null,
    colourOptions: (panel.colorOptions || []).map(o => o.name),
    colourBy: panel.selectedColorOptionName,
  };
}"""
_SELECT_JS = """([run, tensor]) => {
  const projector = document.querySelector('vz-projector-dashboard').shadowRoot.querySelector('vz-projector');
  const panel = projector.shadowRoot.querySelector('vz-projector-data-panel');
  if (run !== null && panel.selectedRun !== run) panel.selectedRun = run;
  if (tensor !== null) panel.selectedTensor = tensor;
}"""
# Whether the page is done with the data set it shows: a data set that was there before the
# last selection is marked `_replaced`; a new one is shown once the PCA tab has projected it
# (and written "Total variance described").
_MARK_REPLACED_JS = """() => {
  const projector = document.querySelector('vz-projector-dashboard').shadowRoot.querySelector('vz-projector');
  if (projector.dataSet) projector.dataSet._replaced = true;
}"""
_SETTLED_JS = """() => {
  const projector = document.querySelector('vz-projector-dashboard').shadowRoot.querySelector('vz-projector');
  const data = projector.dataSet;
  return data != null && !data._replaced && projector.projection != null && projector.projection.dataSet === data;
}"""
# Resolves after `count` animation frames: what the page draws in them is on screen.
_FRAMES_JS = """(count) => new Promise(done => {
  const next = left => left > 0 ? requestAnimationFrame(() => next(left - 1)) : done(true);
  next(count);
})"""
_COLOUR_BY_JS = """([column]) => {
  const projector = document.querySelector('vz-projector-dashboard').shadowRoot.querySelector('vz-projector');
  const panel = projector.shadowRoot.querySelector('vz-projector-data-panel');
  panel.selectedLabelOption = panel.labelOptions[0];
  panel.selectedColorOptionName = column;
  return panel.selectedColorOptionName;
}"""


@dataclass
class Shown:
    """What the projector page shows for the selected tensor."""

    run: str
    tensor: str
    points: int
    dimension: int
    sprite: tuple[int, int] | None
    errors: list[str]
    first_labels: list[str]
    colour_options: list[str]
    variance: str
    tensors: list[str]  # the tensor dropdown, in its order  # the PCA panel's "Total variance described: ...": NaN when no point is drawn


def require_browser():
    """Skip without Chromium and Playwright, except in CI, where their absence is a failure."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if not shutil.which(CHROMIUM):
        missing.append(CHROMIUM + " (apt-get install chromium)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail("browser tests need " + " and ".join(missing))
        pytest.skip("browser tests need " + " and ".join(missing))


class ProjectorPage:
    """Drives `#projector` of a running TensorBoard."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.goto(f"{url}/#projector")
        self.frame = self._projector_frame()

    def _projector_frame(self, timeout: float = 90.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.page.frames:
                if frame.url.endswith("projector_binary.html"):
                    try:
                        if frame.evaluate(_STATE_JS)["points"]:
                            return frame
                    except Exception:  # noqa: BLE001 - the page is still building its components
                        pass
            self.page.wait_for_timeout(100)
        shot = self.screenshot("timeout")
        raise TimeoutError(f"the projector never showed points (frames {[f.url for f in self.page.frames]}; see {shot})")

    def show(self, run: str | None = None, tensor: str | None = None, timeout: float = 60.0) -> Shown:
        """Select a run, then a tensor, as the data panel's dropdowns do; read the page once it shows them."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.frame.evaluate(_STATE_JS)
            if run is not None and state["run"] != run:
                self.frame.evaluate(_MARK_REPLACED_JS)
                self.frame.evaluate(_SELECT_JS, [run, None])
            elif tensor is not None and state["tensor"] != tensor:
                self.frame.evaluate(_MARK_REPLACED_JS)
                self.frame.evaluate(_SELECT_JS, [None, tensor])
            elif self.frame.evaluate(_SETTLED_JS):
                match = re.search(r"Points: (\d+)\s*\|?\s*Dimension: (\d+)", self._status_text())
                if match and state["points"] == int(match.group(1)):
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"projector stuck at {self._status_text()!r}, state {state}")
            self.page.wait_for_timeout(100)
        draw_frames(self.frame, 2)  # the scatter plot drawn, for a screenshot
        state = self.frame.evaluate(_STATE_JS)
        match = re.search(r"Points: (\d+)\s*\|?\s*Dimension: (\d+)", self._status_text())
        return Shown(
            run=state["run"],
            tensor=state["tensor"],
            points=int(match.group(1)),
            dimension=int(match.group(2)),
            sprite=tuple(state["sprite"]) if state["sprite"] else None,
            errors=self._errors(),
            first_labels=state["labels"],
            colour_options=state["colourOptions"],
            variance=self._text("Total variance described"),
            tensors=state["tensors"],
        )

    def colour_by(self, column: str) -> str:
        """Colour the points by a metadata column, as the "Color by" menu does; return the choice."""
        chosen = self.frame.evaluate(_COLOUR_BY_JS, [column])
        draw_frames(self.frame, 2)  # the scatter plot redrawn in the new colours
        return chosen

    def _status_text(self) -> str:
        points = self.frame.locator("text=/Points: /").first
        dims = self.frame.locator("text=/Dimension: /").first
        return f"{points.inner_text()} | {dims.inner_text()}" if points.count() and dims.count() else ""

    def _text(self, start: str) -> str:
        found = self.frame.locator(f"text=/{start}/").first
        return found.inner_text() if found.count() else ""

    def _errors(self) -> list[str]:
        found = []
        for pattern in ("do not match", "exceeds maximum dimensions", "Error", "Failed"):
            locator = self.frame.locator(f"text=/{pattern}/")
            for i in range(locator.count()):
                item = locator.nth(i)
                if item.is_visible():
                    found.append(item.inner_text())
        return found

    def screenshot(self, name: str) -> str:
        os.makedirs(SCREENSHOT_DIR, exist_ok=True)
        path = os.path.join(SCREENSHOT_DIR, f"{name}.png")
        self.page.screenshot(path=path)
        return os.path.abspath(path)


def draw_frames(frame, count: int) -> None:
    """Return after the page has drawn `count` animation frames."""
    frame.evaluate(_FRAMES_JS, count)
