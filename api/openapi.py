"""OpenAPI parts Litestar cannot infer: the bulk body is decoded by hand (for precise
problems), so its schema is declared here."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)

from api.schemas import MAX_CONTACTS, ProblemDocument
from orchestration.examples import SEED_EXAMPLE

_STRING = Schema(type=OpenAPIType.STRING)
# Row rules are row-level: a contact missing `name` is a failed row, not a rejected request,
# so the item schema documents the fields without requiring them.
CONTACT = Schema(
    type=OpenAPIType.OBJECT,
    description="`name` and `phoneNumber` are needed for the row to import; any other key "
    "becomes metadata.",
    properties={
        "name": Schema(type=OpenAPIType.STRING, description="Full name, at most 256 characters."),
        "phoneNumber": Schema(
            type=OpenAPIType.STRING, description="With a leading +; stored as E.164."
        ),
        "language": Schema(type=OpenAPIType.STRING, description="BCP 47 tag, e.g. hi-IN."),
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
    },
    additional_properties=False,
    example=SEED_EXAMPLE,
)


@dataclass
class BulkImportOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={"application/json": OpenAPIMediaType(schema=BULK_IMPORT_REQUEST)},
            required=True,
        )


PROBLEM_DESCRIPTIONS = {
    400: "Malformed request (body not JSON, bad query parameter)",
    401: "Missing, invalid or revoked API key",
    403: "Not available with an API key",
    404: "No such import for this organization",
    409: "A request with this Idempotency-Key is still in progress",
    413: "Body over the size limit",
    415: "Body is not application/json",
    422: "Body has the wrong shape, or Idempotency-Key reused with another body",
    429: "Rate limit exceeded (see Retry-After)",
    503: "The orchestrator is unreachable; nothing was created",
}


def problem_responses(*codes: int) -> dict[int, ResponseSpec]:
    return {
        code: ResponseSpec(
            data_container=ProblemDocument,
            description=PROBLEM_DESCRIPTIONS[code],
            media_type="application/problem+json",
        )
        for code in codes
    }
