"""`GET /v1/imports/{id}/failed-rows` over HTTP on the session stack: every failed row exactly as
it was sent, with its errors, as JSON pages or one CSV; the problems when there are no rows to
give."""

from __future__ import annotations

import csv
import io
import json
import secrets
from typing import Any

import httpx
import pytest

from tests.integration.api_support import BULK, assert_problem
from tests.stack import Stack, daemon_paused

pytestmark = pytest.mark.integration

ROWS: list[dict[str, Any]] = [
    {"name": "Ana", "phoneNumber": "+34612345678", "city": "Madrid"},
    # failed: no +; keys in its own order, an exact big integer, a nested value
    {"phoneNumber": "612 34 56 79", "tier": "gold", "name": "Bea", "points": 123456789012345678901},
    {"name": "Cai", "phoneNumber": "+34612345680"},
    # failed twice over: empty name, a tag that is no tag; a cell a spreadsheet would run
    {"name": " ", "phoneNumber": "+34612345681", "language": "English (US)", "note": "=1+1"},
    # failed: an `errors` key of its own, and a nested object
    {"name": "Dov", "phoneNumber": "12", "errors": "none", "address": {"city": "Vigo"}},
]
ERRORS = {
    1: [("phoneNumber", "missing_plus")],
    3: [("name", "empty"), ("language", "invalid_tag")],
    4: [("phoneNumber", "missing_plus")],
}


def post_rows(client: httpx.Client) -> httpx.Response:
    """ROWS as written here: the big integer exactly, keys in their order."""
    body = json.dumps({"contacts": ROWS}).encode()
    return client.post(BULK, content=body, headers={"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def imported(stack: Stack) -> tuple[str, str]:
    """(API key, import id) of an ended import of ROWS in an organization of its own."""
    key = stack.new_org_key(f"failed-rows-{secrets.token_hex(3)}")
    with stack.client(key) as client:
        response = post_rows(client)
    assert response.status_code == 202, response.text
    import_id = response.json()["importId"]
    assert stack.wait_for_terminal(import_id, key)["failed"] == 3
    return key, import_id


def test_json_gives_each_failed_row_as_sent_with_its_errors(
    stack: Stack, imported: tuple[str, str]
) -> None:
    key, import_id = imported
    with stack.client(key) as client:
        response = client.get(f"/v1/imports/{import_id}/failed-rows")
    assert response.status_code == 200, response.text
    page = response.json()
    assert (page["importId"], page["page"], page["limit"], page["total"]) == (import_id, 1, 100, 3)
    assert [row["rowIndex"] for row in page["data"]] == [1, 3, 4]
    for row in page["data"]:
        sent = ROWS[row["rowIndex"]]
        assert row["row"] == sent
        assert list(row["row"]) == list(sent)  # the keys in the order they were sent
        assert [(e["field"], e["code"]) for e in row["errors"]] == ERRORS[row["rowIndex"]]
        assert all(e["message"] for e in row["errors"])
    # The big integer came back exactly (a float would have rounded it).
    assert b"123456789012345678901" in response.content


def test_pages_follow_row_order(stack: Stack, imported: tuple[str, str]) -> None:
    key, import_id = imported
    with stack.client(key) as client:
        second = client.get(
            f"/v1/imports/{import_id}/failed-rows", params={"page": 2, "limit": 1}
        ).json()
    assert [row["rowIndex"] for row in second["data"]] == [3]
    assert second["total"] == 3


def test_csv_has_every_key_then_the_errors(stack: Stack, imported: tuple[str, str]) -> None:
    key, import_id = imported
    with stack.client(key) as client:
        response = client.get(f"/v1/imports/{import_id}/failed-rows", params={"format": "csv"})
        by_accept = client.get(
            f"/v1/imports/{import_id}/failed-rows", headers={"Accept": "text/csv"}
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="{import_id}-failed-rows.csv"' in response.headers["content-disposition"]
    assert by_accept.text == response.text
    header, *lines = csv.reader(io.StringIO(response.text))
    # Keys in the order the failed rows first have them; `errors` is taken by a row's own key.
    assert header == [
        "phoneNumber", "tier", "name", "points", "language", "note", "errors", "address",
        "errors_",
    ]  # fmt: skip
    assert lines == [
        [
            "612 34 56 79", "gold", "Bea", "123456789012345678901", "", "", "", "",
            "phoneNumber missing_plus: phoneNumber must start with + and the country calling "
            "code, e.g. +919876543210, or the import must name a defaultCountry",
        ],
        [
            "+34612345681", "", " ", "", "English (US)", "'=1+1", "", "",
            "name empty: name is empty or only whitespace; language invalid_tag: language must "
            "be a BCP 47 language tag such as hi-IN, en or zh-Hant-TW",
        ],
        [
            "12", "", "Dov", "", "", "", "none", '{"city":"Vigo"}',
            "phoneNumber missing_plus: phoneNumber must start with + and the country calling "
            "code, e.g. +919876543210, or the import must name a defaultCountry",
        ],
    ]  # fmt: skip


def test_another_organizations_import_is_not_found(stack: Stack, imported: tuple[str, str]) -> None:
    _, import_id = imported
    with stack.client(stack.new_org_key(f"failed-rows-other-{secrets.token_hex(3)}")) as client:
        response = client.get(f"/v1/imports/{import_id}/failed-rows")
    assert_problem(response, 404, "not-found")


def test_rows_not_checked_yet_are_a_409_and_a_pruned_body_a_410(stack: Stack) -> None:
    org = f"failed-rows-early-{secrets.token_hex(3)}"
    key = stack.new_org_key(org)
    with daemon_paused(stack), stack.client(key) as client:
        response = post_rows(client)
        import_id = response.json()["importId"]
        early = client.get(f"/v1/imports/{import_id}/failed-rows")
        assert_problem(early, 409, "rows-not-checked")
        assert early.headers["retry-after"] == "1"
    stack.wait_for_terminal(import_id, key)
    # What `oliai prune` leaves: the row errors, not the request body.
    (stack.data_dir / "landing" / org / f"{import_id}.json").unlink()
    with stack.client(key) as client:
        gone = client.get(f"/v1/imports/{import_id}/failed-rows")
        assert client.get(f"/v1/imports/{import_id}/errors").json()["total"] == 4
    assert_problem(gone, 410, "request-pruned")
