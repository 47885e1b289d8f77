"""The `projector-export` command. Thin: parse, call the library, say where things went.

TensorFlow is imported only inside the commands, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import posixpath
import sys

from projector_export.console import quiet_tensorflow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="projector-export",
        description="Export embeddings for TensorBoard's Embedding Projector and check log dirs.",
    )
    parser.add_argument(
        "--verbose", action="store_true",
        help="show TensorFlow's native log lines too (or set PROJECTOR_EXPORT_VERBOSE=1)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    export = commands.add_parser(
        "export",
        help="turn a .npy, vector TSV, word2vec/GloVe text or .keras model into a projector run",
        description="Write INPUT as a run folder LOGDIR/RUN that `tensorboard --logdir LOGDIR` shows in "
        "its Projector tab. INPUT: a .npy array, a .tsv of vectors, a word2vec/GloVe text file "
        "(the word becomes the label), or a Keras .keras model (every Embedding layer becomes a tensor).",
    )
    export.add_argument("input", metavar="INPUT")
    export.add_argument("--logdir", default="logs", help="the log dir (default: logs)")
    export.add_argument("--run", required=True, help="the run's folder name inside the log dir")
    export.add_argument("--metadata", metavar="FILE", help="labels: one a line, or a TSV with a header row")
    export.add_argument("--name", metavar="TENSOR", help="tensor name (default: embedding, or the layer names)")
    export.add_argument("--max-rows", type=int, metavar="N", help="export only the first N rows")
    export.set_defaults(handler=_export)

    tsv = commands.add_parser(
        "tsv",
        help="vectors.tsv + metadata.tsv for projector.tensorflow.org, and a standalone projector config",
        description="Write one tensor of RUN_DIR as vectors.tsv and metadata.tsv (the Load button of "
        "projector.tensorflow.org) plus tensor.bytes and projector_config.json for a self-hosted "
        "standalone projector. Floats round-trip exactly as float32.",
    )
    tsv.add_argument("run_dir", metavar="RUN_DIR")
    tsv.add_argument("--out", required=True, metavar="DIR", help="output folder")
    tsv.add_argument("--tensor", metavar="NAME", help="which tensor (default: the only one, or 'final')")
    tsv.set_defaults(handler=_tsv)

    neighbours = commands.add_parser(
        "neighbours",
        help="the k nearest labels to each QUERY, by cosine or Euclidean distance",
        description="The K nearest points to each point labelled QUERY in RUN_DIR, with their distances: "
        "cosine by default, as the projector's inspector, or Euclidean (--metric euclidean) for embeddings "
        "trained on distances, such as the colour model.",
    )
    neighbours.add_argument("run_dir", metavar="RUN_DIR")
    neighbours.add_argument("queries", metavar="QUERY", nargs="+", help="labels of points (several in one call)")
    neighbours.add_argument("-k", type=_positive, default=10, help="how many neighbours (default: 10)")
    neighbours.add_argument(
        "--metric", choices=("cosine", "euclidean"), default="cosine",
        help="distance, as the projector's inspector offers them (default: cosine)",
    )
    neighbours.add_argument("--tensor", metavar="NAME", help="which tensor (default: the only one, or 'final')")
    neighbours.set_defaults(handler=_neighbours)

    check = commands.add_parser(
        "validate",
        help="check every projector run under LOGDIR the way TensorBoard reads it",
        description="Check every projector run under LOGDIR the way TensorBoard reads it. "
        "Prints each problem with its run, tensor and fix; exits 1 when there is any.",
    )
    check.add_argument("logdir", metavar="LOGDIR")
    check.set_defaults(handler=_validate)

    args = parser.parse_args(argv)
    quiet_tensorflow(args.verbose)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    from projector_export.errors import ProjectorExportError

    try:
        return args.handler(args)
    except ProjectorExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _export(args: argparse.Namespace) -> int:
    from projector_export.errors import ProjectorExportError
    from projector_export.export import Embedding, export_embeddings
    from projector_export.metadata import metadata_rows
    from projector_export.sources import read_labels, read_source, warn_if_large

    with _Progress(f"reading {args.input}") as progress:
        source = read_source(args.input, max_rows=args.max_rows, progress=progress)
    warn_if_large(source, args.max_rows)  # after the progress line is ended
    metadata = source.labels
    if args.metadata:
        metadata = read_labels(args.metadata)
        if args.max_rows:
            metadata = _first_rows(metadata, args.max_rows)
    tensors = source.tensors
    if args.name:
        if len(tensors) > 1:
            raise ProjectorExportError(
                f"{args.input} has {len(tensors)} Embedding layers ({', '.join(tensors)}); "
                "--name renames a single tensor, so leave it out"
            )
        tensors = {args.name: next(iter(tensors.values()))}
    rows = None if metadata is None else metadata_rows(metadata)
    if args.metadata and not any(len(v) == rows for v in tensors.values()):
        sizes = ", ".join(f"{name}: {len(v)}" for name, v in tensors.items())
        raise ProjectorExportError(
            f"{args.metadata} has {rows} rows but {args.input} has {sizes} vectors; give one label per "
            "row (a TSV's first line is its header), or use --max-rows to cut both"
        )
    embeddings = [
        Embedding(vectors, metadata if rows == len(vectors) else None, name=name) for name, vectors in tensors.items()
    ]
    run_dir = posixpath.join(args.logdir, args.run)
    result = export_embeddings(run_dir, embeddings)
    for tensor in result.tensors:
        labelled = f", labels in {posixpath.basename(tensor.metadata_path)}" if tensor.metadata_path else ""
        print(f"wrote {tensor.shape[0]:,} x {tensor.shape[1]} tensor {tensor.name!r}{labelled}")
    print(f"run folder: {result.run_dir}")
    print(f"open it with: tensorboard --logdir {args.logdir}")
    return 0


def _tsv(args: argparse.Namespace) -> int:
    from projector_export.standalone import export_standalone

    with _Progress("writing vectors.tsv") as progress:
        result = export_standalone(args.run_dir, args.out, tensor=args.tensor, progress=progress)
    print(f"wrote {result.shape[0]:,} x {result.shape[1]} tensor {result.name!r} to {args.out}:")
    print("  vectors.tsv, metadata.tsv: load them with the Load button of https://projector.tensorflow.org")
    print("  projector_config.json, tensor.bytes: for a self-hosted standalone projector")
    return 0


def _neighbours(args: argparse.Namespace) -> int:
    from projector_export.neighbours import nearest_neighbours_of_each

    found = nearest_neighbours_of_each(args.run_dir, args.queries, k=args.k, tensor=args.tensor, metric=args.metric)
    for number, (query, neighbours) in enumerate(found.items()):
        width = max([len(n.label) for n in neighbours] + [5])
        print(("\n" if number else "") + f"nearest to {query!r} by {args.metric} distance:")
        for rank, neighbour in enumerate(neighbours, start=1):
            print(f"{rank:>3}  {neighbour.label:<{width}}  {neighbour.distance:.4f}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from projector_export.validate import validate

    report = validate(args.logdir)
    print(report)
    if report.ok and report.runs:
        print(f"open them with: tensorboard --logdir {args.logdir}")
    return 0 if report.ok else 1


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _first_rows(metadata, rows: int):
    if isinstance(metadata, dict):
        return {name: values[:rows] for name, values in metadata.items()}
    return metadata[:rows]


class _Progress:
    """A one-line progress counter on stderr, shown once a job has run for two seconds."""

    def __init__(self, label: str):
        self.label = label
        self.shown = False

    def __enter__(self):
        import time

        self.start = time.monotonic()
        return self

    def __call__(self, done: int, total: int | None = None) -> None:
        import time

        if time.monotonic() - self.start < 2.0:
            return
        share = f" of {total:,} ({100 * done / total:.0f}%)" if total else ""
        print(f"\r{self.label}: {done:,} rows{share}", end="", file=sys.stderr, flush=True)
        self.shown = True

    def __exit__(self, *exc):
        if self.shown:
            print(file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
