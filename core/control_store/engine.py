"""The control store's engine: SQLite pragmas, the schema, and the one column upgrade.

Both the API and the Dagster sensor (and `oliai` commands) open the same store, so every
opener goes through `create_control_engine`: the same WAL and durability settings, and a
store created before a column existed is upgraded by whichever process opens it first.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.control_store.tables import imports, metadata


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a 202 must survive a power cut too
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_control_engine(url: str) -> Engine:
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _configure_sqlite)
    metadata.create_all(engine)
    _add_submit_claim_column(engine)
    return engine


def _has_submit_claim_column(engine: Engine) -> bool:
    return any(
        column["name"] == "submit_claimed_until"
        for column in sa.inspect(engine).get_columns("imports")
    )


def _add_submit_claim_column(engine: Engine) -> None:
    # `create_all` creates missing tables, never missing columns, and control stores made
    # before submission leases still hold imports to submit: the one upgrade this store has
    # needed, so it is done here rather than with a migration tool.
    if _has_submit_claim_column(engine):
        return
    column_type = imports.c.submit_claimed_until.type.compile(dialect=engine.dialect)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(f"ALTER TABLE imports ADD COLUMN submit_claimed_until {column_type}")
            )
    except sa.exc.DBAPIError:
        # Another API process starting at the same moment added it first.
        if not _has_submit_claim_column(engine):
            raise
