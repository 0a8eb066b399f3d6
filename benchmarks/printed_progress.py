"""Progress of a walk on Ray as printed lines, for the benchmarks that fan many runs out as one job."""

from __future__ import annotations

import time

from workers.hooks import WalkHooks


class PrintProgress(WalkHooks):
    """A line each time more pieces are done, with the seconds since `started` (a perf_counter time)."""

    def __init__(self, started: float) -> None:
        self.started, self.shown = started, 0

    def progress(self, done: int, total: int, message: str) -> None:
        if done > self.shown:
            self.shown = done
            print(f"  [{time.perf_counter() - self.started:7.0f} s] {done}/{total} {message}", flush=True)
