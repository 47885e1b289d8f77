"""How fast the commands that only read or export vectors answer, as whole processes, against TensorFlow and numpy.

Run from the repository root:

    python benchmarks/read_speed.py                  # colours, IMDB-shaped, 500,000 x 100; best of 3
    python benchmarks/read_speed.py --skip-large     # without the 500,000 x 100 run (a minute or so)

It prepares, outside the timings: the colour runs (`projector-train colours
--pairs 2000 --quiet`: both models, the default 10 epochs and so the same
550 x 2 and 550 x 3 tensors, metadata and sprite as the default, from fewer
pairs; `--colour-pairs 1000000` trains the real default); an IMDB-shaped run
(`export_embeddings`: `final` and ten `snapshot-epoch-NN` tensors of 8,185 x 16
random floats, the columns token, kind, count and sentiment, a PCA bookmark,
as `projector-train imdb` writes it); a 500,000 x 100 run (random floats,
labels w0, w1, ...); and the `.npy` files that `export` reads (10,000 x 100 for
the goal). Then it times, best of --repeats, each command as the user runs it:
the `projector-export` console script beside this Python (falling back to
`python -m projector_export.cli`), in a fresh process, side by side with:

* TensorFlow: `python -c "import tensorflow"`, and a script doing the same job
  the TensorFlow way: `tf.train.load_checkpoint(run).get_tensor(key)`, then
  numpy (`validate`: every tensor of every run, checked finite; `neighbours`:
  cosine or Euclidean over all rows; `tsv`: `np.savetxt(fmt="%.7g")`, the
  issue's baseline; `layout --method pca`: the top 3 principal components), and
  for `export` the projector tutorial's `tf.train.Checkpoint(...).save` with
  `projector.visualize_embeddings`;
* numpy, as a gensim user keeps vectors (a `.npy` and a labels file): the same
  jobs on `np.load`ed vectors (`validate`: one matrix checked finite; `export`:
  `np.load` then `np.save`).

The timings are wall clock, each process started and waited for, with the
1-minute load average when the best one started (2 cores: above 2, other work
competed), with Python's bytecode cache on (PYTHONDONTWRITEBYTECODE is dropped),
as users run it. Every command's output is checked; the first, untimed run of each of
ours is made with `-X importtime` to show whether it imported TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMDB_ROWS, IMDB_DIMS, IMDB_EPOCHS = 8_185, 16, 10
LARGE_SHAPE = (500_000, 100)
EXPORT_SHAPE = (10_000, 100)  # the export goal's size

# Shared by both baseline scripts: the same jobs in numpy, once the vectors and labels are loaded.
JOBS = r'''
import os, sys, numpy as np

def neighbours(v, labels, query, k, metric):
    x = v.astype(np.float64)
    q = x[labels.index(query)]
    if metric == "cosine":
        far = 1 - (x @ q) / np.maximum(np.linalg.norm(x, axis=1) * np.linalg.norm(q), 1e-30)
    else:
        far = np.sqrt(np.maximum(((x - q) ** 2).sum(axis=1), 0))
    nearest = np.argpartition(far, k + 1)[: k + 1]
    for i in nearest[np.argsort(far[nearest])][1:]:
        print(labels[i], far[i])

def tsv(v, labels, out):
    os.makedirs(out)
    np.savetxt(os.path.join(out, "vectors.tsv"), v, fmt="%.7g", delimiter="\t")
    with open(os.path.join(out, "metadata.tsv"), "w", encoding="utf-8") as f:
        f.write("".join(label + "\n" for label in labels))

def pca(v, out):
    x = v.astype(np.float64)
    x -= x.mean(axis=0)
    values, vectors = np.linalg.eigh(x.T @ x)
    np.save(out, (x @ vectors[:, ::-1][:, :3]).astype(np.float32))

def check(v, labels):
    if not np.isfinite(v).all() or len(labels) != len(v):
        sys.exit("broken")
'''

TF_SCRIPT = JOBS + r'''
import tensorflow as tf
job, args = sys.argv[1], sys.argv[2:]

def load(run, key):
    v = tf.train.load_checkpoint(run).get_tensor(key)
    with open(os.path.join(run, args[2]), encoding="utf-8") as f:
        rows = [line.split("\t")[0] for line in f.read().split("\n") if line]
    return v, rows[1:] if len(rows) > len(v) else rows  # a header row when several columns

if job == "validate":
    for folder, _, files in os.walk(args[0]):
        if "projector_config.pbtxt" in files:
            reader = tf.train.load_checkpoint(folder)
            for key in reader.get_variable_to_shape_map():
                if not np.isfinite(reader.get_tensor(key)).all():
                    sys.exit("broken")
elif job == "neighbours":
    v, labels = load(*args[:2])
    neighbours(v, labels, args[3], int(args[4]), args[5])
elif job == "tsv":
    v, labels = load(*args[:2])
    tsv(v, labels, args[3])
elif job == "pca":
    v, _ = load(*args[:2])
    pca(v, args[3])
elif job == "export":
    from tensorboard.plugins import projector
    source, logdir = args
    os.makedirs(logdir)
    checkpoint = tf.train.Checkpoint(embedding=tf.Variable(np.load(source)))
    checkpoint.save(os.path.join(logdir, "embedding.ckpt"))
    config = projector.ProjectorConfig()
    config.embeddings.add().tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    projector.visualize_embeddings(logdir, config)
'''

NUMPY_SCRIPT = JOBS + r'''
job, args = sys.argv[1], sys.argv[2:]

def load(folder):
    with open(os.path.join(folder, "labels.txt"), encoding="utf-8") as f:
        return np.load(os.path.join(folder, "vectors.npy")), f.read().split("\n")[:-1]

if job == "validate":
    check(*load(args[0]))
elif job == "neighbours":
    neighbours(*load(args[0]), args[1], int(args[2]), args[3])
elif job == "tsv":
    tsv(*load(args[0]), args[1])
elif job == "pca":
    pca(load(args[0])[0], args[1])
elif job == "export":
    np.save(args[1], np.load(args[0]))
'''


@dataclass
class Data:
    """One data set: its log dir, the run the commands read, and its gensim-style copy."""

    name: str
    logdir: str
    run: str
    key: str  # the tensor's checkpoint key (its name)
    metadata: str  # the metadata file, relative to the run
    query: str
    metric: str
    numpy_dir: str  # vectors.npy + labels.txt


@dataclass
class Row:
    """One timed line of the table."""

    command: str
    data: str
    ours: list[str]  # argv; "{n}" becomes the repetition's number
    expected: str  # in our stdout
    tf: list[str] | None = None
    numpy: list[str] | None = None
    goal: str = ""
    met: object = None  # (ours, tf, numpy seconds) -> bool
    times: dict = field(default_factory=dict)  # who -> (seconds, load average)
    imports_tf: bool | None = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs of each process (default: 3)")
    parser.add_argument("--skip-large", action="store_true", help="leave out the 500,000 x 100 run")
    parser.add_argument("--colour-pairs", type=int, default=2000,
                        help="pairs of the colour training (default: 2,000; projector-train's: 1,000,000)")
    parser.add_argument("--workdir", help="where to write (default: a temporary folder, removed)")
    args = parser.parse_args(argv)

    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="read-speed-"))
    os.makedirs(workdir, exist_ok=True)
    try:
        _run(args, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _run(args, workdir: str) -> None:
    ours = _console_script("projector-export", "projector_export.cli")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {_load():.2f} at start")
    print(f"ours: {' '.join(ours)}  (PYTHONPATH starts with {REPOSITORY})")
    print("preparing the data (not timed) ...", flush=True)
    datasets = [_colours(workdir, args.colour_pairs), _imdb(workdir)]
    if not args.skip_large:
        datasets.append(_large(workdir))
    exports = [(d.name, os.path.join(d.numpy_dir, "vectors.npy")) for d in datasets[:2]]
    exports.append((_shape_name(EXPORT_SHAPE), _random_npy(workdir, EXPORT_SHAPE)))
    if not args.skip_large:
        exports.append((datasets[2].name, os.path.join(datasets[2].numpy_dir, "vectors.npy")))

    rows = [
        Row("python -c 'import tensorflow'", "-", [sys.executable, "-c", "import tensorflow"], ""),
        Row("python -c 'import numpy'", "-", [sys.executable, "-c", "import numpy"], ""),
    ]
    for d in datasets:
        rows += _rows(ours, d, workdir)
    for name, npy in exports:
        out = os.path.join(workdir, "exports")
        rows.append(Row(
            "export v.npy", name, [*ours, "export", npy, "--logdir", out, "--run", f"{name}-{{n}}"], "run folder:",
            tf=["export", npy, os.path.join(out, f"tf-{name}-{{n}}")],
            numpy=["export", npy, os.path.join(out, f"np-{name}-{{n}}.npy")],
            goal="<= 1.5 s" if name == _shape_name(EXPORT_SHAPE) else "",
            met=lambda o, t, n: o <= 1.5,
        ))

    print(f"timing {len(rows)} rows, best of {args.repeats} ...", flush=True)
    for row in rows:
        _time_row(row, args.repeats, workdir)
        print(f"  {row.command:<30} {row.data:<16} {row.times['ours'][0]:7.2f} s", flush=True)
    _print_table(rows)


# ------------------------------------------------------------------------- the data


def _colours(workdir: str, pairs: int) -> Data:
    logdir = os.path.join(workdir, "colours")
    train = _console_script("projector-train", "training.cli")
    _check_call([*train, "colours", "--pairs", str(pairs), "--logdir", logdir, "--quiet"])
    run = os.path.join(logdir, "colours-3d", "projector")
    return _with_numpy_copy(Data("colours", logdir, run, "final", "final.metadata.tsv", "red", "euclidean", ""))


def _imdb(workdir: str) -> Data:
    from projector_export import Embedding, export_embeddings

    rng = np.random.default_rng(0)
    subwords = ["the_", "a_", "and_", "of_", "to_", "is_", "great_", "bad_"]
    subwords += [f"sub{i}_" for i in range(IMDB_ROWS - 257 - len(subwords))]
    tokens = ["<pad>", *subwords, *(f"<byte 0x{value:02x}>" for value in range(256))]
    kinds = ["padding"] + ["subword"] * len(subwords) + ["byte"] * 256
    counts = [int(c) for c in rng.zipf(1.3, IMDB_ROWS).clip(max=10**6)]

    def epoch(name: str, **options) -> Embedding:
        table = {"token": tokens, "kind": kinds, "count": counts,
                 "sentiment": [f"{p:.4f}" for p in rng.random(IMDB_ROWS)]}
        return Embedding(rng.standard_normal((IMDB_ROWS, IMDB_DIMS), dtype=np.float32), table, name=name, **options)

    logdir = os.path.join(workdir, "imdb")
    run = os.path.join(logdir, "imdb", "projector")
    tensors = [epoch("final", layouts=["pca"])]
    tensors += [epoch(f"snapshot-epoch-{e:02d}") for e in range(1, IMDB_EPOCHS + 1)]
    export_embeddings(run, tensors)
    return _with_numpy_copy(Data("IMDB 8,185x16", logdir, run, "final", "final.metadata.tsv", "great_", "cosine", ""))


def _large(workdir: str) -> Data:
    from projector_export import export_embedding

    vectors = np.random.default_rng(0).standard_normal(LARGE_SHAPE, dtype=np.float32)
    logdir = os.path.join(workdir, "large")
    run = os.path.join(logdir, "vectors")
    export_embedding(run, vectors, [f"w{i}" for i in range(len(vectors))])
    name = _shape_name(LARGE_SHAPE)
    return _with_numpy_copy(Data(name, logdir, run, "embedding", "embedding.metadata.tsv", "w1", "cosine", ""))


def _with_numpy_copy(data: Data) -> Data:
    """Save the run's tensor and labels as a gensim user keeps them: vectors.npy and labels.txt."""
    from projector_export.read import read_embedding

    tensor = read_embedding(data.run, data.key)
    data.numpy_dir = os.path.join(os.path.dirname(data.logdir), f"numpy-{os.path.basename(data.logdir)}")
    os.makedirs(data.numpy_dir)
    np.save(os.path.join(data.numpy_dir, "vectors.npy"), tensor.vectors)
    with open(os.path.join(data.numpy_dir, "labels.txt"), "w", encoding="utf-8") as f:
        f.write("".join(label + "\n" for label in tensor.labels()))
    return data


