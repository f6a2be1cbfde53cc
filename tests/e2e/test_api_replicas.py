"""Two API replicas over one PostgreSQL, as two hosts would run them: the stack's own API and a
second uvicorn process started by hand with the same settings (the data paths and the server),
requests alternating between them.

Each import gets one run (the outbox's leases), one webhook, and the same status from either
replica; a replica SIGKILLed right after its 202s loses nothing: the other one submits what it
accepted, once the dead replica's claims (60 s leases) run out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from dagster import DagsterInstance, RunsFilter
from standardwebhooks import Webhook

from core.contracts import tags
from core.settings import Settings
from orchestration.runtime.stack import REPO_ROOT, api_command, child_environment
from tests.stack import TERMINAL, Stack, free_port, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


class WebhookLog(ThreadingHTTPServer):
    """Records the id of every webhook whose signature verifies; answers 200."""

    daemon_threads = True

    def __init__(self, secret: str) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.webhook = Webhook(secret)
        self.ids: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def import_ids(self) -> list[str]:
        with self.lock:
            return list(self.ids)

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Recorder(BaseHTTPRequestHandler):
    server: WebhookLog

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        payload = self.server.webhook.verify(body, dict(self.headers))
        with self.server.lock:
            self.server.ids.append(payload["importId"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    port: int


@contextmanager
def replica(stack: Stack) -> Iterator[Replica]:
    """A second API process: `oliai up`'s API command and environment, on a port of its own."""
    port = free_port()
    settings = Settings(
        data_dir=stack.data_dir,
        api_port=port,
        dagster_port=stack.dagster_port,
        webhook_allow_private=True,
    )
    log = stack.data_dir / "logs" / "api-replica.log"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            api_command("127.0.0.1", port),
            env={**stack.env, **child_environment(settings)},
            cwd=REPO_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the replica never answered /health"
            time.sleep(0.2)
        yield Replica(process, port)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def client(port: int, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def body(n: int, webhook_url: str) -> dict[str, Any]:
    return {
        "contacts": [{"name": f"Replica {n}", "phoneNumber": f"+1415300{n:04d}"}],
        "webhookUrl": webhook_url,
    }


def terminal(clients: list[httpx.Client], import_id: str, timeout_s: float) -> list[Any]:
    """The import's status from every replica once it ended."""
    deadline = time.monotonic() + timeout_s
    while True:
        answers = [c.get(f"/v1/imports/{import_id}/status").json() for c in clients]
        if answers[0].get("status") in TERMINAL:
            return answers
        assert time.monotonic() < deadline, f"{import_id} never ended: {answers}"
        time.sleep(0.25)


def runs_per_import(stack: Stack, import_ids: list[str]) -> dict[str, int]:
    with DagsterInstance.from_config(str(stack.data_dir / "dagster")) as instance:
        return {
            import_id: len(instance.get_run_records(RunsFilter(tags={tags.IMPORT_ID: import_id})))
            for import_id in import_ids
        }


def test_two_replicas_share_one_outbox_and_lose_nothing(tmp_path: Path) -> None:
    with (
        running_stack(tmp_path / "data") as stack,
        replica(stack) as second,
        closing(WebhookLog(stack.webhook_secret("demo"))) as hooks,
    ):
        key = stack.api_key
        ports = [stack.api_port, second.port]
        clients = [client(port, key) for port in ports]
        try:
            accepted = []
            for n in range(10):  # alternating, as a round-robin balancer sends them
                response = clients[n % 2].post("/v1/imports/api/bulk", json=body(n, hooks.url))
                assert response.status_code == 202, response.text
                accepted.append(response.json()["importId"])
            for import_id in accepted:
                first, other = terminal(clients, import_id, timeout_s=240)
                assert first["status"] == "COMPLETED", first
                assert other == first  # the same answer from either replica

            # Five more to the second replica, which dies right after its last 202.
            orphans = []
            for n in range(10, 15):
                response = clients[1].post("/v1/imports/api/bulk", json=body(n, hooks.url))
                assert response.status_code == 202, response.text
                orphans.append(response.json()["importId"])
            os.killpg(second.process.pid, signal.SIGKILL)
            second.process.wait(timeout=30)
            for import_id in orphans:
                (status,) = terminal(clients[:1], import_id, timeout_s=300)
                assert status["status"] == "COMPLETED", status
        finally:
            for c in clients:
                c.close()

        everything = accepted + orphans
        assert runs_per_import(stack, everything) == dict.fromkeys(everything, 1)
        # Each import's one event is delivered: then exactly one request per import arrived.
        with client(stack.api_port, key) as api:
            deadline = time.monotonic() + 120
            for import_id in everything:
                while True:
                    events = api.get(f"/v1/imports/{import_id}/webhook-deliveries").json()["data"]
                    if events and events[0]["state"] == "delivered":
                        break
                    assert time.monotonic() < deadline, (import_id, events)
                    time.sleep(0.25)
                assert len(events) == 1, events
                assert len(events[0]["attempts"]) == 1, events
        assert sorted(hooks.import_ids()) == sorted(everything)
        print(json.dumps({"imports": len(everything), "replicas": 2, "killed": 1}))
