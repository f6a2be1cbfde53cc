"""GET /v1/imports: the organization's imports, newest first, paged, with the total."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.integration.api_support import (
    BULK,
    assert_problem,
    assert_timestamp,
    contacts,
    fresh_org,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration

ITEM_FIELDS = {
    "id",
    "status",
    "total",
    "created",
    "updated",
    "failed",
    "errorCount",
    "completedAt",
    "createdAt",
    "audienceId",
}


@dataclass
class History:
    client: httpx.Client
    ids: list[str]  # oldest first
    totals: list[int]


@pytest.fixture(scope="module")
def history(stack: Stack) -> Iterator[History]:
    with stack.client(fresh_org(stack, "history")) as client:
        ids, totals = [], []
        for n in range(1, 4):
            body: dict[str, Any] = {"contacts": contacts(n, start=100 * n)}
            if n % 2:
                body["audienceId"] = f"aud_{n}"
            accepted = client.post(BULK, json=body)
            assert accepted.status_code == 202, accepted.text
            ids.append(accepted.json()["importId"])
            totals.append(n)
        yield History(client, ids, totals)


def listing(history: History, **params: Any) -> dict[str, Any]:
    response = history.client.get("/v1/imports", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_newest_first_with_total_and_defaults(history: History) -> None:
    body = listing(history)
    assert (body["page"], body["limit"], body["total"]) == (1, 20, 3)
    assert [item["id"] for item in body["data"]] == history.ids[::-1]
    assert [item["total"] for item in body["data"]] == history.totals[::-1]
    for item in body["data"]:
        assert_timestamp(item["createdAt"])
    created = [datetime.fromisoformat(item["createdAt"]) for item in body["data"]]
    assert created == sorted(created, reverse=True)
    for n, item in zip(range(3, 0, -1), body["data"], strict=True):
        assert set(item) >= ITEM_FIELDS
        assert item["audienceId"] == (f"aud_{n}" if n % 2 else None)
        assert item["status"] in {
            "PENDING",
            "PROCESSING",
            "COMPLETED",
            "COMPLETED_WITH_ERRORS",
            "FAILED",
        }


def test_pages_partition_the_history(history: History) -> None:
    pages = [listing(history, page=n, limit=2) for n in (1, 2, 3)]
    assert [[item["id"] for item in page["data"]] for page in pages] == [
        history.ids[:0:-1],
        history.ids[:1],
        [],
    ]
    assert {(page["total"], page["limit"]) for page in pages} == {(3, 2)}
    assert [page["page"] for page in pages] == [1, 2, 3]


def test_limit_bounds_are_inclusive(history: History) -> None:
    assert len(listing(history, limit=1)["data"]) == 1
    assert len(listing(history, limit=100)["data"]) == 3


def test_an_organization_without_imports_has_an_empty_history(stack: Stack) -> None:
    with stack.client(fresh_org(stack, "history-empty")) as client:
        body = client.get("/v1/imports").json()
    assert (body["data"], body["total"], body["page"], body["limit"]) == ([], 0, 1, 20)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
    ],
)
def test_bad_page_or_limit_is_400(history: History, query: str, parameter: str) -> None:
    response = history.client.get(f"/v1/imports?{query}")
    body = assert_problem(response, 400, "bad-request", parameter=parameter)
    assert body["errors"][0]["detail"]
