"""`oliai reexecute` against the stack as `oliai up` starts it: the runs it launches are real
re-executions through the Dagster webserver, followed through the API."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dagster import DagsterEventType, DagsterInstance

from core.import_runs import newest_runs
from orchestration.maintenance.reexecution import Skip, launch_reexecution, reexecutable
from tests.integration.api_support import BULK, SEED_BODY
from tests.stack import TERMINAL, Stack, daemon_paused

pytestmark = pytest.mark.integration

COUNTS = ("total", "created", "updated", "failed", "errorCount")


@pytest.fixture(scope="module")
def instance(stack: Stack) -> Iterator[DagsterInstance]:
    with stack.instance() as dagster:
        yield dagster


def new_org(stack: Stack) -> tuple[str, str]:
    org = f"reexec-{secrets.token_hex(3)}"
    return org, stack.new_org_key(org)


def completed_import(stack: Stack, key: str) -> dict[str, Any]:
    """A new import of SEED_BODY, once it is COMPLETED, as GET /v1/imports lists it."""
    with stack.client(key) as client:
        response = client.post(BULK, json=SEED_BODY)
    assert response.status_code == 202, response.text
    import_id = response.json()["importId"]
    assert stack.wait_for_terminal(import_id, key)["status"] == "COMPLETED"
    return history(stack, key)[import_id]


def history(stack: Stack, key: str) -> dict[str, dict[str, Any]]:
    with stack.client(key) as client:
        response = client.get("/v1/imports", params={"limit": 100})
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["data"]}


def wait_for_run(stack: Stack, key: str, import_id: str, run_id: str) -> dict[str, Any]:
    """The import once its newest run is `run_id` and has ended."""
    deadline = time.monotonic() + 90
    while True:
        item = history(stack, key)[import_id]
        if item["runId"] == run_id and item["status"] in TERMINAL:
            return item
        assert time.monotonic() < deadline, (item, stack.logs())
        time.sleep(0.25)


def reexecuted(result: subprocess.CompletedProcess[str], import_id: str) -> tuple[str, str]:
    """The (old, new) run ids the command printed for the import."""
    match = re.search(rf"^{import_id}  (\S+) → (\S+)$", result.stdout, re.MULTILINE)
    assert match, (result.stdout, result.stderr)
    return match[1], match[2]


def landing_file(stack: Stack, org: str, import_id: str) -> Path:
    return stack.data_dir / "landing" / org / f"{import_id}.json"


def failed_import(stack: Stack, instance: DagsterInstance, org: str, key: str) -> dict[str, Any]:
    """A FAILED import made honestly: accepted and queued while the daemon is stopped, its
    landing file moved away before its run starts; the run fails saying the body is gone (and
    nothing was written, so the import stays FAILED). The file is left in `<name>.moved`."""
    with daemon_paused(stack), stack.client(key) as client:
        response = client.post(BULK, json=SEED_BODY)
        assert response.status_code == 202, response.text
        import_id = response.json()["importId"]
        deadline = time.monotonic() + 60
        while not (run_id := history(stack, key)[import_id]["runId"]):
            assert time.monotonic() < deadline, "the import was never submitted"
            time.sleep(0.1)
        landed = landing_file(stack, org, import_id)
        shutil.move(landed, landed.with_suffix(".moved"))
    failed = wait_for_run(stack, key, import_id, run_id)
    assert failed["status"] == "FAILED", failed
    failures = instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
    assert [entry.step_key for entry in failures] == ["import_batch"]
    event = failures[0].dagster_event
    assert event is not None
    user_failure = event.step_failure_data.user_failure_data
    assert user_failure is not None
    assert "is gone from the landing zone" in (user_failure.description or "")
    return failed


def test_a_completed_import_named_by_id_runs_again_with_the_same_counts(stack: Stack) -> None:
    _org, key = new_org(stack)
    before = completed_import(stack, key)

    result = stack.oliai("reexecute", before["id"])

    assert result.returncode == 0, (result.stdout, result.stderr)
    old_run, new_run = reexecuted(result, before["id"])
    assert old_run == before["runId"]
    assert new_run != old_run
    assert "Re-executed 1, skipped 0." in result.stdout
    after = wait_for_run(stack, key, before["id"], new_run)
    assert after["status"] == "COMPLETED"
    assert {c: after[c] for c in COUNTS} == {c: before[c] for c in COUNTS}


def test_failed_imports_of_one_org_are_re_executed_once_their_body_is_back(
    stack: Stack, instance: DagsterInstance
) -> None:
    org, key = new_org(stack)
    other_org, other_key = new_org(stack)
    failed = failed_import(stack, instance, org, key)
    other = failed_import(stack, instance, other_org, other_key)
    landed = landing_file(stack, org, failed["id"])
    pruned = f"{failed['id']}  skipped: pruned:"

    # Named, it cannot run without its body: that is an error for the one who named it.
    named = stack.oliai("reexecute", failed["id"])
    assert named.returncode == 1, (named.stdout, named.stderr)
    assert pruned in named.stdout
    # Selected by --failed, it is skipped as expected, in a dry run as in a real one.
    for args in (("--dry-run",), ()):
        result = stack.oliai("reexecute", "--failed", "--org", org, *args)
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert pruned in result.stdout
        assert other["id"] not in result.stdout
    assert history(stack, key)[failed["id"]] == failed

    shutil.move(landed.with_suffix(".moved"), landed)
    dry = stack.oliai("reexecute", "--failed", "--org", org, "--dry-run")
    assert dry.returncode == 0, (dry.stdout, dry.stderr)
    assert f"{failed['id']}  {failed['runId']} → would re-execute" in dry.stdout
    assert "Dry run: would have re-executed 1, skipped 0." in dry.stdout
    # A launch creates the run before the command exits: the history would show it now.
    assert history(stack, key)[failed["id"]] == failed

    result = stack.oliai("reexecute", "--failed", "--org", org)

    assert result.returncode == 0, (result.stdout, result.stderr)
    old_run, new_run = reexecuted(result, failed["id"])
    assert old_run == failed["runId"]
    assert "Re-executed 1, skipped 0." in result.stdout
    assert other["id"] not in result.stdout
    after = wait_for_run(stack, key, failed["id"], new_run)
    assert after["status"] == "COMPLETED"
    assert (after["total"], after["created"], after["failed"]) == (2, 2, 0)
    # The other organization's failed import was left alone.
    assert history(stack, other_key)[other["id"]] == other


def test_an_import_whose_newest_run_is_unfinished_is_skipped(
    stack: Stack, instance: DagsterInstance
) -> None:
    _org, key = new_org(stack)
    item = completed_import(stack, key)
    with httpx.Client() as client:
        run_id = launch_reexecution(client, stack.dagster_url, item["runId"])
    # Checked in process at once: a run worker needs far longer than this to finish the run.
    verdict = reexecutable(newest_runs(instance, [item["id"]]).get(item["id"]))

    assert isinstance(verdict, Skip), verdict
    assert verdict.reason.startswith(f"its newest run {run_id} is "), verdict
    assert verdict.reason.endswith(", not finished")
    assert wait_for_run(stack, key, item["id"], run_id)["status"] == "COMPLETED"


def test_an_unknown_import_is_reported_and_fails_the_command(stack: Stack) -> None:
    result = stack.oliai("reexecute", "imp_000000000000000000000000")

    assert result.returncode == 1, (result.stdout, result.stderr)
    assert (
        "imp_000000000000000000000000  skipped: no run: still waiting to be submitted, or unknown"
        in result.stdout
    )
    assert "Re-executed 0, skipped 1." in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("imp_000000000000000000000000", "--failed"),
        ("imp_000000000000000000000000", "--org", "x"),
    ],
    ids=["neither", "both", "org-without-failed"],
)
def test_the_selection_must_be_ids_or_failed(stack: Stack, args: tuple[str, ...]) -> None:
    result = stack.oliai("reexecute", *args)

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Usage: oliai reexecute" in result.stderr
    assert "Re-executed" not in result.stdout
