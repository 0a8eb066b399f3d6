"""Errors of our own, carrying where the problem is, so the CLI can answer with exit code 2."""

from __future__ import annotations


def shortened(text: str, limit: int = 60) -> str:
    """A value as quoted in a message: a 400-digit number or a long id is cut, not echoed whole."""
    return text if len(text) <= limit else f"{text[: limit - 20]}...{text[-10:]} ({len(text)} characters)"


class SurgeplanError(Exception):
    """Base class: every error a user can cause and fix."""


class InstanceError(SurgeplanError):
    """Bad instance data: names the source (file or dataset), the row and the field."""

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        row: int | None = None,
        field: str | None = None,
        value: object = None,
    ):
        self.problem = problem
        self.source = source
        self.row = row
        self.field = field
        self.value = value
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.source:
            where.append(str(self.source))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.problem}" if prefix else self.problem


class SolverError(SurgeplanError):
    """The solver could not be run or returned no usable plan."""
