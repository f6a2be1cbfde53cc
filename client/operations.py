"""One API operation as data (`Call`): the request to send, how to read its success answer,
and whether an error answer is worth another try; the bulk body's encoding and the readers of
the answers."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
import msgspec

from client.errors import ApiError, error_from_response
from client.schemas import RowError, dec_hook
from core.contracts.import_options import ApplyOptions

BULK_PATH = "/v1/imports/api/bulk"
DEFAULT_OPTIONS = ApplyOptions()
T = TypeVar("T")


def encode_bulk_body(
    contacts: Sequence[Mapping[str, Any]],
    *,
    audience_id: str | None = None,
    webhook_url: str | None = None,
    options: ApplyOptions = DEFAULT_OPTIONS,
) -> bytes:
    """The bulk request's JSON bytes; the same arguments always give the same bytes (the API
    compares an Idempotency-Key's bodies byte for byte)."""
    body: dict[str, Any] = {"contacts": contacts}
    if audience_id is not None:
        body["audienceId"] = audience_id
    if webhook_url is not None:
        body["webhookUrl"] = webhook_url
    body.update(options.wire_fields())
    return msgspec.json.encode(body)


class Retryable(Exception):
    """Internal: an answer worth another try; unwrapped to its ApiError when retries end."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(str(error))
        self.error = error


# Nothing was created: always safe to send again.
_ALWAYS_RETRY = {429, 503}
# A gateway in front of the API may have lost the answer: only for safe-to-repeat calls.
_RETRY_WHEN_SAFE = {502, 504}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API operation: the request to send and how to read its success answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    # Whether sending it twice is harmless (GETs, dry runs, POSTs with an Idempotency-Key).
    repeatable: bool = True

    def check(self, response: httpx.Response) -> T:
        if response.is_success:
            return self.parse(response)
        error = error_from_response(response)
        retry = response.status_code in _ALWAYS_RETRY or (
            self.repeatable and response.status_code in _RETRY_WHEN_SAFE
        )
        if error.slug == "idempotency-key-in-flight":
            retry = True
        raise Retryable(error) if retry else error


def json_decoder(kind: type[T]) -> Callable[[httpx.Response], T]:
    decoder = msgspec.json.Decoder(kind, dec_hook=dec_hook)
    return lambda response: decoder.decode(response.content)


def parse_errors_csv(response: httpx.Response) -> list[RowError]:
    rows = csv.DictReader(io.StringIO(response.text))
    return [
        RowError(
            row_index=int(row["row_index"]),
            field=row["field"],
            code=row["code"],
            message=row["message"],
            value=row["value"] or None,
        )
        for row in rows
    ]
