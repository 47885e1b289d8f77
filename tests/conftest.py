"""Shared test helpers: a real TensorBoard on loopback, read through its projector plugin."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from early import EarlyJobs, Ran, python_here

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_STARTED = time.time()  # screenshots newer than this are this run's


class TensorBoard:
    """A `tensorboard --logdir` process on 127.0.0.1 and its projector plugin's routes."""

    def __init__(self, logdir: str, port: int, process: subprocess.Popen):
        self.logdir = logdir
        self.url = f"http://127.0.0.1:{port}"
        self.process = process

    def get(self, route: str, **params) -> bytes:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/data/plugin/projector/{route}?{query}", timeout=60) as reply:
            return reply.read()

    def runs(self) -> list[str]:
        return json.loads(self.get("runs"))

    def info(self, run: str) -> dict:
        return json.loads(self.get("info", run=run))

    def tensor(self, run: str, name: str, shape) -> np.ndarray:
        return np.frombuffer(self.get("tensor", run=run, name=name), dtype=np.float32).reshape(shape)

    def metadata(self, run: str, name: str) -> str:
        return self.get("metadata", run=run, name=name).decode("utf-8")

    def sprite(self, run: str, name: str) -> bytes:
        return self.get("sprite_image", run=run, name=name)

    def wait_for_runs(self, expected: set[str], timeout: float = 90.0) -> list[str]:
        deadline = time.monotonic() + timeout
        runs: list[str] = []
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tensorboard exited with {self.process.returncode}")
            try:
                runs = self.runs()
                # a server started before the runs were written may also list a run being
                # staged (`.NAME.new-XXXXXXXX`) until its next reload: wait until it is gone
                if expected <= set(runs) and not any(part.startswith(".") for run in runs for part in run.split("/")):
                    return runs
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"tensorboard listed {runs}, expected {sorted(expected)}")


