"""SIGKILL one part of the stack at a bad moment; afterwards nothing accepted is lost.

Each test kills one process of a stack (`oliai up` in a subprocess): the API right after its
202s, the daemon while runs are queued, a run worker inside the warehouse write (held there by a
fault point, before COMMIT). Then: every accepted import ends in a terminal status, FAILED ones
re-execute to COMPLETED, the warehouse holds each import's contacts all or none, and no import is
counted twice.

The first two tests share one stack (each restarts it and leaves it running, each in an
organization of its own, so either can run first or alone); the third has a stack of its own.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from dagster import DagsterRunStatus, RunsFilter

from core.contracts import tags
from orchestration.maintenance.reexecution import launch_reexecution
from tests.integration.api_support import BULK, phone
from tests.stack import TERMINAL, Stack, running_stack

# Restarts and runs on two cores: more than the default 300 s per test when the machine is busy.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def crash_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("crashes") / "data") as stack:
        yield stack


# The stack's processes


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def child(stack: Stack, marker: str) -> psutil.Process:
    """The `oliai up` child whose command line contains `marker`."""
    assert stack.process is not None
    children = psutil.Process(stack.process.pid).children()
    return next(p for p in children if marker in _cmdline(p))


def run_worker(stack: Stack, pid: int) -> psutil.Process:
    """The stack's run worker with this PID: a process the code server's forkserver forked (it
    keeps the forkserver's command line) with the stack's Dagster home. Found by PID, not by
    walking the code server's children, so a worker whose parent changed is found too."""
    worker = psutil.Process(pid)
    ancestry = [_cmdline(p)[:80] for p in worker.parents()]
    assert "forkserver" in _cmdline(worker), f"PID {pid} is no run worker: {ancestry}"
    home = worker.environ().get("DAGSTER_HOME")
    assert home == str(stack.settings.dagster_home), f"PID {pid} is another stack's: {home}"
    return worker


def kill_and_restart(stack: Stack, victim: psutil.Process) -> None:
    """SIGKILL one process; `oliai up` then stops the rest and exits 1. Start it again."""
    assert stack.process is not None
    victim.kill()
    assert stack.process.wait(timeout=90) == 1, "".join(stack.output[-20:])
    stack.start()


# Imports


def body(first: int, count: int, **extra: Any) -> dict[str, Any]:
    """`count` valid contacts with distinct phones from `first` on."""
    contacts = [
        {"name": f"Crash {i}", "phoneNumber": phone(i), **extra}
        for i in range(first, first + count)
    ]
    return {"contacts": contacts}


def post_imports(stack: Stack, key: str, imports: int, size: int, **extra: Any) -> list[str]:
    """`imports` accepted imports of `size` distinct contacts each; their ids."""
    accepted = []
    with stack.client(key) as client:
        for index in range(imports):
            response = client.post(BULK, json=body(index * size, size, **extra))
            assert response.status_code == 202, response.text
            accepted.append(response.json()["importId"])
    return accepted


def history(client: httpx.Client) -> dict[str, dict[str, Any]]:
    listing = client.get("/v1/imports", params={"limit": 100}).json()
    assert listing["total"] <= 100
    return {item["id"]: item for item in listing["data"]}


def wait_all_terminal(client: httpx.Client, timeout_s: float = 240) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        items = history(client)
        open_ = {i: item["status"] for i, item in items.items() if item["status"] not in TERMINAL}
        if not open_:
            return items
        assert time.monotonic() < deadline, f"imports that never ended: {open_}"
        time.sleep(0.5)


def reexecute_failed(
    stack: Stack, client: httpx.Client, items: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Re-execute every FAILED import's run as the Dagster UI does; each must end COMPLETED.
    Returns the history afterwards."""
    failed = {i: item["runId"] for i, item in items.items() if item["status"] == "FAILED"}
    with httpx.Client() as dagster:
        new_runs = {
            import_id: launch_reexecution(dagster, stack.dagster_url, run_id)
            for import_id, run_id in failed.items()
        }
    deadline = time.monotonic() + 240
    while True:
        items = history(client)
        done = {i for i, run in new_runs.items() if items[i]["runId"] == run}
        if done == set(new_runs) and all(items[i]["status"] in TERMINAL for i in done):
            break
        assert time.monotonic() < deadline, {i: items[i] for i in new_runs}
        time.sleep(0.5)
    assert {i: items[i]["status"] for i in new_runs} == dict.fromkeys(new_runs, "COMPLETED")
    print(f"re-executed {len(new_runs)} FAILED imports: all COMPLETED")
    return items


def warehouse(stack: Stack, query: str) -> list[dict[str, Any]]:
    """Read-only SQL, as `oliai sql` runs it (queries are built from ids this module made)."""
    return stack.query(query)


def assert_whole_imports(
    stack: Stack, org: str, expected: dict[str, int], items: dict[str, dict[str, Any]]
) -> None:
    """Each import created exactly its own contacts, once; the API and warehouse agree."""
    rows = {
        row["import_id"]: row
        for row in warehouse(stack, f"SELECT * FROM imports WHERE org_id = '{org}'")
    }
    created = {
        row["created_import_id"]: row["n"]
        for row in warehouse(
            stack,
            "SELECT created_import_id, count(*) AS n FROM contacts "
            f"WHERE org_id = '{org}' GROUP BY created_import_id",
        )
    }
    assert set(rows) == set(expected), (rows.keys(), expected)
    assert created == expected
    for import_id, count in expected.items():
        item = items[import_id]
        assert (item["status"], item["total"], item["created"], item["updated"]) == (
            "COMPLETED",
            count,
            count,
            0,
        ), item
        row = rows[import_id]
        assert (row["status"], row["total"], row["created"], row["updated"]) == (
            "COMPLETED",
            count,
            count,
            0,
        ), row


def runs_per_import(stack: Stack, import_ids: list[str]) -> dict[str, int]:
    with stack.instance() as instance:
        return {
            import_id: len(
                instance.get_run_records(filters=RunsFilter(tags={tags.IMPORT_ID: import_id}))
            )
            for import_id in import_ids
        }


# The tests


def test_api_killed_right_after_202s(crash_stack: Stack) -> None:
    stack = crash_stack
    org = "crash-api"
    key = stack.new_org_key(org)
    api = child(stack, "uvicorn")
    sizes = [50 + i for i in range(6)]
    accepted: list[str] = []

    def post(index: int) -> httpx.Response | None:
        with stack.client(key) as client:
            try:
                return client.post(BULK, json=body(index * 1000, sizes[index]))
            except httpx.TransportError:
                return None  # the API died under this request: the client saw no 202

    with concurrent.futures.ThreadPoolExecutor(len(sizes)) as pool:
        futures = [pool.submit(post, i) for i in range(len(sizes))]
        for future in concurrent.futures.as_completed(futures):
            response = future.result()
            if response is None:
                continue
            # A 202, or no answer at all: the API gives no other answer to these requests.
            assert response.status_code == 202, (response.status_code, response.text)
            if not accepted:
                api.kill()  # at once: the submitter has had no time to launch a run
            accepted.append(response.json()["importId"])
    assert stack.process is not None
    assert stack.process.wait(timeout=90) == 1
    assert accepted

    with stack.control_store() as store:  # the stack is down: its server started for this
        unsubmitted = {
            record.id for record in store.imports.unsubmitted_imports() if record.org_id == org
        }
    print(f"accepted {len(accepted)}; unsubmitted when the API died: {len(unsubmitted)}")

    stack.start()
    with stack.client(key) as client:
        items = wait_all_terminal(client)
        # Everything the client saw accepted is there; a request cut off by the crash may
        # have been accepted too (its 202 lost), and then it is processed like the others.
        assert set(accepted) <= set(items)
        failed = {i for i, item in items.items() if item["status"] == "FAILED"}
        items = reexecute_failed(stack, client, items)
    assert_whole_imports(stack, org, {i: item["total"] for i, item in items.items()}, items)
    # The outbox never launched a second run for an import (re-executions aside).
    assert runs_per_import(crash_stack, list(items)) == {i: 2 if i in failed else 1 for i in items}


def test_daemon_killed_while_runs_are_queued(crash_stack: Stack) -> None:
    stack = crash_stack
    org = "crash-daemon"
    key = stack.new_org_key(org)
    # Eight times as many imports as one organization may run at once (two), each with 1.5 KB
    # of metadata per contact to keep its run busy while the rest are submitted.
    imports, size = 16, 2000

    def statuses() -> dict[str, DagsterRunStatus]:
        with stack.instance() as instance:
            records = instance.get_run_records(filters=RunsFilter(tags={tags.ORG_ID: org}))
        return {r.dagster_run.tags[tags.IMPORT_ID]: r.dagster_run.status for r in records}

    accepted = post_imports(stack, key, imports, size, note="n" * 1500)

    def queued_behind_running(seen: dict[str, DagsterRunStatus]) -> bool:
        counts = Counter(seen.values())
        return counts[DagsterRunStatus.QUEUED] >= 2 and counts[DagsterRunStatus.STARTED] >= 1

    # Kill while runs wait in the queue behind running ones (imports not submitted yet wait in
    # the API's outbox).
    deadline = time.monotonic() + 60
    while not queued_behind_running(seen := statuses()):
        assert time.monotonic() < deadline, f"no runs ever queued behind running ones: {seen}"
        time.sleep(0.02)
    kill_and_restart(stack, child(stack, "serve daemon"))
    print(f"run statuses when the daemon died: {sorted(s.value for s in seen.values())}")

    with stack.client(key) as client:
        items = wait_all_terminal(client)
        assert set(items) == set(accepted)
        items = reexecute_failed(stack, client, items)
    assert_whole_imports(stack, org, dict.fromkeys(accepted, size), items)


@pytest.fixture
def paused_write_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path]]:
    """A stack of its own whose first warehouse write blocks inside its transaction, before
    COMMIT, once it has created the returned file (docs/operations.md, OLIAI_FAULT_PAUSE_IN_WRITE).
    """
    root = tmp_path_factory.mktemp("crash-paused-write")
    paused = root / "write-paused"
    with running_stack(root / "data", OLIAI_FAULT_PAUSE_IN_WRITE=str(paused)) as stack:
        yield stack, paused


def test_run_worker_killed_inside_the_warehouse_write(
    paused_write_stack: tuple[Stack, Path],
) -> None:
    """The organization's next import starts meanwhile (two runs per organization) but waits for
    the paused one's turn to end: it writes only once that run has failed."""
    stack, paused = paused_write_stack
    org = "crash-worker"
    key = stack.new_org_key(org)
    with stack.client(key) as client:
        response = client.post(BULK, json=body(0, 10_000))
        assert response.status_code == 202, response.text
        import_id = response.json()["importId"]

        # The write has deleted and inserted every row and holds its transaction open.
        deadline = time.monotonic() + 180
        while not paused.exists():
            status = history(client)[import_id]["status"]
            assert status not in TERMINAL, (
                f"the import ended without pausing in its write: {status}"
            )
            assert time.monotonic() < deadline, "the warehouse write never paused"
            time.sleep(0.1)
        response = client.post(BULK, json=body(10_000, 500))
        assert response.status_code == 202, response.text
        next_id = response.json()["importId"]
        waiting = wait_for_run_log(stack, client, next_id, "to write first")
        assert history(client)[import_id]["runId"] in waiting
        time.sleep(1.5)  # time enough to write 500 contacts, were it not waiting
        assert history(client)[next_id]["status"] not in TERMINAL
        assert not warehouse(stack, f"SELECT 1 FROM imports WHERE import_id = '{next_id}'")

        worker = run_worker(stack, int(paused.read_text()))
        worker.kill()
        worker.wait(timeout=30)

        items = wait_all_terminal(client, timeout_s=120)
        landed = warehouse(
            stack, f"SELECT count(*) AS n FROM imports WHERE import_id = '{import_id}'"
        )[0]["n"]
        contacts = warehouse(
            stack, f"SELECT count(*) AS n FROM contacts WHERE created_import_id = '{import_id}'"
        )[0]["n"]
        status = items[import_id]["status"]
        print(f"worker killed before COMMIT: {status}, imports rows {landed}, {contacts=}")
        # Killed before the commit: nothing of the import is in the warehouse; the next one
        # went on once its run had failed.
        assert (status, landed, contacts) == ("FAILED", 0, 0)
        assert items[next_id]["status"] == "COMPLETED"
        items = reexecute_failed(stack, client, items)
    assert_whole_imports(stack, org, {import_id: 10_000, next_id: 500}, items)


def wait_for_run_log(stack: Stack, client: httpx.Client, import_id: str, text: str) -> str:
    """The first message of the import's run that holds `text` (waits up to 60 s for it)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run_id = history(client)[import_id]["runId"]
        if run_id:
            with stack.instance() as instance:
                for record in instance.all_logs(run_id):
                    if text in (record.user_message or ""):
                        return record.user_message
        time.sleep(0.2)
    raise AssertionError(f"no message with {text!r} in the run of {import_id}")


def test_private_postgres_killed_while_imports_run(crash_stack: Stack) -> None:
    """The lake's catalog server dies mid-import: `oliai up` stops the rest (exit 1); restarted,
    it starts PostgreSQL again (crash recovery), and every accepted import ends whole once the
    failed ones are re-executed."""
    stack = crash_stack
    org = "crash-postgres"
    key = stack.new_org_key(org)
    imports, size = 6, 2000
    accepted = post_imports(stack, key, imports, size, note="n" * 500)

    def started() -> bool:
        with stack.instance() as instance:
            records = instance.get_run_records(filters=RunsFilter(tags={tags.ORG_ID: org}))
        return any(r.dagster_run.status == DagsterRunStatus.STARTED for r in records)

    deadline = time.monotonic() + 60
    while not started():
        assert time.monotonic() < deadline, "no import ever started"
        time.sleep(0.02)
    kill_and_restart(stack, child(stack, "pginstall/bin/postgres"))
    assert any("postgres exited with code" in line for line in stack.output), stack.output[-20:]

    with stack.client(key) as client:
        items = wait_all_terminal(client)
        assert set(items) == set(accepted)
        items = reexecute_failed(stack, client, items)
    assert_whole_imports(stack, org, dict.fromkeys(accepted, size), items)
