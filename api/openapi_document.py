"""What the OpenAPI document says beyond the types: its introduction, curated examples instead
of generated ones, and the allowed values of string fields whose wire type stays a plain string
(so clients of this release keep decoding values a later release adds)."""

from __future__ import annotations

from typing import Any

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example, OpenAPI, Schema

from core.contracts.status import ImportStatus
from transforms.errors import RowErrorCode

INTRODUCTION = """\
Bulk-import contacts for an organization, follow each import to its end, and fix what failed.

**Authentication.** Every `/v1` call needs the organization's API key, as
`Authorization: Bearer <key>` or `X-API-Key: <key>`. A key sees only its organization: another
organization's import answers 404, exactly like one that does not exist. `POST /v1/imports/upload`
is the Contacts UI's (a browser session cookie, never a key).

**Limits.** Up to 10,000 contacts per request and 32 MiB per body; 1,200 requests per minute per
organization (`RateLimit-*` headers; 429 with `Retry-After` beyond). Send `Idempotency-Key` to
retry a POST safely.

**Statuses.** `POST /v1/imports/api/bulk` answers 202 once the request is stored durably; then the
import is `PENDING` (queued), `PROCESSING`, and ends `COMPLETED`, `COMPLETED_WITH_ERRORS` (some
rows failed) or `FAILED`; `REVERTED` after `POST /v1/imports/{id}/revert`. Rows that break a rule
never reject the request: they become failed rows with errors (`GET …/errors`,
`GET …/failed-rows`). An `import.completed` webhook, signed per Standard Webhooks, is sent when an
import ends if it names a `webhookUrl`.

**Large datasets.** Send batches of 10,000 (one organization's imports are applied in the order
they were accepted, so several may be in flight), or use `oliai import FILE` (resumable, batches
sent ahead), or the Contacts UI for files up to 100,000 rows. `?dryRun=true` shows what a batch
would do without importing it.

Errors are RFC 9457 problem details (`application/problem+json`): match on `type`.
"""

# The webhook of the try-it request: a host that never receives anything.
TRY_IT_WEBHOOK = "https://example.com/webhooks/import-done"

PROBLEM_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {
        "status": 400,
        "type": "/problems/bad-request",
        "title": "Invalid request parameters",
        "detail": "Validation failed for GET /v1/imports?page=0",
        "errors": [{"parameter": "page", "detail": "Expected `int` >= 1"}],
    },
    401: {
        "status": 401,
        "type": "/problems/unauthorized",
        "title": "Missing or invalid API key",
        "detail": "Send the organization's API key as Authorization: Bearer <key>.",
    },
    403: {
        "status": 403,
        "type": "/problems/upload-not-available",
        "title": "File upload is not available with an API key",
        "detail": "Use POST /v1/imports/api/bulk with a JSON body, or upload the file in the "
        "Contacts UI.",
    },
    404: {
        "status": 404,
        "type": "/problems/not-found",
        "title": "Import not found",
        "detail": "No import imp_a0b408d27c397a37446ff5f1 in this organization.",
    },
    409: {
        "status": 409,
        "type": "/problems/rows-not-checked",
        "title": "The import's rows have not been checked yet",
        "detail": "Import imp_a0b408d27c397a37446ff5f1 is still waiting or running.",
    },
    410: {
        "status": 410,
        "type": "/problems/request-pruned",
        "title": "The import's request body is gone",
        "detail": "The retention policy deleted the request of imp_a0b408d27c397a37446ff5f1.",
    },
    413: {
        "status": 413,
        "type": "/problems/payload-too-large",
        "title": "Request Entity Too Large",
        "detail": "The request body is larger than the 33554432-byte limit.",
    },
    415: {
        "status": 415,
        "type": "/problems/unsupported-media-type",
        "title": "Unsupported media type",
        "detail": "Send the body as Content-Type: application/json.",
    },
    422: {
        "status": 422,
        "type": "/problems/invalid-request",
        "title": "The request body does not have the expected shape",
        "detail": "Expected `object`, got `str` at /contacts/1",
        "errors": [{"pointer": "/contacts/1", "detail": "Expected `object`, got `str`"}],
    },
    429: {
        "status": 429,
        "type": "/problems/rate-limited",
        "title": "Too Many Requests",
        "detail": "Too many requests for this organization; retry in 12 s.",
    },
    503: {
        "status": 503,
        "type": "/problems/orchestrator-unavailable",
        "title": "Imports are temporarily unavailable",
        "detail": "Dagster cannot be reached; nothing was created. Retry in a few seconds.",
    },
}


