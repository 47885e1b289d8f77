"""Layouts of every point against the projector page's own UMAP and t-SNE on their samples.

Run from the repository root (needs `pip install -e ".[test,layouts]"` and Chromium):

    python benchmarks/layouts.py                        # 100,000 x 64 clustered, then the IMDB stand-in
    python benchmarks/layouts.py --rows 20000 --skip-imdb

For each data set it times `projector_export.reductions` (umap-learn and openTSNE,
every point) and the page's own UMAP (on its sample of 5,000 points) and t-SNE
(on its sample of 10,000), run in headless Chromium by clicking their tabs in
the projector, as a person would; and measures for each the share of every
point's 10 nearest neighbours in the original space (as the page holds the
vectors: sphereized at 50+ dimensions; cosine distance, the projector's) that
stay among its 10 nearest in the layout. Ours is measured over all points and,
side by side with the page, among the page's own sample. The load average of
this shared machine is printed with each timing.

Below 50 dimensions the page does not sphereize (centre and normalise) the
vectors by default, yet its UMAP and t-SNE rank neighbours by `1 - a.b`, a
cosine distance only for unit vectors: on such data they lay out noise.
`--sphereize` ticks the checkbox first, as a user who sees that would.

Data sets: a clustered matrix (`tests/clusters.py`: 40 Gaussian clusters of
very different sizes, spreads and shapes, some close together, and 3% noise)
and, for the IMDB embedding (8,185 x 16, which this offline machine cannot
train on real reviews), a stand-in of the same shape made the same way with
60 clusters.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import numpy as np  # noqa: E402
from clusters import clustered_matrix, knn_preservation  # noqa: E402

from projector_export import Layout, export_embedding  # noqa: E402
from projector_export.reductions import compute_layout, projector_vectors  # noqa: E402

K = 10
_PROJECTOR = "document.querySelector('vz-projector-dashboard').shadowRoot.querySelector('vz-projector')"
# The page's sample is the first points of its shuffled order (data.ts: shuffledDataIndices.slice).
_SAMPLE_JS = f"""([prefix, dims, size]) => {{
  const ds = {_PROJECTOR}.dataSet;
  const sample = ds.shuffledDataIndices.slice(0, size);
  return {{indices: sample,
           coords: sample.map(i => Array.from({{length: dims}}, (_, d) => ds.points[i].projections[prefix + d] ?? null))}};
}}"""
_DONE_JS = f"""() => {{
  const ds = {_PROJECTOR}.dataSet;
  return {{umap: !!ds.projections['umap'], tsneIteration: ds.tSNEIteration}};
}}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="clustered matrix rows (default: 100,000)")
    parser.add_argument("--dims", type=int, default=64, help="clustered matrix columns (default: 64)")
    parser.add_argument("--skip-imdb", action="store_true", help="only the clustered matrix")
    parser.add_argument("--skip-clustered", action="store_true", help="only the IMDB stand-in")
    parser.add_argument("--sphereize", action="store_true",
                        help="tick the page's 'Sphereize data' first (below 50 dimensions it is off, and the "
                        "page's UMAP and t-SNE then rank neighbours by 1 - dot product of unnormalised vectors)")
    parser.add_argument("--skip-browser", action="store_true", help="only our layouts")
    parser.add_argument("--tsne-seconds", type=float, default=240,
                        help="let the page's t-SNE run this long (at least 100 iterations), "
                        "or 1,000 iterations (default: 240 s)")
    parser.add_argument("--queries", type=int, default=10_000,
                        help="points whose neighbourhoods are measured, for ours over all points (default: 10,000)")
    args = parser.parse_args(argv)

    print(f"machine: {os.cpu_count()} CPUs, load average {_load()} at the start")
    datasets = []
    if not args.skip_clustered:
        datasets.append((f"clustered {args.rows:,} x {args.dims}", *clustered_matrix(args.rows, args.dims, 40, seed=0)))
    if not args.skip_imdb:
        datasets.append(("IMDB stand-in 8,185 x 16", *clustered_matrix(8185, 16, 60, seed=1)))
    rows = []
    for name, vectors, _ in datasets:
        rows += _measure(name, vectors, args)
    print()
    print(f"| data | layout | points laid out | time | kNN@{K} kept, all points | kNN@{K} kept, page's sample | load |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


def _measure(name: str, vectors: np.ndarray, args) -> list[list[str]]:
    points = projector_vectors(vectors)  # as the page holds them
    rng = np.random.default_rng(0)
    queries = rng.choice(len(points), size=min(args.queries, len(points)), replace=False)
    page = {} if args.skip_browser else _in_browser(vectors, args.tsne_seconds, args.sphereize)
    rows = []
    for method, browser_method in (("umap", "umap"), ("tsne", "tsne")):
        layout = Layout(method)  # defaults: UMAP 3-D (as the page's), t-SNE 2-D (the page's set to 2-D below)
        print(f"{name}: our {method} of {len(points):,} points (load {_load()}) ...", flush=True)
        start = time.perf_counter()
        ours = compute_layout(points, layout)
        seconds = time.perf_counter() - start
        all_points = knn_preservation(points, ours, K, queries=queries)
        sample_note = "n/a"
        if browser_method in page:
            indices = page[browser_method]["indices"]
            sample_note = f"{knn_preservation(points[indices], ours[indices], K):.3f}"
        rows.append([name, f"ours: {method} {layout.dims}-D", f"{len(points):,} (all)", f"{seconds:.0f} s",
                     f"{all_points:.3f}", sample_note, _load()])
        print("  " + " | ".join(rows[-1]), flush=True)
        if browser_method in page:
            found = page[browser_method]
            kept = knn_preservation(points[found["indices"]], found["coords"], K)
            rows.append([name, f"page: {found['what']}", f"{len(found['indices']):,} (its sample)",
                         f"{found['seconds']:.0f} s", "n/a", f"{kept:.3f}", found["load"]])
            print("  " + " | ".join(rows[-1]), flush=True)
    return rows


def _in_browser(vectors: np.ndarray, tsne_seconds: float, sphereize: bool = False) -> dict:
    """The page's own UMAP and t-SNE of `vectors`: their samples' indices, coordinates and times."""
    from conftest import free_ports
    from playwright.sync_api import sync_playwright
    from projector_page import CHROMIUM, CHROMIUM_FLAGS, ProjectorPage

    logs = tempfile.mkdtemp(prefix="layouts-bench-")
    export_embedding(os.path.join(logs, "data"), vectors, name="final")
    (port,) = free_ports()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", logs, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    found = {}
    try:
        _wait_for(f"http://127.0.0.1:{port}/data/plugin/projector/runs")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            page = ProjectorPage.__new__(ProjectorPage)  # as ProjectorPage(), with time to load 100,000 points
            page.page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.page.goto(f"http://127.0.0.1:{port}/#projector")
            page.frame = page._projector_frame(timeout=900)
            page.show("data", "final", timeout=900)
            sphereized = page.frame.evaluate(f"() => {_PROJECTOR}.shadowRoot.querySelector('vz-projector-data-panel').normalizeData")
            if sphereize and not sphereized:
                page.frame.locator("vz-projector-data-panel #normalize-data-checkbox").click()
                page.page.wait_for_timeout(3000)
                sphereized = True
            note = ", sphereized" if sphereized else ", not sphereized"

            print(f"page: UMAP on its sample (load {_load()}) ...", flush=True)
            load = _load()
            start = time.perf_counter()
            page.frame.locator("vz-projector-projections-panel .ink-tab[data-tab=umap]").click()
            while not page.frame.evaluate(_DONE_JS)["umap"]:
                page.page.wait_for_timeout(200)
            seconds = time.perf_counter() - start
            sample = page.frame.evaluate(_SAMPLE_JS, ["umap-", 3, 5000])
            found["umap"] = _result(f"UMAP 3-D (umap-js){note}", sample, seconds, load)

            print(f"page: t-SNE on its sample (load {_load()}) ...", flush=True)
            panel = f"{_PROJECTOR}.shadowRoot.querySelector('vz-projector-projections-panel')"
            page.frame.evaluate(f"() => {{ {panel}.tSNEis3d = false; }}")  # 2-D, as ours
            load = _load()
            start = time.perf_counter()
            page.frame.locator("vz-projector-projections-panel .ink-tab[data-tab=tsne]").click()
            iteration = 0
            while (time.perf_counter() - start < tsne_seconds and iteration < 1000) or iteration < 100:
                page.page.wait_for_timeout(1000)
                iteration = page.frame.evaluate(_DONE_JS)["tsneIteration"]
            seconds = time.perf_counter() - start
            sample = page.frame.evaluate(_SAMPLE_JS, ["tsne-", 2, 10000])
            found["tsne"] = _result(f"t-SNE 2-D (bh_tsne.ts), {iteration} iterations{note}", sample, seconds, load)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(logs, ignore_errors=True)
    return found


def _result(what: str, sample: dict, seconds: float, load: str) -> dict:
    coords = np.array(sample["coords"], dtype=np.float64)
    if not np.isfinite(coords).all():
        raise RuntimeError(f"the page's {what} left points without coordinates")
    return {"what": what, "indices": np.array(sample["indices"]), "coords": coords, "seconds": seconds, "load": load}


def _wait_for(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _load() -> str:
    return "{:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
