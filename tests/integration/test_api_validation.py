"""POST /v1/imports/api/bulk: every request-level problem is answered at once and creates nothing.

All rejections go to one fresh organization whose history must stay empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from tests.integration.api_support import (
    BULK,
    SEED_BODY,
    assert_problem,
    contacts,
    fresh_org,
    history_total,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration

MAX_BODY_BYTES = Settings.model_fields["max_body_bytes"].default
ONE_CONTACT = SEED_BODY["contacts"][:1]


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(fresh_org(stack, "validation")) as client:
        yield client


@pytest.fixture(autouse=True)
def creates_nothing(client: httpx.Client) -> Iterator[None]:
    yield
    assert history_total(client) == 0


def post_raw(
    client: httpx.Client, body: bytes, content_type: str | None = "application/json"
) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return client.post(BULK, content=body, headers=headers)


@pytest.mark.parametrize(
    "body",
    [b"{x", b"not json", b'{"contacts": [', b"\xff\xfe", b"{}{}", b'{"contacts": 5', b"[1] x"],
)
def test_body_not_json_is_400(client: httpx.Client, body: bytes) -> None:
    assert_problem(post_raw(client, body), 400, "invalid-json")


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_empty_body_is_400(client: httpx.Client, body: bytes) -> None:
    assert_problem(post_raw(client, body), 400, "invalid-json")


def test_contacts_missing(client: httpx.Client) -> None:
    response = client.post(BULK, json={"audienceId": "aud_1"})
    assert_problem(response, 422, "invalid-request", pointer="/contacts")


@pytest.mark.parametrize("contacts_value", [{}, "a,b", 3, None, True])
def test_contacts_not_an_array(client: httpx.Client, contacts_value: Any) -> None:
    response = client.post(BULK, json={"contacts": contacts_value})
    assert_problem(response, 422, "invalid-request", pointer="/contacts")


def test_contacts_empty(client: httpx.Client) -> None:
    response = client.post(BULK, json={"contacts": []})
    assert_problem(response, 422, "invalid-request", pointer="/contacts")


def test_10001_contacts_are_too_many(client: httpx.Client) -> None:
    response = client.post(BULK, json={"contacts": contacts(10_001)})
    body = assert_problem(response, 422, "invalid-request", pointer="/contacts")
    assert "10000" in body["detail"]


def test_body_root_not_an_object(client: httpx.Client) -> None:
    response = client.post(BULK, json=ONE_CONTACT)
    assert_problem(response, 422, "invalid-request", pointer="")


@pytest.mark.parametrize("item", [42, "Priya", ["Priya", "+919876543210"], None, False])
def test_item_not_an_object_points_at_the_item(client: httpx.Client, item: Any) -> None:
    response = client.post(BULK, json={"contacts": [*ONE_CONTACT, *ONE_CONTACT, item]})
    assert_problem(response, 422, "invalid-request", pointer="/contacts/2")


@pytest.mark.parametrize("value", [5, ["aud_1"], {"id": "aud_1"}, True, ""])
def test_audience_id_wrong_type(client: httpx.Client, value: Any) -> None:
    response = client.post(BULK, json={"contacts": ONE_CONTACT, "audienceId": value})
    assert_problem(response, 422, "invalid-request", pointer="/audienceId")


@pytest.mark.parametrize("value", [5, ["https://a.example"], {"url": "https://a.example"}, False])
def test_webhook_url_wrong_type(client: httpx.Client, value: Any) -> None:
    response = client.post(BULK, json={"contacts": ONE_CONTACT, "webhookUrl": value})
    assert_problem(response, 422, "invalid-request", pointer="/webhookUrl")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x",
        "/relative",
        "hooks.example.com/done",
        "http://",
        "https:///path-only",
        "mailto:ops@example.com",
        "javascript:alert(1)",
        "http://[::1",
        "",
    ],
)
def test_webhook_url_not_absolute_http(client: httpx.Client, url: str) -> None:
    response = client.post(BULK, json={"contacts": ONE_CONTACT, "webhookUrl": url})
    assert_problem(response, 422, "invalid-request", pointer="/webhookUrl")


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("http://a b/x", "must not contain spaces or control characters"),
        ("http://%00/x", "has an invalid host name '%00'"),
        ("http://127.0.0.1:99999/x", "must be an absolute http(s) URL with a port from 1 to 65535"),
        (
            "http://user:pass@example.com/x",
            "must not contain credentials (user:password@); authenticate with the signature",
        ),
    ],
)
def test_webhook_url_never_deliverable_is_422(client: httpx.Client, url: str, detail: str) -> None:
    response = client.post(BULK, json={"contacts": ONE_CONTACT, "webhookUrl": url})
    body = assert_problem(response, 422, "invalid-request", pointer="/webhookUrl")
    assert body["detail"] == f"webhookUrl {detail}"
    assert body["errors"] == [{"pointer": "/webhookUrl", "detail": detail}]


def test_unknown_top_level_field(client: httpx.Client) -> None:
    response = client.post(BULK, json={"contacts": ONE_CONTACT, "audience_id": "aud_1"})
    body = assert_problem(response, 422, "invalid-request", pointer="/audience_id")
    assert "audience_id" in body["detail"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "text/csv", None]
)
def test_wrong_content_type_is_415(client: httpx.Client, content_type: str | None) -> None:
    body = json.dumps({"contacts": ONE_CONTACT}).encode()
    response = post_raw(client, body, content_type)
    detail = assert_problem(response, 415, "unsupported-media-type")["detail"]
    assert "application/json" in detail


def json_body_of_exactly(size: int) -> bytes:
    """A well-formed body of `size` bytes with 10,001 contacts, padded inside one contact."""
    prefix = json.dumps({"contacts": contacts(10_001)}).encode()[:-2] + b', {"note": "'
    body = prefix + b"x" * (size - len(prefix) - 4) + b'"}]}'
    assert len(body) == size
    return body


def test_body_over_the_size_limit_is_413(client: httpx.Client) -> None:
    response = post_raw(client, json_body_of_exactly(MAX_BODY_BYTES + 1))
    body = assert_problem(response, 413, "payload-too-large")
    assert str(MAX_BODY_BYTES) in body["detail"]


def test_body_at_the_size_limit_is_read(client: httpx.Client) -> None:
    # The same kind of body one byte shorter is read and judged on its shape instead.
    response = post_raw(client, json_body_of_exactly(MAX_BODY_BYTES))
    assert_problem(response, 422, "invalid-request", pointer="/contacts")


def test_body_over_the_size_limit_without_content_length_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"contacts": [{"name": "x", "phoneNumber": "+14155550100", "note": "'
        for _ in range(MAX_BODY_BYTES // 65_536 + 1):
            yield b"x" * 65_536
        yield b'"}]}'

    response = client.post(BULK, content=chunks(), headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "payload-too-large")
