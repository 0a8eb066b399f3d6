"""The run store: its tables, every state change of a run as one transaction, and the migrations."""

from tasks.store.models import TERMINAL, Base, Run
from tasks.store.run_store import Progress, RunStateError, RunStore, UnknownRun

__all__ = ["Base", "Progress", "Run", "RunStateError", "RunStore", "TERMINAL", "UnknownRun"]
