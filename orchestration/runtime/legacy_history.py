"""Dagster history of an earlier release (SQLite files under `<data dir>/dagster/history/`)
moved into the PostgreSQL instance once: every run with its tags, creation time and status, and
every event of its log. The SQLite directory is then renamed `history.migrated` (kept).

Sensor cursors and schedule ticks are not moved: the webhook sensor starts over from the oldest
ended run, and finds each import's event already recorded (one per run), so nothing is sent twice.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import yaml
from dagster import DagsterInstance, DagsterRun

LEGACY_RUNS = Path("history") / "runs.db"


class LegacyHistoryConflict(Exception):
    pass


def adopt_sqlite_history(dagster_home: Path, instance: DagsterInstance) -> str | None:
    """Copy the SQLite run history under `dagster_home` into `instance`; what was done, or None
    if there is none. Refuses (`LegacyHistoryConflict`) when `instance` already has runs."""
    history = dagster_home / LEGACY_RUNS.parent
    if not (dagster_home / LEGACY_RUNS).exists():
        return None
    if instance.get_run_records(limit=1):
        raise LegacyHistoryConflict(
            f"{history} (Dagster's SQLite history of an earlier release) was found beside a "
            "PostgreSQL instance that already has runs. Move the directory away to keep the "
            "PostgreSQL history, or empty schema `dagster` to move the SQLite one in."
        )
    runs = events = 0
    with tempfile.TemporaryDirectory(prefix="oliai-legacy-") as home:
        config = {"storage": {"sqlite": {"base_dir": str(dagster_home)}}}
        (Path(home) / "dagster.yaml").write_text(yaml.safe_dump(config))
        with DagsterInstance.from_config(home) as old:
            for record in reversed(old.get_run_records()):  # oldest first
                run = record.dagster_run
                _copy_snapshots(old, instance, run)
                instance.run_storage.add_historical_run(run, record.create_timestamp)
                for entry in old.all_logs(run.run_id):
                    instance.event_log_storage.store_event(entry)
                    if entry.dagster_event is not None:
                        # Start and end times come from the run's job events.
                        at = datetime.fromtimestamp(entry.timestamp, UTC)
                        instance.run_storage.handle_run_event(run.run_id, entry.dagster_event, at)
                    events += 1
                runs += 1
    history.rename(history.with_name("history.migrated"))
    return (
        f"Moved Dagster's SQLite history ({runs} runs, {events} events) into PostgreSQL "
        f"(schema dagster); the files are kept in {history.name}.migrated/."
    )


def _copy_snapshots(old: DagsterInstance, new: DagsterInstance, run: DagsterRun) -> None:
    """The job and plan snapshots a run refers to (the UI draws the run from them)."""
    job_id, plan_id = run.job_snapshot_id, run.execution_plan_snapshot_id
    if job_id and not new.run_storage.has_job_snapshot(job_id):
        new.run_storage.add_job_snapshot(old.run_storage.get_job_snapshot(job_id))
    if plan_id and not new.run_storage.has_execution_plan_snapshot(plan_id):
        plan = old.run_storage.get_execution_plan_snapshot(plan_id)
        new.run_storage.add_execution_plan_snapshot(plan)