def free_ports(count: int = 1) -> list[int]:
    """`count` distinct free ports on 127.0.0.1 (held open together while they are chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def require_layout_libraries():
    """Skip without umap-learn and openTSNE (the `layouts` extra), except in CI, where it is a failure."""
    from projector_export.reductions import installed

    missing = [package for package, method in (("umap-learn", "umap"), ("openTSNE", "tsne")) if not installed(method)]
    if missing:
        message = f"layout tests need {' and '.join(missing)}: pip install -e \".[test,layouts]\""
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class LaidOut:
    """A run of clustered points with a UMAP, a t-SNE and a PCA bookmark on its tensor `final`."""

    def __init__(self, logs, run, vectors: np.ndarray, table: dict[str, list[str]], score: np.ndarray):
        self.logs, self.run, self.vectors, self.table, self.score = logs, run, vectors, table, score

    def bookmarks(self) -> list[dict]:
        return json.loads((self.run / "final.bookmarks.json").read_text())


class Background:
    """The child process that writes `clustered` and then `laid_out`'s runs (`laid_out.py`)."""

    def __init__(self, child: subprocess.Popen, clustered: Path, logs: Path, output: Path):
        self.child, self.clustered, self.logs, self.output = child, clustered, logs, output

    def failed(self) -> None:
        pytest.fail(f"laid_out.py failed:\n{self.output.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="session", autouse=True)
def laying_out(request, tmp_path_factory):
    """Start writing `clustered`'s and `laid_out`'s runs in a child process as the session begins,
    when a collected test reads one of them: a `Background`, else None."""
    from projector_export.reductions import installed

    wanted = any({"laid_out", "clustered_run"} & set(item.fixturenames) for item in request.session.items)
    if not (wanted and installed("umap") and installed("tsne")):
        yield None
        return
    clustered = tmp_path_factory.mktemp("clustered")
    logs = tmp_path_factory.mktemp("laid-out")
    output = tmp_path_factory.mktemp("laying-out") / "output.txt"
    command = python_here(os.path.join(os.path.dirname(__file__), "laid_out.py"), str(clustered), str(logs))
    with open(output, "wb") as sink:
        child = subprocess.Popen(command.argv, stdout=sink, stderr=subprocess.STDOUT, env=command.env)
    yield Background(child, clustered, logs, output)
    child.kill()
    child.wait()


@pytest.fixture(scope="session")
def clustered_run(laying_out):
    """6,000 points in 8 clusters with named clusters added (`laid_out.write_clustered`), once a
    session: (its log dir, `add_clusters`' result). Read it; copy the run before changing it."""
    import pickle

    from laid_out import CLUSTERS_RESULT

    require_layout_libraries()
    result = laying_out.clustered / CLUSTERS_RESULT
    deadline = time.monotonic() + 900
    while not result.exists():  # written last, by a rename: the run is whole
        if laying_out.child.poll() is not None and not result.exists():
            laying_out.failed()
        if time.monotonic() > deadline:
            pytest.fail("laid_out.py wrote no clustered run in 900 s")
        time.sleep(0.1)
    return laying_out.clustered / "logs", pickle.loads(result.read_bytes())


@pytest.fixture(scope="session")
def laid_out(laying_out) -> LaidOut:
    """6,000 clustered points exported with `layouts=["umap", "tsne", "pca"]`, once a session (see
    `laid_out.py`; the layouts take ~45 CPU-s). Read it; copy the run before changing it."""
    from laid_out import RUN, laid_out_data

    require_layout_libraries()
    if laying_out.child.wait(timeout=900) != 0:
        laying_out.failed()
    vectors, table, score = laid_out_data()
    return LaidOut(laying_out.logs, laying_out.logs / RUN, vectors, table, score)


@pytest.fixture(scope="session", autouse=True)
def early_jobs(request, tmp_path_factory):
    """Tests marked `@pytest.mark.early("BUILDER")` check only what commands printed and wrote:
    their module's `BUILDER(folder) -> [Command]` writes the inputs (here, as the session begins)
    and names the commands, which then run in the background (one job at a time, its commands
    side by side), so that the idle core runs them while the session goes on. `early` waits for them."""
    jobs, seen = [], set()
    for item in request.session.items:
        marker = item.get_closest_marker("early")
        if marker is None or (item.module.__name__, marker.args[0]) in seen:
            continue
        seen.add((item.module.__name__, marker.args[0]))
        folder = tmp_path_factory.mktemp(marker.args[0])
        try:
            commands = getattr(item.module, marker.args[0])(folder)
        except Exception as error:  # noqa: BLE001 - the tests that read the job fail with it
            commands = error
        jobs.append((f"{item.module.__name__}.{marker.args[0]}", commands, folder))
    runner = EarlyJobs(jobs)
    yield runner
    runner.stopping = True  # a session cut short (-x, Ctrl-C) leaves no command running
    for child in runner.children:
        if child.poll() is None:
            child.kill()


@pytest.fixture
def early(request, early_jobs) -> tuple[Path, list[Ran]]:
    """The marked test's early job, once it has run: (its folder, what each command did)."""
    marker = request.node.get_closest_marker("early")
    return early_jobs.wait(f"{request.node.module.__name__}.{marker.args[0]}")


@pytest.fixture(scope="module")
def start_tensorboard(tmp_path_factory):
    """Start TensorBoard over a log dir; every server is stopped at the end of the module.

    Its start takes ~5 s (it imports TensorFlow): start it before writing the runs, which
    it lists as they appear (`wait_for_runs`), and the two overlap."""
    servers = []

    def start(logdir) -> TensorBoard:
        os.makedirs(logdir, exist_ok=True)
        (port,) = free_ports()
        log = open(tmp_path_factory.mktemp("tensorboard") / "tensorboard.log", "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
             "--host", "127.0.0.1", "--port", str(port), "--reload_interval", "1"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        servers.append((process, log))
        return TensorBoard(str(logdir), port, process)

    yield start
    for process, log in servers:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Playwright, for the tests that look at the projector page."""
    from projector_page import CHROMIUM, CHROMIUM_FLAGS, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def pytest_terminal_summary(terminalreporter):
    """List the browser tests' screenshots at the end of the run, where CI output shows them."""
    from projector_page import SCREENSHOT_DIR

    if not os.path.isdir(SCREENSHOT_DIR):
        return
    shots = sorted(
        name for name in os.listdir(SCREENSHOT_DIR)
        if name.endswith(".png") and os.path.getmtime(os.path.join(SCREENSHOT_DIR, name)) >= _STARTED
    )
    if shots:
        terminalreporter.write_sep("-", f"projector screenshots in {os.path.abspath(SCREENSHOT_DIR)}")
        for name in shots:
            terminalreporter.write_line(f"  {name}")
