"""`projector-train colours`: its options, and the command that trains and says where the runs went.

TensorFlow is imported only when the command runs (by `training.colours.job`), so
`--help` answers at once.
"""

from __future__ import annotations

import argparse
import sys

from projector_export.console import interactive, plural
from training.colours import DEFAULT_DIMS, DEFAULT_EPOCHS, DEFAULT_PAIRS, DEFAULT_SEEDS
from training.runs import print_clusters

HELP = "colour-name embeddings learnt from pairs of similar colours (the blog post's job)"
DESCRIPTION = (
    "Learn 2-D and 3-D embeddings of colour names from pairs of colours labelled similar or not, "
    "then export each model (final embedding and snapshots, metadata and colour swatches) with "
    "Keras's TensorBoard logs and plots. The post's settings: --pairs 100000 --epochs 500."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `projector-train colours` to `parser`."""
    seeds = ", ".join(f"{seed} for {dims}-D" for dims, seed in DEFAULT_SEEDS.items())
    parser.add_argument(
        "--dims", type=int, nargs="+", default=list(DEFAULT_DIMS), metavar="D",
        help=f"embedding sizes, one model each (default: {' '.join(map(str, DEFAULT_DIMS))})",
    )
    parser.add_argument(
        "--pairs", type=int, default=DEFAULT_PAIRS, metavar="N", help="training pairs (default: %(default)s)"
    )
    parser.add_argument(
        "--epochs", type=int, default=DEFAULT_EPOCHS, metavar="N", help="passes over the pairs (default: %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, metavar="S", help=f"seed for weights and shuffles (default: {seeds})"
    )
    parser.add_argument("--logdir", default="logs", help="parent folder of the runs (default: %(default)s)")
    parser.add_argument(
        "--data", default=None, metavar="CSV",
        help="colour table: name,r,g,b or name,hex, or the Kaggle colours.csv (default: the X11 colours)",
    )
    parser.add_argument("--normalise", action="store_true", help="also train a unit-length variant of each model")
    parser.add_argument(
        "--clusters", action=argparse.BooleanOptionalAction, default=None,
        help='add named clusters of final to each run (a "cluster" column, a bookmark a cluster; default: when '
        'the layouts extra is installed: pip install "projector-export[layouts]")',
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> None:
    """Train the colour models, then print where each run went and how to open them."""
    from training.colours.job import train_colours

    runs = train_colours(
        args.dims,
        pairs=args.pairs,
        epochs=args.epochs,
        seed=args.seed,
        logdir=args.logdir,
        data=args.data,
        normalise=args.normalise,
        clusters=args.clusters,
        verbose=1 if interactive(sys.stdout) and not args.quiet else 2,
    )
    print()
    for colour_run in runs:
        print(f"{colour_run.run_dir}: kNN@10 agreement {colour_run.knn:.3f}, loss {colour_run.loss:.4f}")
        print(f"  projector: {colour_run.projector_dir} ({plural(len(colour_run.export.tensors), 'tensor')})")
        print(f"  scalars:   {colour_run.run_dir}/train")
        for path in colour_run.plots:
            print(f"  plot:      {path}")
        print_clusters(colour_run.clusters)
    # Trained on squared Euclidean distance, the vectors' lengths matter: cosine, which
    # ignores them, gives near-random neighbours (red's nearest by cosine was LawnGreen).
    label = "red" if args.data is None else "NAME"
    print(
        "\nNearest neighbours: the models learnt squared Euclidean distances, so ask for Euclidean ones:\n"
        f"  projector-export neighbours {runs[-1].projector_dir} {label} --metric euclidean\n"
        "  (in the projector: click a colour, then Distance: EUCLIDEAN in the inspector)"
    )
    print(f"\nOpen them with:\n  tensorboard --logdir {args.logdir}")