def _random_npy(workdir: str, shape: tuple[int, int]) -> str:
    path = os.path.join(workdir, f"random-{shape[0]}x{shape[1]}.npy")
    np.save(path, np.random.default_rng(1).standard_normal(shape, dtype=np.float32))
    return path


def _shape_name(shape: tuple[int, int]) -> str:
    return f"{shape[0]:,}x{shape[1]}"


def _rows(ours: list[str], d: Data, workdir: str) -> list[Row]:
    goal, met = ("<= 1.0 s", lambda o, t, n: o <= 1.0) if d.name != _shape_name(LARGE_SHAPE) else ("", None)
    scratch = os.path.join(workdir, "scratch")
    # `layout` replaces its own bookmark: run it on a copy, so that the other commands read the run as written
    copy = os.path.join(workdir, "layout-copies", d.name.replace(" ", "_").replace(",", ""), "run")
    shutil.copytree(d.run, copy)
    loaded = [d.run, d.key, d.metadata]
    metric = [] if d.metric == "cosine" else ["--metric", d.metric]
    rows = [
        Row("validate LOGDIR", d.name, [*ours, "validate", d.logdir], "all good",
            tf=["validate", d.logdir], numpy=["validate", d.numpy_dir]),
        Row("neighbours RUN LABEL", d.name, [*ours, "neighbours", d.run, d.query, *metric], "nearest to",
            tf=["neighbours", *loaded, d.query, "10", d.metric],
            numpy=["neighbours", d.numpy_dir, d.query, "10", d.metric]),
        Row("tsv RUN --out DIR", d.name, [*ours, "tsv", d.run, "--out", os.path.join(scratch, "ours-{n}")], "wrote",
            tf=["tsv", *loaded, os.path.join(scratch, "tf-{n}")],
            numpy=["tsv", d.numpy_dir, os.path.join(scratch, "np-{n}")]),
        Row("layout RUN --method pca", d.name, [*ours, "layout", copy, "--method", "pca"], "added bookmark",
            tf=["pca", *loaded, os.path.join(scratch, "tf-{n}.npy")],
            numpy=["pca", d.numpy_dir, os.path.join(scratch, "np-{n}.npy")]),
    ]
    for row in rows:
        row.goal, row.met = goal, met
    if d.name == _shape_name(LARGE_SHAPE):
        rows[2].goal, rows[2].met = ">= 4x TF + savetxt", lambda o, t, n: t / o >= 4
    return rows


