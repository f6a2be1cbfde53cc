"""Submission leases: several submitters (API replicas, uvicorn workers) drain one outbox, and
each import is still submitted once.

The claim itself is checked on a control store of its own (a fresh PostgreSQL database); then
against the stack: submitters of three "replicas" plus the stack's own API race for twenty imports
and each gets one run; and a SQLite control store of a release from before the lease column is
moved into PostgreSQL and its import submitted.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from api.dagster_gateway import DagsterGateway
from api.submitter import RunSubmitter
from core import landing
from core.contracts import tags
from core.control_store import ControlStore
from core.control_store.legacy import adopt_legacy_store
from core.control_store.tables import imports, utcnow
from core.settings import Settings
from orchestration.runtime.instance import instance_environment
from tests.integration.api_support import contacts
from tests.lake import fresh_database
from tests.stack import Stack

pytestmark = pytest.mark.integration

LEASE = timedelta(seconds=60)
T = TypeVar("T")
# dagster_graphql's client calls gql the way gql 4 deprecates; nothing this project can change.
GQL_DEPRECATION = pytest.mark.filterwarnings(
    "ignore:Using variable_values and operation_name arguments:DeprecationWarning"
)

# The `imports` table as every control store made before `submit_claimed_until` has it
# (`CreateTable` of the previous definition, compiled for SQLite).
OLD_IMPORTS_DDL = [
    """
    CREATE TABLE imports (
        id VARCHAR(40) NOT NULL,
        org_id VARCHAR(64) NOT NULL,
        state VARCHAR(16) NOT NULL,
        created_at DATETIME NOT NULL,
        total INTEGER NOT NULL,
        audience_id TEXT,
        webhook_url TEXT,
        landing_path TEXT NOT NULL,
        idempotency_key VARCHAR(255),
        request_hash VARCHAR(64) NOT NULL,
        submitted_at DATETIME,
        run_id VARCHAR(64),
        submit_attempts INTEGER NOT NULL,
        last_submit_error TEXT,
        PRIMARY KEY (id)
    )
    """,
    "CREATE UNIQUE INDEX ux_imports_idempotency ON imports (org_id, idempotency_key)",
    "CREATE INDEX ix_imports_org_created ON imports (org_id, created_at)",
]


@pytest.fixture
def store_url(postgres_admin_url: str) -> str:
    return fresh_database(postgres_admin_url)


@pytest.fixture
def store(store_url: str) -> Iterator[ControlStore]:
    control = ControlStore.from_url(store_url)
    yield control
    control.dispose()


def reserve_and_land(store: ControlStore, landing_dir: Path, org_id: str, first: int) -> str:
    """An import as the API's `accept_bulk` leaves it just before `mark_accepted`: reserved,
    its body (two valid contacts) landed."""
    import_id = "imp_" + secrets.token_hex(12)
    body = json.dumps({"contacts": contacts(2, start=first)}).encode()
    store.imports.reserve_import(
        import_id=import_id,
        org_id=org_id,
        total=2,
        audience_id=None,
        webhook_url=None,
        landing_path=str(landing.landing_path(landing_dir, org_id, import_id)),
        idempotency_key=None,
        request_hash=hashlib.sha256(body).hexdigest(),
    )
    landing.land_request(landing_dir, org_id, import_id, body)
    return import_id


def accepted_import(store: ControlStore, tmp_path: Path) -> str:
    import_id = reserve_and_land(store, tmp_path / "landing", "org-leases", 0)
    store.imports.mark_accepted(import_id)
    return import_id


def claimed_until(store: ControlStore, import_id: str) -> object:
    with store.engine.connect() as conn:
        return conn.scalar(
            sa.select(imports.c.submit_claimed_until).where(imports.c.id == import_id)
        )


def all_at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """`work(0..count-1)` in as many threads, released together."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T:
        barrier.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


