"""Shared pieces of the `test_api_*` modules: problem assertions, fresh organizations, bodies."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx

from core.examples import SEED_EXAMPLE
from tests.stack import Stack

PROBLEM_JSON = "application/problem+json"
BULK = "/v1/imports/api/bulk"
# How every timestamp leaves the API and the webhook (api.md): UTC, milliseconds, Z.
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
# The reference's example without its webhook: tests never call hosts outside 127.0.0.1.
SEED_BODY: dict[str, Any] = {k: v for k, v in SEED_EXAMPLE.items() if k != "webhookUrl"}

# Six rows: two created, one updated (row 4 repeats row 0's number), three failed with five
# errors between them. MESSY_ERRORS is what GET /errors must list, in order.
MESSY_BODY: dict[str, Any] = {
    "contacts": [
        {"name": "  Ana   María ", "phoneNumber": "+34 612-34-56-78", "language": "ES-es"},
        {"name": "Zoë", "phoneNumber": "+44 (20) 7946.0958", "vip": True},
        {"name": "   ", "phoneNumber": "12345"},
        {"name": 42},
        {"name": "Ana M.", "phoneNumber": "+34612345678"},
        {"name": "Bad Tag", "phoneNumber": "+14155550123", "language": "English (US)"},
    ]
}
MESSY_COUNTS = {"total": 6, "created": 2, "updated": 1, "failed": 3, "errorCount": 5}
MESSY_ERRORS = [
    (2, "name", "empty", "   "),
    (2, "phoneNumber", "missing_plus", "12345"),
    (3, "name", "invalid_type", "42"),
    (3, "phoneNumber", "required", None),
    (5, "language", "invalid_tag", "English (US)"),
]


def assert_timestamp(value: object) -> None:
    """`value` is written exactly as api.md says: `2026-03-10T10:05:00.000Z`."""
    assert isinstance(value, str), value
    assert TIMESTAMP.fullmatch(value), value


def fresh_org(stack: Stack, topic: str) -> str:
    """A key of a new organization, so counts and history are this test's alone."""
    return stack.new_org_key(f"api-{topic}-{secrets.token_hex(3)}")


def phone(i: int) -> str:
    """The i-th of 8 million distinct valid numbers (+1 415 200-0000 onwards)."""
    return f"+1415{200 + i // 10_000:03d}{i % 10_000:04d}"


def contacts(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"name": f"Contact {i}", "phoneNumber": phone(i)} for i in range(start, start + n)]


def assert_problem(
    response: httpx.Response,
    status: int,
    slug: str,
    *,
    pointer: str | None = None,
    parameter: str | None = None,
) -> dict[str, Any]:
    """RFC 9457: the status, the media type, and every member a client reads."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == f"/problems/{slug}"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if pointer is not None:
        assert [error["pointer"] for error in body["errors"]] == [pointer], body
        assert all(error["detail"] for error in body["errors"])
    if parameter is not None:
        assert [error["parameter"] for error in body["errors"]] == [parameter], body
        assert all(error["detail"] for error in body["errors"])
    if pointer is None and parameter is None:
        assert "errors" not in body, body
    return body


def history_total(client: httpx.Client) -> int:
    response = client.get("/v1/imports")
    assert response.status_code == 200, response.text
    return int(response.json()["total"])
