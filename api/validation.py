"""Request-level validation of a bulk import body: precise problems with JSON pointers."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import idna
import msgspec

from api.problems import Problem
from api.schemas import MAX_CONTACTS, MAX_FILE_CONTACTS, BulkImportRequest, FileImportRequest
from transforms.phones import SUPPORTED_COUNTRIES

# The contacts limit is the only difference: 10,000 for the JSON API, 100,000 for UI files.
_DECODERS: dict[int, msgspec.json.Decoder[BulkImportRequest]] = {
    MAX_CONTACTS: msgspec.json.Decoder(BulkImportRequest),
    MAX_FILE_CONTACTS: msgspec.json.Decoder(FileImportRequest),
}
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


def decode_bulk_request(body: bytes, max_contacts: int = MAX_CONTACTS) -> BulkImportRequest:
    if not body.strip():
        raise Problem(400, "invalid-json", "Body is not JSON", "The request body is empty.")
    try:
        request = _DECODERS[max_contacts].decode(body)
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
    except UnicodeDecodeError as exc:  # bytes that are not UTF-8 inside a JSON string
        raise Problem(
            400, "invalid-json", "Body is not JSON", f"The body is not valid UTF-8: {exc}"
        ) from None
    except RecursionError:
        raise Problem(
            400, "invalid-json", "Body is not JSON", "The JSON is nested too deeply to process."
        ) from None
    _check_nesting(request.contacts)
    if request.webhook_url is not None:
        _check_webhook_url(request.webhook_url)
    if request.default_country is not None:
        _check_country(request.default_country)
    return request


# Runs serialize each contact's values (orjson, 255 levels; else the standard library, whose
# recursion limit a value ~900 levels deep exceeds inside a run worker). Without a limit of its
# own, the API would accept bodies whose import fails on every run.
MAX_NESTING = 128


def _containers(values: Iterable[Any]) -> list[Any]:
    return [value for value in values if type(value) is dict or type(value) is list]


def _deeper_than(values: list[Any], limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels in `values` (a scalar: 0)."""
    level = _containers(values)
    for _ in range(limit):
        level = _containers(
            child for item in level for child in (item.values() if type(item) is dict else item)
        )
        if not level:
            return False
    return bool(level)


def _check_nesting(contacts: list[dict[str, Any]]) -> None:
    # One pass over every value at once; only a body that fails pays for finding where.
    if not _deeper_than([value for contact in contacts for value in contact.values()], MAX_NESTING):
        return
    index, key = next(
        (index, key)
        for index, contact in enumerate(contacts)
        for key, value in contact.items()
        if _deeper_than([value], MAX_NESTING)
    )
    pointer = f"/contacts/{index}/" + key.replace("~", "~0").replace("/", "~1")
    detail = f"Arrays and objects nest more than {MAX_NESTING} levels deep"
    raise Problem(
        422,
        "invalid-request",
        "The request body does not have the expected shape",
        f"{detail} at {pointer}",
        errors=[{"pointer": pointer, "detail": detail}],
    )


# One DNS label (after IDNA): letters, digits and inner hyphens, 1 to 63 of them.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


def webhook_url_problem(url: str) -> str | None:
    """Why `url` can never be delivered to, or None: checked once at the request, so a URL that
    would be retried for hours in vain gets a 422 at once. Whether its address is allowed is
    decided at delivery (the SSRF guard), where DNS is resolved."""
    if _CONTROL_OR_SPACE.search(url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "must be an absolute http(s) URL with a port from 1 to 65535"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL"
    if parts.username is not None or parts.password is not None:
        # They would be logged, stored and sent in clear with every attempt.
        return "must not contain credentials (user:password@); authenticate with the signature"
    if port == 0:
        return "must have a port from 1 to 65535"
    if not _valid_host(parts.hostname):
        return f"has an invalid host name {parts.hostname!r}"
    return None


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(_LABEL.match(label) for label in labels)


def _invalid_field(field: str, detail: str) -> Problem:
    """A top-level field with a value its type allows but its rule does not."""
    return Problem(
        422,
        "invalid-request",
        "The request body does not have the expected shape",
        f"{field} {detail}",
        errors=[{"pointer": f"/{field}", "detail": detail}],
    )


def _check_country(country: str) -> None:
    if country not in SUPPORTED_COUNTRIES:
        detail = f"{country!r} is not a country with a numbering plan (ISO 3166-1 alpha-2)"
        raise _invalid_field("defaultCountry", detail)


def _check_webhook_url(url: str) -> None:
    problem = webhook_url_problem(url)
    if problem is not None:
        raise _invalid_field("webhookUrl", problem)
