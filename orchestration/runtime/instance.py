"""The Dagster instance the stack writes into its data directory: its configuration, and its
storage (runs, event logs, schedules and sensor state) in schema `dagster` of the stack's
PostgreSQL server, the one the control store and the lake's catalog are on.

`dagster.yaml` never holds a password: for the private server it names the server's passfile
(`<data dir>/postgres/pgpass`), for an external one the variable `OLIAI_POSTGRES_PASSWORD`, which
`oliai up` gives its children and `oliai` commands set for themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
import yaml

from core.contracts import RUNS_PER_ORGANIZATION, tags
from core.files import write_if_changed
from core.private_postgres import PrivatePostgres
from core.settings import Settings

SCHEMA = "dagster"
POOLED_STORAGE_MODULE = "orchestration.runtime.pooled_storage"  # imported by name, by Dagster
PASSWORD_VARIABLE = "OLIAI_POSTGRES_PASSWORD"  # noqa: S105 - a variable name


@dataclass(frozen=True)
class InstanceDatabase:
    """Where Dagster's storage is: `url` (a libpq URL, password included) and, for the private
    server, the passfile that stands in for the password."""

    url: str
    passfile: Path | None
    # Dagster's default SQLite files under dagster/ instead: to compare (bench/instance_storage.py).
    sqlite: bool = False

    @classmethod
    def of(cls, settings: Settings, url: str) -> InstanceDatabase:
        """`url` is the settings' server: the external one, or the private one as running."""
        sqlite = settings.dagster_storage == "sqlite"
        if settings.postgres_url:
            return cls(url, None, sqlite)
        return cls(url, PrivatePostgres(settings.postgres_dir).passfile, sqlite)

    def storage_config(self) -> dict[str, Any]:
        """The three storages' `config`: the server, without its password."""
        parts = sa.make_url(self.url)
        params: dict[str, Any] = {**parts.query, "options": f"-csearch_path={SCHEMA}"}
        database: dict[str, Any] = {
            "username": parts.username,
            "hostname": parts.host,
            "port": parts.port or 5432,
            "db_name": parts.database,
        }
        if self.passfile is not None:
            params["passfile"] = str(self.passfile)
        elif parts.password:
            database["password"] = {"env": PASSWORD_VARIABLE}
        # dagster-postgres is written for psycopg2 (its webserver hook closes a psycopg 3
        # connection with `with conn:`); SQLAlchemy 2.1's default for postgresql:// is psycopg 3.
        driver = {"scheme": "postgresql+psycopg2"}
        return {"postgres_db": {**database, **driver, "params": params}}

    def storages(self, *, create_tables: bool = False) -> dict[str, Any]:
        """dagster.yaml's run, event log and schedule storages: dagster-postgres's, pooled.

        Only `prepare_instance` creates the tables (`create_tables`); every other process finds
        them, so none opens an extra connection per storage to look for them as it starts
        (~60 ms of each run worker)."""
        if self.sqlite:
            return {}
        config = {**self.storage_config(), "should_autocreate_tables": create_tables}
        return {
            f"{kind}_storage": {
                "module": POOLED_STORAGE_MODULE,
                "class": f"PooledPostgres{name}Storage",
                "config": config,
            }
            for kind, name in (("run", "Run"), ("event_log", "EventLog"), ("schedule", "Schedule"))
        }

    def create_schema(self) -> None:
        if self.sqlite:
            return
        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")


def names_an_external_server(dagster_home: Path) -> bool:
    """Whether `dagster_home`'s dagster.yaml was written (`storages`) for an external server:
    PostgreSQL storages without the private server's passfile."""
    try:
        config = yaml.safe_load((dagster_home / "dagster.yaml").read_text())
    except FileNotFoundError:
        return False
    database = config.get("run_storage", {}).get("config", {}).get("postgres_db", {})
    return bool(database) and "passfile" not in database.get("params", {})


def instance_environment(settings: Settings) -> dict[str, str]:
    """The variables a process opening the instance needs (an external server's password)."""
    password = sa.make_url(settings.postgres_url).password if settings.postgres_url else None
    return {PASSWORD_VARIABLE: password} if password else {}


