"""The pooled event log storage remembers the tables it found (Dagster asks before storing every
materialization's tags) and asks again for one it has not found."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from orchestration.runtime.pooled_storage import PooledPostgresEventLogStorage
from tests.lake import fresh_database

pytestmark = pytest.mark.integration


def test_a_found_table_is_remembered_and_a_missing_one_asked_again(
    postgres_admin_url: str,
) -> None:
    url = fresh_database(postgres_admin_url)
    # dagster-postgres is written for psycopg2, as dagster.yaml says (runtime/instance.py).
    storage = PooledPostgresEventLogStorage(
        postgres_url=url.replace("postgresql://", "postgresql+psycopg2://", 1)
    )
    queries: list[str] = []

    def count(*args: Any) -> None:
        queries.append(args[2])  # the statement, as SQLAlchemy sends it

    event.listen(storage._engine, "before_cursor_execute", count)
    try:
        assert storage.has_table("asset_event_tags")
        asked = len(queries)
        assert asked > 0
        assert storage.has_table("asset_event_tags")
        assert len(queries) == asked  # remembered: no second query

        assert not storage.has_table("made_later")
        assert not storage.has_table("made_later")
        assert len(queries) > asked + 1  # a missing table is asked every time
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE TABLE made_later (id int)")
        assert storage.has_table("made_later")
    finally:
        storage.dispose()
