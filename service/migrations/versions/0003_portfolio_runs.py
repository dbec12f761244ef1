"""Portfolio runs: a loan book queued for a worker, its progress and its result; append-only.

- ``portfolio_runs``: one row per run (owner key, book as validated JSON rows, paths, seed,
  NPL tolerance, the cube's sha256), written once when the run is accepted.
- ``portfolio_run_events``: the run's state as a log, ``(run_id, seq)`` unique: ``queued``
  (seq 0, by the API), ``running`` (the worker that inserts seq 1 owns the run; later
  ``running`` rows carry progress), then ``done`` with the result or ``failed`` with the
  reason. The latest row is the state; nothing is ever updated.
- ``portfolio_run_loans``: each loan of a run and the assessment stored for it (a normal
  row of ``assessments``), or the error that kept it from being assessed.

All three refuse UPDATE and DELETE (and, on SQLite, an INSERT OR REPLACE of a stored row),
like the assessments.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_MESSAGE = "portfolio runs are append-only: they cannot be changed or deleted"
#: Table -> the columns of its primary key (for the SQLite REPLACE guard).
_TABLES = {
    "portfolio_runs": ("id",),
    "portfolio_run_events": ("run_id", "seq"),
    "portfolio_run_loans": ("run_id", "loan_id"),
}


def upgrade() -> None:
    """Create the tables and their append-only triggers."""
    dialect = op.get_bind().dialect.name
    op.create_table(
        "portfolio_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("api_key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("n_loans", sa.Integer, nullable=False),
        sa.Column("n_paths", sa.Integer, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("npl_tolerance_pct", sa.Float, nullable=False),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("book_json", sa.Text, nullable=False),
    )
    op.create_index("ix_portfolio_runs_api_key_id", "portfolio_runs", ["api_key_id"])
    op.create_table(
        "portfolio_run_events",
        sa.Column("run_id", sa.String(64), sa.ForeignKey("portfolio_runs.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("loans_done", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("result_json", sa.Text, nullable=True),
    )
    op.create_table(
        "portfolio_run_loans",
        sa.Column("run_id", sa.String(64), sa.ForeignKey("portfolio_runs.id"), primary_key=True),
        sa.Column("loan_id", sa.String(64), primary_key=True),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("assessment_id", sa.String(64), sa.ForeignKey("assessments.id"), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    if dialect == "sqlite":
        for table, key in _TABLES.items():
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
                )
            same = " AND ".join(f"{c} = NEW.{c}" for c in key)
            op.execute(
                f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {same}) "
                f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION portfolio_runs_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_MESSAGE}'; END $$"
        )
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION portfolio_runs_append_only()"
            )


def downgrade() -> None:
    """Drop the tables (and their triggers)."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS portfolio_runs_append_only()")
    for table in reversed(list(_TABLES)):
        op.drop_table(table)
