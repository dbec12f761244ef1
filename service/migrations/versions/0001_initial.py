"""Audit store, first schema: API keys and append-only assessments.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY = "assessments are append-only: audit records cannot be changed or deleted"


def upgrade() -> None:
    """Create the tables and the triggers that refuse UPDATE and DELETE on assessments."""
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('officer', 'modeller', 'admin')", name="ck_api_keys_role"),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("api_key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("technology", sa.String(16), nullable=False),
        sa.Column("site_lat", sa.Float, nullable=False),
        sa.Column("site_lon", sa.Float, nullable=False),
        sa.Column("site_name", sa.String(200), nullable=True),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("policy_version", sa.String(50), nullable=False),
        sa.Column("model_versions", sa.Text, nullable=False),
        sa.Column("code_version", sa.String(100), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("response_json", sa.Text, nullable=False),
        sa.CheckConstraint(
            "decision IN ('approve', 'refer', 'decline')", name="ck_assessments_decision"
        ),
    )
    op.create_index("ix_assessments_created_at", "assessments", ["created_at"])
    op.create_index("ix_assessments_decision", "assessments", ["decision"])

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER assessments_no_{action.lower()} BEFORE {action} ON assessments "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION assessments_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER assessments_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON assessments FOR EACH STATEMENT EXECUTE FUNCTION assessments_append_only()"
        )


def downgrade() -> None:
    """Drop everything this revision created."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS assessments_append_only ON assessments")
        op.execute("DROP FUNCTION IF EXISTS assessments_append_only()")
    op.drop_index("ix_assessments_decision", table_name="assessments")
    op.drop_index("ix_assessments_created_at", table_name="assessments")
    op.drop_table("assessments")
    op.drop_table("api_keys")
