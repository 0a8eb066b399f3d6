"""The errors a walk on Ray raises: every one derives from `decomposition.errors.SurgeplanError`.

Light to import (Ray is imported only to name a Ray error): the CLI maps these classes to exit codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from decomposition.errors import SurgeplanError

if TYPE_CHECKING:
    from decomposition.temporal.pieces import Piece


class RunStopped(SurgeplanError):
    """The caller asked the walk to stop (a cancel, a deadline); the running pieces were cancelled."""


class PieceFailed(SurgeplanError):
    """A piece raised on every attempt; the run cannot be completed."""

    def __init__(self, piece: Piece, attempts: int, cause: BaseException):
        self.piece, self.attempts, self.cause = piece, attempts, cause
        super().__init__(f"piece '{piece.id}' failed {attempts} time(s); last error: {root_cause(cause)}")


def root_cause(error: BaseException) -> str:
    """The piece's own exception behind Ray's wrapper, or Ray's own error (a dead worker) by name."""
    cause = getattr(error, "cause", None)
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    lines = str(error).strip().splitlines() or [""]
    from ray.exceptions import RayError  # loaded already: the error came from a walk on Ray

    return f"{type(error).__name__}: {lines[-1]}" if isinstance(error, RayError) else lines[-1]
