"""Completion webhooks on the real stack (`oliai up`): the `import_webhooks` sensor, its
background dispatcher and the delivery records, seen from real receivers on 127.0.0.1 that verify
every request with the Standard Webhooks library."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, build_sensor_context
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.contracts import LOCATION_NAME
from core.control_store import ControlStore
from core.control_store.tables import webhook_attempts, webhook_events
from orchestration import sensors
from orchestration.maintenance.reexecution import launch_reexecution
from orchestration.resources import Warehouse, WebhookDelivery
from orchestration.runtime.stack import SEED_EXAMPLE
from orchestration.webhooks.delivery import JITTER, RETRY_SCHEDULE_S
from orchestration.webhooks.leases import org_cap
from tests.integration.api_support import assert_timestamp
from tests.lake import fresh_database
from tests.stack import TERMINAL, Stack, make_stack

pytestmark = pytest.mark.integration

T = TypeVar("T")

ORG = "webhooks-stack"
FIRST_RETRY_MIN_S = RETRY_SCHEDULE_S[0] * (1 - JITTER)
FIRST_RETRY_MAX_S = RETRY_SCHEDULE_S[0] * (1 + JITTER)
# Sensor ticks that must start after an event was settled, and end, before "no duplicate came"
# is claimed: each tick scans for ended runs and due attempts during most of its ~5 s.
QUIET_TICKS = 2
RETRY_AFTER_S = 9  # longer than the first scheduled retry can be, so only Retry-After explains it
# The webhook timeout of the stack that restarts: an import posted while an attempt hangs must be
# processed and delivered within it (the test checks that it was, not how fast).
OWN_STACK_TIMEOUT_S = 45
PAYLOAD_FIELDS = ("event", "importId", "status", "total", "created", "updated", "failed")


# --- receivers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


HANG = Reply(0)  # hold the request open until the receiver closes


@dataclass(frozen=True)
class Receipt:
    webhook_id: str
    timestamp: int
    body: bytes
    payload: dict[str, Any]
    at: float  # time.time() on arrival
    answered: int  # the status we answered; 0 for HANG
    # Set on arrival from the receiver's `watching` receiver: had its held request been dropped?
    watched_dropped: bool | None = None


class Receiver(ThreadingHTTPServer):
    """Verifies every request's signature, records it, answers with the next scripted reply
    (the last one repeats)."""

    daemon_threads = True

    def __init__(self, secret: str, replies: Sequence[Reply] = (Reply(200),)) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.webhook = Webhook(secret)
        self.replies = list(replies)
        self.receipts: list[Receipt] = []
        self.unverified: list[str] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)  # notified on every request
        self.closing = threading.Event()
        # A HANG request is held until the receiver closes; `dropped` is set once its sender
        # gives up (closes the connection): the attempt is over.
        self.held = threading.Event()
        self.dropped = threading.Event()
        # Another receiver whose `dropped` state each receipt records on arrival.
        self.watching: Receiver | None = None
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks/import-done"

    def snapshot(self) -> list[Receipt]:
        with self.lock:
            assert not self.unverified, f"unverifiable webhook requests: {self.unverified}"
            return list(self.receipts)

    def more_than(self, count: int, timeout_s: float) -> bool:
        """Whether more than `count` requests have arrived, waiting up to `timeout_s` for one."""
        with self.arrived:
            return self.arrived.wait_for(
                lambda: len(self.receipts) + len(self.unverified) > count, timeout_s
            )

    def close(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()
        self.thread.join()


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        arrived = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        receiver = self.server
        try:
            payload = receiver.webhook.verify(body, headers)
        except WebhookVerificationError as exc:
            with receiver.arrived:
                receiver.unverified.append(f"{exc}: {headers} {body!r}")
                receiver.arrived.notify_all()
            self._answer(Reply(400))
            return
        watching = receiver.watching
        with receiver.arrived:
            reply = receiver.replies[min(len(receiver.receipts), len(receiver.replies) - 1)]
            receiver.receipts.append(
                Receipt(
                    webhook_id=headers["webhook-id"],
                    timestamp=int(headers["webhook-timestamp"]),
                    body=body,
                    payload=payload,
                    at=arrived,
                    answered=reply.status,
                    watched_dropped=None if watching is None else watching.dropped.is_set(),
                )
            )
            receiver.arrived.notify_all()
        if reply is HANG:
            self._hold(receiver)
            return
        self._answer(reply)

    def _hold(self, receiver: Receiver) -> None:
        """Answer nothing until the receiver closes; note when the sender hangs up."""
        receiver.held.set()
        while not receiver.closing.wait(0.05):
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                receiver.dropped.set()
                return

    def _answer(self, reply: Reply) -> None:
        with contextlib.suppress(OSError):  # the sender may have given up already
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Hanging(ThreadingHTTPServer):
    """Reads and verifies every request and never answers: each stays open until its sender
    gives up (closes the connection: recorded in `given_up`) or this receiver closes."""

    daemon_threads = True

    def __init__(self, secret: str) -> None:
        super().__init__(("127.0.0.1", 0), _HangingHandler)
        self.webhook = Webhook(secret)
        self.held: list[str] = []  # webhook-ids, in arrival order
        self.given_up: list[str] = []
        self.unverified: list[str] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{path}"

    def snapshot(self) -> tuple[list[str], list[str]]:
        """(requests received, requests whose sender gave up)."""
        with self.lock:
            assert not self.unverified, f"unverifiable webhook requests: {self.unverified}"
            return list(self.held), list(self.given_up)

    def close(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()
        self.thread.join()


class _HangingHandler(BaseHTTPRequestHandler):
    server: Hanging

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        receiver = self.server
        try:
            receiver.webhook.verify(body, headers)
        except WebhookVerificationError as exc:
            with receiver.lock:
                receiver.unverified.append(f"{exc}: {headers}")
            return
        with receiver.lock:
            receiver.held.append(headers["webhook-id"])
        while not receiver.closing.wait(0.05):
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):  # EOF: sender left
                with receiver.lock:
                    receiver.given_up.append(headers["webhook-id"])
                return

    def log_message(self, format: str, *args: object) -> None:
        pass


class Canary(ThreadingHTTPServer):
    """Counts every connection that reaches it, before reading a byte."""

    daemon_threads = True

    def __init__(self, host: str, port: int, family: socket.AddressFamily) -> None:
        self.address_family = family
        super().__init__((host, port), BaseHTTPRequestHandler)
        self.connections = 0
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return False

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join()


# --- helpers -----------------------------------------------------------------------------------


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float) -> T:
    deadline = time.monotonic() + timeout_s
    while (value := probe()) is None or value is False:
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(0.1)
    return value


def contacts(first: int, count: int = 1) -> list[dict[str, str]]:
    """Valid contacts with phone numbers of their own: no test sees another's updates."""
    return [
        {"name": f"Webhook Test {n}", "phoneNumber": f"+9198111{n:05d}"}
        for n in range(first, first + count)
    ]


