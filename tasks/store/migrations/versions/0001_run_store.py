"""The run store: runs, dedupe keys, plan versions, metrics, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIME = sa.DateTime()  # naive UTC


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("instance_name", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False, index=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("started_at", TIME),
        sa.Column("finished_at", TIME),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("lease_until", TIME),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("broker_epoch", sa.String(64)),
        sa.Column("pieces_done", sa.Integer, nullable=False),
        sa.Column("pieces_total", sa.Integer, nullable=False),
        sa.Column("best_value", sa.Float),
        sa.Column("message", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "run_keys",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), nullable=False),
    )
    op.create_table(
        "plan_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.UniqueConstraint("run_id", "version"),
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Float),
        sa.UniqueConstraint("run_id", "name"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("events", "metrics", "plan_versions", "run_keys", "runs"):
        op.drop_table(table)
