"""A newcomer's journey on the stack `oliai up` starts: import, watch, query, re-run, stop.

The tests share one stack and run in file order; the last one stops it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from core.examples import SEED_EXAMPLE
from orchestration.maintenance.reexecution import launch_reexecution
from tests.integration.api_support import assert_timestamp
from tests.receiver import WebhookReceiver
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.e2e

MESSY = {
    "contacts": [
        {"name": "  Ana   María ", "phoneNumber": "+34 612-34-56-78", "language": "ES-es"},
        {"name": "Zoë", "phoneNumber": "+44 (20) 7946.0958", "vip": True},
        {"name": "", "phoneNumber": "+4420794609"},
        {"name": 42, "phoneNumber": "0044 20 7946 0958"},
        {"name": "Li Wei", "phoneNumber": "+86 138 0013 8000", "language": "zh-hans-cn"},
    ]
}


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("journey") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def receiver(journey: Stack) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(journey.webhook_secret("demo")) as running:
        yield running


def test_banner_prints_key_secret_urls_and_curl(journey: Stack) -> None:
    banner = "".join(journey.output)
    assert journey.api_key in banner
    assert "whsec_" in banner
    assert journey.dagster_url in banner
    assert f"curl -s -X POST {journey.api_url}/v1/imports/api/bulk" in banner


def test_seed_example_completes_and_its_webhook_arrives_signed(
    journey: Stack, receiver: WebhookReceiver
) -> None:
    body = {**SEED_EXAMPLE, "webhookUrl": receiver.url}
    accepted = journey.post_import(body)
    assert accepted.status_code == 202, accepted.text
    import_id = accepted.json()["importId"]

    status = journey.wait_for_terminal(import_id)
    assert status["status"] == "COMPLETED"
    assert (status["total"], status["created"], status["updated"], status["failed"]) == (2, 2, 0, 0)

    (receipt,) = receiver.wait_for(1)
    assert receipt.verified
    assert receipt.body["event"] == "import.completed"
    assert receipt.body["importId"] == import_id
    assert receipt.body["status"] == "COMPLETED"
    assert receipt.body["created"] == 2
    assert_timestamp(status["completedAt"])
    assert receipt.body["completedAt"] == status["completedAt"]


def test_messy_import_completes_with_errors_and_errors_download(journey: Stack) -> None:
    import_id = journey.post_import(MESSY).json()["importId"]
    status = journey.wait_for_terminal(import_id)
    assert status["status"] == "COMPLETED_WITH_ERRORS"
    assert (status["total"], status["created"], status["updated"], status["failed"]) == (5, 3, 0, 2)
    assert status["errorCount"] >= 2

    with journey.client() as client:
        csv = client.get(f"/v1/imports/{import_id}/errors", params={"format": "csv"})
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0] == "row_index,field,code,message,value"
    assert {line.split(",")[0] for line in lines[1:]} == {"2", "3"}


def test_history_pages_newest_first(journey: Stack) -> None:
    with journey.client() as client:
        first = client.get("/v1/imports", params={"page": 1, "limit": 1}).json()
        second = client.get("/v1/imports", params={"page": 2, "limit": 1}).json()
    assert first["total"] == second["total"] == 2
    assert_timestamp(first["data"][0]["createdAt"])
    assert first["data"][0]["createdAt"] > second["data"][0]["createdAt"]
    assert first["data"][0]["status"] == "COMPLETED_WITH_ERRORS"


def test_warehouse_answers_sql(journey: Stack) -> None:
    result = journey.oliai(
        "sql", "SELECT phone_number, name, language FROM contacts ORDER BY phone_number", "--json"
    )
    assert result.returncode == 0, result.stderr
    rows = {row["phone_number"]: row for row in json.loads(result.stdout)}
    assert rows["+919876543210"]["name"] == "Priya Sharma"
    assert rows["+34612345678"] == {
        "phone_number": "+34612345678",
        "name": "Ana María",
        "language": "es-ES",
    }
    assert len(rows) == 5


def test_reexecution_from_dagster_updates_status_and_sends_a_new_webhook(
    journey: Stack, receiver: WebhookReceiver
) -> None:
    with journey.client() as client:
        newest = client.get("/v1/imports", params={"limit": 100}).json()["data"]
    seed = next(item for item in newest if item["total"] == 2)
    with httpx.Client() as dagster:  # the mutation the UI's "Re-execute" sends
        new_run_id = launch_reexecution(dagster, journey.dagster_url, seed["runId"])

    deadline = time.monotonic() + 60
    with journey.client() as client:
        while time.monotonic() < deadline:
            item = next(
                i for i in client.get("/v1/imports").json()["data"] if i["id"] == seed["id"]
            )
            if item["runId"] == new_run_id and item["status"] == "COMPLETED":
                break
            time.sleep(0.25)
    assert item["runId"] == new_run_id
    # Re-processing the same import gives the same counts, not "updated".
    assert (item["created"], item["updated"]) == (2, 0)

    receipts = receiver.wait_for(2)
    assert receipts[1].body["runId"] == new_run_id
    assert receipts[1].headers["webhook-id"] != receipts[0].headers["webhook-id"]
    assert receipts[1].verified


def test_shutdown_leaves_no_process_running(journey: Stack) -> None:
    assert journey.process is not None
    tree = psutil.Process(journey.process.pid).children(recursive=True)
    assert len(tree) >= 3  # webserver, daemon, API (and their code servers)
    assert journey.stop() == 0
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == [], f"left running: {[p.cmdline() for p in alive]}"
    assert len(gone) == len(tree)