def post(stack: Stack, key: str, body: dict[str, Any]) -> str:
    response = stack.post_import(body, api_key=key)
    assert response.status_code == 202, response.text
    return str(response.json()["importId"])


def api_get(stack: Stack, key: str, path: str) -> Any:
    with stack.client(key) as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def deliveries(stack: Stack, key: str, import_id: str) -> list[dict[str, Any]]:
    listed = api_get(stack, key, f"/v1/imports/{import_id}/webhook-deliveries")
    assert listed["importId"] == import_id
    return list(listed["data"])


def final_deliveries(stack: Stack, key: str, import_id: str, events: int = 1) -> list[Any]:
    """The import's events once `events` of them exist and none is pending any more."""

    def settled() -> list[Any] | None:
        data = deliveries(stack, key, import_id)
        done = len(data) == events and all(e["state"] != "pending" for e in data)
        return data if done else None

    return wait_for(f"{import_id}: {events} settled event(s)", settled, 60)


def receipts(receiver: Receiver, count: int, timeout_s: float = 60) -> list[Receipt]:
    return wait_for(
        f"{count} webhook(s) at {receiver.url}",
        lambda: got if len(got := receiver.snapshot()) >= count else None,
        timeout_s,
    )


SENSOR_TICKS = """
query SensorTicks($selector: SensorSelector!, $after: Float!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(afterTimestamp: $after, limit: 100) {
      timestamp endTimestamp
    } } }
  }
}
"""


