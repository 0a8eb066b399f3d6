"""The run store: its tables, every state change of a run as one transaction, and the migrations."""

from tasks.store.models import TERMINAL, Base, Run
from tasks.store.run_store import Progress, RunStore

__all__ = ["Base", "Progress", "Run", "RunStore", "TERMINAL"]
