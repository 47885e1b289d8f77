"""`projector-train`: train an example embedding and export it for TensorBoard's projector.

A registry of the model commands: each model's TensorFlow-free `options` module adds its
arguments and runs the command (importing TensorFlow only then), so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence

from projector_export.console import quiet_tensorflow
from projector_export.errors import ProjectorExportError, as_flags, flags_of
from training.colours import options as colours
from training.imdb import options as imdb

COMMANDS = {"colours": colours, "imdb": imdb}
_TOP_LEVEL = ("-h", "--help", "--verbose")  # the options of projector-train itself


def build_parser() -> argparse.ArgumentParser:
    """The `projector-train` parser; each subcommand sets `command` to its `run`."""
    parser = argparse.ArgumentParser(
        prog="projector-train",
        description="Train an example embedding and export it for TensorBoard's Embedding Projector.",
    )
    parser.add_argument(
        "--verbose", action="store_true",
        help="show TensorFlow's native log lines too (or set PROJECTOR_EXPORT_VERBOSE=1)",
    )
    commands = parser.add_subparsers(dest="name", metavar="COMMAND", required=True)
    for name, options in COMMANDS.items():
        command = commands.add_parser(name, help=options.HELP, description=options.DESCRIPTION)
        options.add_arguments(command)
        command.set_defaults(command=options.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `projector-train`; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    misplaced = _misplaced_options(argv)
    if misplaced:
        parser.error(misplaced)
    args = parser.parse_args(argv)
    flags = flags_of(parser)
    quiet_tensorflow(args.verbose)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    for package in ("training", "projector_export"):
        logging.getLogger(package).setLevel(logging.INFO)
    try:
        args.command(args)
    except (ProjectorExportError, OSError) as error:
        # What the user can fix (bad input, no data, a full disk): one line, exit 1.
        message = as_flags(" ".join(str(error).split()), flags)
        print(f"projector-train {args.name}: error: {message}", file=sys.stderr)
        return 1
    except MemoryError:
        print(
            f"projector-train {args.name}: error: out of memory; ask for less (fewer pairs, a smaller batch "
            "or vocabulary)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"projector-train {args.name}: interrupted", file=sys.stderr)
        return 130
    return 0


def _misplaced_options(argv: list[str]) -> str | None:
    """What to say when a model's options come before its name (`--epochs 3 colours`) or
    without one (`--epochs 3`), which argparse takes for a model named `3`; else None."""
    top = [word for word in argv if word in _TOP_LEVEL]
    for at, word in enumerate(argv):
        if word == "--":
            return None
        if word in COMMANDS:
            misplaced = [option for option in argv[:at] if option not in _TOP_LEVEL]
            if not misplaced:
                return None
            fixed = [*top, word, *misplaced, *argv[at + 1 :]]
            return f"options go after the model name: projector-train {shlex.join(fixed)}"
    options = [word for word in argv if word not in _TOP_LEVEL]
    if options and options[0].startswith("-"):
        fixed = [*top, next(iter(COMMANDS)), *options]
        return (
            f"name the model first, its options after it: projector-train {shlex.join(fixed)} "
            f"(models: {', '.join(COMMANDS)})"
        )
    return None


if __name__ == "__main__":
    sys.exit(main())
