"""Request-level validation of a bulk import body: precise problems with JSON pointers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import msgspec

from api.problems import Problem
from api.schemas import BulkImportRequest

_DECODER = msgspec.json.Decoder(BulkImportRequest)
# msgspec says where a value failed as "... - at `$.contacts[3]`".
_LOCATION = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _pointer(path: str) -> str:
    return "".join(f"/{name or index}" for name, index in _PATH_PART.findall(path))


def _field_problem(message: str) -> Problem:
    match = _LOCATION.match(message)
    assert match is not None  # the pattern matches any string
    detail, path = match["message"], match["path"] or ""
    # msgspec locates these at the enclosing object; point at the field itself.
    field = re.match(r"Object (?:missing required|contains unknown) field `(.+)`", detail)
    if field:
        path = f"{path}.{field[1]}"
    return Problem(
        422,
        "invalid-request",
        "The request body does not have the expected shape",
        f"{detail} at {_pointer(path) or '/'}" if path else detail,
        errors=[{"pointer": _pointer(path), "detail": detail}],
    )


def decode_bulk_request(body: bytes) -> BulkImportRequest:
    if not body.strip():
        raise Problem(400, "invalid-json", "Body is not JSON", "The request body is empty.")
    try:
        request = _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        raise _field_problem(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise Problem(400, "invalid-json", "Body is not JSON", str(exc)) from None
    if request.webhook_url is not None:
        _check_webhook_url(request.webhook_url)
    return request


def _check_webhook_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise Problem(
            422,
            "invalid-request",
            "The request body does not have the expected shape",
            "webhookUrl must be an absolute http(s) URL",
            errors=[{"pointer": "/webhookUrl", "detail": "must be an absolute http(s) URL"}],
        )
