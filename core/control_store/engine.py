"""The control store's engine: schema `control` on the PostgreSQL server the lake's catalog uses.

The API (each replica), the Dagster sensor and `oliai` commands all open the same store, so every
opener goes through `create_control_engine`, and whichever opens it first creates the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.control_store.tables import metadata

SCHEMA = "control"


def create_control_engine(postgres_url: str) -> Engine:
    """An engine on `postgres_url` (a libpq URL: the private server's or an external one) whose
    connections see schema `control` first, created with its tables if missing."""
    url = sa.make_url(postgres_url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(
        url,
        connect_args={"options": f"-csearch_path={SCHEMA} -ctimezone=UTC"},
        # A restarted server leaves dead connections in the pool: test them before use.
        pool_pre_ping=True,
    )
    _create_schema(engine)
    return engine


def _create_schema(engine: Engine) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            metadata.create_all(conn)
    except sa.exc.IntegrityError:
        # Two processes creating it at the same moment: IF NOT EXISTS does not serialize
        # them, and the loser's unique violation means the winner's schema is there.
        with engine.begin() as conn:
            metadata.create_all(conn)
