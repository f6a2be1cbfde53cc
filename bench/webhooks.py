"""Completion-webhook latency on the stack `oliai up` starts: N small imports posted one after
another, each with a webhookUrl on a local receiver that verifies the signature.

Measured per import: POST → webhook received, run end (`completedAt`) → webhook received, and, as
a same-run baseline, POST → COMPLETED seen by polling the status endpoint every 50 ms. The sensor
ticks in the same window are read back from Dagster, to show what the delay is made of.

    .venv/bin/python bench/webhooks.py [--imports 20] [--spread 5]

Fairness (`--hanging N`): organization B's webhook delay (run end → received), median over
`--imports` imports, first alone, then each time right after organization A got N events whose
receivers accept and never answer (A's events are recorded straight into the stack's control
store, as the sensor records them for N ended imports: N runs would take minutes here). Between
samples A's receivers answer, so every A batch starts from the same place.

    .venv/bin/python bench/webhooks.py --hanging 60 [--imports 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from standardwebhooks import Webhook

sys.path[0] = str(Path(__file__).resolve().parents[1])  # run as a script from anywhere

from core.control_store import ControlStore  # noqa: E402
from core.control_store.tables import webhook_events  # noqa: E402
from tests.stack import TERMINAL, Stack, make_stack  # noqa: E402

GOAL_P50_S = 3.0  # after the import becomes COMPLETED
GOAL_P99_S = 6.0
POLL_S = 0.05

SENSOR_TICKS = """
query SensorTicks($selector: SensorSelector!, $after: Float!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(afterTimestamp: $after, limit: 1000) {
      timestamp endTimestamp status
    } } }
  }
}
"""


class Receiver(ThreadingHTTPServer):
    """Records when each import's verified webhook arrived (time.time())."""

    daemon_threads = True

    def __init__(self, secret: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.webhook = Webhook(secret)
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.arrived = threading.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks/import-done"

    def wait_for(self, import_id: str, timeout_s: float = 60.0) -> float:
        with self.arrived:
            if not self.arrived.wait_for(lambda: import_id in self.arrivals, timeout_s):
                raise TimeoutError(f"no webhook for {import_id} within {timeout_s:.0f} s")
            return self.arrivals[import_id]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        arrived = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        payload = self.server.webhook.verify(body, {k.lower(): v for k, v in self.headers.items()})
        with self.server.arrived:
            if payload["importId"] in self.server.arrivals:
                self.server.duplicates += 1
            self.server.arrivals.setdefault(payload["importId"], arrived)
            self.server.arrived.notify_all()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class HangingReceiver(ThreadingHTTPServer):
    """Accepts every request and answers none while `hang` is set; `release()` answers them."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HangingHandler)
        self.held = 0  # requests waiting for an answer right now
        self.received = 0
        self.lock = threading.Lock()
        self.answer = threading.Event()

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/{n}"

    def hang(self) -> None:
        self.answer.clear()

    def release(self) -> None:
        self.answer.set()

    def held_now(self) -> int:
        with self.lock:
            return self.held


class _HangingHandler(BaseHTTPRequestHandler):
    server: HangingReceiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.held += 1
            self.server.received += 1
        self.server.answer.wait()
        with self.server.lock:
            self.server.held -= 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass(frozen=True)
class Sample:
    post_to_webhook: float
    completed_to_webhook: float  # completedAt (the run's end) → webhook received
    post_to_status: float  # POST → COMPLETED seen by polling every 50 ms
    seen_to_webhook: float  # COMPLETED seen by polling → webhook received


def one_import(stack: Stack, receiver: Receiver, n: int) -> Sample:
    body = {
        "contacts": [{"name": f"Bench {n}", "phoneNumber": f"+9197000{n:05d}"}],
        "webhookUrl": receiver.url,
    }
    with stack.client() as client:
        posted = time.time()
        response = client.post("/v1/imports/api/bulk", json=body)
        assert response.status_code == 202, response.text
        import_id = response.json()["importId"]
        while (status := client.get(f"/v1/imports/{import_id}/status").json())[
            "status"
        ] not in TERMINAL:
            time.sleep(POLL_S)
        seen = time.time()
    assert status["status"] == "COMPLETED", status
    completed = datetime.fromisoformat(status["completedAt"].replace("Z", "+00:00")).timestamp()
    arrived = receiver.wait_for(import_id)
    return Sample(arrived - posted, arrived - completed, seen - posted, arrived - seen)


def percentiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[98]


def sensor_ticks(stack: Stack, after: float) -> list[dict[str, Any]]:
    selector = {
        "repositoryLocationName": "oliai",
        "repositoryName": "__repository__",
        "sensorName": "import_webhooks",
    }
    response = httpx.post(
        f"{stack.dagster_url}/graphql",
        json={"query": SENSOR_TICKS, "variables": {"selector": selector, "after": after}},
        timeout=30,
    )
    response.raise_for_status()
    ticks = response.json()["data"]["sensorOrError"]["sensorState"]["ticks"]
    return sorted((t for t in ticks if t["endTimestamp"] is not None), key=lambda t: t["timestamp"])


HANGING_ORG = "bench-hanging"


def pending_of(store: ControlStore, org_id: str) -> int:
    query = sa.select(sa.func.count()).where(
        webhook_events.c.org_id == org_id, webhook_events.c.state == "pending"
    )
    with store.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def wait_until(what: str, probe: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(0.1)


def fairness(stack: Stack, receiver: Receiver, hanging: int, imports: int) -> int:
    """B's delay alone, then with `hanging` events of A held open by their receivers."""
    store = ControlStore.from_url(stack.settings.running_postgres_url)
    store.organizations.ensure(HANGING_ORG)
    held_open = HangingReceiver()
    threading.Thread(target=held_open.serve_forever, daemon=True).start()
    alone, beside, held = [], [], []
    try:
        for n in range(1, imports + 1):
            alone.append(one_import(stack, receiver, n).completed_to_webhook)
            print(f"  B alone {n}: {alone[-1]:5.2f} s", flush=True)
        for batch in range(1, imports + 1):
            held_open.hang()
            for k in range(hanging):
                run_id = f"bench-{batch}-{k}-{time.time_ns()}"
                store.webhooks.enqueue(
                    event_id="msg_" + run_id.replace("-", ""),
                    import_id=f"imp_bench_{batch}_{k}",
                    org_id=HANGING_ORG,
                    run_id=run_id,
                    url=held_open.url(k),
                    payload='{"event":"import.completed"}',
                )
            # A's attempts have taken what slots they can get and hang there.
            wait_until("A's first attempts", lambda: held_open.held_now() >= 1, 30)
            time.sleep(1.0)
            held.append(held_open.held_now())
            beside.append(one_import(stack, receiver, 100 + batch).completed_to_webhook)
            print(
                f"  B beside A's {hanging} hanging events {batch}: {beside[-1]:5.2f} s "
                f"(A's requests held open when B was posted: {held[-1]})",
                flush=True,
            )
            held_open.release()
            wait_until("A's batch to drain", lambda: pending_of(store, HANGING_ORG) == 0, 600)
    finally:
        held_open.release()
        held_open.shutdown()
        held_open.server_close()
        store.dispose()
    load = os.getloadavg()[0]
    print(f"\nB's webhook, run end → received, {imports} imports each (load average {load:.1f})")
    print(f"  {'B alone':<44} median {statistics.median(alone):5.2f} s   max {max(alone):5.2f} s")
    label = f"B beside {hanging} hanging events of A"
    print(f"  {label:<44} median {statistics.median(beside):5.2f} s   max {max(beside):5.2f} s")
    print(f"  A's requests held open when B was posted: median {statistics.median(held):g}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imports", type=int, default=20)
    parser.add_argument(
        "--spread",
        type=float,
        default=5.0,
        help="random pause (0 to this many seconds) before each POST, so sequential posts do not "
        "phase-lock with the daemon's 5 s sensor loop",
    )
    parser.add_argument(
        "--hanging",
        type=int,
        default=0,
        help="measure fairness instead: B's delay alone and beside this many events of another "
        "organization whose receivers never answer (--imports samples each)",
    )
    args = parser.parse_args()
    rng = random.Random(20)

    with tempfile.TemporaryDirectory(prefix="oliai-bench-webhooks-") as tmp:
        stack = make_stack(Path(tmp) / "data")
        print(f"starting the stack in {tmp} ...", flush=True)
        stack.start()
        try:
            receiver = Receiver(stack.webhook_secret("demo"))
            threading.Thread(target=receiver.serve_forever, daemon=True).start()
            one_import(stack, receiver, 0)  # warm-up: first run, first tick, first connection
            if args.hanging:
                return fairness(stack, receiver, args.hanging, args.imports)
            began = time.time()
            samples = []
            for n in range(1, args.imports + 1):
                time.sleep(rng.uniform(0, args.spread))
                samples.append(one_import(stack, receiver, n))
                print(
                    f"  import {n:2d}: POST→webhook {samples[-1].post_to_webhook:5.2f} s, "
                    f"completedAt→webhook {samples[-1].completed_to_webhook:5.2f} s",
                    flush=True,
                )
            ticks = sensor_ticks(stack, began)
            receiver.shutdown()
            receiver.server_close()
        finally:
            stack.stop()

    load = os.getloadavg()[0]
    print(f"\n{args.imports} imports, sequential, 1 contact each (load average {load:.1f})")
    rows = [
        ("POST → webhook received", [s.post_to_webhook for s in samples]),
        ("completedAt → webhook received", [s.completed_to_webhook for s in samples]),
        ("COMPLETED seen (50 ms poll) → webhook", [s.seen_to_webhook for s in samples]),
        ("baseline: POST → COMPLETED seen by polling", [s.post_to_status for s in samples]),
    ]
    for label, values in rows:
        p50, p99 = percentiles(values)
        print(f"  {label:<44} p50 {p50:5.2f} s   p99 {p99:5.2f} s   max {max(values):5.2f} s")
    if ticks:
        periods = [b["timestamp"] - a["timestamp"] for a, b in itertools.pairwise(ticks)]
        durations = [t["endTimestamp"] - t["timestamp"] for t in ticks]
        print(
            f"  sensor ticks: {len(ticks)}, period p50 {statistics.median(periods):.2f} s "
            f"(max {max(periods):.2f} s), duration p50 {statistics.median(durations):.2f} s "
            f"(max {max(durations):.2f} s)"
        )
    if receiver.duplicates:
        print(f"  duplicate deliveries: {receiver.duplicates}")
    p50, p99 = percentiles([s.completed_to_webhook for s in samples])
    met = p50 <= GOAL_P50_S and p99 <= GOAL_P99_S
    print(
        f"goal after completion: p50 ≤ {GOAL_P50_S:g} s, p99 ≤ {GOAL_P99_S:g} s: "
        + ("met" if met else "MISSED")
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