def ticks_ended_since(stack: Stack, since: float) -> int:
    """How many `import_webhooks` ticks started after `since` (time.time()) and have ended."""
    selector = {
        "repositoryLocationName": LOCATION_NAME,
        "repositoryName": "__repository__",
        "sensorName": "import_webhooks",
    }
    sensor = dagster_graphql(stack, SENSOR_TICKS, selector=selector, after=since)["sensorOrError"]
    ticks = sensor["sensorState"]["ticks"]
    return sum(1 for tick in ticks if tick["timestamp"] > since and tick["endTimestamp"])


def assert_nothing_more_arrives(
    stack: Stack, since: float, seen: Sequence[tuple[Receiver, list[Receipt]]]
) -> None:
    """No receiver gets another request while QUIET_TICKS sensor ticks that started after
    `since` run to their end (each would hand a duplicate or a retry to the dispatcher), nor in
    the moment after, while an attempt the last one started would be on its way."""

    def assert_quiet(timeout_s: float) -> None:
        for receiver, receipts_so_far in seen:
            more = receiver.more_than(len(receipts_so_far), timeout_s)
            assert not more, f"another request at {receiver.url}: {receiver.snapshot()}"

    deadline = time.monotonic() + 120
    while ticks_ended_since(stack, since) < QUIET_TICKS:
        assert time.monotonic() < deadline, f"no {QUIET_TICKS} sensor ticks ended in 120 s"
        assert_quiet(0.25)
    assert_quiet(2.0)
    for receiver, receipts_so_far in seen:
        assert receiver.snapshot() == receipts_so_far


def attempts_of(event: dict[str, Any]) -> list[tuple[int, str, int | None]]:
    return [(a["attempt"], a["outcome"], a["statusCode"]) for a in event["attempts"]]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def attempt_gap_s(event: dict[str, Any]) -> float:
    """Seconds from the event's first attempt to its second, as the dispatcher recorded them."""
    first, second = (parse_time(a["attemptedAt"]) for a in event["attempts"][:2])
    return (second - first).total_seconds()


def completed_at(status: dict[str, Any]) -> float:
    return parse_time(status["completedAt"]).timestamp()


def assert_matches_status(payload: dict[str, Any], status: dict[str, Any]) -> None:
    """The payload carries the reference's fields, equal to what the status endpoint says."""
    assert payload["event"] == "import.completed"
    assert payload["importId"] == status["id"]
    for name in ("status", "total", "created", "updated", "failed"):
        assert payload[name] == status[name], name
    assert payload["completedAt"] == status["completedAt"]
    assert_timestamp(payload["completedAt"])


def dagster_graphql(stack: Stack, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.dagster_url}/graphql",
        json={"query": query, "variables": variables},
        timeout=30,
    )
    response.raise_for_status()
    answer = response.json()
    assert "errors" not in answer, answer
    return dict(answer["data"])


RUNS_OF_IMPORT = """
query RunsOfImport($importId: String!) {
  runsOrError(filter: {tags: [{key: "oliai/import_id", value: $importId}]}) {
    ... on Runs { results { runId status } }
  }
}
"""

# --- on the session stack ----------------------------------------------------------------------


@dataclass
class Launched:
    import_id: str
    receiver: Receiver


@pytest.fixture(scope="module")
def org_key(stack: Stack) -> tuple[str, str]:
    """A fresh organization of this module's own: (API key, webhook secret)."""
    key = stack.new_org_key(ORG)
    return key, stack.webhook_secret(ORG)


