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
_FIELD = re.compile(r"Object (?:missing required|contains unknown) field `(.+)`", re.DOTALL)


def _pointer(path: str) -> str:
    return "".join(f"/{name or index}" for name, index in _PATH_PART.findall(path))


def _field_problem(message: str) -> Problem:
    match = _LOCATION.match(message)
    assert match is not None  # the pattern matches any string
    detail, pointer = match["message"], _pointer(match["path"] or "")
    # msgspec locates these at the enclosing object; point at the field itself.
    field = _FIELD.match(detail)
    if field:
        pointer += "/" + field[1].replace("~", "~0").replace("/", "~1")
    return Problem(
        422,
        "invalid-request",
        "The request body does not have the expected shape",
        f"{detail} at {pointer}" if pointer else detail,
        errors=[{"pointer": pointer, "detail": detail}],
    )


def _not_json(exc: msgspec.DecodeError) -> Problem:
    return Problem(400, "invalid-json", "Body is not JSON", str(exc))


def decode_bulk_request(body: bytes) -> BulkImportRequest:
    if not body.strip():
        raise Problem(400, "invalid-json", "Body is not JSON", "The request body is empty.")
    try:
        request = _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        # Typed decoding stops at the first wrong value, before reading the rest: a body that is
        # not JSON at all (truncated, trailing data) must still say so.
        try:
            msgspec.json.decode(body)
        except msgspec.DecodeError as not_json:
            raise _not_json(not_json) from None
        raise _field_problem(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise _not_json(exc) from None
    except RecursionError:
        raise Problem(
            400, "invalid-json", "Body is not JSON", "The JSON is nested too deeply to process."
        ) from None
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
