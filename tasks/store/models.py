"""The run store's tables: runs, the dedupe keys that point at them, plan versions, metrics, events.

The schema is created and upgraded by Alembic (tasks/store/migrations); these classes are what the
code reads and writes. Times are naive UTC (SQLite keeps no time zones; PostgreSQL then agrees).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tasks.store.status import RunStatus


class StatusColumn(TypeDecorator):
    """`runs.status`: stored as its text (a plain VARCHAR, as the migrations made it), read back as a RunStatus."""

    impl = String(16)
    cache_ok = True

    def process_result_value(self, value: str | None, dialect) -> RunStatus | None:
        return None if value is None else RunStatus(value)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[RunStatus] = mapped_column(StatusColumn, index=True)
    source: Mapped[str] = mapped_column(String(200))  # the dataset named, or "upload"
    instance_name: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the canonical instance
    config: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # executions started: a lost execution's run starts again, up to SURGEPLAN_MAX_RUN_ATTEMPTS times in all
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(200))  # the execution holding the lease
    lease_until: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    broker_epoch: Mapped[str | None] = mapped_column(String(64))  # Redis run_id its message was published to
    pieces_done: Mapped[int] = mapped_column(Integer, default=0)
    pieces_total: Mapped[int] = mapped_column(Integer, default=0)
    best_value: Mapped[float | None] = mapped_column(Float)  # best checked plan value known so far
    message: Mapped[str | None] = mapped_column(Text)  # the last progress line
    error: Mapped[str | None] = mapped_column(Text)


class RunKey(Base):
    """Instance fingerprint + config -> the run that answers it (a resubmission returns that run)."""

    __tablename__ = "run_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))


class PlanVersion(Base):
    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("run_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)  # directory of the Parquet tables and summary.json
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Metric(Base):
    __tablename__ = "metrics"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