@pytest.fixture(scope="module")
def launched(stack: Stack, org_key: tuple[str, str]) -> Iterator[dict[str, Launched]]:
    """Every import this module runs on the session stack, posted at once so their waits overlap;
    each with a receiver of its own."""
    key, secret = org_key
    scripts: dict[str, tuple[dict[str, Any], list[Reply]]] = {
        "seed": (SEED_EXAMPLE, [Reply(200)]),
        "500-then-200": ({"contacts": contacts(1)}, [Reply(500), Reply(200)]),
        "410": ({"contacts": contacts(2)}, [Reply(410)]),
        "429": (
            {"contacts": contacts(3)},
            [Reply(429, {"Retry-After": str(RETRY_AFTER_S)}), Reply(200)],
        ),
        "reexecuted": ({"contacts": contacts(4, 2)}, [Reply(200)]),
    }
    with contextlib.ExitStack() as closing:
        runs = {}
        for name, (body, replies) in scripts.items():
            receiver = Receiver(secret, replies)
            closing.callback(receiver.close)
            import_id = post(stack, key, {**body, "webhookUrl": receiver.url})
            runs[name] = Launched(import_id, receiver)
        yield runs


def test_seed_example_gets_one_verified_import_completed(
    stack: Stack, org_key: tuple[str, str], launched: dict[str, Launched]
) -> None:
    key, _ = org_key
    seed = launched["seed"]
    status = stack.wait_for_terminal(seed.import_id, api_key=key)
    (receipt,) = receipts(seed.receiver, 1)

    # The reference's example, field for field, and what the status endpoint says.
    assert status["status"] == "COMPLETED"
    assert {name: receipt.payload[name] for name in PAYLOAD_FIELDS} == {
        "event": "import.completed",
        "importId": seed.import_id,
        "status": "COMPLETED",
        "total": 2,
        "created": 2,
        "updated": 0,
        "failed": 0,
    }
    assert_matches_status(receipt.payload, status)
    assert receipt.at >= completed_at(status)  # sent once the run had ended

    # Every timestamp exactly as api.md writes them (2026-03-10T10:05:00.000Z): the status, the
    # history item, the webhook payload (the same string as the status) and its delivery record.
    assert_timestamp(status["completedAt"])
    listed = api_get(stack, key, "/v1/imports?limit=100")["data"]
    (item,) = [item for item in listed if item["id"] == seed.import_id]
    assert_timestamp(item["createdAt"])
    assert item["completedAt"] == status["completedAt"] == receipt.payload["completedAt"]

    (event,) = final_deliveries(stack, key, seed.import_id)
    assert_timestamp(event["createdAt"])
    assert_timestamp(event["attempts"][0]["attemptedAt"])
    assert event["id"] == receipt.webhook_id
    assert event["runId"] == receipt.payload["runId"]
    assert event["url"] == seed.receiver.url
    assert event["state"] == "delivered"
    assert event["nextAttemptAt"] is None
    assert attempts_of(event) == [(1, "delivered", 200)]

    # Exactly one: nothing more arrives over the next sensor ticks.
    assert_nothing_more_arrives(stack, receipt.at, [(seed.receiver, [receipt])])


def test_500_then_200_is_retried_with_the_same_id_and_a_fresh_timestamp(
    stack: Stack, org_key: tuple[str, str], launched: dict[str, Launched]
) -> None:
    key, _ = org_key
    run = launched["500-then-200"]
    first, second = receipts(run.receiver, 2)

    assert first.answered == 500
    assert second.answered == 200
    assert second.webhook_id == first.webhook_id
    assert second.timestamp > first.timestamp  # signed again for the retry
    assert second.body == first.body

    (event,) = final_deliveries(stack, key, run.import_id)
    assert event["id"] == first.webhook_id
    assert event["state"] == "delivered"
    assert attempts_of(event) == [(1, "retry", 500), (2, "delivered", 200)]
    assert event["attempts"][0]["error"] == "HTTP 500"
    # Not before the first retry of the schedule was due (5 s less 20 % jitter).
    waited = attempt_gap_s(event)
    assert waited >= FIRST_RETRY_MIN_S, waited


