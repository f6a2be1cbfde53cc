"""Warehouse writers of concurrent queued runs, executed by the real daemon, never collide.

Dagster's webserver and daemon run as subprocesses (started by `orchestration.runtime.stack`, as
`oliai up` starts them) on an instance in `tmp_path` prepared by `orchestration.runtime.instance`.
Runs are submitted through GraphQL, so they are real queued runs; up to 8 run at once.

What keeps the writers apart: DuckDB's own file lock, which `open_warehouse` waits on with
backoff. A Dagster op pool was tried first and dropped: with SQLite instance storage Dagster 1.13
claims a slot by check-then-act without a lock (2 overlaps in 48 claims of a size-1 pool) and can
lose a wake-up, parking a step for minutes. So this test checks the write windows (logged by the
step while it holds the file) for overlap, not the steps' start and end.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import duckdb
import httpx
import orjson
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster_graphql import DagsterGraphQLClient

from core.contracts import IMPORT_JOB, tags
from core.control_store import ControlStore
from core.landing import land_request
from core.settings import Settings
from orchestration.runtime.instance import prepare_instance
from orchestration.runtime.stack import Child, start_children
from tests.stack import free_port

pytestmark = pytest.mark.integration

LOCATION = "oliai"
ORG = "org_concurrency"
RUNS = 20
PER_RUN = 400
STRIDE = 300  # consecutive imports share PER_RUN - STRIDE phone numbers
DISTINCT = STRIDE * (RUNS - 1) + PER_RUN
READY_TIMEOUT_S = 90.0
RUNS_TIMEOUT_S = 180.0
WAREHOUSE_STEP = "warehouse_tables"
WRITE_STARTS = "writing the warehouse"
WRITE_ENDS = "warehouse written"
LOCK_ERROR = re.compile(r"conflicting lock|could not set lock|lock on file", re.IGNORECASE)
LOCATION_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename }
} } } }
"""


@dataclass
class DagsterStack:
    settings: Settings
    children: list[Child]
    instance: DagsterInstance

    @property
    def graphql(self) -> DagsterGraphQLClient:
        return DagsterGraphQLClient("127.0.0.1", port_number=self.settings.dagster_port)

    def logs(self) -> str:
        return "".join(
            f"\n== {path.name}\n" + path.read_text(errors="replace")[-3000:]
            for path in sorted((self.settings.resolved_data_dir / "logs").glob("*.log"))
        )


def _location_loaded(dagster_url: str) -> bool:
    try:
        response = httpx.post(f"{dagster_url}/graphql", json={"query": LOCATION_QUERY}, timeout=5)
        entries = response.json()["data"]["workspaceOrError"]["locationEntries"]
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        return False
    return any(
        entry["name"] == LOCATION
        and entry["loadStatus"] == "LOADED"
        and entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        for entry in entries
    )


@pytest.fixture
def dagster_stack(tmp_path: Path) -> Iterator[DagsterStack]:
    settings = Settings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        api_port=free_port(),
        dagster_port=free_port(),
    )
    # As `oliai up` does: storages exist before the children start, or they race creating them.
    prepare_instance(settings.dagster_home)
    ControlStore.from_url(settings.resolved_control_store_url).dispose()
    instance = DagsterInstance.from_config(str(settings.dagster_home))
    sockets = tempfile.TemporaryDirectory(prefix="oliai-")  # tmp_path can be too long for one
    children = start_children(
        settings, settings.resolved_data_dir / "logs", Path(sockets.name) / "code.sock"
    )
    try:
        dagster = {child.name: child for child in children if child.name.startswith("dagster")}
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _location_loaded(settings.resolved_dagster_url):
            dead = [name for name, child in dagster.items() if child.process.poll() is not None]
            assert not dead, f"{dead} exited while starting"
            assert time.monotonic() < deadline, "the code location did not load"
            time.sleep(0.5)
        yield DagsterStack(settings, children, instance)
    finally:
        for child in reversed(children):
            child.stop()
        instance.dispose()
        sockets.cleanup()


def _phones(index: int) -> list[str]:
    first = index * STRIDE
    return [f"+9198765{n:05d}" for n in range(first, first + PER_RUN)]


def _wait_for_runs(stack: DagsterStack, run_ids: list[str]) -> dict[str, DagsterRunStatus]:
    deadline = time.monotonic() + RUNS_TIMEOUT_S
    while True:
        runs = stack.instance.get_runs(RunsFilter(run_ids=run_ids))
        statuses = {run.run_id: run.status for run in runs}
        if len(statuses) == len(run_ids) and all(
            status
            in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
            for status in statuses.values()
        ):
            return statuses
        assert time.monotonic() < deadline, f"runs not finished: {statuses}{stack.logs()}"
        time.sleep(1.0)


