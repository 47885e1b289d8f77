"""The `projector-export` command. Thin: parse, call the library, say where things went.

TensorFlow is imported only inside the commands, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="projector-export",
        description="Export embeddings for TensorBoard's Embedding Projector and check log dirs.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "validate",
        help="check every projector run under LOGDIR the way TensorBoard reads it",
        description="Check every projector run under LOGDIR the way TensorBoard reads it. "
        "Prints each problem with its run, tensor and fix; exits 1 when there is any.",
    )
    check.add_argument("logdir", metavar="LOGDIR")
    check.set_defaults(handler=_validate)

    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    return args.handler(args)


def _validate(args: argparse.Namespace) -> int:
    from projector_export.validate import validate

    report = validate(args.logdir)
    print(report)
    if report.ok and report.runs:
        print(f"open them with: tensorboard --logdir {args.logdir}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
