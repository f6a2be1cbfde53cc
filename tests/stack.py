"""Start the stack exactly as `oliai up` does (a subprocess), on free loopback ports, for tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psutil

from core.control_store import ControlStore
from core.settings import Settings

if TYPE_CHECKING:
    from dagster import DagsterInstance

OLIAI = str(Path(sys.executable).with_name("oliai"))
BANNER_END = "Ctrl-C stops everything"
# The SPEC's ended statuses, and REVERTED (an ended import whose revert ran).
TERMINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "REVERTED"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    data_dir: Path
    api_port: int
    dagster_port: int
    env: dict[str, str]
    process: subprocess.Popen[str] | None = None
    credentials: dict[str, str] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)
    # Extra `oliai up` flags, e.g. ("--no-webhook-allow-private",); kept across restarts.
    extra_args: tuple[str, ...] = ()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def dagster_url(self) -> str:
        return f"http://127.0.0.1:{self.dagster_port}"

    @property
    def api_key(self) -> str:
        return self.credentials["apiKey"]

    def client(self, api_key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key or self.api_key}"}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=30.0)

    def oliai(self, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OLIAI, *args, "--data-dir", str(self.data_dir)],
            # Commands that call the webserver (`oliai reexecute`) must find this stack's port.
            env={**self.env, "OLIAI_DAGSTER_URL": self.dagster_url},
            capture_output=True,
            text=True,
            timeout=120,
            input=input_text,
            check=False,
        )

    @property
    def settings(self) -> Settings:
        """The settings the stack's processes run with."""
        return Settings(data_dir=self.data_dir, postgres_url=self.env.get("OLIAI_POSTGRES_URL"))

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a read-only query on the stack's lake, as `oliai sql` runs it."""
        from core.warehouse.lake import LakeLocation
        from core.warehouse.reader import query_warehouse

        settings = self.settings
        location = LakeLocation(settings.running_postgres_url, settings.resolved_lake_data_path)
        return query_warehouse(location, sql).to_dicts()

    @contextmanager
    def postgres_url(self) -> Iterator[str]:
        """The stack's PostgreSQL; with the stack stopped, its private server started for the
        block, as an `oliai` command does."""
        from orchestration.cli.common import postgres_url

        with postgres_url(self.settings) as url:
            yield url

    @contextmanager
    def instance(self) -> Iterator[DagsterInstance]:
        """The stack's Dagster instance, opened now: a restarted stack's private server listens
        on another port, so an instance opened before the restart cannot reach it."""
        from dagster import DagsterInstance

        from orchestration.runtime.instance import instance_environment

        # An external server's password, as `oliai up` gives its children (dagster.yaml names it).
        saved = dict(os.environ)
        os.environ.update(instance_environment(self.settings))
        try:
            with DagsterInstance.from_config(str(self.data_dir / "dagster")) as instance:
                yield instance
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @contextmanager
    def control_store(self) -> Iterator[ControlStore]:
        """The stack's control store, running or not."""
        with self.postgres_url() as url:
            store = ControlStore.from_url(url)
            try:
                yield store
            finally:
                store.dispose()

    def new_org_key(self, org: str) -> str:
        """A key of `org`, which is created if new (`--create-org`)."""
        result = self.oliai("keys", "create", "--org", org, "--create-org", "--json")
        assert result.returncode == 0, result.stderr
        return str(json.loads(result.stdout)["apiKey"])

    def webhook_secret(self, org: str) -> str:
        result = self.oliai("webhooks", "secret", "--org", org, "--json")
        assert result.returncode == 0, result.stderr
        return str(json.loads(result.stdout)["webhookSecret"])

    def start(self, timeout_s: float = 180.0) -> None:
        first_line = len(self.output)  # on a restart, the previous banner does not count
        self.process = subprocess.Popen(
            [
                OLIAI,
                "up",
                "--data-dir",
                str(self.data_dir),
                "--api-port",
                str(self.api_port),
                "--dagster-port",
                str(self.dagster_port),
                *self.extra_args,
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._drain_output, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not any(BANNER_END in line for line in self.output[first_line:]):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("stack did not start:\n" + "".join(self.output) + self.logs())
            time.sleep(0.2)
        self.credentials = json.loads((self.data_dir / "demo-credentials.json").read_text())

    def _drain_output(self) -> None:
        # Read continuously: a full pipe would block `oliai up` itself.
        assert self.process is not None
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.output.append(line)

    def logs(self) -> str:
        log_dir = self.data_dir / "logs"
        if not log_dir.exists():
            return ""
        return "".join(
            f"\n== {path.name}\n" + path.read_text(errors="replace")[-4000:]
            for path in sorted(log_dir.glob("*.log"))
        )

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def post_import(
        self,
        body: Mapping[str, Any],
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        with self.client(api_key) as client:
            return client.post("/v1/imports/api/bulk", json=body, headers=dict(headers or {}))

    def wait_for_terminal(
        self, import_id: str, api_key: str | None = None, timeout_s: float = 180.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        with self.client(api_key) as client:
            while time.monotonic() < deadline:
                status: dict[str, Any] = client.get(f"/v1/imports/{import_id}/status").json()
                if status.get("status") in TERMINAL:
                    return status
                time.sleep(0.25)
        raise AssertionError(
            f"{import_id} not terminal after {timeout_s} s: {status}\n{self.logs()}"
        )


@contextmanager
def running_stack(data_dir: Path, **env_overrides: str) -> Iterator[Stack]:
    """A started stack, stopped on exit whatever happened."""
    stack = make_stack(data_dir, **env_overrides)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def make_stack(data_dir: Path, extra_args: Sequence[str] = (), **env_overrides: str) -> Stack:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OLIAI_")}
    env.pop("DAGSTER_HOME", None)
    env.update(env_overrides)
    return Stack(
        data_dir=data_dir,
        api_port=free_port(),
        dagster_port=free_port(),
        env=env,
        extra_args=tuple(extra_args),
    )


def stack_child(stack: Stack, marker: str) -> psutil.Process:
    """The `oliai up` child whose command line contains `marker` (e.g. "serve daemon")."""
    assert stack.process is not None
    for process in psutil.Process(stack.process.pid).children():
        with contextlib.suppress(psutil.Error):
            if marker in " ".join(process.cmdline()):
                return process
    raise AssertionError(f"no child of oliai up runs {marker!r}")


@contextmanager
def daemon_paused(stack: Stack) -> Iterator[None]:
    """The daemon stopped (SIGSTOP): submitted runs stay QUEUED until the block ends."""
    daemon = stack_child(stack, "serve daemon")
    daemon.suspend()
    try:
        yield
    finally:
        daemon.resume()
