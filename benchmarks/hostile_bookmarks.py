"""Memory and time of reading bookmarks files, ours and hostile, against plain `json.loads`.

Run from the repository root:

    python benchmarks/hostile_bookmarks.py            # about a minute; writes ~600 MB to a temp folder

For each file it measures, each in a fresh process, the peak memory added by
(a) `json.loads` of the file, the baseline (what `validate` did before it bounded
its reads), and (b) `bookmarks.read_states` then `check_states`, what `validate`
and `layout` do now. Memory is the growth of the peak resident set after the
file's bytes were read (VmHWM: Linux), so it leaves out the data's own size. The baseline runs
under a 3 GB address-space limit, so the files that would take more say so
instead of swapping the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT]

MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time

    def peak():  # this process's peak resident set in MB (ru_maxrss would count the parent's, over exec)
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024

    how, path = sys.argv[1], sys.argv[2]
    if how == "json.loads":
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from projector_export.format.bookmarks import read_states
    from projector_export.format.bookmark_checks import check_states
    from projector_export.errors import ProjectorExportError
    data = open(path, "rb").read()
    before = peak()
    start = time.monotonic()
    try:
        if how == "json.loads":
            states = json.loads(data.decode("utf-8"))
            outcome = "parsed"
        else:
            states = read_states(data, path)
            problems, _ = check_states(states, 100_000)
            outcome = f"{len(problems)} problems listed"
    except MemoryError:
        outcome = "MemoryError (over 3 GB)"
    except (ProjectorExportError, RecursionError, ValueError) as error:
        outcome = type(error).__name__ + ": " + str(error).split(" ", 1)[1][:60]
    grown = peak() - before
    print(f"{grown:7,.0f} MB {time.monotonic() - start:6.1f} s  {outcome}")
    """
)


def write_files(folder: str) -> dict[str, str]:
    import numpy as np

    from projector_export.format.bookmarks import Bookmark, state_text

    rng = np.random.default_rng(0)
    points = 100_000

    def state(view: str, dims: int) -> str:
        coordinates = rng.normal(size=(points, dims)).astype(np.float32)
        pca = rng.normal(size=(points, 10)).astype(np.float32)
        return state_text(Bookmark("x", view, coordinates, pca, 16, {"method": view, "dims": dims}), label_column="label")

    views = [("umap", 3), ("custom", 2), ("pca", 3), ("umap", 2), ("pca", 2), ("custom", 2)]
    texts = [state(view, dims) for view, dims in views]
    files = {
        "ours: 3 states of 100,000 points": "[\n" + ",\n".join(texts[:3]) + "\n]\n",
        "ours: 6 states of 100,000 points": "[\n" + ",\n".join(texts) + "\n]\n",
        "900,000 states {}": "[" + ",".join(["{}"] * 900_000) + "]",
        "1,000,000 states {} (issue 19)": "[" + ",".join(["{}"] * 1_000_000) + "]",
        "10,000,000 short strings": "[[" + ",".join(['"ab"'] * 9_999_000) + "]]",
        "5,000,000 keys of short strings": "[{" + ",".join(f'"k{i}":"ab"' for i in range(4_999_000)) + "}]",
        "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
        "a 5,000-digit number": "[" + "7" * 5000 + "]",
    }
    paths = {}
    for number, (name, text) in enumerate(files.items()):
        paths[name] = os.path.join(folder, f"{number}.bookmarks.json")
        with open(paths[name], "w") as f:
            f.write(text)
    return paths


def main() -> None:
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory() as folder:
        for name, path in write_files(folder).items():
            print(f"{name} ({os.path.getsize(path) / 1e6:,.0f} MB)")
            for how in ("json.loads", "read_states + check_states"):
                done = subprocess.run([sys.executable, "-c", MEASURE, how, path], capture_output=True, text=True, env=env)
                result = done.stdout.strip() or f"exit {done.returncode}: {done.stderr.strip()[-80:]}"
                print(f"  {how:<28} {result}")


if __name__ == "__main__":
    main()