def _step_interval(stack: DagsterStack, run_id: str) -> tuple[float, float]:
    """When the run's writing step started and succeeded."""
    entries = stack.instance.all_logs(
        run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
    )
    times = {e.dagster_event_type: e.timestamp for e in entries if e.step_key == WAREHOUSE_STEP}
    return times[DagsterEventType.STEP_START], times[DagsterEventType.STEP_SUCCESS]


def _write_window(stack: DagsterStack, run_id: str) -> tuple[float, float]:
    """From the step's first to its last log line written while it held the warehouse file."""
    entries = [e for e in stack.instance.all_logs(run_id) if e.step_key == WAREHOUSE_STEP]
    starts = [e.timestamp for e in entries if WRITE_STARTS in e.user_message]
    ends = [e.timestamp for e in entries if WRITE_ENDS in e.user_message]
    assert len(starts) == len(ends) == 1, [e.user_message for e in entries]
    return starts[0], ends[0]


def _overlapping(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    ordered = sorted(intervals)
    return [(earlier, later) for earlier, later in pairwise(ordered) if later[0] < earlier[1]]


# dagster_graphql's client calls gql the way gql 4 deprecates; nothing this project can change.
@pytest.mark.filterwarnings(
    "ignore:Using variable_values and operation_name arguments:DeprecationWarning"
)
def test_queued_runs_never_write_the_warehouse_at_once(dagster_stack: DagsterStack) -> None:
    stack = dagster_stack
    settings = stack.settings
    client = stack.graphql
    run_ids = []
    for index in range(RUNS):
        import_id = f"imp_conc_{index:02d}"
        body = {"contacts": [{"name": f"Contact {p}", "phoneNumber": p} for p in _phones(index)]}
        path = land_request(settings.landing_dir, ORG, import_id, orjson.dumps(body))
        run_ids.append(
            client.submit_job_execution(
                IMPORT_JOB,
                repository_location_name=LOCATION,
                run_config={
                    "import_id": import_id,
                    "org_id": ORG,
                    "landing_path": str(path),
                    "audience_id": None,
                },
                tags={tags.IMPORT_ID: import_id, tags.ORG_ID: ORG},
            )
        )

    statuses = _wait_for_runs(stack, run_ids)
    assert set(statuses.values()) == {DagsterRunStatus.SUCCESS}, f"{statuses}{stack.logs()}"

    # No DuckDB lock error anywhere: event logs, captured step output, process logs.
    for run_id in run_ids:
        for entry in stack.instance.all_logs(run_id):
            text = entry.user_message + str(entry.dagster_event or "")
            assert not LOCK_ERROR.search(text), (run_id, text)
    captured = [
        path
        for path in settings.dagster_home.rglob("*")
        if path.is_file() and path.suffix in {".out", ".err", ".log"}
    ]
    captured += list((settings.resolved_data_dir / "logs").glob("*.log"))
    for path in captured:
        assert not LOCK_ERROR.search(path.read_text(errors="replace")), path

    # Exact contents: every phone once, and every run counted what it saw under the lock.
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        contacts, phones = con.sql(
            "SELECT count(*), count(DISTINCT phone_number) FROM contacts WHERE org_id = ?",
            params=[ORG],
        ).fetchall()[0]
        imports = con.sql("SELECT count(*), sum(created), sum(updated) FROM imports").fetchall()
    assert contacts == phones == DISTINCT
    assert imports == [(RUNS, DISTINCT, RUNS * PER_RUN - DISTINCT)]
    counts = [
        tags.counts_from_tags(run.run_id, run.tags)
        for run in stack.instance.get_runs(RunsFilter(run_ids=run_ids))
    ]
    assert all(count is not None and count["failed"] == 0 for count in counts)
    assert sum(count["created"] for count in counts if count) == DISTINCT

    # The runs overlapped, the pool held their writing steps back, and the windows in which a run
    # held the warehouse never overlapped.
    records = stack.instance.get_run_records(RunsFilter(run_ids=run_ids))
    runs = [(r.start_time or 0.0, r.end_time or 0.0) for r in records]
    assert _overlapping(runs), f"runs never overlapped, so nothing competed: {runs}"
    windows = {run_id: _write_window(stack, run_id) for run_id in run_ids}
    steps = {run_id: _step_interval(stack, run_id) for run_id in run_ids}
    for run_id, (start, end) in windows.items():
        assert steps[run_id][0] <= start <= end <= steps[run_id][1], run_id
    assert _overlapping(list(windows.values())) == [], windows
    # Shown with `pytest -s`: steps that ran together, the later of which waited on the lock.
    print(f"warehouse_tables steps overlapping: {len(_overlapping(list(steps.values())))}")