def instance_config(
    database: InstanceDatabase, dagster_home: Path, max_concurrent_runs: int
) -> dict[str, object]:
    return {
        **database.storages(),
        # Each run's stdout and stderr in the files Dagster's own manager would use, written
        # without its four helper processes per run (orchestration/runtime/compute_logs.py).
        "compute_logs": {
            "module": "orchestration.runtime.compute_logs",
            "class": "FileComputeLogManager",
            "config": {"base_dir": str(dagster_home / "storage")},
        },
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},
        # Dequeue twice a second on threads: the default 5 s interval dominates a small import.
        "run_coordinator": {
            "module": "orchestration.runtime.run_coordinator",
            "class": "PromptQueuedRunCoordinator",
            "config": {
                "dequeue_use_threads": True,
                "dequeue_num_workers": 4,
            },
        },
        # Two runs per organization at a time, the rest queued first in first out; the runs
        # write in that order (orchestration/write_order.py), organizations in parallel, up to
        # `max_concurrent_runs` in all (Settings: two per core).
        "concurrency": {
            "runs": {
                "max_concurrent_runs": max_concurrent_runs,
                "tag_concurrency_limits": [
                    {
                        "key": tags.ORG_ID,
                        "value": {"applyLimitPerUniqueValue": True},
                        "limit": RUNS_PER_ORGANIZATION,
                    }
                ],
            }
        },
        # A run worker killed mid-import ends as FAILURE instead of hanging in STARTED.
        "run_monitoring": {
            "enabled": True,
            "start_timeout_seconds": 60,
            "poll_interval_seconds": 5,
        },
        "python_logs": {"managed_python_loggers": ["oliai"]},
    }


def prepare_instance(
    dagster_home: Path, database: InstanceDatabase, max_concurrent_runs: int
) -> str | None:
    """Write dagster.yaml and create the instance's storage once, before the webserver, the
    daemon and the API start (three processes creating the same tables at once race), with the
    SQLite history of an earlier release moved in and the run queue's trigger (see
    `orchestration.runtime.daemon`); returns what was moved, if anything.

    Raises `LegacyHistoryConflict` if that history is beside an instance that has runs."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    from orchestration.runtime.daemon import install_queue_trigger
    from orchestration.runtime.legacy_history import adopt_sqlite_history

    database.create_schema()
    write_instance_config(dagster_home, database, max_concurrent_runs)
    creating = InstanceRef.from_dir(
        str(dagster_home), overrides=database.storages(create_tables=True)
    )
    with DagsterInstance.from_ref(creating) as instance:
        if database.sqlite:
            return None
        moved = adopt_sqlite_history(dagster_home, instance)
    with psycopg.connect(database.url, autocommit=True) as con:
        install_queue_trigger(con, SCHEMA)
    return moved


def fail_interrupted_runs(dagster_home: Path) -> list[str]:
    """Mark as failed the runs a previous stack left in flight; returns their ids.

    Call it before the stack starts. Every run worker is a descendant of a process `oliai up`
    started, and stopping `oliai up` (or one of its children dying) kills those process groups,
    so no run can still be alive. Dagster cannot tell by itself: the default run launcher has no
    worker health check, so such a run would stay STARTED for ever (its import PROCESSING).
    Failed, the import shows FAILED, gets its webhook, and can be re-executed. Queued runs are
    left queued.
    """
    from dagster import DagsterInstance, DagsterRunStatus, DefaultRunLauncher, RunsFilter

    in_flight = [
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
    ]
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        if not isinstance(instance.run_launcher, DefaultRunLauncher):
            return []  # runs live elsewhere (containers, pods): not ours to judge
        runs = instance.get_runs(RunsFilter(statuses=in_flight))
        for run in runs:
            instance.report_run_failed(
                run,
                "The stack stopped while this run was in flight and its process is gone; "
                "re-execute the run (or `oliai reexecute --failed`) to process the import.",
            )
        return [run.run_id for run in runs]


def write_instance_config(
    dagster_home: Path, database: InstanceDatabase, max_concurrent_runs: int
) -> Path:
    """(Re)writes dagster.yaml, so an upgrade of the stack also upgrades its tuning and a new port
    of the private server is followed. Atomically: running processes may be reading it."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    text = yaml.safe_dump(
        instance_config(database, dagster_home, max_concurrent_runs), sort_keys=False
    )
    write_if_changed(path, text)
    return path
