"""Resources: where the import files and the warehouse live, and how webhooks are delivered.

Every `ConfigurableResource` of the code location is here, so `definitions.py` configures them
from the settings in one place; the code behind them lives in its own package.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from core import private_postgres
from core.warehouse.lake import LakeLocation
from core.warehouse.reader import read_committed_counts
from core.warehouse.writer import ImportCounts, open_warehouse, pause_at_fault_point
from orchestration.webhooks.dispatch import DeliveryPolicy


class ImportFiles(ConfigurableResource):
    """The per-import staging area under the data directory (normalized rows, row errors)."""

    staging_dir: str

    @property
    def root(self) -> Path:
        return Path(self.staging_dir)


class OnPostgres(ConfigurableResource):
    """A resource whose data is on the stack's PostgreSQL: an external server's URL, or the
    private server under `postgres_dir` (found running, its port read from its pid file)."""

    postgres_url: str | None = None
    postgres_dir: str

    def resolved_postgres_url(self) -> str:
        return private_postgres.resolve_url(self.postgres_url, Path(self.postgres_dir))


class Warehouse(OnPostgres):
    """The lake: its catalog on PostgreSQL, its Parquet files under `data_path`."""

    data_path: str
    threads: int | None = None  # DuckDB's (Settings.run_threads); None: one per core
    snapshot_retention_days: float = 30.0
    file_grace_hours: float = 24.0
    # Test only: Settings.fault_pause_in_write and fault_pause_after_commit.
    pause_in_write: str | None = None
    pause_after_commit: str | None = None

    def location(self) -> LakeLocation:
        return LakeLocation(self.resolved_postgres_url(), self.data_path)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with open_warehouse(self.location(), threads=self.threads) as con:
            yield con

    def committed_counts(self, import_id: str) -> ImportCounts | None:
        """Read-only: what the import's committed write recorded, if it committed."""
        return read_committed_counts(self.location(), import_id)

    def before_commit(self, con: duckdb.DuckDBPyConnection) -> None:
        """Runs inside each import's write transaction, after its rows, before COMMIT."""
        if self.pause_in_write is not None:
            pause_at_fault_point(Path(self.pause_in_write))

    def after_commit(self) -> None:
        """Runs right after each import's write committed, before the run records its counts."""
        if self.pause_after_commit is not None:
            pause_at_fault_point(Path(self.pause_after_commit))


class WebhookDelivery(OnPostgres):
    """How webhooks are delivered (`orchestration/webhooks/`); their events are kept in the
    control store, on PostgreSQL."""

    allow_private: bool = False
    timeout_seconds: float = 10.0
    concurrency: int = 16
    # How long a tick keeps watching for runs that end (the daemon ticks about every 5 s).
    watch_seconds: float = 4.0

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(self.allow_private, self.timeout_seconds, self.concurrency)
