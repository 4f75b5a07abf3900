"""Problems found in the input, always tied to a file and a line."""

import os
from dataclasses import dataclass

import click


def display(path):
    """A path for messages: relative to the working directory unless that climbs too far."""
    rel = os.path.relpath(path)
    return rel if rel.count("..") <= 3 else str(path)


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int | None
    message: str

    def __str__(self):
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class InputError(Exception):
    """Bad input: one or more problems, each with its file and line. The build stops on it."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Report:
    """Collects errors (which stop the build) and warnings (which are counted and shown)."""

    def __init__(self):
        self.errors: list[Problem] = []
        self.warnings: list[tuple[str, Problem]] = []

    def error(self, path, line, message):
        self.errors.append(Problem(str(path), line, message))

    def warn(self, kind, path, line, message):
        self.warnings.append((kind, Problem(str(path), line, message)))

    def extend(self, other):
        """Add another report's problems after these (a worker's, in the order the build reads the files; None
        stands for a report with none)."""
        if other is not None:
            self.errors += other.errors
            self.warnings += other.warnings

    def __bool__(self):
        return bool(self.errors or self.warnings)

    def raise_errors(self):
        if self.errors:
            raise InputError(self.errors)


class OutputError(click.ClickException):
    """A command could not write its output, or refused to: the message says why, and that nothing was changed.

    A ClickException, so every command reports it as ``Error: ...`` with exit code 1 and no traceback."""
