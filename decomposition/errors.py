"""The errors of the mathematics: every error the product raises derives from `SurgeplanError`.

The workers' errors are in `workers.errors`, the edges' (settings, store, output) in `tasks.errors`; the
CLI maps error classes to exit codes in one table, the API to HTTP status codes in another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decomposition.evaluation.evaluator import Evaluation


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


class PlanRejected(SurgeplanError):
    """The evaluator found violated constraints in a plan the solver returned."""

    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation
        first = evaluation.violations[0]
        super().__init__(
            f"the solver's plan violates {len(evaluation.violations)} constraint(s), first: "
            f"{first.constraint} {first.detail}; the plan was not returned"
        )