def test_410_stops_delivery(
    stack: Stack, org_key: tuple[str, str], launched: dict[str, Launched]
) -> None:
    key, _ = org_key
    run = launched["410"]
    (first,) = receipts(run.receiver, 1)

    (event,) = final_deliveries(stack, key, run.import_id)
    assert event["state"] == "gone"
    assert event["nextAttemptAt"] is None
    assert attempts_of(event) == [(1, "gone", 410)]

    # Nothing comes, also past when a first retry would have been due.
    assert_nothing_more_arrives(stack, first.at + FIRST_RETRY_MAX_S, [(run.receiver, [first])])


def test_429_retry_after_is_honoured(
    stack: Stack, org_key: tuple[str, str], launched: dict[str, Launched]
) -> None:
    key, _ = org_key
    run = launched["429"]
    first, second = receipts(run.receiver, 2)

    assert (first.answered, second.answered) == (429, 200)
    assert second.webhook_id == first.webhook_id

    (event,) = final_deliveries(stack, key, run.import_id)
    assert attempts_of(event) == [(1, "retry", 429), (2, "delivered", 200)]
    # Retry-After, not the schedule: no earlier than it asked.
    waited = attempt_gap_s(event)
    assert waited >= RETRY_AFTER_S, waited


def test_reexecuted_run_is_followed_and_gets_its_own_event(
    stack: Stack, org_key: tuple[str, str], launched: dict[str, Launched]
) -> None:
    key, _ = org_key
    run = launched["reexecuted"]
    first_status = stack.wait_for_terminal(run.import_id, api_key=key)
    (first,) = receipts(run.receiver, 1)
    assert_matches_status(first.payload, first_status)

    runs = dagster_graphql(stack, RUNS_OF_IMPORT, importId=run.import_id)["runsOrError"]
    (parent,) = runs["results"]
    assert first.payload["runId"] == parent["runId"]

    # What the Dagster UI's "Re-execute all" button sends.
    with httpx.Client() as dagster:
        child_id = launch_reexecution(dagster, stack.dagster_url, parent["runId"])

    # The status endpoint follows the new run once it has ended.
    def status_of_new_run() -> dict[str, Any] | None:
        status: dict[str, Any] = api_get(stack, key, f"/v1/imports/{run.import_id}/status")
        ended = status["status"] in TERMINAL and status["completedAt"] is not None
        moved = ended and completed_at(status) > completed_at(first_status)
        return status if moved else None

    second_status = wait_for("the re-executed run's status", status_of_new_run, 90)
    first_again, second = receipts(run.receiver, 2)
    assert first_again == first
    assert second.webhook_id != first.webhook_id
    assert second.payload["runId"] == child_id
    assert_matches_status(second.payload, second_status)

    events = final_deliveries(stack, key, run.import_id, events=2)
    assert [(e["id"], e["runId"], e["state"]) for e in events] == [
        (first.webhook_id, parent["runId"], "delivered"),
        (second.webhook_id, child_id, "delivered"),
    ]


# --- on two stacks of our own: one we restart, one that refuses private targets ------------------


@dataclass(frozen=True)
class OwnStacks:
    restartable: Stack  # private targets allowed (the default), a longer webhook timeout
    private_off: Stack  # `oliai up --no-webhook-allow-private`


@pytest.fixture(scope="module")
def own_stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStacks]:
    """Started side by side and stopped side by side: each start or stop takes many seconds."""
    stacks = OwnStacks(
        restartable=make_stack(
            tmp_path_factory.mktemp("webhooks-restartable") / "data",
            OLIAI_WEBHOOK_TIMEOUT_SECONDS=str(OWN_STACK_TIMEOUT_S),
        ),
        private_off=make_stack(
            tmp_path_factory.mktemp("webhooks-private-off") / "data",
            extra_args=["--no-webhook-allow-private"],
        ),
    )
    both = (stacks.restartable, stacks.private_off)
    try:
        with ThreadPoolExecutor(len(both)) as pool:
            for started in [pool.submit(stack.start) for stack in both]:
                started.result()
        yield stacks
    finally:
        with ThreadPoolExecutor(len(both)) as pool:
            list(pool.map(Stack.stop, both))


