"""Named clusters in the projector page: "Color by" offers `cluster`, and a click on a cluster's bookmark
selects exactly its points, coloured by cluster."""

from __future__ import annotations

import json

import numpy as np
import pytest

from laid_out import ROWS
from projector_page import ProjectorPage

_PROJECTOR = "document.querySelector('vz-projector-dashboard').shadowRoot.querySelector('vz-projector')"
_SELECTION_JS = f"""() => {{
  const projector = {_PROJECTOR};
  const panel = projector.shadowRoot.querySelector('vz-projector-data-panel');
  const visualizer = projector.projectorScatterPlotAdapter.spriteVisualizer;
  return {{
    selected: Array.from(projector.selectedPointIndices || []),
    colourBy: panel.selectedColorOptionName,
    legend: panel.colorLegendRenderInfo && panel.colorLegendRenderInfo.items
      ? panel.colorLegendRenderInfo.items.map(item => [item.label, item.count]) : null,
    drawn: visualizer && visualizer.renderColors ? Array.from(visualizer.renderColors) : [],
  }};
}}"""


@pytest.fixture(scope="module")
def clustered(clustered_run, start_tensorboard, browser):
    """The session's clustered run (`laid_out.write_clustered`: 6,000 points in 8 clusters,
    `add_clusters(run, seed=0, bookmarks=3)`) in the page."""
    logs, result = clustered_run
    server = start_tensorboard(logs)
    server.wait_for_runs({"groups"})
    page = ProjectorPage(browser, server.url)
    page.errors = []
    page.page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.shown = page.show("groups", "final")
    page.result = result
    page.states = json.loads((logs / "groups" / "final.bookmarks.json").read_text())
    yield page
    page.page.close()


def test_color_by_offers_the_cluster_column(clustered):
    assert clustered.shown.points == ROWS
    assert "cluster" in clustered.shown.colour_options
    assert 2 <= clustered.result.clusters <= 49


@pytest.mark.parametrize("cluster", [0, 2])
def test_a_click_on_a_cluster_bookmark_selects_exactly_its_points(clustered, cluster):
    states = clustered.states
    index = next(i for i, s in enumerate(states) if s["projectorExport"].get("cluster") == clustered.result.names[cluster])
    radio = clustered.frame.locator("vz-projector-bookmark-panel paper-icon-button[icon=radio-button-unchecked]")
    radio.nth(index).click()
    expected = set(np.flatnonzero(clustered.result.ids == cluster).tolist())
    deadline_ms, found = 15000, None
    while deadline_ms > 0:  # the page applies the bookmark asynchronously
        found = clustered.frame.evaluate(_SELECTION_JS)
        if set(found["selected"]) == expected:
            break
        clustered.page.wait_for_timeout(250)
        deadline_ms -= 250
    assert set(found["selected"]) == expected and len(found["selected"]) == len(expected)
    assert found["colourBy"] == "cluster"
    # the legend: a colour for each cluster name (and the noise), with its count of points
    legend = dict(found["legend"])
    names = clustered.result.names
    assert {name: legend[name] for name in names} == {name: int((clustered.result.ids == i).sum())
                                                     for i, name in enumerate(names)}
    assert legend.get("(no cluster)", 0) == clustered.result.noise
    # the selection drawn: its points in the highlight, every other point in another colour
    drawn = np.reshape(found["drawn"], (-1, 3)).round(3)
    assert len(drawn) == ROWS
    inside = {tuple(c) for c in drawn[sorted(expected)]}
    outside = {tuple(c) for c in np.delete(drawn, sorted(expected), axis=0)}
    assert len(inside) == 1 and not inside & outside
    clustered.screenshot(f"clusters-bookmark-{cluster}")
    assert clustered.errors == []
