"""`import_webhooks`: one signed `import.completed` event per ended import run.

It scans ended runs of the import job from a durable cursor (not a run-status sensor, which
handles a few runs per tick and can skip on error), records one event per run in the control
store (so a restarted daemon neither loses nor repeats one), hands due attempts to the
background dispatcher, and logs the attempts that finished since the last tick. A tick repeats
the scan every 0.25 s for `watch_seconds` (4 of the daemon's ~5 s between ticks), so a webhook
leaves within about 0.25 s of its run's end.
"""

import json
import time
from concurrent.futures import Future, wait
from datetime import UTC, datetime, timedelta

import msgspec
from dagster import (
    ConfigurableResource,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from core.contracts import IMPORT_JOB, tags
from core.contracts.status import import_outcome
from core.control_store import ControlStore
from orchestration.resources import Warehouse
from orchestration.webhooks import AttemptResult
from orchestration.webhooks.dispatch import DeliveryPolicy, control_store, dispatcher

ENDED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
# Runs that ended just before the cursor are scanned again; the store keeps one event per run.
CURSOR_OVERLAP = timedelta(seconds=5)
SCAN_LIMIT = 500
DISPATCH_LIMIT = 200
# A claimed event's lease outlasts its attempt (which starts at once: see free_slots).
LEASE_MARGIN = timedelta(seconds=30)
# Then wait this long for quick receivers, so their results show in this tick's log.
TICK_WAIT_S = 0.5
WATCH_EVERY_S = 0.25


class WebhookDelivery(ConfigurableResource):
    """Where webhook events are kept and how they are delivered."""

    control_store_url: str
    allow_private: bool = False
    timeout_seconds: float = 10.0
    concurrency: int = 16
    # How long a tick keeps watching for runs that end (the daemon ticks about every 5 s).
    watch_seconds: float = 4.0

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(self.allow_private, self.timeout_seconds, self.concurrency)

    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout_seconds) + LEASE_MARGIN


def completed_payload(import_id: str, outcome_fields: dict[str, object]) -> str:
    # msgspec encodes datetimes exactly as the API's status endpoint does.
    payload = {"event": "import.completed", "importId": import_id, **outcome_fields}
    return msgspec.json.encode(payload).decode()


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


def _record_ended_runs(
    context: SensorEvaluationContext,
    store: ControlStore,
    warehouse: Warehouse,
    cursor: dict[str, float],
) -> None:
    """Queue one event per ended import run with a webhook URL; moves `cursor` on."""
    updated_after = datetime.fromtimestamp(cursor["updated_after"], UTC) - CURSOR_OVERLAP
    records = context.instance.get_run_records(
        filters=RunsFilter(job_name=IMPORT_JOB, statuses=ENDED, updated_after=updated_after),
        order_by="update_timestamp",
        ascending=True,
        limit=SCAN_LIMIT,
    )
    for record in records:
        run = _with_committed_counts(context, record.dagster_run, warehouse)
        import_id = run.tags.get(tags.IMPORT_ID)
        accepted = store.imports.get_import_by_id(import_id) if import_id else None
        if accepted is None or accepted.webhook_url is None:
            continue
        outcome = import_outcome(run.run_id, run.status.value, run.tags, accepted.total)
        ended_at = datetime.fromtimestamp(record.end_time, UTC) if record.end_time else None
        payload = completed_payload(
            accepted.id,
            {
                "status": outcome.status.value,
                "total": outcome.total,
                "created": outcome.created,
                "updated": outcome.updated,
                "failed": outcome.failed,
                "errorCount": outcome.error_count,
                "completedAt": ended_at,
                "runId": run.run_id,
            },
        )
        if store.webhooks.enqueue(
            event_id="msg_" + run.run_id.replace("-", ""),
            import_id=accepted.id,
            org_id=accepted.org_id,
            run_id=run.run_id,
            url=accepted.webhook_url,
            payload=payload,
        ):
            context.log.info(f"{accepted.id}: import.completed ({outcome.status}) queued")
    if records:
        cursor["updated_after"] = max(r.update_timestamp for r in records).timestamp()


def _dispatch_due(store: ControlStore, delivery: WebhookDelivery) -> list[Future[AttemptResult]]:
    """Hand due attempts (first ones and retries) to the background dispatcher."""
    pool = dispatcher(delivery.control_store_url, delivery.policy())
    futures = []
    for event in store.webhooks.claim_due(delivery.lease(), min(DISPATCH_LIMIT, pool.free_slots)):
        secret = store.organizations.webhook_secret(event.org_id)
        if secret is not None:
            futures.append(pool.dispatch(event, secret))
    return futures


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
    store = control_store(webhook_delivery.control_store_url)
    cursor = json.loads(context.cursor) if context.cursor else {"updated_after": 0.0}
    # The daemon starts a tick about every 5 s. Watching for ended runs during most of it sends
    # a webhook within ~WATCH_EVERY_S of its run's end instead of 0-5 s later.
    watch_until = time.monotonic() + webhook_delivery.watch_seconds
    futures = []
    while True:
        _record_ended_runs(context, store, warehouse, cursor)
        futures += _dispatch_due(store, webhook_delivery)
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
