"""dagster-postgres's storages, holding their connections in a small pool in every process.

dagster-postgres opens a new connection for every query (SQLAlchemy's NullPool) except in the
webserver, which calls `optimize_for_webserver`. On the private server a connection costs ~8 ms
(a backend process forked, authentication), and a status read or a run's event log makes dozens:
measured, `GET /status` took 98 ms instead of 16 ms on SQLite. These classes make that same call
as they are built, in the API, the daemon and each run worker alike: one connection kept, more
opened under load (`MAX_OVERFLOW`), none older than `POOL_RECYCLE_S`. A forked run worker shares
none with the forkserver, which disposes the instance it warmed up; a run worker's storages are
new for each run, and share one pool per kind between its runs (`shared_pools`). What every
process shares is what the schema probes and the tables' check found (`ask_schema_probes`): the
process's memory of the database's tables and columns is inherited through the fork.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any, Self

from dagster import DagsterInstance
from dagster._core.storage.event_log.migration import ASSET_KEY_INDEX_COLS
from dagster._core.storage.event_log.schema import AssetEventTagsTable
from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

# (database URL, probe) of the schema probes answered yes in this process, and of the storages
# whose tables were found, for every storage built in it: run workers build theirs anew each run.
_FOUND: set[tuple[str, str]] = set()

MAX_OVERFLOW = 10
POOL_RECYCLE_S = 3600
NO_STATEMENT_TIMEOUT = 0


# Each storage kind's connection pool per database, shared by every storage built inside
# `shared_pools`.
_shared: dict[tuple[type, str], Engine] | None = None


@contextmanager
def shared_pools() -> Iterator[None]:
    """Within the block, every storage of a kind and database shares one connection pool: for a
    pooled run worker, which builds a new instance for each run it executes (Dagster's
    `_run_in_subprocess` does), and would otherwise connect anew each time (~2 connections per
    run, each a backend the server starts). Disposed when the block ends."""
    global _shared
    _shared = {}
    try:
        yield
    finally:
        shared, _shared = _shared, None
        for engine in shared.values():
            engine.dispose()


def check_shared_pools() -> None:
    """Before a run: a shared pool whose connection the server dropped since the last run (a
    restart, a failover) starts afresh; the run's first query would fail on it otherwise. One
    round trip per pool."""
    for engine in (_shared or {}).values():
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except DBAPIError:
            engine.dispose()


class _Pooled:
    """Built as dagster-postgres builds the storage, then pooled as in the webserver."""

    postgres_url: str  # set by dagster-postgres's storages
    _engine: Engine

    def __init__(
        self, postgres_url: str, should_autocreate_tables: bool = True, **kwargs: Any
    ) -> None:
        # dagster-postgres looks for its tables (reflecting the database's, on a connection of
        # its own) in every storage it builds: once per process and database is enough.
        tables = (postgres_url, f"tables of {type(self).__name__}")
        super().__init__(  # type: ignore[call-arg]
            postgres_url=postgres_url,
            should_autocreate_tables=should_autocreate_tables and tables not in _FOUND,
            **kwargs,
        )
        if should_autocreate_tables:
            _FOUND.add(tables)
        key = (type(self), postgres_url)
        if _shared is not None and key in _shared:
            self._engine = _shared[key]
            return
        self.optimize_for_webserver(NO_STATEMENT_TIMEOUT, POOL_RECYCLE_S, MAX_OVERFLOW)  # type: ignore[attr-defined]
        if _shared is not None:
            _shared[key] = self._engine

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> Self:
        # dagster-postgres's own `from_config_value` builds its class by name, not `cls`.
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    def _remembered(self, name: str, probe: Callable[[], bool]) -> bool:
        """A schema probe's answer, asked until it is yes. Dagster asks whether a table or a
        migration's columns exist on every run read and every materialization, each time a
        catalog query (and, inside a transaction, a second connection): tens of ms per run
        worker and per status read. Tables and columns are never dropped under a running
        storage."""
        key = (self.postgres_url, name)
        if key not in _FOUND and probe():
            _FOUND.add(key)
        return key in _FOUND


class PooledPostgresRunStorage(_Pooled, PostgresRunStorage):
    def has_run_stats_index_cols(self) -> bool:
        return self._remembered("run_stats_index_cols", super().has_run_stats_index_cols)

    def has_bulk_actions_selector_cols(self) -> bool:
        return self._remembered("bulk_actions_selector", super().has_bulk_actions_selector_cols)

    def has_backfill_id_column(self) -> bool:
        return self._remembered("backfill_id", super().has_backfill_id_column)

    def has_bulk_action_job_name_column(self) -> bool:
        return self._remembered("bulk_actions_job_name", super().has_bulk_action_job_name_column)

    def has_backfill_tags_table(self) -> bool:
        return self._remembered("backfill_tags", super().has_backfill_tags_table)


class PooledPostgresEventLogStorage(_Pooled, PostgresEventLogStorage):
    def has_table(self, table_name: str) -> bool:
        return self._remembered(f"table {table_name}", partial(super().has_table, table_name))

    # Asked twice per asset record read (each asset check's result reads its asset's record).
    def has_asset_key_col(self, column_name: str) -> bool:
        return self._remembered(
            f"asset_keys column {column_name}", partial(super().has_asset_key_col, column_name)
        )

    def has_secondary_index(self, name: str) -> bool:
        return self._remembered(
            f"secondary index {name}", partial(super().has_secondary_index, name)
        )


class PooledPostgresScheduleStorage(_Pooled, PostgresScheduleStorage):
    def has_instigators_table(self) -> bool:
        return self._remembered("table instigators", super().has_instigators_table)

    def has_secondary_index_table(self) -> bool:
        return self._remembered("table secondary_indexes", super().has_secondary_index_table)

    def has_built_index(self, migration_name: str) -> bool:
        return self._remembered(
            f"index {migration_name}", partial(super().has_built_index, migration_name)
        )


def ask_schema_probes(instance: DagsterInstance) -> None:
    """Ask what a run worker's storages ask on its first run read, asset read and
    materialization: answered once here (in the forkserver), they are known in every worker
    forked afterwards (~25 ms of catalog queries per run)."""
    run_storage, event_log = instance.run_storage, instance.event_log_storage
    if isinstance(run_storage, PooledPostgresRunStorage):
        run_storage.has_run_stats_index_cols()
    if isinstance(event_log, PooledPostgresEventLogStorage):
        event_log.has_table(AssetEventTagsTable.name)
        event_log.has_asset_key_col("cached_status_data")
        event_log.has_asset_key_index_cols()
        event_log.has_secondary_index(ASSET_KEY_INDEX_COLS)
