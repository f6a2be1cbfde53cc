"""dagster-postgres's storages, holding their connections in a small pool in every process.

dagster-postgres opens a new connection for every query (SQLAlchemy's NullPool) except in the
webserver, which calls `optimize_for_webserver`. On the private server a connection costs ~8 ms
(a backend process forked, authentication), and a status read or a run's event log makes dozens:
measured, `GET /status` took 98 ms instead of 16 ms on SQLite. These classes make that same call
as they are built, in the API, the daemon and each run worker alike: one connection kept, more
opened under load (`MAX_OVERFLOW`), none older than `POOL_RECYCLE_S`. A forked run worker shares
none: the forkserver disposes the instance it warmed up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

MAX_OVERFLOW = 10
POOL_RECYCLE_S = 3600
NO_STATEMENT_TIMEOUT = 0


class _Pooled:
    """Built as dagster-postgres builds the storage, then pooled as in the webserver."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.optimize_for_webserver(NO_STATEMENT_TIMEOUT, POOL_RECYCLE_S, MAX_OVERFLOW)  # type: ignore[attr-defined]

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


class PooledPostgresRunStorage(_Pooled, PostgresRunStorage):
    pass


class PooledPostgresEventLogStorage(_Pooled, PostgresEventLogStorage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._tables_found: set[str] = set()  # before Dagster's set-up, which asks already
        super().__init__(*args, **kwargs)

    def has_table(self, table_name: str) -> bool:
        """Remembered once found. Dagster asks before storing every materialization's tags, on a
        second connection while the event's transaction holds the pooled one: a new PostgreSQL
        connection per run and a catalog query per event (~25 ms of a run). Tables are never
        dropped under a running storage."""
        if table_name not in self._tables_found and super().has_table(table_name):
            self._tables_found.add(table_name)
        return table_name in self._tables_found


class PooledPostgresScheduleStorage(_Pooled, PostgresScheduleStorage):
    pass
