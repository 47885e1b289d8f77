"""`projector-train`: train an example embedding and export it for TensorBoard's projector.

Each subcommand parses its arguments, calls one library function and prints where the
runs went. TensorFlow is imported inside the commands, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from projector_export.console import quiet_tensorflow
from projector_export.errors import ProjectorExportError

# Kept in step with training.colours (a test checks), which is not imported here: it imports TensorFlow.
_COLOUR_DEFAULTS = {"dims": (2, 3), "pairs": 1_000_000, "epochs": 10, "seeds": "7 for 2-D, 1 for 3-D"}


def build_parser() -> argparse.ArgumentParser:
    """The `projector-train` parser; each subcommand sets `command` to its function."""
    parser = argparse.ArgumentParser(
        prog="projector-train",
        description="Train an example embedding and export it for TensorBoard's Embedding Projector.",
    )
    parser.add_argument(
        "--verbose", action="store_true",
        help="show TensorFlow's native log lines too (or set PROJECTOR_EXPORT_VERBOSE=1)",
    )
    commands = parser.add_subparsers(dest="name", metavar="COMMAND", required=True)
    _add_colours(commands)
    _add_imdb(commands)
    return parser


def _add_colours(commands: argparse._SubParsersAction) -> None:
    colours = commands.add_parser(
        "colours",
        help="colour-name embeddings learnt from pairs of similar colours (the blog post's job)",
        description=(
            "Learn 2-D and 3-D embeddings of colour names from pairs of colours labelled similar "
            "or not, then export each model (final embedding and snapshots, metadata and colour "
            "swatches) with Keras's TensorBoard logs and plots. The post's settings: "
            "--pairs 100000 --epochs 500."
        ),
    )
    colours.add_argument(
        "--dims", type=int, nargs="+", default=list(_COLOUR_DEFAULTS["dims"]), metavar="D",
        help="embedding sizes, one model each (default: 2 3)",
    )
    colours.add_argument(
        "--pairs", type=int, default=_COLOUR_DEFAULTS["pairs"], metavar="N",
        help="training pairs (default: %(default)s)",
    )
    colours.add_argument(
        "--epochs", type=int, default=_COLOUR_DEFAULTS["epochs"], metavar="N",
        help="passes over the pairs (default: %(default)s)",
    )
    colours.add_argument(
        "--seed", type=int, default=None, metavar="S",
        help=f"seed for weights and shuffles (default: {_COLOUR_DEFAULTS['seeds']})",
    )
    colours.add_argument("--logdir", default="logs", help="parent folder of the runs (default: %(default)s)")
    colours.add_argument(
        "--data", default=None, metavar="CSV",
        help="colour table: name,r,g,b or name,hex, or the Kaggle colours.csv (default: the X11 colours)",
    )
    colours.add_argument(
        "--normalise", action="store_true", help="also train a unit-length variant of each model"
    )
    colours.add_argument("--quiet", action="store_true", help="no progress bars")
    colours.set_defaults(command=_colours)


def _colours(args: argparse.Namespace) -> None:
    from training.colours import train_colours

    runs = train_colours(
        args.dims,
        pairs=args.pairs,
        epochs=args.epochs,
        seed=args.seed,
        logdir=args.logdir,
        data=args.data,
        normalise=args.normalise,
        verbose=1 if sys.stdout.isatty() and not args.quiet else 2,
    )
    print()
    for run in runs:
        print(f"{run.run_dir}: kNN@10 agreement {run.knn:.3f}, loss {run.loss:.4f}")
        print(f"  projector: {run.export.config_path} ({len(run.export.tensors)} tensors)")
        print(f"  scalars:   {run.run_dir}/train")
        for path in run.plots:
            print(f"  plot:      {path}")
    print(f"\nOpen them with:\n  tensorboard --logdir {args.logdir}")


def _add_imdb(commands: argparse._SubParsersAction) -> None:
    from training import imdb  # numpy only: TensorFlow is imported when it trains

    parser = commands.add_parser(
        "imdb",
        help="IMDB review sentiment over 8k subwords (the TensorFlow notebook's job)",
        description=(
            "Train the notebook's review classifier (Embedding -> average -> Dense -> Dense) on "
            "IMDB over an 8k subword vocabulary, with Keras's TensorBoard logs and the embedding "
            "exported each epoch, labelled token by token (token, kind, count, sentiment)."
        ),
    )
    imdb.add_arguments(parser)
    parser.set_defaults(command=imdb.run)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `projector-train`; returns the exit status."""
    args = build_parser().parse_args(argv)
    quiet_tensorflow(args.verbose)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    for package in ("training", "projector_export"):
        logging.getLogger(package).setLevel(logging.INFO)
    try:
        args.command(args)
    except ProjectorExportError as error:
        print(f"projector-train {args.name}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"projector-train {args.name}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