def response(container: Any, description: str, example: Any = None, **kwargs: Any) -> ResponseSpec:
    """A documented response: the curated `example` or none, never generated noise."""
    examples = [Example(value=example)] if example is not None else None
    return ResponseSpec(
        data_container=container,
        description=description,
        generate_examples=False,
        examples=examples,
        **kwargs,
    )


_ROW_ERRORS = ("RowError", "RowProblem")
# String fields and the values they take, by component schema.
_ENUMS: dict[tuple[str, str], list[str]] = {
    **{
        (view, "status"): [status.value for status in ImportStatus]
        for view in ("ImportStatusView", "ImportSummary", "ImportPhoneSummary")
    },
    **{
        (error, "code"): [code.value for code in RowErrorCode]
        for error in ("RowError", "RowProblem")
    },
    **{
        (error, "field"): ["name", "phoneNumber", "language"]
        for error in ("RowError", "RowProblem")
    },
}


def document_values(document: OpenAPI) -> None:
    """Adds each string field's allowed values to the built document (once, at start-up)."""
    schemas = document.components.schemas if document.components else None
    for (component, field), values in _ENUMS.items():
        schema = (schemas or {}).get(component)
        prop = schema.properties.get(field) if schema and schema.properties else None
        if isinstance(prop, Schema):
            prop.enum = values


_TOO_SHORT = {
    "field": "phoneNumber",
    "code": "too_short",
    "message": "phoneNumber has too few digits for its country",
}
# docs/api.md#dry-run's example: Priya stored before, Ravi new, Anna's number too short.
DRY_RUN_EXAMPLE = {
    "total": 3,
    "valid": 2,
    "failed": 1,
    "errorCount": 1,
    "rows": [
        {
            "rowIndex": 0,
            "phoneNumber": "+919876543210",
            "name": "Priya Sharma",
            "language": None,
            "metadata": {"city": "Pune", "tier": "gold"},
        },
        {
            "rowIndex": 1,
            "phoneNumber": "+919123456789",
            "name": "Ravi",
            "language": None,
            "metadata": {},
        },
    ],
    "errors": [{"rowIndex": 2, **_TOO_SHORT, "value": "+91 12"}],
    "created": 1,
    "updated": 1,
    "skipped": 0,
    "diff": [
        {
            "rowIndex": 0,
            "action": "update",
            "phoneNumber": "+919876543210",
            "changes": [
                {"field": "metadata", "key": "city", "old": "Mumbai", "new": "Pune"},
                {"field": "metadata", "key": "tier", "old": None, "new": "gold"},
            ],
            "errors": [],
        },
        {
            "rowIndex": 1,
            "action": "create",
            "phoneNumber": "+919123456789",
            "changes": [{"field": "name", "key": None, "old": None, "new": "Ravi"}],
            "errors": [],
        },
        {
            "rowIndex": 2,
            "action": "fail",
            "phoneNumber": None,
            "changes": [],
            "errors": [_TOO_SHORT],
        },
    ],
}
REVERTED_EXAMPLE = {
    "id": "imp_a0b408d27c397a37446ff5f1",
    "status": "REVERTED",
    "total": 5,
    "created": 2,
    "updated": 1,
    "failed": 2,
    "errorCount": 3,
    "skipped": 0,
    "completedAt": "2026-03-10T10:05:00.000Z",
    "revert": {
        "status": "REVERTED",
        "requestedAt": "2026-03-10T11:00:00.000Z",
        "revertedAt": "2026-03-10T11:00:01.250Z",
        "reverted": 2,
        "kept": 1,
        "membershipsRemoved": 2,
        "runId": "6535f1bf-f150-4562-9745-fcb0f2f350f1",
    },
}
