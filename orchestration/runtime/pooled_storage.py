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

from collections.abc import Callable, Mapping
from functools import partial
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
        self._schema_found: set[str] = set()  # before Dagster's set-up, which probes already
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

    def _remembered(self, name: str, probe: Callable[[], bool]) -> bool:
        """A schema probe's answer, asked until it is yes. Dagster asks whether a table or a
        migration's columns exist on every run read and every materialization, each time a
        catalog query (and, inside a transaction, a second connection): tens of ms per run
        worker and per status read. Tables and columns are never dropped under a running
        storage."""
        if name not in self._schema_found and probe():
            self._schema_found.add(name)
        return name in self._schema_found


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


class PooledPostgresScheduleStorage(_Pooled, PostgresScheduleStorage):
    def has_instigators_table(self) -> bool:
        return self._remembered("table instigators", super().has_instigators_table)

    def has_secondary_index_table(self) -> bool:
        return self._remembered("table secondary_indexes", super().has_secondary_index_table)

    def has_built_index(self, migration_name: str) -> bool:
        return self._remembered(
            f"index {migration_name}", partial(super().has_built_index, migration_name)
        )
