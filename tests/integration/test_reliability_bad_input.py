"""Hostile bodies beyond test_api_validation.py: each is a precise 4xx and creates nothing, or,
when it is valid JSON the API accepts, it goes through the run into DuckDB unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from api.validation import MAX_NESTING
from tests.integration.api_support import (
    BULK,
    assert_problem,
    fresh_org,
    history_total,
    phone,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration

CONTACT = b'"phoneNumber": "+14155550100"'


def nested(levels: int) -> Any:
    value: Any = "core"
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.fixture(scope="module")
def rejecting(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(fresh_org(stack, "bad-input")) as client:
        yield client
        assert history_total(client) == 0


def post_raw(
    client: httpx.Client, body: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return client.post(BULK, content=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"contacts": [{"name": "\xff\xfe", %s}]}' % CONTACT, id="bad-utf8-value"),
        pytest.param(b'{"contacts": [{"\xc3\x28": "x", %s}]}' % CONTACT, id="bad-utf8-key"),
        pytest.param(b'{"contacts": [{"name": "\xe2\x82", %s}]}' % CONTACT, id="cut-utf8"),
        pytest.param(b'{"contacts": [{"name": "\xc0\xaf", %s}]}' % CONTACT, id="overlong-utf8"),
        pytest.param(b'\xef\xbb\xbf{"contacts": [{"name": "a", %s}]}' % CONTACT, id="utf8-bom"),
        pytest.param(b'{"contacts": [{"name": "a\x00b", %s}]}' % CONTACT, id="raw-nul-in-string"),
        pytest.param(b'{"contacts":\x00 [{"name": "a", %s}]}' % CONTACT, id="raw-nul-between"),
        pytest.param(b'{"contacts": [{"name": "\\ud800", %s}]}' % CONTACT, id="lone-surrogate"),
        pytest.param(b'{"contacts": [{"name": "a", %s, "x": NaN}]}' % CONTACT, id="nan"),
        pytest.param(b'{"contacts": [{"name": "a", %s, "x": -Infinity}]}' % CONTACT, id="inf"),
        pytest.param(b'{"contacts": [{"name": "a", %s, "x": 1e400}]}' % CONTACT, id="overflow"),
        pytest.param(b'{"contacts": [{"name": "a", %s,}]}' % CONTACT, id="trailing-comma"),
        pytest.param(b"{'contacts': []}", id="single-quotes"),
        pytest.param(
            b'{"contacts": [{"name": "a", %s, "m": %s1%s}]}'
            % (CONTACT, b"[" * 100_000, b"]" * 100_000),
            id="nested-beyond-the-decoder",
        ),
    ],
)
def test_malformed_json_is_400(rejecting: httpx.Client, body: bytes) -> None:
    assert_problem(post_raw(rejecting, body), 400, "invalid-json")


def test_json_in_utf16_is_400(rejecting: httpx.Client) -> None:
    # JSON exchanged between systems is UTF-8 (RFC 8259 §8.1): a UTF-16 body is not JSON here,
    # and a charset other than UTF-8 is refused before the body is read.
    body = json.dumps({"contacts": [{"name": "a", "phoneNumber": "+14155550100"}]})
    response = post_raw(rejecting, body.encode("utf-16"), "application/json")
    assert_problem(response, 400, "invalid-json")
    response = post_raw(rejecting, body.encode("utf-16"), "application/json; charset=utf-16")
    assert_problem(response, 415, "unsupported-media-type")


def test_metadata_nested_past_the_limit_is_422(rejecting: httpx.Client) -> None:
    contacts = [
        {"name": "a", "phoneNumber": phone(0)},
        {"name": "b", "phoneNumber": phone(1), "deep/er": nested(MAX_NESTING + 1)},
    ]
    response = rejecting.post(BULK, json={"contacts": contacts})
    body = assert_problem(response, 422, "invalid-request", pointer="/contacts/1/deep~1er")
    assert str(MAX_NESTING) in body["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("audienceId", "a" * 256), ("audienceId", "a" * 5_000_000), ("webhookUrl", "http://x/" * 300)],
)
def test_huge_request_fields_are_422(rejecting: httpx.Client, field: str, value: str) -> None:
    response = rejecting.post(BULK, json={"contacts": [{"name": "a"}], field: value})
    body = assert_problem(response, 422, "invalid-request", pointer=f"/{field}")
    assert len(response.content) < 2_000, "the problem must not echo the huge value"
    assert body["status"] == 422


@pytest.mark.parametrize(
    "content_type",
    ["application/xml", "multipart/form-data; boundary=x", "application/jsonl", "json", ";;"],
)
def test_unknown_content_types_are_415(rejecting: httpx.Client, content_type: str) -> None:
    body = json.dumps({"contacts": [{"name": "a", "phoneNumber": "+14155550100"}]}).encode()
    assert_problem(post_raw(rejecting, body, content_type), 415, "unsupported-media-type")


# Accepted bodies with hostile values: all the way into DuckDB.

BIG_INT = 2**100 + 1
HUGE = 1_000_000
BLOB = 4_000_000


def hostile_body() -> bytes:
    contacts: list[dict[str, Any]] = [
        # 1: NUL characters in the name, a metadata key and a metadata value.
        {"name": "Nul\u0000Name", "phoneNumber": phone(1), "nul\u0000key": "v\u0000al"},
        # 2: a 1 MB name: a row error whose value is truncated.
        {"name": "n" * HUGE, "phoneNumber": phone(2)},
        # 3: a 1 MB phone number: a row error too.
        {"name": "Long Phone", "phoneNumber": "+" + "1" * HUGE},
        # 4: a 4 MB metadata string, kept whole.
        {"name": "Blob", "phoneNumber": phone(4), "blob": "b" * BLOB},
        # 5: metadata nested as deep as allowed.
        {"name": "Deep", "phoneNumber": phone(5), "deep": nested(MAX_NESTING)},
        # 6: integers beyond 64 bits, kept exact.
        {"name": "Big", "phoneNumber": phone(6), "big": BIG_INT, "neg": -BIG_INT, "f": 0.1},
    ]
    encoded = msgspec.json.encode({"contacts": contacts})
    # 0: duplicate keys; the last one wins, in the API and in the run alike.
    duplicate = b'{"name": "First", "name": "Second", "phoneNumber": "%s"},' % phone(0).encode()
    prefix = b'{"contacts":['
    assert encoded.startswith(prefix)
    return prefix + duplicate + encoded[len(prefix) :]


def test_hostile_values_go_through_the_run_into_duckdb(stack: Stack) -> None:
    key = fresh_org(stack, "hostile")
    with stack.client(key) as client:
        response = post_raw(client, hostile_body())
        assert response.status_code == 202, response.text
        import_id = response.json()["importId"]
        status = stack.wait_for_terminal(import_id, key, timeout_s=180)
        errors = client.get(f"/v1/imports/{import_id}/errors").json()["data"]
    assert {k: status[k] for k in ("status", "total", "created", "failed", "errorCount")} == {
        "status": "COMPLETED_WITH_ERRORS",
        "total": 7,
        "created": 5,
        "failed": 2,
        "errorCount": 2,
    }, status
    assert [(e["rowIndex"], e["field"], e["code"]) for e in errors] == [
        (2, "name", "too_long"),
        (3, "phoneNumber", "too_long"),
    ]
    assert all(len(e["value"]) <= 200 for e in errors)

    rows = stack.query(f"""SELECT phone_number, name, metadata::VARCHAR AS metadata
            FROM contacts WHERE created_import_id = '{import_id}'""")
    by_phone = {row["phone_number"]: row for row in rows}
    assert set(by_phone) == {phone(i) for i in (0, 1, 4, 5, 6)}
    assert by_phone[phone(0)]["name"] == "Second"
    assert by_phone[phone(1)]["name"] == "Nul\u0000Name"
    metadata = {p: json.loads(row["metadata"]) for p, row in by_phone.items()}
    assert metadata[phone(1)] == {"nul\u0000key": "v\u0000al"}
    assert metadata[phone(4)] == {"blob": "b" * BLOB}
    assert metadata[phone(5)] == {"deep": nested(MAX_NESTING)}
    assert metadata[phone(6)] == {"big": BIG_INT, "neg": -BIG_INT, "f": 0.1}
