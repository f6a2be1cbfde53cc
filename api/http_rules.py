"""Request rules the HTTP layer checks before a handler runs: the body's media type and coding,
and integer query parameters written as integers.

Litestar alone accepts a second Content-Type header, a charset the body is not in, a content
coding it does not decode, and `page=1e3` (msgspec turns the float text into 1000). Each is a
precise 4xx problem here instead.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException

from api.problems import Problem

_DIGITS = re.compile(r"^[0-9]+$")
# Query parameters the API declares as integers.
INTEGER_PARAMETERS = ("page", "limit")


def require_json_body(request: Request[Any, Any, Any]) -> None:
    """One `application/json` (or `<type>+json`) Content-Type, UTF-8, and no content coding."""
    _require_identity_coding(request)
    values = request.headers.getall("content-type", [])
    if len(values) > 1:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"Send one Content-Type header, not {len(values)}: {', '.join(map(repr, values))}.",
        )
    content_type = values[0] if values else ""
    media_type, _, parameters = content_type.partition(";")
    media_type = media_type.strip().lower()
    is_json = media_type == "application/json" or (
        media_type.endswith("+json") and "/" in media_type and not media_type.startswith("/")
    )
    if not is_json:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"Send the body as application/json, not {content_type or 'no content type'!r}.",
        )
    charset = _parameter(parameters, "charset")
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"JSON bodies are UTF-8; charset={charset!r} is not accepted.",
        )


def _require_identity_coding(request: Request[Any, Any, Any]) -> None:
    codings = [
        coding.strip().lower()
        for value in request.headers.getall("content-encoding", [])
        for coding in value.split(",")
        if coding.strip()
    ]
    if any(coding != "identity" for coding in codings):
        raise Problem(
            415,
            "unsupported-encoding",
            "Unsupported content encoding",
            f"Content-Encoding {', '.join(codings)!r} is not decoded here: send the body "
            "uncompressed (no Content-Encoding header).",
        )


def _parameter(parameters: str, name: str) -> str | None:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None


def require_integer_query(request: Request[Any, Any, Any]) -> None:
    """`page=1e3` or `limit=2.0` are 400, as `page=abc` is: the docs say integers."""
    wrong = [
        {
            "key": name,
            "message": f"Expected an integer written in digits, got {value!r}",
            "source": "query",
        }
        for name in INTEGER_PARAMETERS
        for value in request.query_params.getall(name, [])
        if not _DIGITS.match(value)
    ]
    if wrong:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise ValidationException(
            detail=f"Validation failed for {request.method} {target}", extra=wrong
        )
