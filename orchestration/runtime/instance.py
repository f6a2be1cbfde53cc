"""The Dagster instance configuration the stack writes into its data directory."""

from __future__ import annotations

from pathlib import Path

import yaml

from core.contracts import tags


def instance_config(max_concurrent_runs: int = 8) -> dict[str, object]:
    return {
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
        # One run per organization at a time, the rest queued first in first out: an
        # organization's imports reach the lake in acceptance order, organizations in parallel.
        "concurrency": {
            "runs": {
                "max_concurrent_runs": max_concurrent_runs,
                "tag_concurrency_limits": [
                    {"key": tags.ORG_ID, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
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


def prepare_instance(dagster_home: Path) -> None:
    """Write dagster.yaml and create the instance's storage once, before the webserver, the
    daemon and the API start: three processes migrating a fresh SQLite store at the same time
    can fail ("alembic_version has more than one head")."""
    from dagster import DagsterInstance

    write_instance_config(dagster_home)
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.get_run_records(limit=1)


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


def write_instance_config(dagster_home: Path) -> Path:
    """(Re)writes dagster.yaml so an upgrade of the stack also upgrades its tuning."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    path.write_text(yaml.safe_dump(instance_config(), sort_keys=False))
    return path
