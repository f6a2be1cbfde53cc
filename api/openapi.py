"""OpenAPI parts Litestar cannot infer: the bulk body is decoded by hand (for precise
problems), so its schema is declared here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Link,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

from api.openapi_document import PROBLEM_EXAMPLES, TRY_IT_WEBHOOK, response
from api.schemas import MAX_CONTACTS, FailedRowList, ProblemDocument, RowErrorList
from core.contracts.import_options import ImportMode
from core.contracts.timestamps import EXAMPLE as TIMESTAMP_EXAMPLE
from core.contracts.timestamps import Timestamp
from core.examples import SEED_EXAMPLE
from transforms.phones import SUPPORTED_COUNTRIES

_STRING = Schema(type=OpenAPIType.STRING)
# Row rules are row-level: a contact missing `name`, or with a number for `phoneNumber`, is a
# failed row, not a rejected request. So the item schema documents the fields without requiring
# them or constraining their JSON types: any value is accepted, and the row rules judge it.
CONTACT = Schema(
    type=OpenAPIType.OBJECT,
    description="`name` and `phoneNumber` are needed for the row to import; any other key "
    "becomes metadata. A missing or invalid field makes the row fail, not the request.",
    properties={
        "name": Schema(description="Full name: a string, at most 256 characters."),
        "phoneNumber": Schema(description="A string with a leading +; stored as E.164."),
        "language": Schema(description="Optional string: a BCP 47 tag, e.g. hi-IN."),
    },
    additional_properties=True,
)
BULK_IMPORT_REQUEST = Schema(
    type=OpenAPIType.OBJECT,
    required=["contacts"],
    properties={
        "contacts": Schema(
            type=OpenAPIType.ARRAY, items=CONTACT, min_items=1, max_items=MAX_CONTACTS
        ),
        "audienceId": Schema(
            one_of=[
                Schema(type=OpenAPIType.STRING, min_length=1, max_length=255),
                Schema(type=OpenAPIType.NULL),
            ]
        ),
        "webhookUrl": Schema(
            one_of=[
                Schema(
                    type=OpenAPIType.STRING,
                    format=OpenAPIFormat.URI,
                    max_length=2048,
                    pattern="^https?://",
                ),
                Schema(type=OpenAPIType.NULL),
            ]
        ),
        "mode": Schema(
            type=OpenAPIType.STRING,
            enum=[mode.value for mode in ImportMode],
            default=ImportMode.UPSERT.value,
            description="upsert: create new numbers and update existing contacts. createOnly: "
            "existing contacts are left untouched. updateOnly: numbers the organization does not "
            "have are not created. Rows left untouched count as `skipped`.",
        ),
        "defaultCountry": Schema(
            one_of=[
                # Exactly the countries phonenumbers has a plan for: what the API accepts.
                Schema(type=OpenAPIType.STRING, enum=sorted(SUPPORTED_COUNTRIES), examples=["IN"]),
                Schema(type=OpenAPIType.NULL),
            ],
            description="ISO 3166-1 alpha-2 country (uppercase) in which numbers written without "
            "+ are read (e.g. IN for 098765 43210); without it they are `missing_plus` errors.",
        ),
    },
    additional_properties=False,
    # The reference's example, its webhook sent nowhere when tried from the docs page.
    example={**SEED_EXAMPLE, "webhookUrl": TRY_IT_WEBHOOK},
)


class TimestampSchema(OpenAPISchemaPlugin):
    """`Timestamp` is a datetime subclass (so msgspec hands it to our encoder, which writes
    milliseconds and `Z`); Litestar knows only `datetime` itself, so say it is a date-time."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Timestamp

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        return Schema(
            type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME, examples=[TIMESTAMP_EXAMPLE]
        )


# Where a 202's `importId` leads (OpenAPI links: for clients and tools such as Schemathesis).
IMPORT_LINKS: dict[str, Link | Reference] = {
    name: Link(operation_id=operation_id, parameters={"import_id": "$response.body#/importId"})
    for name, operation_id in (
        ("status", "getImportStatus"),
        ("errors", "listImportErrors"),
        ("failedRows", "listFailedRows"),
        ("webhookDeliveries", "listWebhookDeliveries"),
    )
}


