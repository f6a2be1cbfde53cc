"""`import_webhooks`: finds the import runs that ended and hands them to `orchestration.webhooks`.

The sensor is the Dagster-facing part of the webhook path and nothing more: it scans ended runs
of the import job from a durable cursor (not a run-status sensor, which handles a few runs per
tick and can skip on error), records the committed counts on a run that died after its warehouse
write, and passes each run on. From there the path reads straight through the package: `events`
records one `import.completed` event per run, `dispatch` claims due attempts (`leases`) and
delivers them in the background (`delivery`, `signing`, `ssrf`). Back here only the attempts that
finished since the last tick are logged.

A tick repeats the scan every 0.25 s for `watch_seconds` (4 of the daemon's ~5 s between
ticks), so a webhook leaves within about 0.25 s of its run's end.
"""

import json
import time
from concurrent.futures import wait
from datetime import UTC, datetime, timedelta

from dagster import (
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from core.contracts import IMPORT_JOB, REVERT_JOB, tags
from orchestration.resources import Warehouse, WebhookDelivery
from orchestration.webhooks.dispatch import control_store, dispatch_due
from orchestration.webhooks.events import EndedRun, Queued, enqueue_completed, enqueue_reverted

ENDED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
# Runs that ended just before the cursor are scanned again; the store keeps one event per run.
CURSOR_OVERLAP = timedelta(seconds=5)
SCAN_LIMIT = 500
# Then wait this long for quick receivers, so their results show in this tick's log.
TICK_WAIT_S = 0.5
WATCH_EVERY_S = 0.25


def _with_committed_counts(
    context: SensorEvaluationContext, run: DagsterRun, warehouse: Warehouse
) -> DagsterRun:
    """A run that failed without recording counts may have died after its warehouse write
    committed (or its import committed in an earlier run): what the warehouse committed is the
    truth, so record those counts on the run, where the API and the webhook read them."""
    if run.status is DagsterRunStatus.SUCCESS or tags.counts_from_tags(run.run_id, run.tags):
        return run
    import_id = run.tags.get(tags.IMPORT_ID)
    counts = warehouse.committed_counts(import_id) if import_id else None
    if counts is None:
        return run
    context.instance.add_run_tags(run.run_id, tags.count_tags(run.run_id, counts.as_dict()))
    context.log.info(
        f"{import_id}: run {run.run_id} ended {run.status.value} after the import's warehouse "
        f"write committed; its committed counts stand: {counts.as_dict()}"
    )
    return context.instance.get_run_by_id(run.run_id) or run


# Each job's ended runs, scanned from its own cursor key, and how each gets its event.
EVENTS = {
    IMPORT_JOB: ("updated_after", enqueue_completed),
    REVERT_JOB: ("reverts_updated_after", enqueue_reverted),
}


def _ended_runs(
    context: SensorEvaluationContext,
    warehouse: Warehouse,
    cursor: dict[str, float],
    job_name: str = IMPORT_JOB,
) -> list[EndedRun]:
    """The job's runs that ended since its cursor (with a small overlap); moves the cursor on."""
    key = EVENTS[job_name][0]
    updated_after = datetime.fromtimestamp(cursor.get(key, 0.0), UTC) - CURSOR_OVERLAP
    records = context.instance.get_run_records(
        filters=RunsFilter(job_name=job_name, statuses=ENDED, updated_after=updated_after),
        order_by="update_timestamp",
        ascending=True,
        limit=SCAN_LIMIT,
    )
    ended = []
    for record in records:
        run = _with_committed_counts(context, record.dagster_run, warehouse)
        ended_at = datetime.fromtimestamp(record.end_time, UTC) if record.end_time else None
        ended.append(EndedRun(run.run_id, run.status.value, run.tags, ended_at))
    if records:
        cursor[key] = max(r.update_timestamp for r in records).timestamp()
    return ended


@sensor(
    name="import_webhooks",
    minimum_interval_seconds=1,
    default_status=DefaultSensorStatus.RUNNING,
    description="Delivers the signed import.completed webhook of every import that ended "
    "(COMPLETED, COMPLETED_WITH_ERRORS, FAILED, re-executions included), with retries. Records "
    "the committed counts on a run that died after its warehouse write committed.",
)
def import_webhooks(
    context: SensorEvaluationContext, webhook_delivery: WebhookDelivery, warehouse: Warehouse
) -> SensorResult:
    store_url = webhook_delivery.resolved_postgres_url()
    store = control_store(store_url)
    policy = webhook_delivery.policy()
    cursor = json.loads(context.cursor) if context.cursor else {"updated_after": 0.0}
    # The daemon starts a tick about every 5 s. Watching for ended runs during most of it sends
    # a webhook within ~WATCH_EVERY_S of its run's end instead of 0-5 s later.
    watch_until = time.monotonic() + webhook_delivery.watch_seconds
    futures = []
    while True:
        for job_name, (_, enqueue) in EVENTS.items():
            for run in _ended_runs(context, warehouse, cursor, job_name):
                queued: Queued | None = enqueue(store, run)
                if queued is not None:
                    context.log.info(
                        f"{queued.import_id}: {job_name} event ({queued.status}) queued"
                    )
        futures += dispatch_due(store_url, policy)
        if time.monotonic() >= watch_until:
            break
        time.sleep(WATCH_EVERY_S)
    if futures:
        wait(futures, timeout=TICK_WAIT_S)
    for attempt in store.webhooks.take_unlogged_attempts():
        context.log.info(
            f"{attempt.import_id}: webhook attempt {attempt.attempt} {attempt.outcome}"
            f" (status {attempt.status_code}, {attempt.duration_ms:.0f} ms)"
            + (f": {attempt.error}" if attempt.error else "")
        )
    return SensorResult(cursor=json.dumps(cursor))
