"""The API's response shapes (msgspec, camelCase on the wire): what the server encodes and the
client decodes, defined once here so the client needs no server package."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

MAX_CONTACTS = 10_000


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
