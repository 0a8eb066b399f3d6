"""What a walk on Ray tells its caller, and asks it: one object, each hook a method that does nothing by default.

A caller subclasses `WalkHooks` and overrides what it needs (a queue run's heartbeat and checkpoints,
a progress bar); `ProgressHooks` hands progress and steps to plain functions, for a display.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decomposition.temporal.pieces import Piece, PieceProgress


class WalkHooks:
    """Override what you need; every default does nothing, and the walk is never asked to stop."""

    def step(self, message: str) -> None:
        """A national run starts a step: clustering, the national model, a round of regions, stitching..."""

    def progress(self, done: int, total: int, message: str) -> None:
        """A piece succeeded, failed or is retried; `done` of the `total` pieces have succeeded."""

    def should_stop(self) -> bool:
        """Polled while pieces run: true cancels every running piece and raises RunStopped."""
        return False

    def piece_done(self, run: int, piece: Piece, summary: dict) -> None:
        """A piece of run `run` (its index in the walk's jobs) succeeded: `summary` has its status, its
        seconds, and its value when the piece has one."""

    def window_done(self, run: int, piece: Piece, result: Any) -> None:
        """A window piece solved by this walk (not one reused), with its result: for a caller to checkpoint.

        Only hooks that override this get the windows' results fetched from Ray to the driver."""

    def hears_windows(self) -> bool:
        """Whether `window_done` is overridden, and so the windows' results are worth fetching."""
        return type(self).window_done is not WalkHooks.window_done


NO_HOOKS = WalkHooks()  # what a walk nobody listens to is given: it has no state, so one serves every walk


class ProgressHooks(WalkHooks):
    """Progress, and steps, handed to plain functions (a progress bar, a print); what is not given does nothing."""

    def __init__(self, progress: PieceProgress | None = None, step: Callable[[str], None] | None = None):
        self._progress, self._step = progress, step

    def progress(self, done: int, total: int, message: str) -> None:
        if self._progress is not None:
            self._progress(done, total, message)

    def step(self, message: str) -> None:
        if self._step is not None:
            self._step(message)
