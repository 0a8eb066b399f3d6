"""Where a run is, as one enum: the store, the API's query parameter and the CLI's --status all use it.

Kept apart from the tables (no SQLAlchemy here) so that the CLI, which types an option by it, starts fast.
"""

from __future__ import annotations

from enum import StrEnum


# A StrEnum: a member is its text (equal to it, and str() of it), as stored in `runs.status` and sent in JSON, so it
# reads as that text in messages, logs and the CLI. (The docstring is the API's description of the field.)
class RunStatus(StrEnum):
    """Where a run is: queued -> running -> succeeded | failed | cancelled; a lost execution's run is queued again."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """The run will not change again."""
        return self in TERMINAL


TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
