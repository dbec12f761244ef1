"""Alembic environment of the audit store.

Run programmatically by :meth:`service.store.AuditStore.migrate`, which passes an open
connection in ``config.attributes["connection"]``. On PostgreSQL a transaction-scoped advisory
lock serialises concurrent upgrades (several workers or hosts starting at once).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from service.store import metadata

#: Arbitrary constant naming the migration lock ("CLR" in ASCII).
_ADVISORY_LOCK_ID = 0x434C52


def run_migrations_online() -> None:
    """Run the migrations on the connection given by the caller."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through service.store.AuditStore.migrate()")
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
