"""Claims of docs/webhooks.md (and operations.md) no other test exercised, on the session stack
with real receivers on 127.0.0.1: webhooks of COMPLETED_WITH_ERRORS and FAILED imports carry what
the status endpoint says, an event is `exhausted` after its 8th attempt, and a rotated secret
signs the retries of events created before the rotation.

Retries are brought forward by moving the event's `next_attempt_at` in the stack's control store
(tests/integration/claims_support.py): the schedule has no seam, and its first retries are
minutes to an hour apart.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from orchestration.maintenance.reexecution import launch_reexecution
from tests.integration.api_support import MESSY_BODY, MESSY_COUNTS, assert_timestamp, contacts
from tests.integration.claims_support import import_row, make_webhook_due
from tests.stack import TERMINAL, Stack, daemon_paused

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

T = TypeVar("T")
# docs/webhooks.md: "At most 8 attempts ... After the 8th failed attempt the event is exhausted."
ATTEMPTS = 8
# More than one daemon loop (5 s) plus a tick: what an extra attempt would need to show up.
NEXT_TICKS_S = 6.5
ALL_ROWS_FAIL = {"contacts": [{"name": "   ", "phoneNumber": "12345"}, {"name": 42}]}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Hit:
    headers: dict[str, str]  # lower-cased names
    body: bytes
    answered: int

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    def verifies_with(self, secret: str) -> bool:
        try:
            Webhook(secret).verify(self.body, self.headers)
        except WebhookVerificationError:
            return False
        return True


class Recorder(ThreadingHTTPServer):
    """Records every request as received (verification is the test's), answering with the next
    scripted reply; the last one repeats."""

    daemon_threads = True

    def __init__(self, replies: Sequence[Reply] = (Reply(200),)) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies = list(replies)
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/{secrets.token_hex(4)}"

    def snapshot(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            reply = self.server.replies[min(len(self.server.hits), len(self.server.replies) - 1)]
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.server.hits.append(Hit(headers, body, reply.status))
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder_factory() -> Iterator[Callable[..., Recorder]]:
    started: list[Recorder] = []

    def start(*replies: Reply) -> Recorder:
        recorder = Recorder(replies or (Reply(200),))
        started.append(recorder)
        return recorder

    yield start
    for recorder in started:
        recorder.close()


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 90) -> T:
    deadline = time.monotonic() + timeout_s
    while (value := probe()) is None:
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f} s: {what}"
        time.sleep(0.2)
    return value


def hits(recorder: Recorder, count: int, timeout_s: float = 60) -> list[Hit]:
    return wait_for(
        f"{count} request(s) at {recorder.url}",
        lambda: got if len(got := recorder.snapshot()) >= count else None,
        timeout_s,
    )


def new_org(stack: Stack, topic: str) -> tuple[str, str, str]:
    """(organization, API key, webhook secret) of a fresh organization."""
    org = f"claims-{topic}-{secrets.token_hex(3)}"
    key = stack.new_org_key(org)
    return org, key, stack.webhook_secret(org)


def post(client: httpx.Client, body: dict[str, Any], url: str) -> str:
    response = client.post("/v1/imports/api/bulk", json={**body, "webhookUrl": url})
    assert response.status_code == 202, response.text
    return str(response.json()["importId"])


def get(client: httpx.Client, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def terminal(client: httpx.Client, import_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        status: dict[str, Any] = get(client, f"/v1/imports/{import_id}/status")
        return status if status["status"] in TERMINAL else None

    return wait_for(f"{import_id} to end", ended)


def run_id_of(client: httpx.Client, import_id: str) -> str:
    listed = get(client, "/v1/imports?limit=100")["data"]
    (item,) = [item for item in listed if item["id"] == import_id]
    return str(item["runId"])


def events(client: httpx.Client, import_id: str) -> list[dict[str, Any]]:
    return list(get(client, f"/v1/imports/{import_id}/webhook-deliveries")["data"])


def attempts_of(event: dict[str, Any]) -> list[tuple[int, str, int | None, str | None]]:
    return [(a["attempt"], a["outcome"], a["statusCode"], a["error"]) for a in event["attempts"]]


def expected_payload(status: dict[str, Any], run_id: str) -> dict[str, Any]:
    """webhooks.md: the status endpoint's fields, under `importId`, plus `event` and `runId`."""
    fields = {name: value for name, value in status.items() if name != "id"}
    return {"event": "import.completed", "importId": status["id"], **fields, "runId": run_id}


def test_completed_with_errors_and_failed_imports_get_the_status_endpoints_counts(
    stack: Stack, recorder_factory: Callable[..., Recorder]
) -> None:
    _, key, secret = new_org(stack, "wh-outcomes")
    receiver = recorder_factory()
    with stack.client(key) as client:
        with_errors = post(client, MESSY_BODY, receiver.url)
        all_failed = post(client, ALL_ROWS_FAIL, receiver.url)
        statuses = {i: terminal(client, i) for i in (with_errors, all_failed)}
        received = {hit.payload["importId"]: hit for hit in hits(receiver, 2)}

        assert {k: statuses[with_errors][k] for k in MESSY_COUNTS} == MESSY_COUNTS
        assert statuses[with_errors]["status"] == "COMPLETED_WITH_ERRORS"
        assert {k: v for k, v in statuses[all_failed].items() if k != "completedAt"} == {
            "id": all_failed,
            "status": "FAILED",  # SUCCESS with every row failed
            "total": 2,
            "created": 0,
            "updated": 0,
            "failed": 2,
            "errorCount": 4,
            "skipped": 0,
        }
        for import_id, status in statuses.items():
            hit = received[import_id]
            run_id = run_id_of(client, import_id)
            assert hit.payload == expected_payload(status, run_id)
            assert hit.verifies_with(secret)
            assert hit.headers["webhook-id"] == "msg_" + run_id.replace("-", "")
            (event,) = events(client, import_id)
            assert event["state"] == "delivered"
            assert attempts_of(event) == [(1, "delivered", 200, None)]
    time.sleep(NEXT_TICKS_S)
    assert len(receiver.snapshot()) == 2  # one event each


def test_a_run_that_fails_before_writing_gets_a_failed_webhook_with_every_row_failed(
    stack: Stack, recorder_factory: Callable[..., Recorder]
) -> None:
    """A run whose request body left the landing zone before it started fails at its first step
    (operations.md): nothing was written, so the import is FAILED with every row failed."""
    _, key, secret = new_org(stack, "wh-failure")
    receiver = recorder_factory()
    with stack.client(key) as client:
        with daemon_paused(stack):  # queued, not started
            import_id = post(client, {"contacts": contacts(3, start=7100)}, receiver.url)
            wait_for(
                "the import to be submitted",
                lambda: run_id if (run_id := run_id_of(client, import_id)) != "None" else None,
            )
            record = import_row(stack, import_id)
            assert record is not None
            Path(record["landing_path"]).unlink()  # what `oliai prune` deletes
        status = terminal(client, import_id)
        assert {k: v for k, v in status.items() if k != "completedAt"} == {
            "id": import_id,
            "status": "FAILED",
            "total": 3,
            "created": 0,
            "updated": 0,
            "failed": 3,
            "errorCount": 0,
            "skipped": 0,
        }
        (hit,) = hits(receiver, 1)
        assert hit.payload == expected_payload(status, run_id_of(client, import_id))
        assert hit.verifies_with(secret)


def test_a_failed_re_run_of_a_committed_import_reports_what_was_committed(
    stack: Stack, recorder_factory: Callable[..., Recorder]
) -> None:
    """What the warehouse committed is the truth (reliability.md): a re-execution that fails
    (its body gone) leaves the import COMPLETED with its committed counts, and says so."""
    _, key, secret = new_org(stack, "wh-refail")
    receiver = recorder_factory()
    with stack.client(key) as client:
        import_id = post(client, {"contacts": contacts(3, start=7150)}, receiver.url)
        first_status = terminal(client, import_id)
        assert (first_status["status"], first_status["created"]) == ("COMPLETED", 3)
        (first,) = hits(receiver, 1)
        parent = run_id_of(client, import_id)
        assert first.payload == expected_payload(first_status, parent)

        record = import_row(stack, import_id)
        assert record is not None
        Path(record["landing_path"]).unlink()
        with httpx.Client() as dagster:
            child_run = launch_reexecution(dagster, stack.dagster_url, parent)

        def committed_counts_reported() -> dict[str, Any] | None:
            # The run ends FAILED; the sensor's next scan (about a second) records the committed
            # counts on it (reliability.md), and the webhook is built after that.
            status: dict[str, Any] = get(client, f"/v1/imports/{import_id}/status")
            moved = run_id_of(client, import_id) == child_run
            return status if moved and status["status"] == "COMPLETED" else None

        status = wait_for("the committed counts on the failed re-run", committed_counts_reported)
        assert {k: v for k, v in status.items() if k != "completedAt"} == {
            k: v for k, v in first_status.items() if k != "completedAt"
        }
        _, second = hits(receiver, 2)
        assert second.payload == expected_payload(status, child_run)
        assert second.verifies_with(secret)
        assert second.headers["webhook-id"] == "msg_" + child_run.replace("-", "")
        assert second.headers["webhook-id"] != first.headers["webhook-id"]


def test_an_event_is_exhausted_after_its_8th_failed_attempt(
    stack: Stack, recorder_factory: Callable[..., Recorder]
) -> None:
    _, key, secret = new_org(stack, "wh-exhausted")
    receiver = recorder_factory(Reply(500))
    with stack.client(key) as client:
        import_id = post(client, {"contacts": contacts(1, start=7200)}, receiver.url)
        for made in range(1, ATTEMPTS):
            hits(receiver, made)

            def recorded(made: int = made) -> dict[str, Any] | None:
                (event,) = events(client, import_id)
                return event if len(event["attempts"]) == made else None

            event = wait_for(f"attempt {made} to be recorded", recorded)
            assert event["state"] == "pending", event
            assert event["nextAttemptAt"] is not None
            make_webhook_due(stack, event["id"])

        got = hits(receiver, ATTEMPTS)

        def settled() -> dict[str, Any] | None:
            (event,) = events(client, import_id)
            return event if event["state"] != "pending" else None

        event = wait_for("the event to settle", settled)
        assert event["state"] == "exhausted"
        assert event["nextAttemptAt"] is None
        assert attempts_of(event) == [(n, "retry", 500, "HTTP 500") for n in range(1, 9)]

    time.sleep(NEXT_TICKS_S)
    assert len(receiver.snapshot()) == ATTEMPTS  # no 9th
    assert {hit.headers["webhook-id"] for hit in got} == {event["id"]}
    assert all(hit.verifies_with(secret) for hit in got)
    assert len({hit.body for hit in got}) == 1


def test_a_rotated_secret_signs_the_retries_of_events_created_before(
    stack: Stack, recorder_factory: Callable[..., Recorder]
) -> None:
    org, key, old_secret = new_org(stack, "wh-rotate")
    # An hour's Retry-After parks the retry until the test brings it forward.
    receiver = recorder_factory(Reply(503, (("Retry-After", "3600"),)), Reply(200))
    with stack.client(key) as client:
        import_id = post(client, {"contacts": contacts(1, start=7300)}, receiver.url)
        (first,) = hits(receiver, 1)
        assert first.verifies_with(old_secret)

        def waiting() -> dict[str, Any] | None:
            (event,) = events(client, import_id)
            return event if event["attempts"] else None

        event = wait_for("the first attempt to be recorded", waiting)
        assert (event["state"], attempts_of(event)) == ("pending", [(1, "retry", 503, "HTTP 503")])
        assert_timestamp(event["nextAttemptAt"])
        due = datetime.fromisoformat(event["nextAttemptAt"].replace("Z", "+00:00"))
        assert due > datetime.now(UTC) + timedelta(minutes=50)

        rotated = stack.oliai("webhooks", "secret", "--org", org, "--rotate", "--json")
        assert rotated.returncode == 0, rotated.stderr
        new_secret = json.loads(rotated.stdout)["webhookSecret"]
        assert new_secret.startswith("whsec_")
        assert new_secret != old_secret
        assert stack.webhook_secret(org) == new_secret

        make_webhook_due(stack, event["id"])
        _, retry = hits(receiver, 2)
        assert retry.verifies_with(new_secret)
        assert not retry.verifies_with(old_secret)
        assert retry.headers["webhook-id"] == first.headers["webhook-id"] == event["id"]
        assert retry.body == first.body

        def delivered() -> dict[str, Any] | None:
            (event,) = events(client, import_id)
            return event if event["state"] == "delivered" else None

        event = wait_for("the retry to be recorded", delivered)
        assert attempts_of(event) == [(1, "retry", 503, "HTTP 503"), (2, "delivered", 200, None)]
