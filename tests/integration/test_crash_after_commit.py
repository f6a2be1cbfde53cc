"""A run worker killed right after its warehouse write committed, before its run recorded the
counts: what the warehouse committed is the truth. The import reports the committed counts and
status (not FAILED with failed = total), its webhook says so, `oliai reexecute --failed` leaves
it alone, and the warehouse holds it exactly once.

The kill lands at a deterministic point (`OLIAI_FAULT_PAUSE_AFTER_COMMIT`, docs/operations.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.api_support import BULK
from tests.receiver import WebhookReceiver
from tests.stack import TERMINAL, Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ORG = "crash-after-commit"
GOOD = [{"name": f"Person {i}", "phoneNumber": f"+1415555{i:04d}", "tier": i} for i in range(40)]
BAD = [{"name": "", "phoneNumber": "+14155550000"}, {"name": "No Plus", "phoneNumber": "4155551"}]


@pytest.fixture(scope="module")
def paused_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path]]:
    root = tmp_path_factory.mktemp("crash-after-commit")
    paused = root / "committed-paused"
    with running_stack(root / "data", OLIAI_FAULT_PAUSE_AFTER_COMMIT=str(paused)) as stack:
        yield stack, paused


def run_worker(stack: Stack, pid: int) -> psutil.Process:
    """The run worker with `pid`: a descendant of the stack's code server (forked by its
    forkserver), whatever the depth."""
    assert stack.process is not None
    code_server = next(
        p
        for p in psutil.Process(stack.process.pid).children()
        if "code-server" in " ".join(p.cmdline())
    )
    workers = [w for w in code_server.children(recursive=True) if w.pid == pid]
    assert len(workers) == 1, f"PID {pid} is not one of the stack's run workers: {_who(pid)}"
    return workers[0]


def _who(pid: int) -> str:
    """What PID is, for a failure message: its command line and its parents', or gone."""
    try:
        process = psutil.Process(pid)
        return " <- ".join(" ".join(p.cmdline())[:120] for p in [process, *process.parents()])
    except psutil.Error as exc:
        return f"no such process now ({type(exc).__name__})"


def test_a_worker_killed_after_the_commit_reports_the_committed_import(
    paused_stack: tuple[Stack, Path],
) -> None:
    stack, paused = paused_stack
    key = stack.new_org_key(ORG)
    with WebhookReceiver(stack.webhook_secret(ORG)) as receiver, stack.client(key) as client:
        response = client.post(BULK, json={"contacts": GOOD + BAD, "webhookUrl": receiver.url})
        assert response.status_code == 202, response.text
        import_id = response.json()["importId"]

        deadline = time.monotonic() + 180
        while not paused.exists():
            status = client.get(f"/v1/imports/{import_id}/status").json()["status"]
            assert status not in TERMINAL, f"ended without reaching the fault point: {status}"
            assert time.monotonic() < deadline, "the write never committed"
            time.sleep(0.1)
        worker = run_worker(stack, int(paused.read_text()))
        worker.kill()
        worker.wait(timeout=30)

        status = wait_for_committed_counts(client, import_id)
        assert status == {
            "id": import_id,
            "status": "COMPLETED_WITH_ERRORS",
            "total": 42,
            "created": 40,
            "updated": 0,
            "failed": 2,
            "errorCount": 2,
            "skipped": 0,
            "completedAt": status["completedAt"],
        }
        assert status["completedAt"] is not None
        errors = client.get(f"/v1/imports/{import_id}/errors").json()
        assert [(e["rowIndex"], e["code"]) for e in errors["data"]] == [
            (40, "empty"),
            (41, "missing_plus"),
        ]
        (webhook,) = receiver.wait_for(1, timeout_s=60)
        assert webhook.verified
        assert {k: webhook.body[k] for k in ("status", "total", "created", "failed")} == {
            "status": "COMPLETED_WITH_ERRORS",
            "total": 42,
            "created": 40,
            "failed": 2,
        }

    result = stack.oliai("reexecute", "--failed", "--org", ORG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Re-executed 0, skipped 0." in result.stdout, result.stdout
    rows = stack.query(
        f"""SELECT (SELECT count(*) FROM contacts WHERE org_id = '{ORG}') AS contacts,
                   (SELECT count(*) FROM imports WHERE import_id = '{import_id}') AS imports"""
    )
    assert rows == [{"contacts": 40, "imports": 1}]


def wait_for_committed_counts(client: Any, import_id: str) -> dict[str, Any]:
    """The status once the run has ended (run monitoring notices the dead worker) and the
    sensor has recorded the committed counts on it."""
    deadline = time.monotonic() + 180
    while True:
        status: dict[str, Any] = client.get(f"/v1/imports/{import_id}/status").json()
        if status["status"] in TERMINAL and status["total"] != status["failed"]:
            return status
        assert time.monotonic() < deadline, f"never reported the committed counts: {status}"
        time.sleep(0.25)