# ------------------------------------------------------------------------- timing


def _time_row(row: Row, repeats: int, workdir: str) -> None:
    """Run our command once untimed (with -X importtime), then ours and the baselines in turn, `repeats` times."""
    scratch = os.path.join(workdir, "scratch")
    env = _child_env()
    if row.expected:
        done = _call(_fill(row.ours, "warm"), dict(env, PYTHONPROFILEIMPORTTIME="1"), row.expected)
        lines = done.stderr.splitlines()
        imported = [line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")]
        row.imports_tf = any(name.split(".")[0] == "tensorflow" for name in imported)
    contenders = {"ours": row.ours}
    if row.tf:
        contenders["tf"] = [sys.executable, "-c", TF_SCRIPT, *row.tf]
    if row.numpy:
        contenders["numpy"] = [sys.executable, "-c", NUMPY_SCRIPT, *row.numpy]
    for n in range(repeats):
        for who, argv in contenders.items():
            shutil.rmtree(scratch, ignore_errors=True)
            os.makedirs(scratch)
            load = _load()
            start = time.perf_counter()
            _call(_fill(argv, n), env, row.expected if who == "ours" else "")
            seconds = time.perf_counter() - start
            if who not in row.times or seconds < row.times[who][0]:
                row.times[who] = (seconds, load)
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(os.path.join(workdir, "exports"), ignore_errors=True)


def _fill(argv: list[str], n) -> list[str]:
    return [arg.replace("{n}", str(n)) for arg in argv]


def _call(argv: list[str], env: dict, expected: str) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode or expected not in done.stdout:
        raise SystemExit(f"{' '.join(argv)[:300]}\nexited {done.returncode}, without {expected!r} in its output:\n"
                         f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done


def _check_call(argv: list[str]) -> None:
    _call(argv, _child_env(), "")


def _child_env() -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: modules load from cached bytecode
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPOSITORY, os.environ.get("PYTHONPATH")]))
    return env


