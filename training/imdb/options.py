"""`projector-train imdb`: its options, and the command that trains and says where the run went.

TensorFlow is imported only when the command runs (by `training.imdb.job`), so `--help`
answers at once.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from projector_export.console import interactive, plural
from projector_export.reductions import METHOD_NAMES, METHODS
from training.imdb import (
    ACLIMDB_URL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_LEARNING_RATE,
    DEFAULT_TOKEN_DROPOUT,
    DEFAULT_VALIDATION_SPLIT,
    DEFAULT_VOCAB_SIZE,
    SAMPLE_REVIEWS,
    SAMPLE_VOCAB_SIZE,
)
from training.runs import print_clusters
from training.strategies import STRATEGIES

if TYPE_CHECKING:
    from training.imdb.job import ImdbRun

HELP = "IMDB review sentiment over 8k subwords (the TensorFlow notebook's job)"
DESCRIPTION = (
    "Train the notebook's review classifier (Embedding -> average -> Dense -> Dense) on IMDB over "
    "an 8k subword vocabulary, with Keras's TensorBoard logs and the embedding of every epoch "
    "exported, labelled token by token (token, kind, count, sentiment)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `projector-train imdb` to `parser`."""
    parser.add_argument(
        "--epochs", type=int, default=DEFAULT_EPOCHS, metavar="N",
        help="passes over the training reviews (default: %(default)s)",
    )
    parser.add_argument(
        "--learning-rate", type=float, default=DEFAULT_LEARNING_RATE, metavar="R",
        help="Adam's learning rate (default: %(default)s)",
    )
    parser.add_argument(
        "--token-dropout", type=float, default=DEFAULT_TOKEN_DROPOUT, metavar="R",
        help="share of each training review's tokens left out, drawn anew every epoch, against "
        "overfitting; 0 for none, as the notebook (default: %(default)s)",
    )
    parser.add_argument(
        "--patience", type=int, default=None, metavar="N",
        help="stop after N epochs without a better val_accuracy (default: train every epoch); "
        "either way the best epoch is the one kept and exported as final",
    )
    parser.add_argument(
        "--validation-split", type=float, default=DEFAULT_VALIDATION_SPLIT, metavar="F",
        help="share of the training reviews held out to choose the epoch (default: %(default)s); "
        "the test reviews are only scored, once, at the end",
    )
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
        help="reviews per training step, as the notebook (default: %(default)s)",
    )
    parser.add_argument(
        "--logdir", default="logs", help="parent folder of the run imdb/ (or imdb-sample/) (default: %(default)s)"
    )
    data = parser.add_mutually_exclusive_group()
    data.add_argument(
        "--aclimdb", default=None, metavar="PATH",
        help="read the reviews offline from aclImdb_v1.tar.gz or its extracted aclImdb/ folder "
        f"(from {ACLIMDB_URL}) instead of tfds",
    )
    data.add_argument(
        "--data-dir", default=None, metavar="DIR",
        help="tfds data dir holding or receiving imdb_reviews (default: tfds's)",
    )
    data.add_argument(
        "--sample", type=int, nargs="?", const=SAMPLE_REVIEWS, default=None, metavar="N",
        help=f"no download: N generated IMDB-like reviews a split (default N: {SAMPLE_REVIEWS:,}), made up, "
        "not IMDB, into the run imdb-sample/; the whole pipeline in under a minute",
    )
    parser.add_argument(
        "--vocab", default=None, metavar="FILE",
        help="subword vocabulary (a tfds SubwordTextEncoder .subwords file), used as it is; built from the "
        "training reviews and saved there if missing (default: LOGDIR/imdb-vocab<SIZE>.subwords, reused "
        "only for the reviews it was built from)",
    )
    parser.add_argument(
        "--vocab-size", type=int, default=None, metavar="N",
        help=f"target size of a vocabulary that is built (default: {DEFAULT_VOCAB_SIZE}; {SAMPLE_VOCAB_SIZE} "
        "with --sample)",
    )
    parser.add_argument(
        "--strategy", choices=STRATEGIES, default="none",
        help="tf.distribute: mirrored over the local GPUs, or multiworker configured by TF_CONFIG "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--layout", choices=(*METHODS, "none"), default=None,
        help="a layout of every token of final, in the projector's Bookmarks tray (default: umap when "
        'umap-learn is installed: pip install "projector-export[layouts]"; none to skip)',
    )
    parser.add_argument(
        "--clusters", action=argparse.BooleanOptionalAction, default=None,
        help='add named clusters of final\'s tokens (a "cluster" column, a bookmark a cluster; default: when '
        'the layouts extra is installed: pip install "projector-export[layouts]")',
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="starting weights and shuffles (default: %(default)s)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> ImdbRun:
    """Train and export the IMDB model, then print where everything went."""
    from training.imdb.job import train_imdb

    sample = args.sample is not None
    vocab_size = SAMPLE_VOCAB_SIZE if sample else DEFAULT_VOCAB_SIZE
    result = train_imdb(
        epochs=args.epochs,
        batch_size=args.batch_size,
        logdir=args.logdir,
        aclimdb=args.aclimdb,
        data_dir=args.data_dir,
        vocab=args.vocab,
        vocab_size=vocab_size if args.vocab_size is None else args.vocab_size,
        strategy=args.strategy,
        seed=args.seed,
        verbose=1 if interactive(sys.stdout) and not args.quiet else 0,
        validation_split=args.validation_split,
        patience=args.patience,
        learning_rate=args.learning_rate,
        token_dropout=args.token_dropout,
        layout=args.layout,
        sample=args.sample,
        clusters=args.clusters,
    )
    print()
    print(
        f"{result.run_dir}: test_accuracy {result.test_accuracy:.4f} with epoch {result.best_epoch} of "
        f"{len(result.val_accuracy)} (val_accuracy {result.val_accuracy[result.best_epoch - 1]:.4f} on "
        f"{plural(result.held_out, 'held-out review')}), fit {result.fit_seconds:.0f} s on "
        f"{plural(result.replicas, 'replica')}"
    )
    if result.export is None:
        print("  (this worker is not the chief: the chief writes the run)")
        return result
    rows, columns = result.export.shape
    print(
        f"  projector:  {result.projector_dir} ({plural(len(result.export.tensors), 'tensor')} of "
        f"{rows:,} x {columns}: final, the embedding of epoch {result.best_epoch}, and one per epoch)"
    )
    print(f"  metadata:   token, kind, count, sentiment: <pad>, {plural(rows - 257, 'subword')}, 256 bytes")
    for layout in result.layouts:
        print(
            f"  bookmark:   a {layout.dims}-D {METHOD_NAMES[layout.method]} of all {rows:,} tokens of final: "
            "click it in the projector's Bookmarks tray"
        )
    print_clusters(result.clusters)
    print(f"  scalars:    {result.run_dir}/train, {result.run_dir}/validation, {result.run_dir}/test")
    print(f"  vocabulary: {result.vocab_path}")
    if sample:
        print(
            "  (GENERATED reviews, not IMDB: this says the pipeline works, not how good the model is on IMDB; "
            "leave out --sample to train on IMDB itself)"
        )
    print(f"\nOpen them with:\n  tensorboard --logdir {args.logdir}")
    return result
