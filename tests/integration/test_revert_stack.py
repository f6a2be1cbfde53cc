"""Reverting an import over real HTTP on the stack (`oliai up`): `POST /v1/imports/{id}/revert`
queues a `revert_import` run behind the organization's imports; the warehouse gets back what it
held before the import, except a contact a later import wrote (kept and listed); the status says
REVERTED with the revert's counts; the import's `webhookUrl` gets a signed `import.reverted`;
asking again changes nothing."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import pytest

from client.imports_client import ImportsClient
from tests.integration.api_support import assert_problem, assert_timestamp
from tests.receiver import WebhookReceiver
from tests.stack import Stack

pytestmark = pytest.mark.integration

ANA, BO, CY, DI = "+14155550111", "+14155550112", "+14155550113", "+14155550114"
COUNTS = {"reverted": 2, "kept": 1, "membershipsRemoved": 2}


def imported(stack: Stack, key: str, body: dict[str, Any]) -> str:
    response = stack.post_import(body, api_key=key)
    assert response.status_code == 202, response.text
    import_id = str(response.json()["importId"])
    assert stack.wait_for_terminal(import_id, api_key=key)["status"] == "COMPLETED"
    return import_id


def rows(stack: Stack, table: str, org: str) -> list[dict[str, Any]]:
    return stack.query(f"SELECT * FROM {table} WHERE org_id = '{org}' ORDER BY ALL")


def wait_reverted(client: httpx.Client, import_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/v1/imports/{import_id}/status").json()
        if status["revert"]["status"] in ("REVERTED", "FAILED"):
            return status
        time.sleep(0.25)
    raise AssertionError(f"{import_id}: revert not done after {timeout_s} s: {status}")


def test_revert_puts_back_the_import_and_keeps_a_later_imports_contact(stack: Stack) -> None:
    org = f"revert-{secrets.token_hex(3)}"
    key = stack.new_org_key(org)
    with WebhookReceiver(stack.webhook_secret(org)) as receiver:
        reverted_and_notified(stack, org, key, receiver)


def reverted_and_notified(stack: Stack, org: str, key: str, receiver: WebhookReceiver) -> None:
    imported(
        stack,
        key,
        {"contacts": [{"name": "Ana", "phoneNumber": ANA}, {"name": "Bo", "phoneNumber": BO}]},
    )
    before = rows(stack, "contacts", org)
    a_body = {
        "contacts": [
            {"name": "Ana A", "phoneNumber": ANA},
            {"name": "Cy", "phoneNumber": CY},
            {"name": "Di", "phoneNumber": DI},
        ],
        "audienceId": "aud-a",
        "webhookUrl": receiver.url,
    }
    import_a = imported(stack, key, a_body)
    import_b = imported(stack, key, {"contacts": [{"name": "Di B", "phoneNumber": DI}]})
    di_by_b = [row for row in rows(stack, "contacts", org) if row["phone_number"] == DI]

    with stack.client(key) as client:
        assert_problem(client.get(f"/v1/imports/{import_a}/revert/kept"), 409, "not-reverted")
        accepted = client.post(f"/v1/imports/{import_a}/revert")
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        assert body["status"] == "COMPLETED"
        assert body["revert"]["status"] in ("PENDING", "PROCESSING")
        assert_timestamp(body["revert"]["requestedAt"])

        status = wait_reverted(client, import_a)
        revert = status.pop("revert")
        assert status["status"] == "REVERTED"
        assert {k: revert[k] for k in COUNTS} == COUNTS
        assert revert["status"] == "REVERTED"
        assert_timestamp(revert["revertedAt"])
        # The import's own counts stay what it did.
        assert (status["total"], status["created"], status["updated"]) == (3, 2, 1)

        # Ana as before A (every column), Bo untouched, Cy (created by A) gone, Di as B wrote her.
        by_phone = {row["phone_number"]: row for row in before}
        assert rows(stack, "contacts", org) == [by_phone[ANA], by_phone[BO], *di_by_b]
        members = [
            (m["audience_id"], m["phone_number"], m["import_id"])
            for m in rows(stack, "audience_members", org)
        ]
        assert members == [("aud-a", DI, import_a)]

        kept = client.get(f"/v1/imports/{import_a}/revert/kept")
        assert kept.status_code == 200, kept.text
        assert kept.json() == {
            "importId": import_a,
            "data": [
                {"phoneNumber": DI, "laterImportId": import_b, "reason": "updated_by_later_import"}
            ],
            "page": 1,
            "limit": 100,
            "total": 1,
        }
        history = client.get("/v1/imports").json()["data"]
        assert [(item["id"], item["status"]) for item in history][:2] == [
            (import_b, "COMPLETED"),
            (import_a, "REVERTED"),
        ]

        # The import's webhook URL got its import.completed, then the signed import.reverted.
        receipts = receiver.wait_for(2)
        assert [r.body["event"] for r in receipts] == ["import.completed", "import.reverted"]
        assert all(r.verified for r in receipts)
        assert receipts[1].body == {
            "event": "import.reverted",
            "importId": import_a,
            "status": "REVERTED",
            **COUNTS,
            "revertedAt": revert["revertedAt"],
            "runId": revert["runId"],
        }
        assert receipts[1].headers["webhook-id"] == "msg_" + revert["runId"].replace("-", "")

        # Again: the first revert's result, 200, and nothing written (no snapshot, no run).
        snapshots = stack.query("SELECT count(*) AS n FROM lake.snapshots()")
        again = client.post(f"/v1/imports/{import_a}/revert")
        assert again.status_code == 200, again.text
        assert again.json()["revert"] == revert
        assert stack.query("SELECT count(*) AS n FROM lake.snapshots()") == snapshots

        # The Python client's revert answers the same, and changes nothing either.
        with ImportsClient(stack.api_url, key) as imports_client:
            status_view = imports_client.revert(import_a)
        assert status_view.status == "REVERTED"
        assert status_view.revert is not None
        assert (status_view.revert.reverted, status_view.revert.kept) == (2, 1)
        assert status_view.revert.run_id == revert["runId"]
        assert stack.query("SELECT count(*) AS n FROM lake.snapshots()") == snapshots

        assert_problem(client.post("/v1/imports/imp_unknown/revert"), 404, "not-found")
    time.sleep(6)  # a sensor tick or more: the repeated request sent no second event
    assert len(receiver.receipts) == 2
