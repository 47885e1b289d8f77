"""A layout bookmark in the projector page: one click draws every point where the layout put it,
coloured by the first numeric column."""

from __future__ import annotations

import numpy as np
import pytest

from laid_out import ROWS  # more than the 5,000 points the page's own UMAP samples
from projector_page import ProjectorPage, draw_frames

_PROJECTOR = "document.querySelector('vz-projector-dashboard').shadowRoot.querySelector('vz-projector')"
_STATE_JS = f"""() => {{
  const projector = {_PROJECTOR};
  const projection = projector.projection;
  return {{
    view: projection ? projection.projectionType : null,
    components: projection ? projection.projectionComponents : null,
    bookmarks: projector.shadowRoot.querySelector('vz-projector-bookmark-panel').savedStates.map(s => s.label),
    labelBy: projector.selectedLabelOption,
    colourBy: projector.selectedColorOption ? projector.selectedColorOption.name : null,
    tsneRunning: projector.dataSet.hasTSNERun || !projector.dataSet.tSNEShouldStop,
  }};
}}"""
# Whether the page shows the projection `view` of the components `keys` (their first ones).
_SHOWS_JS = f"""([view, keys]) => {{
  const projection = {_PROJECTOR}.projection;
  return projection != null && projection.projectionType === view
    && keys.every((key, i) => projection.projectionComponents[i] === key);
}}"""
# What the "Color by" menu and its legend show, and the colour each point is drawn in.
_COLOURS_JS = f"""() => {{
  const projector = {_PROJECTOR};
  const panel = projector.shadowRoot.querySelector('vz-projector-data-panel');
  const legend = panel.shadowRoot.querySelector('vz-projector-legend');
  const bounds = legend && legend.shadowRoot.querySelector('.gradient-boundaries');
  const visualizer = projector.projectorScatterPlotAdapter.spriteVisualizer;
  return {{
    menu: panel.shadowRoot.querySelector('#colorby').value,
    legend: bounds ? Array.from(bounds.children).map(b => b.innerText) : null,
    drawn: visualizer && visualizer.renderColors ? Array.from(visualizer.renderColors) : [],
  }};
}}"""
# Each point's coordinates in the page's data set, and where the scatter plot draws it.
_POINTS_JS = f"""(keys) => {{
  const projector = {_PROJECTOR};
  return {{
    stored: projector.dataSet.points.map(p => keys.map(k => p.projections[k] === undefined ? null : p.projections[k])),
    drawn: Array.from(projector.projectorScatterPlotAdapter.scatterPlot.worldSpacePointPositions || []),
  }};
}}"""


@pytest.fixture(scope="module")
def projector(laid_out, start_tensorboard, browser):
    server = start_tensorboard(laid_out.logs)
    server.wait_for_runs({"layouts"})
    page = ProjectorPage(browser, server.url)
    page.errors = []
    page.page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.page.on("pageerror", lambda error: page.errors.append(str(error)))
    shown = page.show("layouts", "final")
    assert (shown.points, shown.dimension) == (ROWS, 16)
    page.states = laid_out.bookmarks()
    page.score = laid_out.score
    page.colours_before = page.frame.evaluate(_COLOURS_JS)
    yield page
    page.page.close()


def click_bookmark(projector, index: int, view: str, keys: list[str]) -> None:
    """Click the bookmark's radio button; return once the page shows its view of `keys`
    (loading a bookmark sets the projection at once, in the click's handler)."""
    radio = projector.frame.locator("vz-projector-bookmark-panel paper-icon-button[icon=radio-button-unchecked]")
    radio.nth(index).click()
    projector.frame.wait_for_function(_SHOWS_JS, arg=[view, keys], timeout=60_000)


def coordinates(state: dict, keys: list[str]) -> np.ndarray:
    return np.array([[point[key] for key in keys] for point in state["projections"]], dtype=np.float32)


def assert_drawn_at(projector, keys: list[str], expected: np.ndarray) -> None:
    """Every point's coordinates in the page equal `expected`, and the plot draws each there
    (the scatter plot scales each axis linearly into its cube, so drawn = a * coordinate + b)."""
    found = projector.frame.evaluate(_POINTS_JS, keys)
    stored = np.array(found["stored"], dtype=np.float64)
    assert stored.shape == expected.shape == (ROWS, len(keys))
    np.testing.assert_array_equal(stored.astype(np.float32), expected)
    drawn = np.array(found["drawn"], dtype=np.float64).reshape(ROWS, 3)
    assert np.isfinite(drawn).all()
    for axis in range(len(keys)):
        scale, offset = np.polyfit(expected[:, axis], drawn[:, axis], 1)
        residual = np.abs(scale * expected[:, axis] + offset - drawn[:, axis]).max()
        assert residual < 1e-4 * np.ptp(drawn[:, axis]), (axis, residual)
    if len(keys) == 2:
        assert (drawn[:, 2] == 0).all()


