"""Queued runs of several organizations, executed by the real daemon, on the real lake: one
organization's imports write one at a time in acceptance order (two of its runs at once, the
later waiting for the earlier's write), organizations run in parallel, and the final state is
exactly that of applying every import in order.

Dagster's webserver and daemon run as subprocesses (started by `orchestration.runtime.stack`, as
`oliai up` starts them) on an instance in `tmp_path` prepared by `orchestration.runtime.instance`,
whose run queue allows two runs per `oliai/org_id` value. Runs are submitted through GraphQL, so
they are real queued runs. The lake's catalog is a database on the session's PostgreSQL server.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import httpx
import orjson
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster_graphql import DagsterGraphQLClient

from core.contracts import IMPORT_JOB, tags
from core.landing import land_request
from core.settings import Settings
from core.warehouse import lake
from core.warehouse.reader import query_warehouse
from orchestration.runtime.stack import Child, prepare_deployment, start_children
from tests.lake import location
from tests.stack import free_port

pytestmark = pytest.mark.integration

LOCATION = "oliai"
ORGS = ("org_a", "org_b", "org_c")
RUNS_PER_ORG = 5
PER_RUN = 400
STRIDE = 300  # consecutive imports of an organization share PER_RUN - STRIDE phone numbers
DISTINCT = STRIDE * (RUNS_PER_ORG - 1) + PER_RUN
READY_TIMEOUT_S = 90.0
RUNS_TIMEOUT_S = 300.0
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
def dagster_stack(lake_settings: Settings) -> Iterator[DagsterStack]:
    settings = lake_settings.model_copy(
        update={"host": "127.0.0.1", "api_port": free_port(), "dagster_port": free_port()}
    )
    # As a deployment does: storages exist before the children start, or they race creating them.
    prepare_deployment(settings)
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


def _overlapping(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    ordered = sorted(intervals)
    return [(earlier, later) for earlier, later in pairwise(ordered) if later[0] < earlier[1]]


# dagster_graphql's client calls gql the way gql 4 deprecates; nothing this project can change.
@pytest.mark.filterwarnings(
    "ignore:Using variable_values and operation_name arguments:DeprecationWarning"
)
def test_an_organization_runs_in_order_while_organizations_run_in_parallel(
    dagster_stack: DagsterStack,
) -> None:
    stack = dagster_stack
    settings = stack.settings
    submitted: dict[str, list[str]] = {org: [] for org in ORGS}
    for index in range(RUNS_PER_ORG):
        for org in ORGS:  # interleaved, as the API accepts them
            import_id = f"imp_{org}_{index}"
            contacts = [{"name": f"{org} v{index}", "phoneNumber": p} for p in _phones(index)]
            body = orjson.dumps({"contacts": contacts})
            path = land_request(settings.landing_dir, org, import_id, body)
            submitted[org].append(
                stack.graphql.submit_job_execution(
                    IMPORT_JOB,
                    repository_location_name=LOCATION,
                    run_config={
                        "import_id": import_id,
                        "org_id": org,
                        "landing_path": str(path),
                        "audience_id": None,
                    },
                    tags={tags.IMPORT_ID: import_id, tags.ORG_ID: org},
                )
            )
    every_run = [run_id for run_ids in submitted.values() for run_id in run_ids]
    statuses = _wait_for_runs(stack, every_run)
    failures = [
        entry.dagster_event.event_specific_data.error.to_string()  # type: ignore[union-attr]
        for run_id, status in statuses.items()
        if status != DagsterRunStatus.SUCCESS
        for entry in stack.instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
        if entry.dagster_event is not None
    ]
    assert failures == []
    assert set(statuses.values()) == {DagsterRunStatus.SUCCESS}, f"{statuses}{stack.logs()}"

    records = {
        record.dagster_run.run_id: (record.start_time or 0.0, record.end_time or 0.0)
        for record in stack.instance.get_run_records(RunsFilter(run_ids=every_run))
    }
    commits = stack_query(
        settings,
        f"SELECT author, commit_message FROM {lake.ALIAS}.snapshots() ORDER BY snapshot_id",
    )
    for org in ORGS:
        # Written one after the other, in the order they were accepted (all sequences are 0
        # here, so the names below also prove it: the last write wins).
        written = [row["commit_message"] for row in commits if row["author"] == org]
        assert written == [f"imp_{org}_{index}" for index in range(RUNS_PER_ORG)], org
    # ... while two runs of an organization ran at once (the next one's start and row rules
    # overlapping the write before).
    overlaps = [
        (earlier, later)
        for run_ids in submitted.values()
        for earlier, later in pairwise(records[run_id] for run_id in run_ids)
        if later[0] < earlier[1]
    ]
    assert overlaps, f"an organization's runs never overlapped: {records}"
    firsts = [records[run_ids[0]] for run_ids in submitted.values()]
    assert _overlapping(firsts), f"organizations never ran at once: {firsts}"

    rows = {
        (row["org_id"], row["phone_number"]): row["name"]
        for row in stack_query(settings, "SELECT org_id, phone_number, name FROM contacts")
    }
    expected = {
        (org, phone): f"{org} v{index}"
        for org in ORGS
        for index in range(RUNS_PER_ORG)
        for phone in _phones(index)
    }
    assert rows == expected  # each phone once, named by the newest import that carried it
    counts = stack_query(
        settings,
        "SELECT org_id, count(*) AS imports, sum(created) AS created, sum(updated) AS updated "
        "FROM imports GROUP BY org_id ORDER BY org_id",
    )
    per_import = RUNS_PER_ORG * PER_RUN
    assert counts == [
        {
            "org_id": org,
            "imports": RUNS_PER_ORG,
            "created": DISTINCT,
            "updated": per_import - DISTINCT,
        }
        for org in ORGS
    ]


def stack_query(settings: Settings, sql: str) -> list[dict[str, object]]:
    return query_warehouse(location(settings), sql).to_dicts()
