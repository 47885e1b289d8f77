"""The `projector-export` command. Thin: parse, call the library, say where things went.

No command imports TensorFlow on local paths, so each answers in well under a second. Six
commands' argument definitions make most of its length.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import posixpath
import sys

from projector_export.console import Progress, plural, quiet_tensorflow
from projector_export.errors import as_flags, flags_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="projector-export",
        description="Export embeddings for TensorBoard's Embedding Projector and check log dirs.",
        epilog="Exit status: 0 done; 1 an error explained on one line (bad input, a broken run, a full "
        "or read-only disk), or problems found by validate; 2 wrong command-line usage; 130 interrupted.",
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

    layout = commands.add_parser(
        "layout",
        help="add a UMAP, t-SNE or PCA of every point to a run's bookmarks",
        description="Compute a layout of every point the projector loads (up to 100,000; the page's own "
        "UMAP samples 5,000 and t-SNE 10,000) and add it to the tensor's bookmarks: click it in the "
        "Bookmarks tray. Re-running a method replaces its bookmark and keeps the others. "
        'UMAP and t-SNE need: pip install "projector-export[layouts]".',
    )
    layout.add_argument("run_dir", metavar="RUN_DIR")
    layout.add_argument("--method", choices=["umap", "tsne", "pca"], default="umap", help="default: umap")
    layout.add_argument("--tensor", metavar="NAME", help="which tensor (default: the only one, or 'final')")
    layout.add_argument("--dims", type=int, choices=[2, 3], help="default: 3 for umap and pca, 2 for tsne")
    layout.add_argument("--seed", type=int, help="reproducible layout (UMAP then runs on one thread)")
    layout.add_argument("--neighbors", type=int, default=15, metavar="K", help="UMAP's n_neighbors (default: 15)")
    layout.add_argument("--min-dist", type=float, default=0.1, help="UMAP's min_dist (default: 0.1)")
    layout.add_argument("--perplexity", type=float, default=30.0, help="t-SNE's perplexity (default: 30)")
    layout.add_argument("--metric", choices=["cosine", "euclidean"], default="cosine",
                        help="distance between vectors (default: cosine, the projector's)")
    layout.add_argument("--out", metavar="FILE.tsv", help="also write the coordinates with the metadata columns "
                        "to this new file (outside the run folder)")
    layout.add_argument("--force", action="store_true", help="let --out replace an existing file")
    layout.set_defaults(handler=_layout)

    clusters = commands.add_parser(
        "clusters",
        help="name the groups of every point: a `cluster` column to colour by and a bookmark per cluster",
        description="Cluster every point of a run's tensor (HDBSCAN on a UMAP of the vectors; points that belong "
        "nowhere are marked '(no cluster)'), name each cluster from its members, and add them to the run: a "
        "metadata column `cluster` (Color by: cluster) and a bookmark per cluster that selects its points. "
        "Prints a table of the clusters. Re-running replaces them. "
        'Needs: pip install "projector-export[layouts]".',
    )
    clusters.add_argument("run_dir", metavar="RUN_DIR")
    clusters.add_argument("--tensor", metavar="NAME", help="which tensor (default: the only one, or 'final')")
    clusters.add_argument("--min-size", type=_positive, metavar="N",
                          help="the fewest points a cluster has (default: about half the square root of the rows)")
    clusters.add_argument("--seed", type=_seed, help="reproducible clusters")
    clusters.add_argument("--metric", choices=["cosine", "euclidean"], default="cosine",
                          help="distance between vectors (default: cosine; euclidean for embeddings trained on "
                          "distances, such as the colour model)")
    clusters.add_argument("--bookmarks", type=_count, default=30, metavar="N",
                          help="bookmarks for the N largest clusters (default: 30)")
    clusters.add_argument("--out", metavar="FILE.tsv", help="also write each point's label and cluster to this new file")
    clusters.add_argument("--force", action="store_true", help="let --out replace an existing file")
    clusters.set_defaults(handler=_clusters)

    check = commands.add_parser(
        "validate",
        help="check every projector run under LOGDIR the way TensorBoard reads it",
        description="Check every projector run under LOGDIR the way TensorBoard reads it. "
        "Prints each problem with its run, tensor and fix; exits 1 when there is any.",
    )
    check.add_argument("logdir", metavar="LOGDIR")
    check.set_defaults(handler=_validate)

    args = parser.parse_args(argv)
    # Library messages name parameters (`max_rows=10`); on the command line they are flags.
    flags = flags_of(parser, overwrite="--force", n_neighbors="--neighbors")
    quiet_tensorflow(args.verbose)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    from projector_export.errors import ProjectorExportError

    make_record = logging.getLogRecordFactory()
    logging.setLogRecordFactory(functools.partial(_reworded_record, make_record, flags))
    try:
        _refuse_undecodable(args)
        return args.handler(args)
    except (ProjectorExportError, OSError) as error:
        # What the user can fix (bad input, a broken run, a full disk): one line, exit 1.
        print(f"error: {as_flags(_one_line(error), flags)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        logging.setLogRecordFactory(make_record)


# Arguments that name what TensorBoard shows, by what they are.
_NAMES = {
    "logdir": "log dir", "run": "run name", "run_dir": "run folder", "tensor": "tensor name", "name": "tensor name",
}


def _reworded_record(make_record, flags, name, *args, **kwargs) -> logging.LogRecord:
    """The package's warnings as this command shows them: flags for parameters, on a line of their own."""
    record = make_record(name, *args, **kwargs)
    if name.startswith("projector_export"):
        record.msg, record.args = as_flags(record.getMessage(), flags), None
        Progress.end_line()
    return record


