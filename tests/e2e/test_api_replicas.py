"""The stack's processes as several hosts would run them, over one PostgreSQL.

Two API replicas: the stack's own API and a second one started by hand (`oliai serve api`, the
same settings: the data paths and the server), requests alternating between them. Each import
gets one run (the outbox's leases), one webhook, and the same status from either replica; a
replica SIGKILLed right after its 202s loses nothing: the other one submits what it accepted,
once the dead replica's claims (60 s leases) run out.

Every process alone: `oliai prepare` on an external server, then the code server (on a TCP
port), the webserver, the daemon and two API replicas each started by its own `oliai serve`,
sharing only the server's URL and the data directory, as a multi-host deployment runs them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from dagster import DagsterInstance, RunsFilter
from standardwebhooks import Webhook

from core.contracts import LOCATION_NAME, tags
from core.settings import Settings
from orchestration.runtime.instance import instance_environment
from orchestration.runtime.processes import CodeServerAddress
from orchestration.runtime.stack import code_server_serving, daemon_healthy
from tests.lake import fresh_database
from tests.stack import OLIAI, TERMINAL, Stack, free_port, running_stack

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
    """A second API process, started as a host of a deployment starts one (`oliai serve api`, the
    command `oliai up` runs too), on a port of its own."""
    port = free_port()
    log = stack.data_dir / "logs" / "api-replica.log"
    command = [OLIAI, "serve", "api", "--data-dir", str(stack.data_dir), "--port", str(port)]
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [*command, "--dagster-url", stack.dagster_url],
            env={**stack.env, "OLIAI_WEBHOOK_ALLOW_PRIVATE": "true"},
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


def completed_alternately(clients: list[httpx.Client], count: int, webhook_url: str) -> list[str]:
    """`count` imports posted to the replicas in turn, as a round-robin balancer sends them, each
    COMPLETED with the same answer from every replica; their ids."""
    accepted = []
    for n in range(count):
        response = clients[n % 2].post("/v1/imports/api/bulk", json=body(n, webhook_url))
        assert response.status_code == 202, response.text
        accepted.append(response.json()["importId"])
    for import_id in accepted:
        first, *others = terminal(clients, import_id, timeout_s=240)
        assert first["status"] == "COMPLETED", first
        assert others == [first] * len(others)  # the same answer from every replica
    return accepted


def runs_per_import(stack: Stack, import_ids: list[str]) -> dict[str, int]:
    with stack.instance() as instance:
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
            accepted = completed_alternately(clients, 10, hooks.url)

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


@contextmanager
def started(name: str, command: list[str], env: dict[str, str], log_dir: Path) -> Iterator[int]:
    """A process of its own group, as a host's service manager starts one; stopped by PID."""
    with open(log_dir / f"{name}.log", "ab") as output:
        process = subprocess.Popen(
            [OLIAI, "serve", *command],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_until(what: str, check: Callable[[], bool], log_dir: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        logs = "".join(f"\n== {p.name}\n{p.read_text()[-3000:]}" for p in log_dir.glob("*.log"))
        assert time.monotonic() < deadline, f"{what} not ready after {timeout_s} s{logs}"
        time.sleep(0.25)


def test_every_process_started_alone_on_an_external_server(
    tmp_path: Path, postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    url = fresh_database(postgres_admin_url)
    env = {key: value for key, value in os.environ.items() if not key.startswith("OLIAI_")}
    env.pop("DAGSTER_HOME", None)
    env.update(OLIAI_DATA_DIR=str(data), OLIAI_POSTGRES_URL=url, OLIAI_WEBHOOK_ALLOW_PRIVATE="true")

    def oliai(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OLIAI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    before = oliai("serve", "daemon", "--code-server", "127.0.0.1:1")
    assert before.returncode == 1
    assert "run `oliai prepare` first" in before.stderr
    prepared = oliai("prepare")
    assert prepared.returncode == 0, prepared.stderr
    assert "external server" in prepared.stdout
    key = json.loads(oliai("keys", "create", "--org", "hosts", "--create-org", "--json").stdout)
    secret = json.loads(oliai("webhooks", "secret", "--org", "hosts", "--json").stdout)

    code_port, ui_port, api_ports = free_port(), free_port(), [free_port(), free_port()]
    code_server = f"127.0.0.1:{code_port}"
    ui_url = f"http://127.0.0.1:{ui_port}"
    logs = data / "logs"
    logs.mkdir(parents=True)
    with (
        started("code-server", ["code-server", "--port", str(code_port)], env, logs),
        closing(WebhookLog(secret["webhookSecret"])) as hooks,
    ):
        address = CodeServerAddress(host="127.0.0.1", port=code_port)
        wait_until("the code server", lambda: code_server_serving(address), logs)
        ui = ["webserver", "--code-server", code_server, "--port", str(ui_port)]
        apis = [["api", "--port", str(port), "--dagster-url", ui_url] for port in api_ports]
        with (
            started("webserver", ui, env, logs),
            started("daemon", ["daemon", "--code-server", code_server], env, logs),
            started("api-1", apis[0], env, logs),
            started("api-2", apis[1], env, logs),
        ):
            wait_until("the daemon", lambda: daemon_healthy(ui_url), logs)
            for port in api_ports:
                wait_until(f"the API on {port}", lambda port=port: _healthy(port), logs)
            clients = [client(port, key["apiKey"]) for port in api_ports]
            try:
                accepted = completed_alternately(clients, 4, hooks.url)
                deadline = time.monotonic() + 60
                while len(hooks.import_ids()) < len(accepted):
                    assert time.monotonic() < deadline, hooks.import_ids()
                    time.sleep(0.25)
            finally:
                for c in clients:
                    c.close()

    assert sorted(hooks.import_ids()) == sorted(accepted)  # each once, signed with the org's secret
    for name, value in instance_environment(Settings(postgres_url=url)).items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.from_config(str(data / "dagster")) as instance:
        runs = instance.get_run_records(RunsFilter(tags={tags.ORG_ID: "hosts"}))
    assert sorted(run.dagster_run.tags[tags.IMPORT_ID] for run in runs) == sorted(accepted)
    assert {run.dagster_run.remote_job_origin.location_name for run in runs} == {LOCATION_NAME}
