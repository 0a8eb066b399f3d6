"""What the API and the CLI do with runs: submit, look up, cancel, fetch the plan.

Both go through this one place, so a run submitted over HTTP and one submitted from a terminal are
stored, deduplicated and queued the same way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from tasks.errors import RunStateError, UnknownTable
from tasks.national_options import NATIONAL_TABLES
from tasks.queue.celery_app import Broker
from tasks.settings import Settings
from tasks.store.models import Run
from tasks.store.run_store import RunStore
from tasks.store.status import RunStatus
from tasks.submission import RunRequest, create_run

PLAN_TABLES = ("shipments", "shares", "stock", "baseline_shares", "baseline_stock", "pieces")
# every table some run may have: a national run has NATIONAL_TABLES, any other PLAN_TABLES (pieces if decomposed)
TABLES = tuple(dict.fromkeys(PLAN_TABLES + NATIONAL_TABLES))


def utc(at: datetime | None) -> datetime | None:
    """A stored time (naive UTC) as an aware one: shown with its offset, as RFC 3339 (OpenAPI's date-time) wants."""
    return at if at is None or at.tzinfo is not None else at.replace(tzinfo=UTC)


class RunView(BaseModel):
    """A run as the API and `surgeplan status` show it."""

    id: str
    status: RunStatus
    source: str
    instance: str
    config: dict
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    pieces_done: int
    pieces_total: int
    best_value: float | None
    message: str | None
    error: str | None
    cancel_requested: bool

    @classmethod
    def of(cls, run: Run) -> RunView:
        return cls(
            id=run.id,
            status=run.status,
            source=run.source,
            instance=run.instance_name,
            config=run.config,
            created_at=utc(run.created_at),
            started_at=utc(run.started_at),
            finished_at=utc(run.finished_at),
            attempts=run.attempts,
            pieces_done=run.pieces_done,
            pieces_total=run.pieces_total,
            best_value=run.best_value,
            message=run.message,
            error=run.error,
            cancel_requested=run.cancel_requested,
        )


class Submitted(RunView):
    created: bool  # False: the same instance and config already had this run
    published: bool  # False: Redis was unreachable; a queue consumer's recovery pass queues it once Redis is back


class Backend:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = RunStore(settings.database_url)
        self.store.migrate()
        self.broker = Broker(settings, self.store)

    def submit(self, request: RunRequest) -> Submitted:
        run, created = create_run(request, self.settings, self.store)
        published = self.broker.publish(run.id) if created else True
        return Submitted(**RunView.of(run).model_dump(), created=created, published=published)

    def view(self, run_id: str) -> RunView:
        return RunView.of(self.store.get(run_id))

    def runs(self, status: RunStatus | None = None, limit: int = 50) -> list[RunView]:
        return [RunView.of(r) for r in self.store.runs(status, limit)]

    def cancel(self, run_id: str) -> RunView:
        return RunView.of(self.store.request_cancel(run_id))

    def plan_dir(self, run_id: str) -> Path:
        """The directory of the run's newest plan; RunStateError while there is none."""
        run = self.store.get(run_id)
        plans = self.store.plans(run_id)
        if run.status != RunStatus.SUCCEEDED or not plans:
            detail = f": {run.error}" if run.error else ""
            yet = "" if run.status.terminal else " yet"
            raise RunStateError(f"run {run_id} is {run.status}{detail}; it has no plan{yet}")
        return Path(plans[-1].path)

    def summary(self, run_id: str) -> dict:
        return json.loads((self.plan_dir(run_id) / "summary.json").read_text())

    def table_path(self, run_id: str, table: str) -> Path:
        """The Parquet file of one of the run's tables; UnknownTable naming those it has if it has no such one."""
        plan = self.plan_dir(run_id)
        path = plan / f"{table}.parquet"
        if table not in TABLES or not path.exists():
            has = sorted(p.stem for p in plan.glob("*.parquet"))
            kind = "national run" if (plan / "national_flows.parquet").exists() else "run"
            raise UnknownTable(f"{kind} {run_id} has no table '{table}'; its tables: {', '.join(has)}")
        return path
