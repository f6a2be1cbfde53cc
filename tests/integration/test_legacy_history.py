"""Dagster's SQLite history of an earlier release is moved into the PostgreSQL instance once, as
`oliai up` prepares the instance: each run keeps its id, tags, status, start and end, and its
event log; a PostgreSQL instance that already has runs is never merged into."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, job, op
from dagster_postgres.run_storage import PostgresRunStorage

from core.settings import Settings
from orchestration.runtime.instance import InstanceDatabase, prepare_instance
from orchestration.runtime.legacy_history import LegacyHistoryConflict

pytestmark = pytest.mark.integration


@op
def say_hello() -> str:
    return "hello"


@job(tags={"oliai/import_id": "imp_legacy"})
def legacy_job() -> None:
    say_hello()


def sqlite_history(dagster_home: Path) -> list[str]:
    """Two runs in an instance as earlier releases configured it (SQLite, the default)."""
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.from_config(str(dagster_home)) as old:
        return [legacy_job.execute_in_process(instance=old).run_id for _ in range(2)]


def prepare(settings: Settings) -> str | None:
    """`prepare_instance` as `oliai up` calls it, keeping what it returns and raises."""
    return prepare_instance(
        settings.dagster_home,
        InstanceDatabase.of(settings, settings.running_postgres_url),
        settings.max_concurrent_runs,
    )


def test_the_sqlite_history_is_moved_in_once(lake_settings: Settings) -> None:
    home = lake_settings.dagster_home
    run_ids = sqlite_history(home)
    with DagsterInstance.from_config(str(home)) as old:
        before = {run_id: len(old.all_logs(run_id)) for run_id in run_ids}

    moved = prepare(lake_settings)
    assert moved is not None
    assert f"(2 runs, {sum(before.values())} events)" in moved
    assert not (home / "history").exists()
    assert (home / "history.migrated" / "runs.db").exists()

    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        records = {record.dagster_run.run_id: record for record in instance.get_run_records()}
        assert set(records) == set(run_ids)
        for run_id, record in records.items():
            assert record.dagster_run.status == DagsterRunStatus.SUCCESS
            assert record.dagster_run.tags["oliai/import_id"] == "imp_legacy"
            assert record.start_time is not None
            assert record.end_time is not None
            assert len(instance.all_logs(run_id)) == before[run_id]
    assert prepare(lake_settings) is None  # once


def test_an_instance_with_runs_is_not_merged_into(lake_settings: Settings) -> None:
    home = lake_settings.dagster_home
    prepare(lake_settings)
    with DagsterInstance.from_config(str(home)) as instance:
        legacy_job.execute_in_process(instance=instance)
    # An earlier release's history appears beside it (restored from a backup, say).
    elsewhere = lake_settings.resolved_data_dir / "old-dagster"
    sqlite_history(elsewhere)
    (elsewhere / "history").rename(home / "history")

    with pytest.raises(LegacyHistoryConflict, match="already has runs"):
        prepare(lake_settings)
    assert (home / "history" / "runs.db").exists()
