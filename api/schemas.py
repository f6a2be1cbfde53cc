"""Wire schemas (msgspec, camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

MAX_CONTACTS = 10_000
MAX_FILE_CONTACTS = 100_000  # a file uploaded in the Contacts UI


class BulkImportRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Up to 10,000 contacts; each needs `name` and `phoneNumber`, other keys become metadata."""

    contacts: Annotated[list[dict[str, Any]], msgspec.Meta(min_length=1, max_length=MAX_CONTACTS)]
    audience_id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    webhook_url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)] | None = None


class FileImportRequest(BulkImportRequest):
    """The body the Contacts UI builds from an uploaded file: the same, up to 100,000 contacts."""

    contacts: Annotated[
        list[dict[str, Any]], msgspec.Meta(min_length=1, max_length=MAX_FILE_CONTACTS)
    ]


class ImportAccepted(msgspec.Struct, rename="camel"):
    import_id: str
    status: str
    total: int


class ImportStatusView(msgspec.Struct, rename="camel"):
    id: str
    status: str
    total: int
    created: int
    updated: int
    failed: int
    error_count: int
    completed_at: datetime | None


class ImportSummary(ImportStatusView):
    created_at: datetime
    audience_id: str | None
    run_id: str | None


class ImportList(msgspec.Struct, rename="camel"):
    data: list[ImportSummary]
    page: int
    limit: int
    total: int


class RowError(msgspec.Struct, rename="camel"):
    row_index: int
    field: str
    code: str
    message: str
    value: str | None


class RowErrorList(msgspec.Struct, rename="camel"):
    import_id: str
    data: list[RowError]
    page: int
    limit: int
    total: int


class Health(msgspec.Struct):
    status: str
    checks: dict[str, str]


class WebhookAttemptView(msgspec.Struct, rename="camel"):
    attempt: int
    attempted_at: datetime
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: float


class WebhookEventView(msgspec.Struct, rename="camel"):
    id: str
    run_id: str
    url: str
    state: str
    created_at: datetime
    next_attempt_at: datetime | None
    attempts: list[WebhookAttemptView]


class WebhookDeliveryList(msgspec.Struct, rename="camel"):
    import_id: str
    data: list[WebhookEventView]


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


class DryRunRow(msgspec.Struct, rename="camel"):
    """A row that passes the row rules, as the import would store it."""

    row_index: int
    phone_number: str
    name: str
    language: str | None
    metadata: dict[str, Any]


class DryRunReport(msgspec.Struct, rename="camel"):
    """`?dryRun=true`: the row rules applied to the request; nothing is created.

    `rows` lists the valid rows (normalized), `errors` every row error. Whether a valid row
    would create or update a contact depends on the warehouse, so it is not reported.
    """

    total: int
    valid: int
    failed: int
    error_count: int
    rows: list[DryRunRow]
    errors: list[RowError]
