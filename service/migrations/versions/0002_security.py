"""Security and durability: REPLACE refused, write heartbeat, key expiry, web sessions, idempotency.

- SQLite: ``INSERT OR REPLACE`` / ``REPLACE INTO`` on ``assessments`` deleted the stored row
  without firing the DELETE trigger (SQLite fires DELETE triggers for REPLACE only with
  ``PRAGMA recursive_triggers``), so a stored "refer" could be rewritten as "approve". A
  ``BEFORE INSERT`` trigger now aborts any insert whose id is already stored, before the
  conflict resolution runs. (PostgreSQL has no REPLACE; ``INSERT ... ON CONFLICT DO UPDATE``
  fires the statement-level UPDATE trigger of revision 0001 and is refused.)
- ``store_heartbeat``: the health check writes a row here in a transaction it rolls back, so
  that health proves the database takes writes, not only reads.
- ``api_keys.expires_at``: keys may expire.
- ``web_sessions``: a signed-in web session, ended server-side at logout.
- ``idempotency_keys``: ``Idempotency-Key`` of ``POST /api/v1/assessments`` per API key, with
  the sha256 of the request and the assessment it made; append-only like the assessments.
- ``model_card_pins``: the sha256 (and JSON) of each model card the first time the service
  used it in production; a card edited afterwards (even with its own hash recomputed) is
  refused, and the pinned JSON is the last good card to fall back on. Append-only.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_APPEND_ONLY = "assessments are append-only: audit records cannot be changed or deleted"
_IDEMPOTENCY = "idempotency keys are append-only: they cannot be changed or deleted"
_PINS = "model card pins are append-only: they cannot be changed or deleted"


def upgrade() -> None:
    """Add the trigger, the tables and the column."""
    dialect = op.get_bind().dialect.name
    op.create_table(
        "store_heartbeat",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("api_key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("api_key_id", sa.String(32), sa.ForeignKey("api_keys.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("assessment_id", sa.String(64), sa.ForeignKey("assessments.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "model_card_pins",
        sa.Column("card_id", sa.String(64), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("card_json", sa.Text, nullable=False),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
    )
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER model_card_pins_no_{action.lower()} BEFORE {action} "
                f"ON model_card_pins BEGIN SELECT RAISE(ABORT, '{_PINS}'); END"
            )
        op.execute(
            "CREATE TRIGGER model_card_pins_no_replace BEFORE INSERT ON model_card_pins "
            "WHEN EXISTS (SELECT 1 FROM model_card_pins WHERE card_id = NEW.card_id) "
            f"BEGIN SELECT RAISE(ABORT, '{_PINS}'); END"
        )
        op.execute(
            "CREATE TRIGGER assessments_no_replace BEFORE INSERT ON assessments "
            "WHEN EXISTS (SELECT 1 FROM assessments WHERE id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
        )
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER idempotency_keys_no_{action.lower()} BEFORE {action} "
                f"ON idempotency_keys BEGIN SELECT RAISE(ABORT, '{_IDEMPOTENCY}'); END"
            )
        op.execute(
            "CREATE TRIGGER idempotency_keys_no_replace BEFORE INSERT ON idempotency_keys "
            "WHEN EXISTS (SELECT 1 FROM idempotency_keys "
            "WHERE api_key_id = NEW.api_key_id AND key = NEW.key) "
            f"BEGIN SELECT RAISE(ABORT, '{_IDEMPOTENCY}'); END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION model_card_pins_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_PINS}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER model_card_pins_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON model_card_pins FOR EACH STATEMENT EXECUTE FUNCTION model_card_pins_append_only()"
        )
        op.execute(
            "CREATE FUNCTION idempotency_keys_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_IDEMPOTENCY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER idempotency_keys_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON idempotency_keys FOR EACH STATEMENT EXECUTE FUNCTION idempotency_keys_append_only()"
        )


def downgrade() -> None:
    """Drop everything this revision created."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS assessments_no_replace")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS model_card_pins_append_only ON model_card_pins")
        op.execute("DROP FUNCTION IF EXISTS model_card_pins_append_only()")
        op.execute("DROP TRIGGER IF EXISTS idempotency_keys_append_only ON idempotency_keys")
        op.execute("DROP FUNCTION IF EXISTS idempotency_keys_append_only()")
    op.drop_table("model_card_pins")
    op.drop_table("idempotency_keys")
    op.drop_table("web_sessions")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("expires_at")
    op.drop_table("store_heartbeat")
