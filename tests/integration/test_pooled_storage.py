"""The pooled storages remember the schema probes Dagster makes on every run read and every
materialization once their answer is yes, and ask again while it is no; every storage of the
process does (run workers forked from a warmed-up process start knowing the answers). They look
for their tables once per process and database, and inside `shared_pools` (a pooled run worker)
the storages of a kind and database share one pool of connections."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from orchestration.runtime import pooled_storage
from orchestration.runtime.pooled_storage import (
    PooledPostgresEventLogStorage,
    PooledPostgresRunStorage,
    PooledPostgresScheduleStorage,
    check_shared_pools,
    shared_pools,
)
from tests.lake import fresh_database

pytestmark = pytest.mark.integration

Storage = PooledPostgresRunStorage | PooledPostgresEventLogStorage | PooledPostgresScheduleStorage
PROBES: dict[str, tuple[type[Storage], Callable[[Any], bool]]] = {
    "run stats columns": (PooledPostgresRunStorage, lambda s: s.has_run_stats_index_cols()),
    "backfill id column": (PooledPostgresRunStorage, lambda s: s.has_backfill_id_column()),
    "backfill tags table": (PooledPostgresRunStorage, lambda s: s.has_backfill_tags_table()),
    "asset event tags table": (
        PooledPostgresEventLogStorage,
        lambda s: s.has_table("asset_event_tags"),
    ),
    "asset status cache column": (
        PooledPostgresEventLogStorage,
        lambda s: s.has_asset_key_col("cached_status_data"),
    ),
    "instigators table": (PooledPostgresScheduleStorage, lambda s: s.has_instigators_table()),
}


@pytest.fixture
def database(postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # Each test starts with a process that found nothing yet (the answers are process-wide).
    monkeypatch.setattr(pooled_storage, "_FOUND", set())
    # dagster-postgres is written for psycopg2, as dagster.yaml says (runtime/instance.py).
    return fresh_database(postgres_admin_url).replace("postgresql://", "postgresql+psycopg2://", 1)


def counted(storage: Storage) -> list[str]:
    """The statements the storage sends from now on."""
    statements: list[str] = []
    event.listen(storage._engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    return statements


def opened(kind: type[Storage], url: str) -> Iterator[Storage]:
    storage = kind(postgres_url=url)
    try:
        yield storage
    finally:
        storage.dispose()


@pytest.mark.parametrize("name", sorted(PROBES))
def test_a_probe_answered_yes_is_not_asked_again(database: str, name: str) -> None:
    kind, probe = PROBES[name]
    for storage in opened(kind, database):
        assert probe(storage)  # asked now, or already while Dagster set the storage up
        statements = counted(storage)
        for _ in range(3):
            assert probe(storage)
        assert statements == []


@pytest.mark.parametrize("name", sorted(PROBES))
def test_a_later_storage_of_the_same_database_knows_the_answer(database: str, name: str) -> None:
    kind, probe = PROBES[name]
    for first in opened(kind, database):
        assert probe(first)
    for later in opened(kind, database):
        statements = counted(later)
        assert probe(later)
        assert statements == []


def test_a_missing_table_is_asked_for_until_it_exists(database: str) -> None:
    for storage in opened(PooledPostgresEventLogStorage, database):
        assert isinstance(storage, PooledPostgresEventLogStorage)
        statements = counted(storage)
        assert not storage.has_table("made_later")
        asked = len(statements)
        assert not storage.has_table("made_later")
        assert len(statements) > asked
        with psycopg.connect(database.replace("+psycopg2", ""), autocommit=True) as con:
            con.execute("CREATE TABLE made_later (id int)")
        assert storage.has_table("made_later")


@contextmanager
def every_statement() -> Iterator[list[str]]:
    """The statements any engine of the process sends in the block."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


KINDS = [PooledPostgresRunStorage, PooledPostgresEventLogStorage, PooledPostgresScheduleStorage]
# A read each kind of storage answers from its database.
READS: dict[type[Storage], Callable[[Any], object]] = {
    PooledPostgresRunStorage: lambda s: s.get_runs_count(),
    PooledPostgresEventLogStorage: lambda s: s.get_asset_keys(),
    PooledPostgresScheduleStorage: lambda s: s.all_instigator_state(),
}


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_a_later_storage_of_the_same_database_does_not_look_for_its_tables(
    database: str, kind: type[Storage]
) -> None:
    with every_statement() as statements:
        for _ in opened(kind, database):
            pass
    assert any("pg_catalog" in statement for statement in statements)  # created or found
    with every_statement() as statements:
        for _ in opened(kind, database):
            pass
    assert statements == []


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_inside_shared_pools_later_storages_reuse_the_first_ones_connection(
    database: str, kind: type[Storage]
) -> None:
    connections: list[object] = []
    with shared_pools():
        for first in opened(kind, database):
            event.listen(first._engine, "connect", lambda *a: connections.append(a[0]))
            READS[kind](first)
            assert len(connections) == 1
        for later in opened(kind, database):
            assert later._engine is first._engine
            READS[kind](later)
        assert len(connections) == 1
    # The block's end disposed the pool; storages built after it have their own again.
    for alone in opened(kind, database):
        assert alone._engine is not first._engine


def _drop_connections(url: str) -> int:
    """What a restarted server does to every connection to the database."""
    with psycopg.connect(url.replace("+psycopg2", ""), autocommit=True) as admin:
        return len(
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        )


def test_a_shared_pool_whose_connection_the_server_dropped_is_checked_before_a_run(
    database: str,
) -> None:
    with shared_pools():
        for first in opened(PooledPostgresRunStorage, database):
            assert first.get_runs_count() == 0
        assert _drop_connections(database) == 1  # the pool's one kept connection
        check_shared_pools()
        for later in opened(PooledPostgresRunStorage, database):
            assert later.get_runs_count() == 0
        # Unchecked, the next run's first query meets the dropped connection.
        assert _drop_connections(database) == 1
        for unchecked in opened(PooledPostgresRunStorage, database):
            with pytest.raises(DBAPIError):
                unchecked.get_runs_count()
