"""The one settings object: flags > `OLIAI_*` environment variables > defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.private_postgres import resolve_url

MIB = 1024 * 1024


def default_concurrent_runs() -> int:
    """Two runs per core this process may use: each run works one core at a time (one thread,
    `run_threads`) and spends part of its life waiting on PostgreSQL or its turn, so two per core
    keep every core busy; more only share the cores and each run then costs more CPU
    (docs/scaling.md#runs-at-once)."""
    return 2 * usable_cores()


def usable_cores() -> int:
    """The cores this process may run on: a cpuset's or `taskset`'s limit where the system tells
    it (not macOS); a CPU quota (`docker --cpus`) is not seen."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Settings(BaseSettings):
    """Everything the stack writes lives under `data_dir`, so deleting it is a clean reset."""

    model_config = SettingsConfigDict(env_prefix="OLIAI_", extra="ignore")

    data_dir: Path = Path(".oliai")
    host: str = "127.0.0.1"
    api_port: int = 8000
    dagster_port: int = 3000
    dagster_url: str | None = Field(
        default=None, description="Dagster webserver base URL; defaults to host:dagster_port."
    )
    postgres_url: str | None = Field(
        default=None,
        description="An external PostgreSQL server for the control store and the lake's "
        "catalog; defaults to the private server `oliai up` runs under the data dir. Never "
        "printed or logged.",
    )
    lake_data_path: str | None = Field(
        default=None,
        description="Where the lake's Parquet files live; defaults to <data dir>/warehouse/. "
        "A path every host can reach when scaled.",
    )
    dagster_storage: Literal["postgres", "sqlite"] = Field(
        default="postgres",
        description="Where Dagster's instance keeps runs and event logs: schema `dagster` on the "
        "PostgreSQL server, or (to compare, bench/instance_storage.py) Dagster's default SQLite "
        "files under <data dir>/dagster/.",
    )
    # Time travel reaches this far back; older snapshots are expired by the maintenance job.
    lake_snapshot_retention_days: float = 30.0
    # Files no snapshot needs are deleted once this old (a long reader may still scan them).
    lake_file_grace_hours: float = 24.0
    max_body_bytes: int = 32 * MIB
    rate_limit_per_minute: int = 1200
    # A request whose body stalls this long between two parts is answered 408 and dropped.
    body_idle_timeout_seconds: float = 15.0
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_concurrency: int = 16
    run_threads: int = Field(
        default=1,
        ge=1,
        description="Threads of each run's DuckDB and Polars: runs execute side by side (two per "
        "organization, organizations in parallel), so one each uses the cores best "
        "(docs/scaling.md#threads-per-run).",
    )
    max_concurrent_runs: int = Field(
        default_factory=default_concurrent_runs,
        ge=1,
        description="Runs executing at once over all organizations (Dagster's run queue); the "
        "rest wait queued. Default: two per core of the machine `oliai up` runs on "
        "(docs/scaling.md#runs-at-once).",
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Contacts UI cookies' Secure flag; None: set it when the request is https.",
    )
    fault_pause_in_write: Path | None = Field(
        default=None,
        description="Test only: the first warehouse write that finds no file here creates it "
        "(holding its PID) inside its open transaction, before COMMIT, and blocks.",
    )
    fault_pause_after_commit: Path | None = Field(
        default=None,
        description="Test only: the same, right after the write's COMMIT, before the run records "
        "its counts.",
    )

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def dagster_home(self) -> Path:
        return self.resolved_data_dir / "dagster"

    @property
    def landing_dir(self) -> Path:
        return self.resolved_data_dir / "landing"

    @property
    def staging_dir(self) -> Path:
        return self.resolved_data_dir / "staging"

    @property
    def postgres_dir(self) -> Path:
        """The private PostgreSQL server's cluster, password and log."""
        return self.resolved_data_dir / "postgres"

    @property
    def resolved_lake_data_path(self) -> str:
        return self.lake_data_path or f"{self.resolved_data_dir / 'warehouse'}/"

    @property
    def legacy_warehouse_path(self) -> Path:
        """The single-file warehouse of earlier versions, moved into the lake at start."""
        return self.resolved_data_dir / "warehouse.duckdb"

    @property
    def legacy_control_store_path(self) -> Path:
        """The SQLite control store of earlier versions, moved into PostgreSQL at start."""
        return self.resolved_data_dir / "control.db"

    @property
    def running_postgres_url(self) -> str:
        """The external server's URL, or the running private server's (`NoPostgres` if down)."""
        return resolve_url(self.postgres_url, self.postgres_dir)

    @property
    def resolved_dagster_url(self) -> str:
        return self.dagster_url or f"http://{self.host}:{self.dagster_port}"
