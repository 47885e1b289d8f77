"""What a person sees: the Projector tab in headless Chromium over runs the project wrote."""

from __future__ import annotations

import numpy as np
import pytest

from projector_export import export_embedding
from projector_export.cli import main
from projector_page import CHROMIUM, CHROMIUM_FLAGS, ProjectorPage, require_browser


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def projector(tmp_path_factory, start_tensorboard, browser):
    rng = np.random.default_rng(3)
    logs = tmp_path_factory.mktemp("logs")
    words = ["", " ", "tab\there", "new\nline", "\r"] + [f"w{i}" for i in range(195)]
    export_embedding(logs / "labels", rng.normal(size=(200, 6)), words, sprite=rng.random((200, 3)))
    lines = ["50 3"] + [f"word{i} " + " ".join(str(v) for v in rng.normal(size=3)) for i in range(50)]
    (logs.parent / "w2v.txt").write_text("\n".join(lines) + "\n")
    assert main(["export", str(logs.parent / "w2v.txt"), "--logdir", str(logs), "--run", "word2vec"]) == 0
    from training.colours import train_colours

    train_colours((2, 3), pairs=20_000, epochs=2, logdir=str(logs), verbose=0)
    server = start_tensorboard(logs)
    server.wait_for_runs({"labels", "word2vec", "colours-2d/projector", "colours-3d/projector"})
    page = ProjectorPage(browser, server.url)
    yield page
    page.page.close()


@pytest.mark.parametrize(
    "run, tensor, points, dimension, sprite",
    [
        ("labels", "embedding", 200, 6, (15 * 16, 15 * 16)),
        ("word2vec", "embedding", 50, 3, None),
        ("colours-2d/projector", "final", 550, 2, (24 * 16, 24 * 16)),
        ("colours-3d/projector", "final", 550, 3, (24 * 16, 24 * 16)),
        ("colours-3d/projector", "epoch-0000", 550, 3, (24 * 16, 24 * 16)),
    ],
)
def test_page_shows_every_point_with_its_label_and_sprite(projector, run, tensor, points, dimension, sprite):
    shown = projector.show(run, f"{tensor}/.ATTRIBUTES/VARIABLE_VALUE")
    path = projector.screenshot(f"browser-{run.replace('/', '-')}-{tensor}")
    print(f"screenshot of run {run!r}: {path}")
    assert (shown.points, shown.dimension) == (points, dimension)
    assert shown.errors == []
    assert shown.sprite == sprite
    if run == "labels":
        assert shown.first_labels == ["(empty)", "\\s", "tab\\there", "new\\nline", "\\r"]
    if run.startswith("colours"):
        from training.colours import load_colours

        assert shown.first_labels == list(load_colours()["name"][:5])


def test_page_reports_what_raw_labels_break(tmp_path, start_tensorboard, browser):
    """The check above can fail: a blank raw label makes the projector refuse the metadata."""
    export_embedding(tmp_path / "raw", np.ones((10, 2)), [f"r{i}" for i in range(10)])
    (tmp_path / "raw" / "embedding.metadata.tsv").write_text("".join(f"r{i}\n" for i in range(9)).replace("r4", " "))
    server = start_tensorboard(tmp_path)
    server.wait_for_runs({"raw"})
    page = ProjectorPage(browser, server.url)
    shown = page.show("raw", "embedding/.ATTRIBUTES/VARIABLE_VALUE")
    page.screenshot("browser-raw-labels")
    page.page.close()
    assert any("Number of tensors (10) do not match the number of lines in metadata (8)" in e for e in shown.errors)
