"""Resources: where the import files and the warehouse live."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from orchestration.warehouse.reader import read_committed_counts
from orchestration.warehouse.writer import ImportCounts, open_warehouse, pause_in_transaction


class ImportFiles(ConfigurableResource):
    """The per-import staging area under the data directory (normalized rows, row errors)."""

    staging_dir: str

    @property
    def root(self) -> Path:
        return Path(self.staging_dir)


class Warehouse(ConfigurableResource):
    """The DuckDB warehouse file. Open it only for the write and close it straight after."""

    path: str
    lock_wait_seconds: float = 120.0
    # Test only: Settings.fault_pause_in_write.
    pause_in_write: str | None = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with open_warehouse(Path(self.path), wait_s=self.lock_wait_seconds) as con:
            yield con

    def committed_counts(self, import_id: str, wait_s: float = 30.0) -> ImportCounts | None:
        """Read-only: what the import's committed write recorded, if it committed."""
        return read_committed_counts(Path(self.path), import_id, wait_s=wait_s)

    def before_commit(self, con: duckdb.DuckDBPyConnection) -> None:
        """Runs inside each import's write transaction, after its rows, before COMMIT."""
        if self.pause_in_write is not None:
            pause_in_transaction(Path(self.pause_in_write))
