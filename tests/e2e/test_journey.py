"""A newcomer's journey on the stack `oliai up` starts: import, watch, query, re-run, stop.

The tests share one stack and the demo organization's two imports (the seed example with a
webhook, then the messy batch), made once by a fixture: each test can run first or alone. The
shutdown test stops the stack and starts it again for whatever runs after it.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import pytest

from core.examples import SEED_EXAMPLE
from orchestration.maintenance.reexecution import launch_reexecution
from tests.integration.api_support import assert_timestamp
from tests.receiver import Receipt, WebhookReceiver
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


@dataclass(frozen=True)
class Imported:
    """The demo organization's imports, in the order they were posted, each once it ended."""

    seed_id: str
    seed_run_id: str
    messy_id: str


@pytest.fixture(scope="module")
def imported(journey: Stack, receiver: WebhookReceiver) -> Imported:
    seed = journey.post_import({**SEED_EXAMPLE, "webhookUrl": receiver.url})
    assert seed.status_code == 202, seed.text
    seed_id = seed.json()["importId"]
    journey.wait_for_terminal(seed_id)
    messy = journey.post_import(MESSY)
    assert messy.status_code == 202, messy.text
    messy_id = messy.json()["importId"]
    journey.wait_for_terminal(messy_id)
    return Imported(seed_id, history_item(journey, seed_id)["runId"], messy_id)


def history_item(stack: Stack, import_id: str) -> dict[str, Any]:
    with stack.client() as client:
        items = client.get("/v1/imports", params={"limit": 100}).json()["data"]
    (item,) = (item for item in items if item["id"] == import_id)
    return dict(item)


def test_banner_prints_key_secret_urls_and_curl(journey: Stack) -> None:
    banner = "".join(journey.output)
    assert journey.api_key in banner
    assert "whsec_" in banner
    assert journey.dagster_url in banner
    assert f"curl -s -X POST {journey.api_url}/v1/imports/api/bulk" in banner


def test_seed_example_completes_and_its_webhook_arrives_signed(
    journey: Stack, receiver: WebhookReceiver, imported: Imported
) -> None:
    status = journey.wait_for_terminal(imported.seed_id)
    assert status["status"] == "COMPLETED"
    assert (status["total"], status["created"], status["updated"], status["failed"]) == (2, 2, 0, 0)

    def of_first_run(receipts: list[Receipt]) -> list[Receipt]:
        return [r for r in receipts if r.body["runId"] == imported.seed_run_id]

    receipts = receiver.wait_until("the seed's webhook", lambda got: bool(of_first_run(got)))
    (receipt,) = of_first_run(receipts)
    assert receipt.verified
    assert receipt.body["event"] == "import.completed"
    assert receipt.body["importId"] == imported.seed_id
    assert receipt.body["status"] == "COMPLETED"
    assert receipt.body["created"] == 2
    assert_timestamp(status["completedAt"])
    # The status follows the newest run (the re-execution test may have run first): its webhook
    # says the same completedAt.
    newest = history_item(journey, imported.seed_id)["runId"]
    receipts = receiver.wait_until(
        "the newest run's webhook", lambda got: any(r.body["runId"] == newest for r in got)
    )
    (of_newest,) = [r for r in receipts if r.body["runId"] == newest]
    assert of_newest.body["completedAt"] == status["completedAt"]


def test_messy_import_completes_with_errors_and_errors_download(
    journey: Stack, imported: Imported
) -> None:
    status = journey.wait_for_terminal(imported.messy_id)
    assert status["status"] == "COMPLETED_WITH_ERRORS"
    assert (status["total"], status["created"], status["updated"], status["failed"]) == (5, 3, 0, 2)
    assert status["errorCount"] == 4  # rows 2 and 3: a bad name and a bad phone each

    with journey.client() as client:
        response = client.get(f"/v1/imports/{imported.messy_id}/errors", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    header, *rows = csv.reader(io.StringIO(response.text))
    assert header == ["row_index", "field", "code", "message", "value"]
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)  # by row index
    assert sorted((row[0], row[1], row[2]) for row in rows) == [
        ("2", "name", "empty"),
        ("2", "phoneNumber", "too_short"),
        ("3", "name", "invalid_type"),
        ("3", "phoneNumber", "missing_plus"),
    ]


def test_history_pages_newest_first(journey: Stack, imported: Imported) -> None:
    with journey.client() as client:
        first = client.get("/v1/imports", params={"page": 1, "limit": 1}).json()
        second = client.get("/v1/imports", params={"page": 2, "limit": 1}).json()
    assert first["total"] == second["total"] == 2
    assert [first["data"][0]["id"], second["data"][0]["id"]] == [
        imported.messy_id,
        imported.seed_id,
    ]
    assert_timestamp(first["data"][0]["createdAt"])
    assert first["data"][0]["createdAt"] > second["data"][0]["createdAt"]
    assert first["data"][0]["status"] == "COMPLETED_WITH_ERRORS"


def test_warehouse_answers_sql(journey: Stack, imported: Imported) -> None:
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
    journey: Stack, receiver: WebhookReceiver, imported: Imported
) -> None:
    parent_run_id = history_item(journey, imported.seed_id)["runId"]
    with httpx.Client() as dagster:  # the mutation the UI's "Re-execute" sends
        new_run_id = launch_reexecution(dagster, journey.dagster_url, parent_run_id)

    deadline = time.monotonic() + 60
    while (item := history_item(journey, imported.seed_id))["runId"] != new_run_id or item[
        "status"
    ] != "COMPLETED":
        assert time.monotonic() < deadline, f"the re-executed run did not complete: {item}"
        time.sleep(0.25)
    # Re-processing the same import gives the same counts, not "updated".
    assert (item["created"], item["updated"]) == (2, 0)

    def of_run(receipts: list[Receipt], run_id: str) -> list[Receipt]:
        return [r for r in receipts if r.body["runId"] == run_id]

    receipts = receiver.wait_until(
        "webhooks of the parent run and of the re-execution",
        lambda got: bool(of_run(got, parent_run_id) and of_run(got, new_run_id)),
    )
    (new,) = of_run(receipts, new_run_id)
    (old,) = of_run(receipts, parent_run_id)
    assert new.headers["webhook-id"] != old.headers["webhook-id"]
    assert new.verified
    assert new.body["importId"] == imported.seed_id


def test_shutdown_leaves_no_process_running(journey: Stack) -> None:
    assert journey.process is not None
    tree = psutil.Process(journey.process.pid).children(recursive=True)
    assert len(tree) >= 3  # webserver, daemon, API (and their code servers)
    assert journey.stop() == 0
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == [], f"left running: {[p.cmdline() for p in alive]}"
    assert len(gone) == len(tree)
    journey.start()  # for the tests that run after this one
