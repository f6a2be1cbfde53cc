"""Wire schemas the server alone uses (msgspec, camelCase on the wire); the response shapes the
client decodes too live in `client.schemas`."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from client.schemas import (
    MAX_CONTACTS,
    ChangedField,
    DryRunReport,
    DryRunRow,
    FailedRow,
    FailedRowList,
    FieldChange,
    ImportAccepted,
    ImportList,
    ImportPhoneSummary,
    ImportStatusView,
    ImportSummary,
    KeptContact,
    KeptContactList,
    RevertView,
    RowAction,
    RowDiff,
    RowError,
    RowErrorList,
    RowProblem,
)
from core.contracts.import_options import ImportMode
from core.contracts.timestamps import Timestamp, timestamp
from core.control_store.webhooks import WebhookEventRecord

__all__ = [
    "MAX_CONTACTS",
    "BulkImportRequest",
    "ChangedField",
    "DryRunReport",
    "DryRunRow",
    "FailedRow",
    "FailedRowList",
    "FieldChange",
    "FieldProblem",
    "FileImportRequest",
    "Health",
    "ImportAccepted",
    "ImportList",
    "ImportPhoneSummary",
    "ImportStatusView",
    "ImportSummary",
    "KeptContact",
    "KeptContactList",
    "ProblemDocument",
    "RevertView",
    "RowAction",
    "RowDiff",
    "RowError",
    "RowErrorList",
    "RowProblem",
    "WebhookAttemptView",
    "WebhookDeliveryList",
    "WebhookEventView",
]

MAX_FILE_CONTACTS = 100_000  # a file uploaded in the Contacts UI


class BulkImportRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Up to 10,000 contacts; each needs `name` and `phoneNumber`, other keys become metadata."""

    contacts: Annotated[list[dict[str, Any]], msgspec.Meta(min_length=1, max_length=MAX_CONTACTS)]
    audience_id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    webhook_url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)] | None = None
    # The import options (core.contracts.import_options); their published descriptions are in
    # api/openapi.py's BULK_IMPORT_REQUEST, which documents this body.
    default_country: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")] | None = None
    mode: ImportMode = ImportMode.UPSERT


class FileImportRequest(BulkImportRequest):
    """The body the Contacts UI builds from an uploaded file: the same, up to 100,000 contacts."""

    contacts: Annotated[
        list[dict[str, Any]], msgspec.Meta(min_length=1, max_length=MAX_FILE_CONTACTS)
    ]


class Health(msgspec.Struct):
    status: str
    checks: dict[str, str]


class WebhookAttemptView(msgspec.Struct, rename="camel"):
    attempt: int
    attempted_at: Timestamp
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: float


class WebhookEventView(msgspec.Struct, rename="camel"):
    id: str
    run_id: str
    url: str
    state: str
    created_at: Timestamp
    next_attempt_at: Timestamp | None
    attempts: list[WebhookAttemptView]


class WebhookDeliveryList(msgspec.Struct, rename="camel"):
    import_id: str
    data: list[WebhookEventView]


def webhook_event_view(event: WebhookEventRecord) -> WebhookEventView:
    """The wire shape of a stored event and its attempts."""
    return WebhookEventView(
        id=event.id,
        run_id=event.run_id,
        url=event.url,
        state=event.state,
        created_at=Timestamp.of(event.created_at),
        next_attempt_at=timestamp(event.next_attempt_at),
        attempts=[
            WebhookAttemptView(
                attempt=attempt.attempt,
                attempted_at=Timestamp.of(attempt.attempted_at),
                outcome=attempt.outcome,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
            )
            for attempt in event.attempts
        ],
    )


class FieldProblem(msgspec.Struct, omit_defaults=True):
    """One field's problem: a JSON pointer into the body, or a query/header parameter name."""

    detail: str
    pointer: str | None = None
    parameter: str | None = None


class ProblemDocument(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, served as `application/problem+json`."""

    status: int
    title: str
    type: str = "about:blank"
    detail: str | None = None
    errors: list[FieldProblem] | None = None