@pytest.fixture
def own_stack(own_stacks: OwnStacks) -> Stack:
    return own_stacks.restartable


@pytest.fixture
def private_off_stack(own_stacks: OwnStacks) -> Stack:
    return own_stacks.private_off


def test_hanging_receiver_does_not_delay_other_imports(own_stack: Stack) -> None:
    stack = own_stack
    secret = stack.webhook_secret("demo")
    with (
        contextlib.closing(Receiver(secret, [HANG])) as hanging,
        contextlib.closing(Receiver(secret)) as quick,
    ):
        quick.watching = hanging  # each of B's receipts notes whether A's attempt was over
        a = post(stack, stack.api_key, {"contacts": contacts(101), "webhookUrl": hanging.url})
        (held,) = receipts(hanging, 1)  # A's attempt is now hanging, inside a finished tick
        b = post(stack, stack.api_key, {"contacts": contacts(102), "webhookUrl": quick.url})
        b_status = stack.wait_for_terminal(b)
        (b_receipt,) = receipts(quick, 1)

        assert b_receipt.payload["importId"] == b
        assert b_receipt.at >= completed_at(b_status)  # sent once B's run had ended
        # B arrived while A's attempt was still hanging: its sender had not given up on it.
        assert b_receipt.watched_dropped is False, "A's attempt ended before B's webhook came"

        # A's attempt ends at its timeout, as a retry (the sender hangs up, then records it).
        assert hanging.dropped.wait(OWN_STACK_TIMEOUT_S + 15), "A's attempt never timed out"

        def a_attempt() -> dict[str, Any] | None:
            (event,) = deliveries(stack, stack.api_key, a)
            return event if event["attempts"] else None

        a_event = wait_for("A's attempt to be recorded", a_attempt, 30)
        (attempt,) = a_event["attempts"]
        assert attempt["outcome"] == "retry"
        assert attempt["error"] == f"no complete response within {OWN_STACK_TIMEOUT_S} s"
        assert attempt["durationMs"] >= OWN_STACK_TIMEOUT_S * 1000 * 0.95
        assert a_event["state"] == "pending"
        assert a_event["nextAttemptAt"] is not None
        assert held.answered == 0


def test_event_survives_a_restart_and_is_delivered_once(own_stack: Stack) -> None:
    stack = own_stack
    secret = stack.webhook_secret("demo")
    with (
        contextlib.closing(Receiver(secret, [Reply(503)])) as refusing,
        contextlib.closing(Receiver(secret)) as accepting,
    ):
        # R: refused before the restart, so its event waits with an attempt recorded.
        r = post(stack, stack.api_key, {"contacts": contacts(201), "webhookUrl": refusing.url})
        wait_for(
            "R's first attempt to be recorded",
            lambda: any(event["attempts"] for event in deliveries(stack, stack.api_key, r)),
            60,
        )
        # Q: the whole stack stops the moment Q's import ends, before or while it is delivered.
        q = post(stack, stack.api_key, {"contacts": contacts(202), "webhookUrl": accepting.url})
        with stack.client() as client:
            wait_for(
                "Q to end",
                lambda: client.get(f"/v1/imports/{q}/status").json()["status"] in TERMINAL,
                90,
            )
        stack.stop()
        refusing.replies = [Reply(200)]
        before_restart = (len(refusing.snapshot()), len(accepting.snapshot()))

        stack.start()
        (r_event,) = final_deliveries(stack, stack.api_key, r)
        (q_event,) = final_deliveries(stack, stack.api_key, q)
        settled = time.time()
        r_receipts, q_receipts = refusing.snapshot(), accepting.snapshot()
        # Long enough for a duplicate to show up: the next sensor ticks bring none.
        assert_nothing_more_arrives(
            stack, settled, [(refusing, r_receipts), (accepting, q_receipts)]
        )

        assert {x.webhook_id for x in r_receipts} == {r_event["id"]}
        assert [x.answered for x in r_receipts] == [503] * (len(r_receipts) - 1) + [200]
        assert len(r_receipts) > before_restart[0]  # its 200 came after the restart
        assert r_event["state"] == "delivered"
        assert attempts_of(r_event)[-1][1:] == ("delivered", 200)
        assert len(r_event["attempts"]) == len(r_receipts)

        assert [x.webhook_id for x in q_receipts] == [q_event["id"]], (before_restart, q_event)
        assert q_event["state"] == "delivered"
        assert attempts_of(q_event) == [(1, "delivered", 200)]