@dataclass
class BulkImportOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={"application/json": OpenAPIMediaType(schema=BULK_IMPORT_REQUEST)},
            required=True,
        )
        accepted = (self.responses or {}).get("202")
        if isinstance(accepted, OpenAPIResponse):
            accepted.links = IMPORT_LINKS


UPLOAD_FORM = Schema(
    type=OpenAPIType.OBJECT,
    required=["file"],
    properties={
        "file": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            description="CSV (`,` `;` or tab), .xlsx, a JSON array or NDJSON; up to 100,000 rows "
            "and 50 MiB.",
        ),
        "audienceId": Schema(type=OpenAPIType.STRING, max_length=255),
        "webhookUrl": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.URI, max_length=2048),
        "defaultCountry": Schema(type=OpenAPIType.STRING, pattern="^[A-Za-z]{2}$"),
        "mode": Schema(type=OpenAPIType.STRING, enum=[mode.value for mode in ImportMode]),
    },
)


@dataclass
class UploadOperation(Operation):
    """The Contacts UI's upload: a multipart form, with the session cookie and the CSRF token
    (header `X-CSRFToken`) instead of an API key."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={"multipart/form-data": OpenAPIMediaType(schema=UPLOAD_FORM)}, required=True
        )
        self.security = [{"session": []}]  # not the controller's API key schemes


@dataclass
class CsvDownloadOperation(Operation):
    """A page that is JSON, or everything as CSV with `?format=csv` or `Accept: text/csv`."""

    csv = Schema(type=OpenAPIType.STRING)

    def __post_init__(self) -> None:
        ok = (self.responses or {})["200"]
        assert isinstance(ok, OpenAPIResponse)
        assert ok.content is not None
        ok.content["text/csv"] = OpenAPIMediaType(schema=self.csv)


@dataclass
class ImportErrorsOperation(CsvDownloadOperation):
    csv = Schema(
        type=OpenAPIType.STRING,
        description="Every row error as CSV, with the header row_index,field,code,message,value.",
    )


@dataclass
class FailedRowsOperation(CsvDownloadOperation):
    csv = Schema(
        type=OpenAPIType.STRING,
        description="Every failed row as CSV: one column per key the failed rows were sent "
        "with, in the order they first appear, then `errors` (`field code: message`, `; ` "
        "between them).",
    )


_MISSING_PLUS = {
    "field": "phoneNumber",
    "code": "missing_plus",
    "message": "phoneNumber must start with + and the country calling code, e.g. +919876543210, "
    "or the import must name a defaultCountry",
}
ROW_ERRORS_RESPONSE = {
    200: response(
        RowErrorList,
        "A page of the import's row errors, or all of them as CSV",
        {
            "importId": "imp_a0b408d27c397a37446ff5f1",
            "data": [{"rowIndex": 1, **_MISSING_PLUS, "value": "612 34 56 79"}],
            "page": 1,
            "limit": 100,
            "total": 1,
        },
    )
}
FAILED_ROWS_RESPONSE = {
    200: response(
        FailedRowList,
        "A page of the import's failed rows as they were sent, each with its errors; or all "
        "of them as CSV",
        {
            "importId": "imp_a0b408d27c397a37446ff5f1",
            "data": [
                {
                    "rowIndex": 1,
                    "row": {"name": "Bea", "phoneNumber": "612 34 56 79", "tier": "gold"},
                    "errors": [_MISSING_PLUS],
                }
            ],
            "page": 1,
            "limit": 100,
            "total": 1,
        },
    )
}


PROBLEM_DESCRIPTIONS = {
    400: "Malformed request (body not JSON, bad query parameter)",
    401: "Missing, invalid or revoked API key",
    403: "Not available with an API key",
    404: "No such import for this organization",
    409: "A request with this Idempotency-Key is still in progress (bulk import), or the "
    "import's rows have not been checked yet (failed rows)",
    410: "The import's request body was deleted by the retention policy",
    413: "Body over the size limit",
    415: "Body is not application/json",
    422: "Body has the wrong shape, or Idempotency-Key reused with another body",
    429: "Rate limit exceeded (see Retry-After)",
    503: "The orchestrator is unreachable; nothing was created",
}


def problem_responses(*codes: int) -> dict[int, ResponseSpec]:
    return {
        code: response(
            ProblemDocument,
            PROBLEM_DESCRIPTIONS[code],
            PROBLEM_EXAMPLES[code],
            media_type="application/problem+json",
        )
        for code in codes
    }
