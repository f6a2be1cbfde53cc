"""GET /v1/imports/:id/errors: the row errors, paged as JSON or downloaded as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.api_support import (
    BULK,
    MESSY_BODY,
    MESSY_ERRORS,
    SEED_BODY,
    assert_problem,
    fresh_org,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration

CSV_HEADER = ["row_index", "field", "code", "message", "value"]
# Values a spreadsheet would run as formulas, and how the CSV writes them.
FORMULAS = {
    '=HYPERLINK("http://x.test","click")': '\'=HYPERLINK("http://x.test","click")',
    "-2+3+cmd|' /C calc'!A0": "'-2+3+cmd|' /C calc'!A0",
    "@SUM(1)": "'@SUM(1)",
    "+91 98765": "+91 98765",  # an invalid phone number, as sent: not a formula
}
FORMULA_BODY = {
    "contacts": [
        {"name": "A", "phoneNumber": '=HYPERLINK("http://x.test","click")'},
        {"name": "B", "phoneNumber": "-2+3+cmd|' /C calc'!A0"},
        {"name": "C", "phoneNumber": "+14155552671", "language": "@SUM(1)"},
        {"name": "D", "phoneNumber": "+91 98765"},
    ]
}


@dataclass
class Finished:
    client: httpx.Client
    messy: str
    clean: str
    formulas: str


@pytest.fixture(scope="module")
def finished(stack: Stack) -> Iterator[Finished]:
    key = fresh_org(stack, "errors")
    with stack.client(key) as client:
        messy = client.post(BULK, json=MESSY_BODY).json()["importId"]
        clean = client.post(BULK, json=SEED_BODY).json()["importId"]
        formulas = client.post(BULK, json=FORMULA_BODY).json()["importId"]
        for import_id in (messy, clean, formulas):
            stack.wait_for_terminal(import_id, api_key=key, timeout_s=120)
        yield Finished(client, messy, clean, formulas)


def errors_page(finished: Finished, **params: Any) -> dict[str, Any]:
    response = finished.client.get(f"/v1/imports/{finished.messy}/errors", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    page: dict[str, Any] = response.json()
    return page


def test_first_page_lists_every_error_in_row_and_field_order(finished: Finished) -> None:
    page = errors_page(finished)
    assert (page["importId"], page["page"], page["limit"], page["total"]) == (
        finished.messy,
        1,
        100,
        len(MESSY_ERRORS),
    )
    for row in page["data"]:
        assert set(row) == {"rowIndex", "field", "code", "message", "value"}
        assert isinstance(row["message"], str)
        assert row["message"]
    assert [(r["rowIndex"], r["field"], r["code"], r["value"]) for r in page["data"]] == (
        MESSY_ERRORS
    )


def test_pages_partition_the_errors(finished: Finished) -> None:
    everything = errors_page(finished)["data"]
    pages = [errors_page(finished, page=n, limit=2) for n in (1, 2, 3, 4)]
    assert [len(p["data"]) for p in pages] == [2, 2, 1, 0]
    assert all(p["total"] == len(MESSY_ERRORS) and p["limit"] == 2 for p in pages)
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    assert [row for p in pages for row in p["data"]] == everything


def parse_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment")
    return list(csv.reader(io.StringIO(response.text)))


def test_csv_by_query_has_a_header_and_the_same_rows(finished: Finished) -> None:
    rows = parse_csv(
        finished.client.get(f"/v1/imports/{finished.messy}/errors", params={"format": "csv"})
    )
    assert rows[0] == CSV_HEADER
    as_json = errors_page(finished)["data"]
    assert rows[1:] == [
        [str(r["rowIndex"]), r["field"], r["code"], r["message"], r["value"] or ""] for r in as_json
    ]


def test_csv_escapes_values_a_spreadsheet_would_run_as_formulas(finished: Finished) -> None:
    path = f"/v1/imports/{finished.formulas}/errors"
    as_json = finished.client.get(path).json()["data"]
    assert sorted(r["value"] for r in as_json) == sorted(FORMULAS)  # JSON keeps what was sent
    rows = parse_csv(finished.client.get(path, params={"format": "csv"}))
    assert [row[4] for row in rows[1:]] == [FORMULAS[r["value"]] for r in as_json]


def test_csv_by_accept_header_matches_csv_by_query(finished: Finished) -> None:
    path = f"/v1/imports/{finished.messy}/errors"
    by_accept = finished.client.get(path, headers={"Accept": "text/csv"})
    by_query = finished.client.get(path, params={"format": "csv"})
    assert parse_csv(by_accept) == parse_csv(by_query)


def test_explicit_json_format_wins_over_accept(finished: Finished) -> None:
    response = finished.client.get(
        f"/v1/imports/{finished.messy}/errors",
        params={"format": "json"},
        headers={"Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.json()["total"] == len(MESSY_ERRORS)


def test_import_without_errors_has_an_empty_page_and_a_header_only_csv(
    finished: Finished,
) -> None:
    path = f"/v1/imports/{finished.clean}/errors"
    page = finished.client.get(path).json()
    assert (page["data"], page["total"]) == ([], 0)
    assert parse_csv(finished.client.get(path, params={"format": "csv"})) == [CSV_HEADER]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("format=xml", "format"),
        ("page=0", "page"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("page=abc", "page"),
    ],
)
def test_bad_query_is_400(finished: Finished, query: str, parameter: str) -> None:
    response = finished.client.get(f"/v1/imports/{finished.messy}/errors?{query}")
    assert_problem(response, 400, "bad-request", parameter=parameter)
