"""An import processed late never overwrites what an import accepted after it wrote.

Import A is accepted first, then B and C over the same contacts. A's run fails before writing
(its request body is away while the daemon picks it up); B and C commit. A is then re-executed,
as `oliai reexecute` does after a crash. The warehouse must hold exactly what applying A, B, C
one by one in acceptance order gives (the SPEC's rule), computed here independently of the
product's merge, and re-running a committed import must change nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from core.settings import Settings
from tests.stack import Stack, daemon_paused, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ORG = "late-imports"
COUNTS = ("status", "total", "created", "updated", "failed", "errorCount")
PRIYA, RAVI, MIA, LEO = "+919876543210", "+442079460958", "+14155550100", "+14155552671"

A = [
    {"name": "Priya (A)", "phoneNumber": PRIYA, "language": "hi-IN", "city": "Pune", "a": 1},
    {"name": "Ravi (A)", "phoneNumber": RAVI, "tier": "gold", "city": "Leeds"},
    {"name": "Mia (A)", "phoneNumber": MIA, "language": "en-US"},
]
B = [
    {"name": "Priya (B)", "phoneNumber": PRIYA, "city": "Mumbai", "b": True},
    {"name": "Leo (B)", "phoneNumber": LEO, "language": "en-US", "tier": "silver"},
]
C = [
    {"name": "Ravi (C)", "phoneNumber": RAVI, "language": "en-GB", "tier": "platinum"},
    {"name": "Priya (C)", "phoneNumber": PRIYA, "language": "mr-IN"},
]


def in_acceptance_order(*imports: tuple[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The SPEC's rule, applied row by row: name and language take the newest non-empty value,
    metadata merges key by key (newest wins), the first import with a phone created it."""
    state: dict[str, dict[str, Any]] = {}
    for import_id, contacts in imports:
        for contact in contacts:
            row = state.setdefault(
                contact["phoneNumber"],
                {"name": None, "language": None, "metadata": {}, "created_by": import_id},
            )
            row["name"] = contact["name"]
            if contact.get("language") is not None:
                row["language"] = contact["language"]
            row["metadata"].update(
                {k: v for k, v in contact.items() if k not in {"name", "phoneNumber", "language"}}
            )
    return state


@pytest.fixture(scope="module")
def late_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("late") / "data") as stack:
        yield stack


def contacts(stack: Stack) -> dict[str, dict[str, Any]]:
    rows = stack.query(f"""SELECT phone_number, name, language, metadata::VARCHAR AS metadata,
                   created_import_id, updated_at
            FROM contacts WHERE org_id = '{ORG}'""")
    return {
        row["phone_number"]: {
            "name": row["name"],
            "language": row["language"],
            "metadata": json.loads(row["metadata"]),
            "created_by": row["created_import_id"],
            "updated_at": row["updated_at"],
        }
        for row in rows
    }


def status(stack: Stack, key: str, import_id: str) -> dict[str, Any]:
    with stack.client(key) as client:
        body: dict[str, Any] = client.get(f"/v1/imports/{import_id}/status").json()
        return body


def test_an_old_import_re_executed_after_newer_ones_lands_as_if_in_order(
    late_stack: Stack,
) -> None:
    stack = late_stack
    key = stack.new_org_key(ORG)
    landing = Settings(data_dir=stack.data_dir).landing_dir / ORG
    with daemon_paused(stack):  # runs queue; none starts
        accepted = []
        for contacts_ in (A, B, C):
            response = stack.post_import({"contacts": contacts_}, key)
            assert response.status_code == 202, response.text
            accepted.append(response.json()["importId"])
            time.sleep(0.01)  # distinct acceptance times
        a_id, b_id, c_id = accepted
        body = landing / f"{a_id}.json"
        away = body.with_name(body.name + ".away")
        os.replace(body, away)  # landed before the 202; A's run will find no request body
        _wait_until_submitted(stack, key, accepted)

    assert stack.wait_for_terminal(a_id, key, timeout_s=180)["status"] == "FAILED"
    assert stack.wait_for_terminal(b_id, key, timeout_s=180)["status"] == "COMPLETED"
    assert stack.wait_for_terminal(c_id, key, timeout_s=180)["status"] == "COMPLETED"
    os.replace(away, body)

    late = _reexecute(stack, key, a_id)
    # MIA is new; B and C already counted PRIYA and RAVI created (once per organization).
    assert {k: late[k] for k in ("status", "total", "created", "updated", "failed")} == {
        "status": "COMPLETED",
        "total": 3,
        "created": 1,
        "updated": 2,
        "failed": 0,
    }

    expected = in_acceptance_order((a_id, A), (b_id, B), (c_id, C))
    stored = contacts(stack)
    assert {phone: _without_time(row) for phone, row in stored.items()} == expected

    # Re-running a committed import (here C, from the UI or the CLI) changes nothing at all.
    committed = status(stack, key, c_id)
    again = _reexecute(stack, key, c_id)
    # It reports what its committed write recorded (B and C ran in either order: both are fine).
    assert {k: again[k] for k in COUNTS} == {k: committed[k] for k in COUNTS}
    assert contacts(stack) == stored


def _without_time(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "updated_at"}


def _wait_until_submitted(stack: Stack, key: str, import_ids: list[str]) -> None:
    """Every import has a (queued) run: the submitter reached Dagster while the daemon slept."""
    deadline = time.monotonic() + 60
    with stack.client(key) as client:
        while True:
            items = {i["id"]: i for i in client.get("/v1/imports?limit=100").json()["data"]}
            if all(items.get(i, {}).get("runId") for i in import_ids):
                return
            assert time.monotonic() < deadline, f"not submitted: {items}"
            time.sleep(0.1)


def _reexecute(stack: Stack, key: str, import_id: str) -> dict[str, Any]:
    """`oliai reexecute IMPORT`, then the import's status once that new run has ended."""
    before = status(stack, key, import_id)
    old_run = _history_item(stack, key, import_id)["runId"]
    result = stack.oliai("reexecute", import_id)
    assert result.returncode == 0, result.stdout + result.stderr
    deadline = time.monotonic() + 180
    while True:
        item = _history_item(stack, key, import_id)
        if item["runId"] != old_run and item["completedAt"] is not None:
            return status(stack, key, import_id)
        assert time.monotonic() < deadline, f"{import_id} never ended again: {item} ({before})"
        time.sleep(0.25)


def _history_item(stack: Stack, key: str, import_id: str) -> dict[str, Any]:
    with stack.client(key) as client:
        items = client.get("/v1/imports?limit=100").json()["data"]
    return next(item for item in items if item["id"] == import_id)


def test_model_applies_in_order() -> None:
    # The model itself: B's newer city wins over A's, A's own key stays.
    state = in_acceptance_order(("a", A), ("b", B))
    assert state[PRIYA]["metadata"] == {"city": "Mumbai", "a": 1, "b": True}
    assert state[PRIYA]["created_by"] == "a"
