"""The `import.completed` event of an ended import run, and the `import.reverted` event of an
ended revert run: built and recorded (not sent) here.

The sensor finds the runs that ended; this decides whether one gets an event (its import has a
`webhookUrl`), builds the payload and records the event once per run in the control store,
where the dispatcher picks it up. Recording first means a restarted daemon neither loses nor
repeats an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core.contracts import tags
from core.contracts.status import ImportStatus, import_outcome
from core.contracts.status_view import status_fields
from core.contracts.timestamps import timestamp
from core.control_store import ControlStore
from core.control_store.imports import ImportRecord
from orchestration.webhooks.payloads import RevertedFields, completed_payload, reverted_payload


@dataclass(frozen=True)
class EndedRun:
    """A run of the import job that ended, as the sensor found it (no Dagster types)."""

    run_id: str
    status: str  # the Dagster run status's name: SUCCESS, FAILURE or CANCELED
    tags: Mapping[str, str]
    ended_at: datetime | None


@dataclass(frozen=True)
class Queued:
    import_id: str
    status: ImportStatus


def event_id(run_id: str) -> str:
    """The `webhook-id`: one per run, the same on every attempt."""
    return "msg_" + run_id.replace("-", "")


def enqueue_completed(store: ControlStore, run: EndedRun) -> Queued | None:
    """Record the run's event; None if its import has no webhook URL or it is recorded already."""
    import_id = run.tags.get(tags.IMPORT_ID)
    accepted = store.imports.get_import_by_id(import_id) if import_id else None
    if accepted is None or accepted.webhook_url is None:
        return None
    outcome = import_outcome(run.run_id, run.status, run.tags, accepted.total)
    payload = completed_payload(accepted.id, status_fields(outcome, run.ended_at), run.run_id)
    return _enqueue(store, accepted, accepted.webhook_url, run, payload, outcome.status)


def enqueue_reverted(store: ControlStore, run: EndedRun) -> Queued | None:
    """Record the `import.reverted` event of an ended revert run, to the reverted import's
    `webhookUrl` (same secret and signing); None if it has none or the event is recorded."""
    import_id = run.tags.get(tags.REVERT_OF)
    accepted = store.imports.get_import_by_id(import_id) if import_id else None
    if accepted is None or accepted.webhook_url is None:
        return None
    counts = tags.revert_counts_from_tags(run.tags) if run.status == "SUCCESS" else None
    status = ImportStatus.REVERTED if counts else ImportStatus.FAILED
    fields = RevertedFields(
        status=status.value,
        reverted=counts["reverted"] if counts else None,
        kept=counts["kept"] if counts else None,
        memberships_removed=counts["membershipsRemoved"] if counts else None,
        reverted_at=timestamp(run.ended_at) if counts else None,
    )
    payload = reverted_payload(accepted.id, fields, run.run_id)
    return _enqueue(store, accepted, accepted.webhook_url, run, payload, status)


def _enqueue(
    store: ControlStore,
    accepted: ImportRecord,
    url: str,
    run: EndedRun,
    payload: str,
    status: ImportStatus,
) -> Queued | None:
    """Record the event once per run (its `webhook-id` comes from the run id)."""
    recorded = store.webhooks.enqueue(
        event_id=event_id(run.run_id),
        import_id=accepted.id,
        org_id=accepted.org_id,
        run_id=run.run_id,
        url=url,
        payload=payload,
    )
    return Queued(accepted.id, status) if recorded else None
