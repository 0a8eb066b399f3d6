"""The run store: every state change of a run is one transaction, guarded by the state it expects.

A run is executed by whoever holds its lease (`claim`); the lease is renewed while it runs and
checked again when the result is written (`finish`), so a second delivery of the same message,
or a queue consumer that lost its lease, can neither start a second solve nor store a second plan.
A run whose execution was lost (its consumer died) in each of its `max_attempts` attempts is poisoned:
the next claim or recovery pass ends it failed instead of starting it again.
PostgreSQL in production; SQLite (one file, writers serialised) as the embedded default.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tasks.errors import RunStateError, UnknownRun
from tasks.store.models import (
    Event,
    Metric,
    PlanVersion,
    Run,
    RunKey,
    RunStatus,
    utcnow,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x5E_9A_1A_17  # any constant: PostgreSQL's advisory lock for schema upgrades


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    message: str
    best_value: float | None = None


def dedupe_key(fingerprint: str, config: dict) -> str:
    """The same instance with the same configuration is the same run."""
    return hashlib.sha256(f"{fingerprint}\n{json.dumps(config, sort_keys=True)}".encode()).hexdigest()


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    # pysqlite's own transaction handling defers BEGIN; take the write lock up front instead, so a
    # read-then-write transaction (dedupe, claim) cannot interleave with another process's.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=60000")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class RunStore:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # an API and consumers starting at once migrate in turn
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def session(self) -> Session:
        return self._session()

    # --- submitting ----------------------------------------------------------------------------

    def create_run(
        self, *, source: str, instance_name: str, fingerprint: str, config: dict, force: bool = False
    ) -> tuple[Run, bool]:
        """A new queued run, or the existing one for the same instance and config (and False).

        A failed or cancelled run is not returned: submitting again makes a new one. `force`
        always makes a new run, which later submissions then get.
        """
        key = dedupe_key(fingerprint, config)
        for attempt in range(3):  # two first submissions of one key race on the key's insert
            try:
                with self.session() as s, s.begin():
                    existing = s.execute(select(RunKey).where(RunKey.key == key).with_for_update()).scalar_one_or_none()
                    if existing is not None and not force:
                        run = s.get(Run, existing.run_id)
                        if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
                            return run, False
                    run = Run(
                        id=str(uuid.uuid4()),
                        status=RunStatus.QUEUED,
                        source=source,
                        instance_name=instance_name,
                        fingerprint=fingerprint,
                        config=config,
                        created_at=utcnow(),
                        attempts=0,
                        cancel_requested=False,
                        pieces_done=0,
                        pieces_total=0,
                    )
                    s.add(run)
                    s.flush()
                    if existing is None:
                        s.add(RunKey(key=key, run_id=run.id))
                    else:
                        existing.run_id = run.id
                    s.add(Event(run_id=run.id, at=utcnow(), kind="submitted", message=f"{source}: {instance_name}"))
                return run, True
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def mark_published(self, run_id: str, epoch: str) -> None:
        """Record which Redis holds the run's message. A hint for recovery: losing it in a crash only
        means one more (harmless) delivery, so PostgreSQL need not wait for the disk."""
        with self.session() as s, s.begin():
            if self.engine.dialect.name == "postgresql":
                s.execute(text("SET LOCAL synchronous_commit TO OFF"))
            s.execute(update(Run).where(Run.id == run_id, Run.status == RunStatus.QUEUED).values(broker_epoch=epoch))

    # --- reading -------------------------------------------------------------------------------

    def get(self, run_id: str) -> Run:
        with self.session() as s:
            run = s.get(Run, run_id)
        if run is None:
            raise UnknownRun(f"no run with id '{run_id}'; `surgeplan runs` lists them")
        return run

    def runs(self, status: RunStatus | None = None, limit: int = 50) -> list[Run]:
        query = select(Run).order_by(Run.created_at.desc()).limit(limit)
        if status:
            query = query.where(Run.status == status)
        with self.session() as s:
            return list(s.execute(query).scalars())

    def events(self, run_id: str) -> list[Event]:
        with self.session() as s:
            return list(s.execute(select(Event).where(Event.run_id == run_id).order_by(Event.id)).scalars())

    def plans(self, run_id: str) -> list[PlanVersion]:
        with self.session() as s:
            return list(
                s.execute(
                    select(PlanVersion).where(PlanVersion.run_id == run_id).order_by(PlanVersion.version)
                ).scalars()
            )

    def metrics(self, run_id: str) -> dict[str, float | None]:
        with self.session() as s:
            return {m.name: m.value for m in s.execute(select(Metric).where(Metric.run_id == run_id)).scalars()}

    def add_event(self, run_id: str, kind: str, message: str) -> None:
        with self.session() as s, s.begin():
            s.add(Event(run_id=run_id, at=utcnow(), kind=kind, message=message))

    # --- executing -----------------------------------------------------------------------------

    def claim(self, run_id: str, owner: str, lease: float, *, max_attempts: int) -> bool:
        """Take the run for execution: it must be queued, or running under a lease that ran out, and have
        started fewer than `max_attempts` executions. One that started them all, each lost, ends failed here
        (in the same transaction) and is not taken."""
        now = utcnow()
        claimable = (
            Run.id == run_id,
            Run.cancel_requested.is_(False),
            or_(Run.status == RunStatus.QUEUED, (Run.status == RunStatus.RUNNING) & (Run.lease_until < now)),
        )
        with self.session() as s, s.begin():
            taken = (
                s.execute(
                    update(Run)
                    .where(*claimable, Run.attempts < max_attempts)
                    .values(
                        status=RunStatus.RUNNING,
                        owner=owner,
                        lease_until=now + timedelta(seconds=lease),
                        attempts=Run.attempts + 1,
                        started_at=now,
                        error=None,
                    )
                ).rowcount
                == 1
            )
            if taken:
                s.add(Event(run_id=run_id, at=now, kind="started", message=f"execution by {owner}"))
                return True
            exhausted = s.execute(
                select(Run).where(*claimable, Run.attempts >= max_attempts).with_for_update()
            ).scalar_one_or_none()
            if exhausted is not None:
                _fail_poisoned(s, exhausted, max_attempts, now)
        return False

    def renew(self, run_id: str, owner: str, lease: float, progress: Progress | None = None) -> bool | None:
        """Extend the lease and record progress. Returns whether a cancel was asked, None if the lease was lost."""
        values: dict = {"lease_until": utcnow() + timedelta(seconds=lease), **_progress_columns(progress)}
        with self.session() as s, s.begin():
            if not _update_if_held(s, run_id, owner, values):
                return None
            return s.get(Run, run_id).cancel_requested

    def finish(
        self,
        run_id: str,
        owner: str,
        status: RunStatus,
        *,
        error: str | None = None,
        plan_path: str | None = None,
        value: float | None = None,
        metrics: dict[str, float | None] | None = None,
        progress: Progress | None = None,
    ) -> bool:
        """End the run (fenced by the lease: an execution that lost it writes nothing). True if written."""
        assert status.terminal
        now = utcnow()
        values: dict = {"status": status, "finished_at": now, "error": error, "lease_until": None}
        values.update(_progress_columns(progress))
        if value is not None:
            values["best_value"] = value
        with self.session() as s, s.begin():
            if not _update_if_held(s, run_id, owner, values):
                return False
            if plan_path is not None:
                version = len(s.execute(select(PlanVersion.id).where(PlanVersion.run_id == run_id)).all()) + 1
                s.add(PlanVersion(run_id=run_id, version=version, path=plan_path, value=value, created_at=now))
            for name, metric in (metrics or {}).items():
                s.add(Metric(run_id=run_id, name=name, value=metric))
            s.add(Event(run_id=run_id, at=now, kind=status, message=error or status))
        return True

    # --- cancelling and recovering ---------------------------------------------------------------

    def request_cancel(self, run_id: str) -> Run:
        """A queued run is cancelled at once; a running one is asked to stop (its queue consumer sees it within a
        heartbeat)."""
        now = utcnow()
        with self.session() as s, s.begin():
            run = s.get(Run, run_id, with_for_update=True)
            if run is None:
                raise UnknownRun(f"no run with id '{run_id}'; `surgeplan runs` lists them")
            if run.status.terminal:
                raise RunStateError(f"run {run_id} is already {run.status}; nothing to cancel")
            run.cancel_requested = True
            if run.status == RunStatus.QUEUED:
                run.status, run.finished_at, run.error = RunStatus.CANCELLED, now, "cancelled before it started"
            s.add(Event(run_id=run_id, at=now, kind="cancel", message=f"cancel requested while {run.status}"))
        return run

    def lost_runs(self, epoch: str, grace: float = 5.0, *, max_attempts: int) -> list[str]:
        """Runs whose message is gone: queued but published to another Redis (it restarted) or not at all,
        or running under a lease that ran out (its queue consumer died). They go back to queued; the caller
        publishes them again. A lost run that was asked to stop is cancelled instead, and one whose consumer
        died in each of its `max_attempts` attempts is failed instead (it would only kill the next one)."""
        now = utcnow()
        settled = now - timedelta(seconds=grace)  # a submission publishes right after it commits
        with self.session() as s, s.begin():
            lost = list(
                s.execute(
                    select(Run)
                    .where(
                        or_(
                            (Run.status == RunStatus.QUEUED)
                            & (Run.created_at < settled)
                            & or_(Run.broker_epoch.is_(None), Run.broker_epoch != epoch),
                            (Run.status == RunStatus.RUNNING) & (Run.lease_until < now),
                        )
                    )
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            requeued = []
            for run in lost:
                was = run.status
                if run.cancel_requested:
                    run.status, run.finished_at, run.error = RunStatus.CANCELLED, now, "cancelled; its worker was lost"
                    s.add(Event(run_id=run.id, at=now, kind=RunStatus.CANCELLED, message=run.error))
                    continue
                if was == RunStatus.RUNNING and run.attempts >= max_attempts:
                    _fail_poisoned(s, run, max_attempts, now)
                    continue
                run.status, run.owner, run.lease_until, run.broker_epoch = RunStatus.QUEUED, None, None, None
                s.add(
                    Event(
                        run_id=run.id,
                        at=now,
                        kind="requeued",
                        message="its worker stopped renewing the lease"
                        if was == RunStatus.RUNNING
                        else "its message was not on the broker (Redis restarted?)",
                    )
                )
                requeued.append(run.id)
        return requeued


def _fail_poisoned(s: Session, run: Run, max_attempts: int, now: datetime) -> None:
    """End a run whose every execution was lost: retrying it would only take down another queue consumer."""
    run.status, run.finished_at, run.owner, run.lease_until = RunStatus.FAILED, now, None, None
    run.error = (
        f"its worker died during each of its {run.attempts} attempts (no heartbeat until the lease ran "
        f"out); not retried again (SURGEPLAN_MAX_RUN_ATTEMPTS={max_attempts}). The run may crash the "
        "solver or exhaust the worker's memory; submitting it again makes a new run"
    )
    s.add(Event(run_id=run.id, at=now, kind=RunStatus.FAILED, message=run.error))


def _progress_columns(progress: Progress | None) -> dict:
    """The run's columns that record progress (none if there is no progress to record)."""
    if progress is None:
        return {}
    return {
        "pieces_done": progress.done,
        "pieces_total": progress.total,
        "message": progress.message[:2000],
        "best_value": progress.best_value,
    }


def _update_if_held(s: Session, run_id: str, owner: str, values: dict) -> bool:
    """Write `values` to the run only while `owner` holds it running (the fence of a lost lease)."""
    held = Run.id == run_id, Run.owner == owner, Run.status == RunStatus.RUNNING
    return s.execute(update(Run).where(*held).values(**values)).rowcount == 1