@pytest.fixture
def canaries() -> Iterator[tuple[int, list[Canary]]]:
    """Listeners on 127.0.0.1 and [::1] (where available), on one port."""
    v4 = Canary("127.0.0.1", 0, socket.AF_INET)
    listening = [v4]
    port = v4.server_address[1]
    with contextlib.suppress(OSError):
        listening.append(Canary("::1", port, socket.AF_INET6))
    yield port, listening
    for canary in listening:
        canary.close()


def test_private_targets_are_blocked_at_delivery(
    private_off_stack: Stack, canaries: tuple[int, list[Canary]]
) -> None:
    stack = private_off_stack
    port, listening = canaries
    # Each URL with the refusal it must get: the first address its host resolves to, and why.
    localhost = socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)[0][4][0]
    urls = {
        f"http://127.0.0.1:{port}/hook": "127.0.0.1 resolves to 127.0.0.1, which is loopback",
        f"http://localhost:{port}/hook": f"localhost resolves to {localhost}, which is loopback",
        # 127.0.0.1 as one decimal number
        f"http://2130706433:{port}/hook": "2130706433 resolves to 127.0.0.1, which is loopback",
        f"http://[::1]:{port}/hook": "::1 resolves to ::1, which is loopback",
        # the cloud metadata endpoint
        "http://169.254.169.254/latest/meta-data/": (
            "169.254.169.254 resolves to 169.254.169.254, which is link-local"
        ),
    }
    imports = {
        url: post(stack, stack.api_key, {"contacts": contacts(301 + n), "webhookUrl": url})
        for n, url in enumerate(urls)
    }
    for url, import_id in imports.items():
        (event,) = final_deliveries(stack, stack.api_key, import_id)
        assert event["state"] == "blocked", url
        assert event["url"] == url
        assert attempts_of(event) == [(1, "blocked", None)], url
        error = event["attempts"][0]["error"]
        assert error == urls[url], url
    assert [canary.connections for canary in listening] == [0] * len(listening)


# --- the sensor against a real control store and receiver, without the stack ---------------------


def test_a_tick_claims_no_more_than_the_dispatcher_can_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_admin_url: str
) -> None:
    """Events beyond the free attempt slots stay unclaimed: claimed, they would queue behind slow
    receivers while their leases ran out, and be claimed and attempted a second time."""
    monkeypatch.setattr(sensors, "TICK_WAIT_S", 0.1)
    url = fresh_database(postgres_admin_url)
    store = ControlStore.from_url(url)
    secret = store.organizations.ensure("org")
    # One scan per tick (no watching): each tick() below is one claim of due events.
    delivery = WebhookDelivery(
        postgres_url=url,
        postgres_dir=str(tmp_path / "postgres"),
        allow_private=True,
        timeout_seconds=2.0,
        concurrency=2,
        watch_seconds=0.0,
    )
    warehouse = Warehouse(postgres_dir=str(tmp_path / "postgres"), data_path=str(tmp_path / "lake"))

    def leased() -> int:
        with store.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(webhook_events.c.lease_until.is_not(None))
            return int(conn.scalar(query) or 0)

    with (
        contextlib.closing(Receiver(secret, [HANG])) as hanging,
        DagsterInstance.ephemeral() as instance,
    ):
        for n in range(5):
            store.webhooks.enqueue(
                event_id=f"msg_{n}",
                import_id=f"imp_{n}",
                org_id="org",
                run_id=f"run-{n}",
                url=hanging.url,
                payload=json.dumps({"n": n}),
            )

        def tick() -> None:
            context = build_sensor_context(
                instance=instance, resources={"webhook_delivery": delivery, "warehouse": warehouse}
            )
            sensors.import_webhooks(context)

        tick()
        receipts(hanging, 2, timeout_s=30)
        assert leased() == 2
        tick()  # both slots still busy: nothing more is claimed
        assert leased() == 2
        # A third attempt, had the tick started one, would reach the receiver at once.
        assert not hanging.more_than(2, timeout_s=1.0), hanging.snapshot()

        wait_for("the hanging attempts to time out", lambda: leased() == 0, 30)
        tick()
        got = receipts(hanging, 4, timeout_s=30)
        assert len({receipt.webhook_id for receipt in got}) == 4
        assert leased() == 2
    store.dispose()