def _console_script(name: str, module: str) -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), name)
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", module]


def _load() -> float:
    return os.getloadavg()[0]


# ------------------------------------------------------------------------- the table


def _print_table(rows: list[Row]) -> None:
    import_tf = rows[0].times["ours"][0]
    print(f"\nwall clock of whole processes, best of the runs, with the 1-minute load average at the best "
          f"one's start (2 cores: above 2, other work competed); 'x TF import': ours / python -c 'import tensorflow'"
          f" ({import_tf:.2f} s)\n")
    header = (f"| {'command':<29} | {'data':<15} | {'ours s':>6} | {'load':>4} | {'TF?':<3} | {'x TF import':>11} "
              f"| {'TF script s':>11} | {'TF / ours':>9} | {'numpy s':>7} | {'numpy / ours':>12} "
              f"| {'goal':<18} | met? |")
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for row in rows:
        ours, load = row.times["ours"]
        tf = row.times.get("tf", (None, None))[0]
        numpy_s = row.times.get("numpy", (None, None))[0]
        met = "" if row.met is None or not row.goal else ("yes" if row.met(ours, tf, numpy_s) else "NO")
        tf_flag = "" if row.imports_tf is None else ("yes" if row.imports_tf else "no")
        print(f"| {row.command:<29} | {row.data:<15} | {ours:6.2f} | {load:4.1f} | {tf_flag:<3} "
              f"| {ours / import_tf:10.2f}x | {_cell(tf, 11)} | {_ratio(tf, ours, 9)} "
              f"| {_cell(numpy_s, 7)} | {_ratio(numpy_s, ours, 12)} | {row.goal:<18} | {met:<4} |")
    print("\nTF?: whether our process imported tensorflow (python -X importtime, first run). "
          "TF script: tf.train.load_checkpoint + numpy (tsv: np.savetxt '%.7g'; export: tf.train.Checkpoint.save + "
          "projector.visualize_embeddings). numpy: np.load of a .npy + labels file, the same job.")


def _cell(seconds: float | None, width: int) -> str:
    return f"{seconds:{width}.2f}" if seconds is not None else " " * (width - 1) + "-"


def _ratio(theirs: float | None, ours: float, width: int) -> str:
    return f"{theirs / ours:{width - 1}.1f}x" if theirs is not None else " " * (width - 1) + "-"


if __name__ == "__main__":
    sys.exit(main())