@pytest.fixture
def stack_environment(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The stack, with this process given what its API processes get (an external server's
    password, which dagster.yaml names), to build gateways as they do."""
    for name, value in instance_environment(stack.settings).items():
        monkeypatch.setenv(name, value)
    return stack


def gateway_for(stack: Stack) -> DagsterGateway:
    """Built as `create_app` builds the API's (see `stack_environment`)."""
    settings = Settings(data_dir=stack.data_dir, dagster_url=stack.dagster_url)
    return DagsterGateway(settings.resolved_dagster_url, str(settings.dagster_home))


def runs_of(instance: DagsterInstance, import_id: str) -> list[str]:
    records = instance.get_run_records(filters=RunsFilter(tags={tags.IMPORT_ID: import_id}))
    return [record.dagster_run.run_id for record in records]


# The claim


def test_two_processes_claiming_at_once_get_one_claim_each_import(
    store: ControlStore, store_url: str, tmp_path: Path
) -> None:
    import_ids = [accepted_import(store, tmp_path) for _ in range(20)]

    def claim_all(_: int) -> list[bool]:
        # An engine of its own: another API process on the same store.
        other = ControlStore.from_url(store_url)
        try:
            return [other.imports.claim_submission(import_id, LEASE) for import_id in import_ids]
        finally:
            other.dispose()

    first, second = all_at_once(2, claim_all)
    assert [a + b for a, b in zip(first, second, strict=True)] == [1] * len(import_ids)


def test_an_expired_claim_can_be_taken_again(store: ControlStore, tmp_path: Path) -> None:
    import_id = accepted_import(store, tmp_path)
    assert store.imports.claim_submission(import_id, LEASE)
    assert not store.imports.claim_submission(import_id, LEASE)
    # As a process that died holding the claim a lease ago leaves it.
    with store.engine.begin() as conn:
        conn.execute(
            imports.update()
            .where(imports.c.id == import_id)
            .values(submit_claimed_until=utcnow() - timedelta(seconds=1))
        )
    assert store.imports.claim_submission(import_id, LEASE)


def test_a_submitted_import_cannot_be_claimed(store: ControlStore, tmp_path: Path) -> None:
    import_id = accepted_import(store, tmp_path)
    assert store.imports.claim_submission(import_id, LEASE)
    store.imports.record_submission(import_id, "run-1")
    assert claimed_until(store, import_id) is None
    assert not store.imports.claim_submission(import_id, LEASE)


def test_an_import_still_accepting_cannot_be_claimed(store: ControlStore, tmp_path: Path) -> None:
    import_id = reserve_and_land(store, tmp_path / "landing", "org-leases", 0)
    assert not store.imports.claim_submission(import_id, LEASE)


def test_a_failed_submission_releases_its_claim(store: ControlStore, tmp_path: Path) -> None:
    import_id = accepted_import(store, tmp_path)
    assert store.imports.claim_submission(import_id, LEASE)
    store.imports.record_submit_failure(import_id, "ConnectError()")
    assert claimed_until(store, import_id) is None
    assert store.imports.claim_submission(import_id, LEASE)


def test_a_revert_is_claimed_once_until_submitted(store: ControlStore, tmp_path: Path) -> None:
    """Reverts drain through the same claim: one holder at a time, none once submitted."""
    import_id = accepted_import(store, tmp_path)
    store.reverts.request(import_id, "org-leases")
    assert store.reverts.claim_submission(import_id, LEASE)
    assert not store.reverts.claim_submission(import_id, LEASE)
    store.reverts.record_submit_failure(import_id, "ConnectError()")
    assert store.reverts.claim_submission(import_id, LEASE)
    store.reverts.record_submission(import_id, "run-revert")
    assert not store.reverts.claim_submission(import_id, LEASE)
    assert not store.reverts.claim_submission("imp_never_reverted", LEASE)


# Against the stack


@GQL_DEPRECATION
@pytest.mark.timeout(600)
def test_racing_submitters_launch_one_run_per_import(stack_environment: Stack) -> None:
    stack = stack_environment
    org = f"leases-{secrets.token_hex(3)}"
    api_key = stack.new_org_key(org)
    settings = stack.settings
    store = ControlStore.from_url(settings.running_postgres_url)
    try:
        import_ids = [reserve_and_land(store, settings.landing_dir, org, 2 * i) for i in range(20)]
        # Accepted together, so the stack's own submitter (polling every few seconds) and the
        # three below find the same outbox.
        for import_id in import_ids:
            store.imports.mark_accepted(import_id)

        # Three more API processes' stores and gateways, built before the race starts.
        replicas = [
            (ControlStore.from_url(settings.running_postgres_url), gateway_for(stack))
            for _ in range(3)
        ]
        try:
            submitters = [RunSubmitter(*replica) for replica in replicas]
            assert all_at_once(3, lambda i: submitters[i].submit_pending()) == [0, 0, 0]
        finally:
            for replica_store, gateway in replicas:
                gateway.close()
                replica_store.dispose()

        # Imports the stack's submitter claimed may still be on their way.
        deadline = time.monotonic() + 120
        while True:
            records = {i: store.imports.get_import_by_id(i) for i in import_ids}
            pending = [i for i, record in records.items() if record and not record.run_id]
            if not pending:
                break
            assert time.monotonic() < deadline, f"never submitted: {pending}"
            time.sleep(0.5)
    finally:
        store.dispose()

    with stack.instance() as instance:
        runs = {import_id: runs_of(instance, import_id) for import_id in import_ids}
    assert {i: len(r) for i, r in runs.items()} == dict.fromkeys(import_ids, 1)
    for import_id, record in records.items():
        assert record is not None
        assert [record.run_id] == runs[import_id]

    for import_id in import_ids:
        status = stack.wait_for_terminal(import_id, api_key, timeout_s=240)
        assert (status["status"], status["created"]) == ("COMPLETED", 2), status


@GQL_DEPRECATION
@pytest.mark.timeout(600)
def test_a_sqlite_control_store_from_before_leases_is_moved_in_and_submits(
    stack_environment: Stack, store_url: str, tmp_path: Path
) -> None:
    stack = stack_environment
    legacy = tmp_path / "control.db"
    old = sa.create_engine(f"sqlite:///{legacy}")
    import_id = "imp_" + secrets.token_hex(12)
    org = f"leases-old-{secrets.token_hex(3)}"
    body = json.dumps({"contacts": contacts(2)}).encode()
    path = landing.land_request(tmp_path / "landing", org, import_id, body)
    with old.begin() as conn:
        for statement in OLD_IMPORTS_DDL:
            conn.execute(sa.text(statement))
        conn.execute(
            sa.text(
                "INSERT INTO imports (id, org_id, state, created_at, total, landing_path,"
                " request_hash, submit_attempts)"
                " VALUES (:id, :org, 'accepted', :now, 2, :path, :hash, 0)"
            ),
            {
                "id": import_id,
                "org": org,
                "now": utcnow().strftime("%Y-%m-%d %H:%M:%S.%f"),
                "path": str(path),
                "hash": hashlib.sha256(body).hexdigest(),
            },
        )
    old.dispose()

    store = ControlStore.from_url(store_url)
    gateway = gateway_for(stack)
    try:
        moved = adopt_legacy_store(legacy, store)
        assert moved is not None
        assert "1 imports" in moved
        assert not legacy.exists()
        assert (tmp_path / "control.db.migrated").exists()
        assert adopt_legacy_store(legacy, store) is None  # once
        assert [record.id for record in store.imports.unsubmitted_imports()] == [import_id]
        assert RunSubmitter(store, gateway).submit_pending() == 0
        record = store.imports.get_import_by_id(import_id)
    finally:
        gateway.close()
        store.dispose()

    assert record is not None
    assert record.run_id is not None
    with stack.instance() as instance:
        assert runs_of(instance, import_id) == [record.run_id]
        deadline = time.monotonic() + 240
        while (run := instance.get_run_by_id(record.run_id)) and not run.is_finished:
            assert time.monotonic() < deadline, run.status
            time.sleep(0.5)
    assert run is not None
    assert run.status == DagsterRunStatus.SUCCESS
