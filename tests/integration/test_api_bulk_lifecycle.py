"""An import's life over HTTP: 202, PENDING/PROCESSING with no completedAt, then a terminal status
with exact counts. The first imports are posted together so their runs overlap.

Modules run in random order: imports that modules before this one only posted may still be
queued ahead of these, so the waits allow for a queue (they end as soon as the import does)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.integration.api_support import (
    BULK,
    MESSY_BODY,
    MESSY_COUNTS,
    SEED_BODY,
    assert_timestamp,
    contacts,
    fresh_org,
)
from tests.stack import TERMINAL, Stack

pytestmark = pytest.mark.integration

ALL_INVALID = {
    "contacts": [
        {"name": "No Plus", "phoneNumber": "919876543210"},
        {"phoneNumber": "+919876543210", "language": "not a tag"},
    ]
}
STATUS_FIELDS = {
    "id", "status", "total", "created", "updated", "failed", "errorCount", "skipped"
}  # fmt: skip


@dataclass
class Submitted:
    client: httpx.Client
    accepted: dict[str, httpx.Response]
    first_status: dict[str, dict[str, Any]]

    def id(self, name: str) -> str:
        return str(self.accepted[name].json()["importId"])


@pytest.fixture(scope="module")
def submitted(stack: Stack) -> Iterator[Submitted]:
    with stack.client(fresh_org(stack, "lifecycle")) as client:
        bodies = {
            "seed": SEED_BODY,
            "messy": MESSY_BODY,
            "invalid": ALL_INVALID,
            "ten-thousand": {"contacts": contacts(10_000)},
        }
        accepted = {name: client.post(BULK, json=body) for name, body in bodies.items()}
        first_status = {
            name: client.get(f"/v1/imports/{response.json()['importId']}/status").json()
            for name, response in accepted.items()
        }
        yield Submitted(client, accepted, first_status)


def observe_until_terminal(
    client: httpx.Client, import_id: str, timeout_s: float = 240.0
) -> list[dict[str, Any]]:
    """Every status answer until the import ends; the last one is terminal."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = client.get(f"/v1/imports/{import_id}/status")
        assert response.status_code == 200, response.text
        seen.append(response.json())
        if seen[-1]["status"] in TERMINAL:
            return seen
        time.sleep(0.25)
    raise AssertionError(f"{import_id} not terminal after {timeout_s} s: {seen[-1]}")


def assert_consistent(status: dict[str, Any]) -> None:
    assert status["total"] == status["created"] + status["updated"] + status["failed"]
    assert status["errorCount"] >= status["failed"]
    assert_timestamp(status["completedAt"])
    assert datetime.fromisoformat(status["completedAt"]).tzinfo is not None


def test_202_body_is_import_id_status_total(submitted: Submitted) -> None:
    expected_totals = {"seed": 2, "messy": 6, "invalid": 2, "ten-thousand": 10_000}
    for name, response in submitted.accepted.items():
        assert response.status_code == 202, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert set(body) == {"importId", "status", "total"}
        assert re.fullmatch(r"imp_[A-Za-z0-9]+", body["importId"]), body
        assert body["status"] == "PROCESSING"  # as the API reference's example answers
        assert body["total"] == expected_totals[name]
    assert len({submitted.id(name) for name in submitted.accepted}) == len(expected_totals)


def test_status_right_after_202_is_not_terminal_and_has_no_completed_at(
    submitted: Submitted,
) -> None:
    for name, status in submitted.first_status.items():
        assert status["id"] == submitted.id(name)
        assert status["status"] in {"PENDING", "PROCESSING"}, status
        assert status["completedAt"] is None, status


def test_seed_example_completes_with_two_created(submitted: Submitted) -> None:
    seen = observe_until_terminal(submitted.client, submitted.id("seed"))
    assert all(s["completedAt"] is None for s in seen[:-1] if s["status"] not in TERMINAL)
    assert {s["status"] for s in seen[:-1]} <= {"PENDING", "PROCESSING"}
    final = seen[-1]
    assert set(final) == STATUS_FIELDS | {"completedAt"}
    assert {k: final[k] for k in STATUS_FIELDS} == {
        "id": submitted.id("seed"),
        "status": "COMPLETED",
        "total": 2,
        "created": 2,
        "updated": 0,
        "failed": 0,
        "errorCount": 0,
        "skipped": 0,
    }
    assert_consistent(final)

    listed = submitted.client.get("/v1/imports", params={"limit": 100}).json()["data"]
    item = next(item for item in listed if item["id"] == submitted.id("seed"))
    assert item["audienceId"] == "aud_abc123"
    assert item["completedAt"] == final["completedAt"]
    assert_timestamp(item["createdAt"])
    assert datetime.fromisoformat(item["createdAt"]) <= datetime.fromisoformat(final["completedAt"])


def test_reimport_of_the_same_body_updates_both(submitted: Submitted) -> None:
    observe_until_terminal(submitted.client, submitted.id("seed"))
    again = submitted.client.post(BULK, json=SEED_BODY)
    assert again.status_code == 202, again.text
    assert again.json()["importId"] != submitted.id("seed")
    final = observe_until_terminal(submitted.client, again.json()["importId"])[-1]
    assert (final["status"], final["total"], final["created"], final["updated"]) == (
        "COMPLETED",
        2,
        0,
        2,
    )
    assert (final["failed"], final["errorCount"]) == (0, 0)
    assert_consistent(final)


def test_messy_rows_complete_with_errors_and_exact_counts(submitted: Submitted) -> None:
    final = observe_until_terminal(submitted.client, submitted.id("messy"))[-1]
    assert final["status"] == "COMPLETED_WITH_ERRORS", final
    assert {k: final[k] for k in MESSY_COUNTS} == MESSY_COUNTS
    assert final["errorCount"] >= final["failed"]
    assert_consistent(final)


def test_all_rows_invalid_is_failed(submitted: Submitted) -> None:
    final = observe_until_terminal(submitted.client, submitted.id("invalid"))[-1]
    assert final["status"] == "FAILED", final
    assert (final["total"], final["created"], final["updated"], final["failed"]) == (2, 0, 0, 2)
    assert final["errorCount"] == 3  # missing_plus; required name + invalid_tag
    assert_consistent(final)


def test_10000_contacts_are_accepted_and_complete(submitted: Submitted) -> None:
    final = observe_until_terminal(submitted.client, submitted.id("ten-thousand"))[-1]
    assert final["status"] == "COMPLETED", final
    assert (final["total"], final["created"], final["updated"], final["failed"]) == (
        10_000,
        10_000,
        0,
        0,
    )
    assert final["errorCount"] == 0
    assert_consistent(final)
