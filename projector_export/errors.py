"""The one exception type for what a user of the toolkit did wrong, and its wording on a command line."""

import argparse
import re
from collections.abc import Mapping


class ProjectorExportError(ValueError):
    """Bad input or a broken run: the message says what, where and how to fix it."""


# The fix of most broken runs, ending their messages.
REEXPORT = "export the run again with projector_export.export_embedding(s) or `projector-export export`"


def as_flags(text: str, flags: Mapping[str, str]) -> str:
    """A library message with the parameters it names (`max_rows=10`) as command-line flags (--max-rows 10).

    Library messages name parameters in backticks; a command maps each to its flag.
    """
    if not flags:
        return text
    pattern = re.compile(r"`(" + "|".join(map(re.escape, flags)) + r")=([^`]*)`")
    # A switch (`overwrite=True`) is its flag alone (--force).
    return pattern.sub(lambda m: f"{flags[m[1]]} {'' if m[2] == 'True' else m[2]}".rstrip(), text)


def flags_of(parser: argparse.ArgumentParser, **renamed: str) -> dict[str, str]:
    """The flag of each parameter a command passes on to the library: {parameter: flag}.

    Every option of `parser` and of its subcommands maps its `dest` to its longest
    spelling (`max_rows` to `--max-rows`); `renamed` adds library parameters that a
    command spells otherwise (`overwrite="--force"`).
    """
    found: dict[str, str] = {}
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:  # noqa: SLF001 - argparse keeps its options only here
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                pending.extend(action.choices.values())
            elif action.option_strings and action.dest not in ("help", "verbose"):
                found.setdefault(action.dest, max(action.option_strings, key=len))
    return {**found, **renamed}
