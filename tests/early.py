"""Early jobs: the commands of the tests marked `@pytest.mark.early("BUILDER")`, run in the
background from the session's start (`conftest.early_jobs` finds them and starts an `EarlyJobs`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest


class Command:
    """A command an early job runs: `argv` in `cwd` with `env` (this process's by default; a
    function is called as the command starts, for ports chosen at the last moment), to its end,
    or with `until` until a line of its stderr matches and then killed (its stdout then goes
    unread, to /dev/null: a pipe nobody drains would stall it once full)."""

    def __init__(self, argv: list[str], cwd=None, env=None, until: re.Pattern | None = None):
        self.argv, self.cwd, self.env, self.until = argv, cwd, env, until


def python_here(*argv: str, cwd=None) -> Command:
    """`python ARGV` importing the package and the tests' modules as this process does."""
    return Command([sys.executable, *argv], cwd=cwd, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))


class Ran:
    """What a command printed and how it ended; `found`: whether its `until` pattern showed."""

    def __init__(self, returncode: int, stdout: str, stderr: str, found: bool):
        self.returncode, self.stdout, self.stderr, self.found = returncode, stdout, stderr, found


def run_command(command: Command, children: list | None = None, timeout: float = 600) -> Ran:
    """Run `command` (see `Command`), each child it starts added to `children`."""
    env = command.env() if callable(command.env) else command.env
    child = subprocess.Popen(command.argv, cwd=command.cwd, env=env, text=True, stderr=subprocess.PIPE,
                             stdout=subprocess.PIPE if command.until is None else subprocess.DEVNULL)
    if children is not None:
        children.append(child)
    timer = threading.Timer(timeout, child.kill)  # a hung command fails its test rather than the suite
    timer.start()
    try:
        if command.until is None:
            stdout, stderr = child.communicate()
            return Ran(child.returncode, stdout, stderr, False)
        lines, found = [], False
        for line in child.stderr:
            lines.append(line)
            if command.until.search(line):
                found = True
                break
        child.kill()
        _, rest = child.communicate()
        return Ran(child.returncode, "", "".join(lines) + rest, found)
    finally:
        timer.cancel()


class EarlyJobs:
    """The commands of tests marked `early`, run one job at a time in a background thread from
    the session's start, in the order of the tests, while other tests go on (see `conftest.early_jobs`).
    The thread only starts and waits for processes: it imports nothing."""

    def __init__(self, jobs: list[tuple[str, list[Command] | BaseException, Path]]):
        self.jobs = jobs
        self.results: dict[str, list[Ran] | BaseException] = {}
        self.finished = threading.Condition()
        self.stopping = False
        self.children: list[subprocess.Popen] = []
        self.thread = threading.Thread(target=self._run_all, daemon=True)
        self.thread.start()

    def _run_all(self) -> None:
        for name, commands, _ in self.jobs:
            if self.stopping:
                return
            outcome = commands
            if not isinstance(commands, BaseException):
                results = [None] * len(commands)

                def run(index: int) -> None:
                    try:
                        results[index] = run_command(commands[index], self.children)
                    except BaseException as error:  # noqa: BLE001 - handed to the test that reads the job
                        results[index] = error

                threads = [threading.Thread(target=run, args=(index,)) for index in range(len(commands))]
                for thread in threads:  # a job's commands run side by side
                    thread.start()
                for thread in threads:
                    thread.join()
                failed = [result for result in results if isinstance(result, BaseException)]
                outcome = failed[0] if failed else results
            with self.finished:
                self.results[name] = outcome
                self.finished.notify_all()

    def folder(self, name: str) -> Path:
        """Where the job writes (a server can be started on it before the job ends)."""
        return next(folder for job, _, folder in self.jobs if job == name)

    def wait(self, name: str, timeout: float = 1200) -> tuple[Path, list[Ran]]:
        folder = self.folder(name)
        with self.finished:
            if not self.finished.wait_for(lambda: name in self.results, timeout=timeout):
                pytest.fail(f"the early job {name} did not end in {timeout} s")
        outcome = self.results[name]
        if isinstance(outcome, BaseException):
            raise outcome
        return folder, outcome