def test_the_bookmarks_tray_lists_each_layout(projector):
    labels = projector.frame.evaluate(_STATE_JS)["bookmarks"]
    assert labels == [state["label"] for state in projector.states]
    assert [label.split(" of ")[0] for label in labels] == ["UMAP (3-D)", "t-SNE (2-D)", "PCA (3-D)"]
    assert labels[1] == "t-SNE (2-D) of all 6,000 points, perplexity 30; computed once, shown in the Custom view"


@pytest.mark.parametrize(
    "index, view, keys",
    [
        (0, "umap", ["umap-0", "umap-1", "umap-2"]),
        (1, "custom", ["linear-x", "linear-y"]),
        (2, "pca", ["pca-0", "pca-1", "pca-2"]),
    ],
)
def test_a_click_draws_every_point_at_its_precomputed_coordinates(projector, index, view, keys):
    state = projector.states[index]
    expected = coordinates(state, keys)
    click_bookmark(projector, index, view, keys)
    shown = projector.frame.evaluate(_STATE_JS)
    assert shown["view"] == view
    assert shown["components"][: len(keys)] == keys
    assert shown["labelBy"] == "word"  # the label column stays the page's own choice
    assert shown["colourBy"] == "score"  # and each bookmark colours by the first column of numbers
    assert_drawn_at(projector, keys, expected)
    projector.screenshot(f"layouts-bookmark-{view}")
    # A `tsne` bookmark restarts t-SNE as it loads (the page sets these flags in the click's
    # handler, then moves the points frame by frame): none runs, and the points stay.
    assert not projector.frame.evaluate(_STATE_JS)["tsneRunning"]
    draw_frames(projector.frame, 30)
    assert_drawn_at(projector, keys, expected)
    # the PCA tab still draws every point, from the stored components
    projector.frame.locator("vz-projector-projections-panel .ink-tab[data-tab=pca]").click()
    projector.frame.wait_for_function(_SHOWS_JS, arg=["pca", ["pca-0", "pca-1", "pca-2"]], timeout=60_000)
    assert projector.frame.evaluate(_STATE_JS)["components"] == ["pca-0", "pca-1", "pca-2"]
    assert_drawn_at(projector, ["pca-0", "pca-1", "pca-2"], coordinates(state, ["pca-0", "pca-1", "pca-2"]))
    assert projector.errors == []


def test_a_click_colours_the_points_by_the_first_column_of_numbers(projector):
    # (after the tests above clicked the other bookmarks, so that the UMAP's is clickable again)
    before = projector.colours_before  # as the page opened
    assert before["menu"] == "No color map" and before["legend"] is None
    assert len({tuple(c) for c in np.reshape(before["drawn"], (-1, 3)).round(3)}) == 1  # one colour for all
    assert projector.states[0]["selectedColorOptionName"] == "score"
    click_bookmark(projector, 0, "umap", ["umap-0", "umap-1", "umap-2"])
    draw_frames(projector.frame, 2)  # drawn in the new colours
    shown = projector.frame.evaluate(_STATE_JS)
    assert (shown["view"], shown["colourBy"], shown["labelBy"]) == ("umap", "score", "word")
    after = projector.frame.evaluate(_COLOURS_JS)
    assert after["menu"] == "score"
    # the legend: a gradient from the smallest score to the largest
    assert [float(bound) for bound in after["legend"]] == [float(f"{projector.score.min():.3f}"),
                                                           float(f"{projector.score.max():.3f}")]
    drawn = np.reshape(after["drawn"], (-1, 3))
    assert len(drawn) == ROWS and len({tuple(c) for c in drawn.round(3)}) > 100  # a gradient, point by point
    # the palest points are those of the lowest scores (#ffffdd up to #1f2d86)
    brightness = drawn.sum(axis=1)
    assert np.corrcoef(brightness, projector.score)[0, 1] < -0.9
    projector.screenshot("layouts-bookmark-coloured")
    assert projector.errors == []
