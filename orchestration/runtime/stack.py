"""`oliai up`: supervise the Dagster webserver, the Dagster daemon and the API.

Each child runs in its own process group so signals reach all of its descendants, and is
stopped by PID on exit: nothing is left behind (see DESIGN's note on `dagster dev`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import httpx
from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse
from grpc_health.v1.health_pb2_grpc import HealthStub

from core import private_postgres
from core.control_store import ControlStore
from core.control_store.legacy import LegacyStoreConflict, adopt_legacy_store
from core.examples import SEED_EXAMPLE
from core.settings import Settings
from core.warehouse.lake import LakeLocation
from core.warehouse.migration import prepare_warehouse
from core.warehouse.relocation import follow_moved_data_dir
from orchestration.runtime.instance import (
    InstanceDatabase,
    fail_interrupted_runs,
    instance_environment,
    prepare_instance,
)
from orchestration.runtime.legacy_history import LegacyHistoryConflict
from orchestration.runtime.processes import CodeServerAddress, serve_command

REPO_ROOT = Path(__file__).resolve().parents[2]
CODE_SERVER = "code-server"
POSTGRES = "postgres"
DEMO_ORG = "demo"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0


class StartFailed(Exception):
    """A part of the stack did not come up; nothing started is left running."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.name == POSTGRES:
            private_postgres.stop(self.process)
            return
        """SIGTERM the child's process group, then SIGKILL what is still there."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Grandchildren (run workers, code servers) share the group: make sure they are gone.
        _signal_group(self.process.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def child_environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DAGSTER_HOME": str(settings.dagster_home),
            "OLIAI_DATA_DIR": str(settings.resolved_data_dir),
            "OLIAI_HOST": settings.host,
            "OLIAI_API_PORT": str(settings.api_port),
            "OLIAI_DAGSTER_PORT": str(settings.dagster_port),
            "OLIAI_WEBHOOK_ALLOW_PRIVATE": str(settings.webhook_allow_private).lower(),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if settings.postgres_url:
        env["OLIAI_POSTGRES_URL"] = settings.postgres_url
    if settings.lake_data_path:
        env["OLIAI_LAKE_DATA_PATH"] = settings.lake_data_path
    return env


def _start(name: str, command: list[str], env: dict[str, str], log_dir: Path) -> Child:
    with open(log_dir / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(name, process)


def code_server_serving(address: CodeServerAddress) -> bool:
    with grpc.insecure_channel(address.grpc_target) as channel:
        try:
            reply = HealthStub(channel).Check(HealthCheckRequest(service="DagsterApi"), timeout=2)
        except grpc.RpcError:
            return False
    return bool(reply.status == HealthCheckResponse.SERVING)


def start_children(
    settings: Settings,
    log_dir: Path,
    code_socket: Path,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[Child]:
    """Start the code server and, once it serves, the webserver, the daemon and the API.

    The webserver and the daemon load the code location once, when they start, so the code
    server must answer first. Raises `StartFailed` (with nothing left running) if it does not.
    """
    env = child_environment(settings)
    log_dir.mkdir(parents=True, exist_ok=True)
    command = serve_command(CODE_SERVER, "--socket", str(code_socket))
    code_server = _start(CODE_SERVER, command, env, log_dir)
    problem = wait_for(
        {CODE_SERVER: lambda: code_server_serving(CodeServerAddress(socket=code_socket))},
        [code_server],
        should_stop,
    )
    if problem is not None:
        code_server.stop()
        raise StartFailed(problem)
    host, socket = settings.host, str(code_socket)
    commands = {
        "dagster-webserver": serve_command(
            "webserver",
            "--code-server",
            socket,
            "--host",
            host,
            "--port",
            str(settings.dagster_port),
        ),
        "dagster-daemon": serve_command("daemon", "--code-server", socket),
        "api": serve_command("api", "--host", host, "--port", str(settings.api_port)),
    }
    return [code_server] + [
        _start(name, command, env, log_dir) for name, command in commands.items()
    ]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def daemon_healthy(dagster_url: str) -> bool:
    query = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
    try:
        response = httpx.post(f"{dagster_url}/graphql", json={"query": query}, timeout=5.0)
        statuses = response.json()["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        return False
    return all(status["healthy"] for status in statuses if status["required"])


def wait_for(
    checks: dict[str, Callable[[], bool]],
    children: list[Child],
    should_stop: Callable[[], bool],
    timeout_s: float = START_TIMEOUT_S,
) -> str | None:
    """None once every check passed; otherwise what went wrong (a child died, a timeout)."""
    pending = dict(checks)
    deadline = time.monotonic() + timeout_s
    while pending:
        if should_stop():
            return "interrupted"
        if (dead := next((c for c in children if c.process.poll() is not None), None)) is not None:
            return f"{dead.name} exited with code {dead.process.returncode} while starting"
        if time.monotonic() > deadline:
            return f"not healthy after {timeout_s:.0f} s: {', '.join(pending)}"
        for name, check in list(pending.items()):
            if check():
                del pending[name]
        time.sleep(0.2)
    return None


def wait_until_ready(
    settings: Settings, children: list[Child], should_stop: Callable[[], bool]
) -> str | None:
    """None when the webserver, the daemon and the API are healthy; otherwise what went wrong."""
    dagster_url = settings.resolved_dagster_url
    checks: dict[str, Callable[[], bool]] = {
        "dagster-webserver": lambda: _answers(f"{dagster_url}/server_info"),
        "dagster-daemon": lambda: daemon_healthy(dagster_url),
        "api": lambda: _answers(f"http://{settings.host}:{settings.api_port}/health"),
    }
    return wait_for(checks, children, should_stop)


def demo_credentials(settings: Settings, store: ControlStore) -> dict[str, str]:
    """The demo organization's key and secret: created on first start, reused afterwards.

    The plaintext key is kept only in this file (mode 0600) for the local demo's convenience;
    the control store holds its hash like any other key's.
    """
    path = settings.resolved_data_dir / "demo-credentials.json"
    if path.exists():
        saved: dict[str, str] = json.loads(path.read_text())
        saved["webhookSecret"] = store.organizations.ensure(DEMO_ORG)
        return saved
    created = store.organizations.create_api_key(DEMO_ORG, create_org=True)
    credentials = {"orgId": DEMO_ORG, "keyId": created.key_id, "apiKey": created.api_key}
    path.touch(mode=0o600)
    path.write_text(json.dumps(credentials))
    credentials["webhookSecret"] = store.organizations.ensure(DEMO_ORG)
    return credentials


def _banner(settings: Settings, credentials: dict[str, str]) -> str:
    api_url = f"http://{settings.host}:{settings.api_port}"
    body = json.dumps({key: value for key, value in SEED_EXAMPLE.items() if key != "webhookUrl"})
    private_note = (
        "Webhooks to loopback/private addresses are ALLOWED (local use; --no-webhook-allow-private"
        " to refuse them)."
        if settings.webhook_allow_private
        else "Webhooks to loopback/private addresses are refused."
    )
    return f"""