def _refuse_undecodable(args: argparse.Namespace) -> None:
    """Refuse names holding bytes that are not UTF-8 (Python keeps them as surrogates, `\\udcff`):
    TensorBoard shows run and tensor names as UTF-8 text, and tf.io.gfile opens only UTF-8 paths."""
    from projector_export.errors import ProjectorExportError

    for dest, what in _NAMES.items():
        value = getattr(args, dest, None)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ProjectorExportError(
                    f"the {what} {os.fsencode(value)!r} is not UTF-8 text; TensorBoard names runs and tensors "
                    "in UTF-8: choose a name in UTF-8"
                ) from None


def _one_line(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror + (f": {os.fsdecode(error.filename)}" if error.filename else "")
    else:
        text = str(error)
    return " ".join(text.split())


def _export(args: argparse.Namespace) -> int:
    from projector_export.file_export import export_file
    from projector_export.files.paths import folder_in

    run_dir = folder_in(args.logdir, args.run)
    with Progress(f"reading {args.input}", delay=2.0, noun="rows") as progress:
        result = export_file(
            args.input, run_dir, metadata=args.metadata, name=args.name, max_rows=args.max_rows, progress=progress
        )
    for tensor in result.tensors:
        labelled = f", labels in {posixpath.basename(tensor.metadata_path)}" if tensor.metadata_path else ""
        print(f"wrote {tensor.shape[0]:,} x {tensor.shape[1]} tensor {tensor.name!r}{labelled}")
    print(f"run folder: {result.run_dir}")
    print(f"open it with: tensorboard --logdir {args.logdir}")
    return 0


def _tsv(args: argparse.Namespace) -> int:
    from projector_export.standalone import export_standalone

    with Progress("writing vectors.tsv", delay=2.0, noun="rows") as progress:
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


def _layout(args: argparse.Namespace) -> int:
    from projector_export.layout import add_layout
    from projector_export.reductions import Layout

    settings = Layout(args.method, dims=args.dims, seed=args.seed, n_neighbors=args.neighbors,
                      min_dist=args.min_dist, perplexity=args.perplexity, metric=args.metric)
    with Progress(delay=2.0, ticking=True) as progress:
        result = add_layout(args.run_dir, settings, tensor=args.tensor, out=args.out, overwrite=args.force,
                            progress=progress)
    print(f"added bookmark {result.label!r} to tensor {result.tensor!r} ({result.seconds:.0f} s)")
    print(f"bookmarks: {result.bookmarks_path}")
    if result.coordinates_path:
        print(f"coordinates with metadata: {result.coordinates_path}")
    print(f"open it with: tensorboard --logdir {posixpath.dirname(result.run_dir.rstrip('/')) or '.'}"
          "   (Projector tab: Bookmarks, bottom right; click the bookmark)")
    return 0


def _clusters(args: argparse.Namespace) -> int:
    from projector_export.clusters import add_clusters

    with Progress(delay=2.0, ticking=True) as progress:
        result = add_clusters(args.run_dir, tensor=args.tensor, min_size=args.min_size, seed=args.seed,
                              metric=args.metric, bookmarks=args.bookmarks, out=args.out, overwrite=args.force,
                              progress=progress)
    print(f"{result.clusters} clusters of tensor {result.tensor!r}, {result.noise:,} of {len(result.ids):,} points "
          f"in none ({result.seconds:.0f} s; {result.method})")
    print(_cluster_table(result.table))
    print(f"added the column 'cluster' ({result.metadata_path}) and {plural(result.bookmarks, 'bookmark')}, one a cluster")
    if result.out_path:
        print(f"labels with their clusters: {result.out_path}")
    print(f"open it with: tensorboard --logdir {_parent(result.run_dir)}"
          "   (Projector tab: Color by: cluster; Bookmarks, bottom right: a cluster each)")
    return 0


def _cluster_table(rows) -> str:
    """The clusters as a table: size, name, and the mean of each numeric metadata column."""
    columns = list(dict.fromkeys(name for row in rows for name in row.means))
    header = ["size", *columns, "cluster"]
    lines = [header]
    for row in rows:
        means = [f"{row.means[name]:.3g}" if name in row.means else "" for name in columns]
        lines.append([f"{row.size:,}", *means, row.name])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths)) + "  " + line[-1] for line in lines
    )


def _parent(run_dir: str) -> str:
    parent = posixpath.dirname(run_dir.rstrip("/"))
    return parent or "."


def _validate(args: argparse.Namespace) -> int:
    from projector_export.validation.logdir import validate

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


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not 0 or more")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{text} is not a seed from 0 to {2**32 - 1}")
    return value


if __name__ == "__main__":
    sys.exit(main())