def test_hanging_receivers_of_one_organization_do_not_delay_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_admin_url: str
) -> None:
    """Organization A's 60 events go to receivers that never answer; B's one event, recorded
    after all of them, is delivered while every request of A's is still open: A may hold only
    its share of the 16 slots, so slots stay free for B (docs/webhooks.md, Fairness)."""
    monkeypatch.setattr(sensors, "TICK_WAIT_S", 0.1)
    url = fresh_database(postgres_admin_url)
    store = ControlStore.from_url(url)
    secrets = {org: store.organizations.ensure(org) for org in ("org-a", "org-b")}
    # A timeout far beyond the test, so none of A's attempts can end before it does.
    delivery = WebhookDelivery(
        postgres_url=url,
        postgres_dir=str(tmp_path / "postgres"),
        allow_private=True,
        timeout_seconds=600.0,
        concurrency=16,
        watch_seconds=0.0,
    )
    share = org_cap(delivery.concurrency)
    assert share < delivery.concurrency

    def enqueue(org: str, n: int, target: str) -> None:
        store.webhooks.enqueue(
            event_id=f"msg_{org}_{n}",
            import_id=f"imp_{org}_{n}",
            org_id=org,
            run_id=f"run-{org}-{n}",
            url=target,
            payload=json.dumps({"org": org, "n": n}),
        )

    def attempts_recorded(org: str) -> int:
        query = sa.select(sa.func.count()).select_from(webhook_attempts.join(webhook_events))
        with store.engine.connect() as conn:
            return int(conn.scalar(query.where(webhook_events.c.org_id == org)) or 0)

    with (
        contextlib.closing(Hanging(secrets["org-a"])) as hanging,
        contextlib.closing(Receiver(secrets["org-b"])) as quick,
        DagsterInstance.ephemeral() as instance,
    ):

        def tick() -> None:
            context = build_sensor_context(
                instance=instance,
                resources={
                    "webhook_delivery": delivery,
                    "warehouse": Warehouse(
                        postgres_dir=str(tmp_path / "postgres"), data_path=str(tmp_path / "lake")
                    ),
                },
            )
            sensors.import_webhooks(context)

        for n in range(60):
            enqueue("org-a", n, hanging.url(f"hook/{n % 6}"))
        tick()
        held = wait_for(
            f"{share} of A's requests held open",
            lambda: got if len(got := hanging.snapshot()[0]) >= share else None,
            10,
        )
        tick()  # slots are free, but A holds its share: none more goes to A
        time.sleep(0.5)
        assert hanging.snapshot() == (held, [])

        enqueue("org-b", 0, quick.url)
        tick()
        (b_receipt,) = receipts(quick, 1, timeout_s=10)
        assert b_receipt.webhook_id == "msg_org-b_0"
        (b_event,) = wait_for(
            "B's attempt to be recorded",
            lambda: got if (got := store.webhooks.deliveries("imp_org-b_0"))[0].attempts else None,
            10,
        )
        assert (b_event.state, [a.outcome for a in b_event.attempts]) == (
            "delivered",
            ["delivered"],
        )

        # Causality: A's requests were open before B's event existed, and after B's delivery was
        # recorded none of them had ended: no sender gave up and no attempt of A's is recorded.
        assert hanging.snapshot() == (held, [])
        assert len(held) == share
        assert attempts_recorded("org-a") == 0
    store.dispose()
