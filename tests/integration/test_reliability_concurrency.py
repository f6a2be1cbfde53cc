"""20 imports posted at once from 4 organizations while status and history are polled and
`oliai sql` reads the warehouse: all complete, no DuckDB lock error reaches anyone, counts exact.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.integration.api_support import BULK, fresh_org, phone
from tests.stack import TERMINAL, Stack

pytestmark = pytest.mark.integration

ORGS = 4
PER_ORG = 5
SIZE = 300
STRIDE = 200  # consecutive imports of an organization share SIZE - STRIDE numbers
DISTINCT = STRIDE * (PER_ORG - 1) + SIZE
LOCK_ERROR = re.compile(r"conflicting lock|could not set lock|lock on file", re.IGNORECASE)
RANK = {"PENDING": 0, "PROCESSING": 1, **dict.fromkeys(TERMINAL, 2)}


@dataclass
class Observed:
    """What the pollers saw while the imports ran."""

    responses: Counter[int] = field(default_factory=Counter)
    regressions: list[str] = field(default_factory=list)
    sql_runs: Counter[int] = field(default_factory=Counter)
    sql_errors: list[str] = field(default_factory=list)


def contacts(index: int) -> list[dict[str, Any]]:
    first = index * STRIDE
    return [
        {"name": f"Concurrent {i}", "phoneNumber": phone(i)} for i in range(first, first + SIZE)
    ]


# Imports run on the shared stack's two cores: more than the default 300 s when busy.
@pytest.mark.timeout(900)
def test_twenty_imports_at_once_while_everything_is_read(stack: Stack) -> None:
    keys = [fresh_org(stack, f"conc{n}") for n in range(ORGS)]
    with ExitStack() as open_clients:
        status_clients = [open_clients.enter_context(stack.client(key)) for key in keys]
        history_clients = [open_clients.enter_context(stack.client(key)) for key in keys]
        run_and_check(stack, keys, status_clients, history_clients)


def run_and_check(
    stack: Stack,
    keys: list[str],
    status_clients: list[httpx.Client],
    history_clients: list[httpx.Client],
) -> None:
    jobs = [(org, index) for org in range(ORGS) for index in range(PER_ORG)]
    start = threading.Barrier(len(jobs))

    def post(job: tuple[int, int]) -> str:
        org, index = job
        with stack.client(keys[org]) as client:
            start.wait()
            response = client.post(BULK, json={"contacts": contacts(index)})
        assert response.status_code == 202, response.text
        return str(response.json()["importId"])

    with ThreadPoolExecutor(len(jobs)) as pool:
        import_ids = list(pool.map(post, jobs))
    owner = {import_id: jobs[n][0] for n, import_id in enumerate(import_ids)}

    observed = Observed()
    done = threading.Event()
    latest: dict[str, str] = {}

    def poll_status() -> None:
        while not done.is_set():
            for import_id in import_ids:
                client = status_clients[owner[import_id]]
                response = client.get(f"/v1/imports/{import_id}/status")
                observed.responses[response.status_code] += 1
                if response.status_code == 200:
                    status = response.json()["status"]
                    if RANK[status] < RANK[latest.get(import_id, "PENDING")]:
                        observed.regressions.append(f"{import_id}: {latest[import_id]}→{status}")
                    latest[import_id] = status
                time.sleep(0.05)
            if all(latest.get(i) in TERMINAL for i in import_ids):
                done.set()

    def poll_history() -> None:
        while not done.is_set():
            for client in history_clients:
                response = client.get("/v1/imports", params={"limit": 100})
                observed.responses[response.status_code] += 1
            time.sleep(0.5)

    def read_sql() -> None:
        while not done.is_set():
            # Readers see a snapshot: every read gets through while the imports write.
            result = stack.oliai(
                "sql", "SELECT org_id, count(*) AS n FROM contacts GROUP BY org_id", "--json"
            )
            observed.sql_runs[result.returncode] += 1
            if result.returncode != 0:
                observed.sql_errors.append(result.stderr)
            done.wait(1.0)  # an analyst's pace; each `oliai sql` is a new process

    threads = [threading.Thread(target=f) for f in (poll_status, poll_history, read_sql)]
    for thread in threads:
        thread.start()
    finished = done.wait(timeout=240)
    done.set()
    for thread in threads:
        thread.join(timeout=120)
    print(f"responses {dict(observed.responses)}, oliai sql exit codes {dict(observed.sql_runs)}")
    assert finished, f"not all imports ended: {latest}\n{stack.logs()}"

    # Everyone was answered, and never wrongly.
    assert set(observed.responses) == {200}, observed.responses
    assert observed.regressions == []
    assert observed.sql_errors == []
    assert observed.sql_runs[0] >= 1

    # All complete, with exact counts: each organization's numbers count created once.
    items = {}
    for client in history_clients:
        for item in client.get("/v1/imports", params={"limit": 100}).json()["data"]:
            items[item["id"]] = item
    assert {items[i]["status"] for i in import_ids} == {"COMPLETED"}
    for org in range(ORGS):
        mine = [items[i] for i in import_ids if owner[i] == org]
        assert sum(item["created"] for item in mine) == DISTINCT
        assert sum(item["updated"] for item in mine) == PER_ORG * SIZE - DISTINCT
        assert all(item["total"] == SIZE and item["failed"] == 0 for item in mine)

    # The warehouse agrees, row for row.
    ids = ", ".join(f"'{i}'" for i in import_ids)
    rows = stack.query(
        f"SELECT import_id, created, updated FROM imports WHERE import_id IN ({ids})"
    )
    assert {r["import_id"]: (r["created"], r["updated"]) for r in rows} == {
        i: (items[i]["created"], items[i]["updated"]) for i in import_ids
    }
    per_org = stack.query(f"""SELECT created_import_id AS import_id, count(*) AS n FROM contacts
            WHERE created_import_id IN ({ids}) GROUP BY 1""")
    created = Counter[int]()
    for row in per_org:
        created[owner[row["import_id"]]] += row["n"]
    assert created == dict.fromkeys(range(ORGS), DISTINCT)

    # No DuckDB lock error in any run's log or any process log.
    with stack.instance() as instance:
        for import_id in import_ids:
            for entry in instance.all_logs(items[import_id]["runId"]):
                text = entry.user_message + str(entry.dagster_event or "")
                assert not LOCK_ERROR.search(text), (import_id, text)
    for log in (stack.data_dir / "logs").glob("*.log"):
        assert not LOCK_ERROR.search(log.read_text(errors="replace")), log
