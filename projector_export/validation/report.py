"""What `validate` reports: a problem of a run with its fix, and the report of a whole log dir."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing that stops the projector from showing a run correctly."""

    run: str | None  # None: the log dir itself
    tensor: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        if self.run is None:
            return f"{self.message}\n  fix: {self.fix}"
        where = f"run {self.run!r}" + (f", tensor {self.tensor!r}" if self.tensor else "")
        return f"{where}: {self.message}\n  fix: {self.fix}"


@dataclass
class ValidationReport:
    """What `validate` found: the projector runs it checked and their problems."""

    logdir: str
    runs: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [str(problem) for problem in self.problems] + [f"note: {note}" for note in self.notes]
        lines.append(
            f"{_count(len(self.runs), 'projector run')} checked in {self.logdir}: "
            + ("all good" if self.ok else _count(len(self.problems), "problem"))
        )
        return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
