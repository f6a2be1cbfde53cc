"""The run queue's wake-ups (`orchestration.runtime.daemon`): PostgreSQL notifies the daemon when
a run is queued or ends, and not for the statuses in between."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from dagster import DagsterEvent, DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.remote_origin import (
    GrpcServerCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)

from core.contracts import IMPORT_JOB, LOCATION_NAME
from core.settings import Settings
from orchestration.runtime.daemon import QueueWakeups
from orchestration.runtime.stack import prepare_instance_storage

pytestmark = pytest.mark.integration


def test_queued_and_ended_runs_wake_the_queue_and_nothing_else(lake_settings: Settings) -> None:
    url = lake_settings.running_postgres_url
    prepare_instance_storage(lake_settings)
    wakeups = QueueWakeups(url)
    try:
        with DagsterInstance.from_config(str(lake_settings.dagster_home)) as instance:
            first = instance.add_run(new_run())
            assert not wakeups.wait(0.2)  # created, not queued: nothing to launch yet
            enqueue(instance, first)
            assert wakeups.wait(5.0)
            assert not wakeups.wait(0.2)  # one change, one wake-up

            instance.report_run_canceling(first)  # CANCELING frees nothing
            assert not wakeups.wait(0.5)
            instance.report_run_failed(first, "ended")
            assert wakeups.wait(5.0)

            # Several changes before the daemon looks again are one wake-up.
            for _ in range(3):
                enqueue(instance, instance.add_run(new_run()))
            assert wakeups.wait(5.0)
            assert not wakeups.wait(0.2)
    finally:
        wakeups.close()


# Where a queued run says its job is (Dagster requires one); nothing here connects to it.
ORIGIN = RemoteJobOrigin(
    repository_origin=RemoteRepositoryOrigin(
        code_location_origin=GrpcServerCodeLocationOrigin(
            host="127.0.0.1", port=1, location_name=LOCATION_NAME
        ),
        repository_name="__repository__",
    ),
    job_name=IMPORT_JOB,
)


def new_run() -> DagsterRun:
    return DagsterRun(job_name=IMPORT_JOB, run_id=str(uuid.uuid4()), remote_job_origin=ORIGIN)


def enqueue(instance: DagsterInstance, run: DagsterRun) -> None:
    """What the queued run coordinator records when it queues a run."""
    event = DagsterEvent(event_type_value=DagsterEventType.RUN_ENQUEUED.value, job_name=IMPORT_JOB)
    instance.report_dagster_event(event, run_id=run.run_id)
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.QUEUED  # type: ignore[union-attr]


def test_a_lost_listening_connection_is_opened_again(lake_settings: Settings) -> None:
    url = lake_settings.running_postgres_url
    prepare_instance_storage(lake_settings)
    wakeups = QueueWakeups(url)
    try:
        assert not wakeups.wait(0.2)  # listening
        # The server drops the connection, as a restarted one would.
        with psycopg.connect(url, autocommit=True) as admin:
            terminated = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query = 'LISTEN oliai_run_queue'"
            ).fetchall()
        assert terminated == [(True,)]
        assert not wakeups.wait(0.5)  # notices the loss
        assert not wakeups.wait(0.2)  # listening again
        with DagsterInstance.from_config(str(lake_settings.dagster_home)) as instance:
            enqueue(instance, instance.add_run(new_run()))
        assert wakeups.wait(5.0)
    finally:
        wakeups.close()
