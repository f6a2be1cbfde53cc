"""`oliai up` serves the code location from one code server whose run workers fork warm.

The webserver and the daemon load the location from that server (no code server of their own),
its forkserver has imported the run's libraries before any import arrives, a run worker executes
one run after another (and is replaced when it dies), and what Dagster does with a run worker
(here: terminating it from the UI) still works on a pooled one.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psutil
import pytest
import yaml
from dagster import DagsterRunStatus, RunsFilter

from core.contracts import tags
from tests.integration.api_support import BULK, SEED_BODY
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.integration

# Shared libraries only a process that imported the code location has mapped; and the two DuckDB
# extensions with Arrow, which the lake write would otherwise load in every run.
CODE_LOCATION_LIBRARIES = (
    "polars",
    "duckdb",
    "pyarrow",
    "ducklake.duckdb_extension",
    "postgres_scanner.duckdb_extension",
)
# What the Dagster UI's "Terminate" sends.
TERMINATE = "mutation Terminate($runId: String!) { terminateRun(runId: $runId) { __typename } }"


def _cmdline(process: psutil.Process) -> str:
    return " ".join(process.cmdline())


def _children_by_name(stack: Stack) -> dict[str, psutil.Process]:
    """`oliai up`'s children, by the name its logs use."""
    assert stack.process is not None
    children = psutil.Process(stack.process.pid).children()
    markers = {
        "code-server": "serve code-server",
        "dagster-webserver": "dagster-webserver",
        "dagster-daemon": "serve daemon",
    }
    return {name: p for p in children for name, marker in markers.items() if marker in _cmdline(p)}


def test_webserver_and_daemon_use_the_one_code_server(stack: Stack) -> None:
    children = _children_by_name(stack)
    assert set(children) == {"code-server", "dagster-webserver", "dagster-daemon"}
    for name in ("dagster-webserver", "dagster-daemon"):
        own_servers = [
            _cmdline(p)
            for p in children[name].children(recursive=True)
            if "api grpc" in _cmdline(p) or "code-server" in _cmdline(p)
        ]
        assert own_servers == [], f"the {name} started its own code server: {own_servers}"
    sockets = set()
    for role in ("webserver", "daemon"):
        workspace = yaml.safe_load(
            (stack.data_dir / "dagster" / f"workspace-{role}.yaml").read_text()
        )
        (location,) = workspace["load_from"]
        assert location["grpc_server"]["location_name"] == "oliai"
        sockets.add(location["grpc_server"]["socket"])
    (socket,) = sockets
    assert Path(socket).is_socket()


def test_the_forkserver_has_the_code_location_loaded_before_a_run(stack: Stack) -> None:
    (forkserver,) = [
        p for p in _children_by_name(stack)["code-server"].children() if "forkserver" in _cmdline(p)
    ]
    maps = Path(f"/proc/{forkserver.pid}/maps").read_text()
    missing = [library for library in CODE_LOCATION_LIBRARIES if library not in maps]
    assert missing == [], f"the forkserver has not imported {missing}"
    # Polars read its pool's size from the environment the forkserver started with.
    environment = Path(f"/proc/{forkserver.pid}/environ").read_bytes().split(b"\0")
    assert b"POLARS_MAX_THREADS=1" in environment  # Settings.run_threads' default

    # And an import still runs to completion through it.
    key = stack.new_org_key("warm-workers")
    with stack.client(key) as client:
        response = client.post(BULK, json=SEED_BODY)
        assert response.status_code == 202, response.text
    status = stack.wait_for_terminal(response.json()["importId"], key)
    assert status["status"] == "COMPLETED", status


def _worker_pid(stack: Stack, import_id: str) -> int:
    """The PID of the process that executed the import's run, as its run's events say."""
    with stack.instance() as instance:
        (run,) = instance.get_runs(RunsFilter(tags={tags.IMPORT_ID: import_id}))
        started = [
            int(event.dagster_event.engine_event_data.metadata["pid"].value)
            for event in instance.all_logs(run.run_id)
            if event.dagster_event is not None
            and event.message.startswith("Started process for run")
        ]
    (pid,) = started
    return pid


def _import(stack: Stack, key: str) -> str:
    with stack.client(key) as client:
        response = client.post(BULK, json=SEED_BODY)
        assert response.status_code == 202, response.text
    import_id: str = response.json()["importId"]
    assert stack.wait_for_terminal(import_id, key)["status"] == "COMPLETED"
    return import_id


def test_a_run_worker_executes_the_next_run_and_is_replaced_once_it_dies(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A stack of its own: nothing else runs between these imports to take the idle worker.
    with running_stack(tmp_path_factory.mktemp("pooled") / "data") as stack:
        key = stack.new_org_key("pooled")
        first = _worker_pid(stack, _import(stack, key))
        assert _worker_pid(stack, _import(stack, key)) == first
        worker = psutil.Process(first)
        assert "forkserver" in _cmdline(worker), _cmdline(worker)
        worker.kill()
        worker.wait(timeout=30)
        replaced = _worker_pid(stack, _import(stack, key))
        assert replaced != first
        assert "forkserver" in _cmdline(psutil.Process(replaced))


def test_a_run_terminated_from_the_ui_is_canceled_and_imports_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A stack of its own whose write blocks inside its transaction (OLIAI_FAULT_PAUSE_IN_WRITE):
    # the run is terminated there, however fast the work before it has become.
    root = tmp_path_factory.mktemp("terminated")
    paused = root / "write-paused"
    with running_stack(root / "data", OLIAI_FAULT_PAUSE_IN_WRITE=str(paused)) as stack:
        key = stack.new_org_key("terminated")
        with stack.client(key) as client:
            response = client.post(BULK, json=SEED_BODY)
            assert response.status_code == 202, response.text
            import_id = response.json()["importId"]
        deadline = time.monotonic() + 60
        while not paused.exists():
            assert time.monotonic() < deadline, "the run never reached its write"
            time.sleep(0.05)
        with stack.instance() as instance:
            (run,) = instance.get_runs(RunsFilter(tags={tags.IMPORT_ID: import_id}))
            answer = httpx.post(
                f"{stack.dagster_url}/graphql",
                json={"query": TERMINATE, "variables": {"runId": run.run_id}},
                timeout=30,
            ).json()
            assert answer["data"]["terminateRun"]["__typename"] == "TerminateRunSuccess", answer
            while not (run := instance.get_run_by_id(run.run_id)) or not run.is_finished:
                assert time.monotonic() < deadline, "the terminated run did not end"
                time.sleep(0.1)
            assert run.status == DagsterRunStatus.CANCELED

        assert stack.wait_for_terminal(import_id, key)["status"] == "FAILED"
        written = stack.query(
            f"SELECT count(*) AS n FROM contacts WHERE created_import_id = '{import_id}'"
        )
        assert written == [{"n": 0}]

        # The interrupted worker is not trusted with another run: it exits, and the next import
        # (which the one-shot pause lets through) runs in a new one.
        interrupted = int(paused.read_text())
        while psutil.pid_exists(interrupted):
            assert time.monotonic() < deadline + 60, f"the interrupted worker {interrupted} lives"
            time.sleep(0.1)
        assert _worker_pid(stack, _import(stack, key)) != interrupted