OliAI is ready.
  API            {api_url}   (docs: {api_url}/schema)
  Dagster UI     {settings.resolved_dagster_url}
  Data dir       {settings.resolved_data_dir}   (logs in logs/)
  Warehouse      .venv/bin/oliai sql "SELECT count(*) FROM contacts"
                 (a notebook or the DuckDB CLI: .venv/bin/oliai sql --print-attach)

Demo organization {credentials["orgId"]!r}
  API key        {credentials["apiKey"]}
  Webhook secret {credentials["webhookSecret"]}
  {private_note}

Try it:
  curl -s -X POST {api_url}/v1/imports/api/bulk \\
    -H 'Authorization: Bearer {credentials["apiKey"]}' \\
    -H 'Content-Type: application/json' \\
    -d '{body}'

Ctrl-C stops everything.
"""


def start_postgres(settings: Settings) -> list[Child]:
    """The private PostgreSQL server as a child (none with an external server), and the lake
    ready on it: its tables, and a single-file warehouse of an earlier release moved in."""
    started: list[Child] = []
    if settings.postgres_url:
        url = settings.postgres_url
        print(f"PostgreSQL: external server {_without_password(url)}", flush=True)
    else:
        server = private_postgres.PrivatePostgres(settings.postgres_dir)
        try:
            process, url = server.start()
        except private_postgres.PostgresStartFailed as exc:
            raise StartFailed(str(exc)) from None
        started.append(Child(POSTGRES, process))
        print(
            f"PostgreSQL: private server {_without_password(url)} "
            f"(pid {process.pid}, under {settings.postgres_dir})",
            flush=True,
        )
    location = LakeLocation(url, settings.resolved_lake_data_path)
    try:
        if settings.lake_data_path is None:  # the default, under the data directory
            followed = follow_moved_data_dir(location)
            if followed:
                print(followed, flush=True)
        moved = prepare_warehouse(location, settings.legacy_warehouse_path)
    except Exception as exc:
        for child in started:
            child.stop()
        raise StartFailed(f"the warehouse could not be prepared: {exc}") from None
    if moved:
        print(moved, flush=True)
    return started


def prepare_instance_storage(settings: Settings) -> None:
    """Dagster's instance ready on PostgreSQL (the SQLite history of an earlier release moved
    in): dagster.yaml and the schema, before any process opens them."""
    database = InstanceDatabase.of(settings, settings.running_postgres_url)
    try:
        moved = prepare_instance(settings.dagster_home, database, settings.max_concurrent_runs)
    except LegacyHistoryConflict as conflict:
        raise StartFailed(str(conflict)) from None
    if moved:
        print(moved, flush=True)


def fail_runs_left_in_flight(settings: Settings) -> None:
    interrupted = fail_interrupted_runs(settings.dagster_home)
    if interrupted:
        print(
            f"Marked {len(interrupted)} run(s) left in flight by the last stop as failed; "
            "their imports show FAILED; re-execute them with `oliai reexecute --failed`.",
            flush=True,
        )


@contextmanager
def prepared_control_store(settings: Settings) -> Iterator[ControlStore]:
    """The control store ready on PostgreSQL, one of an earlier release moved in."""
    store = ControlStore.from_url(settings.running_postgres_url)
    try:
        moved = adopt_legacy_store(settings.legacy_control_store_path, store)
        if moved:
            print(moved, flush=True)
        yield store
    except LegacyStoreConflict as conflict:
        raise StartFailed(str(conflict)) from None
    finally:
        store.dispose()


def prepare_deployment(settings: Settings) -> None:
    """What `oliai up` does before its processes start, for a deployment whose processes hosts
    start alone (`oliai serve`) on an external server: the lake, Dagster's instance and the
    control store ready. Runs in flight are left alone: their workers may be running elsewhere."""
    start_postgres(settings)
    prepare_instance_storage(settings)
    with prepared_control_store(settings):
        pass


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return f"{host}{parts.path}"


def run_stack(settings: Settings) -> int:
    data_dir = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    # This process opens the instance too: an external server's password, as the children get it.
    os.environ.update(instance_environment(settings))
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"Starting PostgreSQL, Dagster and the API under {data_dir} ...", flush=True)
    postgres: list[Child] = []
    # A Unix socket path must stay under ~100 bytes, which a data directory may not.
    with tempfile.TemporaryDirectory(prefix="oliai-") as sockets:
        try:
            postgres = start_postgres(settings)
            prepare_instance_storage(settings)
            fail_runs_left_in_flight(settings)
            with prepared_control_store(settings) as store:
                credentials = demo_credentials(settings, store)
            children = start_children(
                settings, data_dir / "logs", Path(sockets) / "code.sock", lambda: stopping
            )
            return _supervise(settings, postgres + children, credentials, lambda: stopping)
        except StartFailed as failure:
            print(f"Start failed: {failure}. See {data_dir / 'logs'}.", file=sys.stderr, flush=True)
            for child in postgres:
                child.stop()
            return 1


def _supervise(
    settings: Settings,
    children: list[Child],
    credentials: dict[str, str],
    should_stop: Callable[[], bool],
) -> int:
    """Wait for the stack to be ready, then until a stop is asked or a child dies; stop all.

    Raises `StartFailed` if it never got ready."""
    data_dir = settings.resolved_data_dir
    exit_code = 0
    try:
        problem = wait_until_ready(settings, children, should_stop)
        if problem is not None:
            raise StartFailed(problem)
        print(_banner(settings, credentials), flush=True)
        while not should_stop():
            dead = next((c for c in children if c.process.poll() is not None), None)
            if dead is not None:
                print(
                    f"{dead.name} exited with code {dead.process.returncode}; stopping the rest. "
                    f"See {data_dir / 'logs' / (dead.name + '.log')}.",
                    file=sys.stderr,
                    flush=True,
                )
                exit_code = 1
                break
            time.sleep(0.5)
    finally:
        print("Stopping ...", flush=True)
        for child in reversed(children):
            child.stop()
        print("Stopped.", flush=True)
    return exit_code
